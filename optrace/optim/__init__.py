"""Optimizers and schedules: resolution, hyperparameter checks, the one epoch step, the probe."""
