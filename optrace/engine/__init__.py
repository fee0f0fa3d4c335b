"""The engine: a spec made runnable (the plan), its starts, cost limits, labels and
styles, and the race loop."""
