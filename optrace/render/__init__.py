"""Drawing a race on a matplotlib Figure: the scene, its options and the loss panel."""
