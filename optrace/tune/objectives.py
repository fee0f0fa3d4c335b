"""What a tuning trial minimises: one number from a racer's losses over the tuning starts.

Each objective is a mean over the starts, summed with :func:`math.fsum` (exactly
rounded, so any correct computation of the same values gives the same bits). A
racer that diverged or left the domain at any start scores ``inf``, the worst
possible, whatever its other starts did.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

#: Added to a gap before its log10, so that a racer exactly at f* scores -12, not -inf.
LOG_FLOOR = 1e-12

Score = Callable[[np.ndarray, float, float], float]


def _final_gap(loss: np.ndarray, fstar: float, tolerance: float) -> float:
    return float(loss[-1] - fstar)


def _best_gap(loss: np.ndarray, fstar: float, tolerance: float) -> float:
    return float(loss.min() - fstar)


def _mean_log_gap(loss: np.ndarray, fstar: float, tolerance: float) -> float:
    # Epochs 1..N (after each step); a gap below 0 (f* is known to ~1e-15) counts as 0.
    gaps = np.maximum(loss[1:] - fstar, 0.0)
    return math.fsum(np.log10(gaps + LOG_FLOOR).tolist()) / len(gaps)


def _epochs_to_tolerance(loss: np.ndarray, fstar: float, tolerance: float) -> float:
    hits = np.flatnonzero(loss <= fstar + tolerance)
    return float(hits[0]) if hits.size else float(len(loss))


def _final_loss(loss: np.ndarray, fstar: float, tolerance: float) -> float:
    return float(loss[-1])


#: Each objective per start; the trial's score is their mean.
OBJECTIVES: dict[str, Score] = {
    "final-gap": _final_gap,
    "best-gap": _best_gap,
    "mean-log-gap": _mean_log_gap,
    "epochs-to-tolerance": _epochs_to_tolerance,
    "final-loss": _final_loss,
}

#: The objectives that need the lowest known minimum f*.
NEEDS_MINIMUM = frozenset(OBJECTIVES) - {"final-loss"}


def score(
    name: str, loss: np.ndarray, fstar: float | None, tolerance: float, worst: bool = False
) -> float:
    """The objective ``name`` of a racer's ``(starts, epochs + 1)`` losses.

    Args:
        name: One of :data:`OBJECTIVES`.
        loss: Per start and epoch, epoch 0 being the start.
        fstar: The lowest known minimum (needed by all but ``final-loss``).
        tolerance: ``epochs-to-tolerance`` counts the first epoch within this of f*
            (epochs + 1 when never).
        worst: The racer diverged or left the domain: score ``inf``.

    Returns:
        The mean over the starts, or ``inf``.

    Examples:
        >>> score("final-gap", np.array([[3.0, 1.5], [2.0, 0.5]]), 0.5, 1e-3)
        0.5
        >>> score("epochs-to-tolerance", np.array([[3.0, 1.5, 0.5]]), 0.5, 1e-3)
        2.0
    """
    if worst or not np.isfinite(loss).all():
        return math.inf
    per_start = OBJECTIVES[name]
    values = [per_start(row, 0.0 if fstar is None else fstar, tolerance) for row in loss]
    return math.fsum(values) / len(values)
