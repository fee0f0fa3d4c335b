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
        start: Index of the start summarised.
        diverged: How many starts diverged, and ``diverged_at`` the epoch of the first.
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


def summarize(trace: Trace, result: RaceResult, start: int | None = None) -> Summary:
    """How ``trace`` finished: of ``start``, or for a swarm by default of the start
    with the lowest final loss. ``reached_at`` is the first epoch whose loss came
    within ``result.tolerance`` of the lowest known minimum; ``distance`` is the
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
    )
