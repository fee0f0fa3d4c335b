"""How each racer finished: the one summary computation behind the table, the JSON
and the API."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optrace._core.types import Minimum, Point
from optrace.results.trace import RaceResult, Trace


@dataclass(frozen=True)
class Summary:
    """How one racer finished; for a swarm, its start with the lowest final loss.

    Attributes:
        start: The row summarised (with repeats, run ``start * repeats + repeat``).
        diverged: How many starts diverged, and ``diverged_at`` the epoch of the first.
        epochs: The steps the start took to its last finite epoch.
        max_off_plane: In a model race, the largest ``off_plane`` of its path;
            ``test_loss`` and ``test_accuracy`` at its last epoch, with a test split.
        evaluations: The gradient evaluations it used in all, the step it diverged
            at too (None if not counted), and ``reached_at_evaluations`` those it had
            used by ``reached_at``.
    """

    label: str
    start: int
    final_x: float
    final_loss: float
    best_loss: float
    best_epoch: int
    diverged: int
    diverged_at: int | None
    left: int
    left_at: int | None
    reached_at: int | None = None
    nearest_minimum: Point | None = None
    distance: float | None = None
    final_y: float | None = None
    epochs: int = 0
    evaluations: int | None = None
    reached_at_evaluations: int | None = None
    max_off_plane: float | None = None
    test_loss: float | None = None
    test_accuracy: float | None = None


def _at(values: np.ndarray | None, start: int, epoch: int) -> float | None:
    return None if values is None else float(values[start, epoch])


def summarize(trace: Trace, result: RaceResult, start: int | None = None) -> Summary:
    """How ``trace`` finished: of ``start``, or for a swarm by default of the start
    with the lowest final loss. ``reached_at`` is the first epoch whose loss came
    within ``result.tolerance`` of the lowest known minimum (in a model race, at or
    below ``result.target``); ``distance`` is the
    Euclidean distance from the final place to the nearest known minimum."""
    last = trace.last_epoch
    rows = np.arange(len(last))
    finals = trace.loss[rows, last]
    if start is None:
        start = int(np.nanargmin(finals)) if np.isfinite(finals).any() else 0
    losses = trace.loss[start, : last[start] + 1]
    best = int(np.argmin(losses))
    final_x = float(trace.x[start, last[start]])
    final_y = None if trace.y is None else float(trace.y[start, last[start]])
    stopped = [e for e in trace.diverged_at if e is not None]
    left = [e for e in trace.left_domain_at(result.domain, result.ydomain) if e is not None]
    reached_at = nearest = distance = None
    if result.minima:
        target = result.minima[0].value + result.tolerance

        def away(m: Minimum) -> float:
            return math.hypot(m.x - final_x, (m.y or 0.0) - (final_y or 0.0))

        hits = np.flatnonzero(losses <= target)
        reached_at = int(hits[0]) if hits.size else None
        closest = min(result.minima, key=away)
        nearest, distance = closest.point, away(closest)
    elif result.target is not None:
        hits = np.flatnonzero(losses <= result.target)
        reached_at = int(hits[0]) if hits.size else None
    off = None if trace.off_plane is None else trace.off_plane[start, : last[start] + 1]
    return Summary(
        label=trace.label,
        start=start,
        final_x=final_x,
        final_loss=float(losses[-1]),
        best_loss=float(losses[best]),
        best_epoch=best,
        diverged=len(stopped),
        diverged_at=min(stopped) if stopped else None,
        left=len(left),
        left_at=min(left) if left else None,
        reached_at=reached_at,
        nearest_minimum=nearest,
        distance=distance,
        final_y=final_y,
        epochs=int(last[start]),
        evaluations=trace.used(start, int(trace.raced[start])),
        reached_at_evaluations=None if reached_at is None else trace.used(start, reached_at),
        max_off_plane=None if off is None else float(np.nanmax(off)),
        test_loss=_at(trace.test_loss, start, int(last[start])),
        test_accuracy=_at(trace.test_accuracy, start, int(last[start])),
    )


@dataclass(frozen=True)
class Quartiles:
    """The quartiles of some values (linear interpolation, as numpy's default);
    None stands for infinity (a run that diverged, or never reached the minimum)."""

    q1: float | None
    median: float | None
    q3: float | None

    @property
    def iqr(self) -> float | None:
        """The interquartile range, q3 - q1 (None if q3 is infinite)."""
        if self.q1 is None or self.q3 is None:
            return None
        return self.q3 - self.q1


@dataclass(frozen=True)
class Spread:
    """How one racer's runs (starts and repeats) spread at the finish.

    Attributes:
        runs: How many runs.
        final_gap: Of the final loss minus the lowest known minimum (None if none
            is known); a run that diverged counts as infinitely far.
        final_loss: Of the final loss, likewise.
        reached_at: Of the epoch each run came within the tolerance of the lowest
            minimum, a run that never did counting as infinitely late.
        reached: How many runs reached it.
    """

    runs: int
    final_gap: Quartiles | None
    final_loss: Quartiles
    reached_at: Quartiles | None
    reached: int


def quartiles(values: np.ndarray) -> Quartiles:
    """The quartiles of ``values``, which may hold +inf (never NaN)."""
    ordered = np.sort(np.asarray(values, dtype=float))

    def at(q: float) -> float | None:
        position = q * (len(ordered) - 1)
        low = int(np.floor(position))
        high = min(low + 1, len(ordered) - 1)
        a, b = float(ordered[low]), float(ordered[high])
        value = a if a == b or position == low else a + (b - a) * (position - low)
        return value if math.isfinite(value) else None

    return Quartiles(at(0.25), at(0.5), at(0.75))


def spread(trace: Trace, result: RaceResult) -> Spread:
    """The quartiles of ``trace``'s final gap, final loss and reached epoch over all
    its runs: the median and IQR that the table and the summary JSON report."""
    rows = trace.loss.shape[0]
    last = trace.last_epoch
    finals = trace.loss[np.arange(rows), last]
    finals = np.where(np.array([d is None for d in trace.diverged_at]), finals, np.inf)
    if not result.minima:
        return Spread(rows, None, quartiles(finals), None, 0)
    lowest = result.minima[0].value
    with np.errstate(invalid="ignore"):
        hit = trace.loss <= lowest + result.tolerance
    reached = np.where(hit.any(axis=1), np.argmax(hit, axis=1), np.inf)
    return Spread(
        runs=rows,
        final_gap=quartiles(finals - lowest),
        final_loss=quartiles(finals),
        reached_at=quartiles(reached),
        reached=int(np.isfinite(reached).sum()),
    )
