"""Tuning: every racer gets the same budget of Optuna trials (``optrace tune``).

Optuna is the ``tune`` extra (``pip install 'optrace[tune]'``); it is imported
only when a tuning runs.
"""

from optrace.tune.tuner import TrialRecord, TunedRacer, TuningResult, prepare_tuning, tune_config

__all__ = ["TrialRecord", "TunedRacer", "TuningResult", "prepare_tuning", "tune_config"]
