"""Where each start ends: the known minimum it reached, none, or lost (diverged or
escaped). The one basin computation behind the summary JSON, the table and the map.

A run *reached* a known minimum when its final loss lies within the race's
``tolerance`` of the value of the known minimum nearest its final point. A run
that diverged (its x or loss became non-finite), or whose final point lies
outside the domain, is *lost*; every other run reached *none*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optrace._core.types import Minimum
from optrace.results.trace import RaceResult, Trace

#: Per run, what :func:`reached` gives for a run that reached no known minimum.
NONE = -1
#: Per run, what :func:`reached` gives for a run that diverged or ended outside the domain.
LOST = -2
#: Per run, what :func:`grouped` gives for a minimum that is not among those shown.
OTHER = -3
#: How many known minima, at most, a map colours one by one (see :func:`shown_minima`).
SHOWN = 6


def reached(trace: Trace, result: RaceResult) -> np.ndarray:
    """Per run (row) of ``trace``: the index in ``result.minima`` of the minimum it
    reached, :data:`NONE` or :data:`LOST`.

    Args:
        trace: One racer's runs.
        result: The race: its minima, tolerance and domain.

    Returns:
        One int per row of ``trace.x``.

    Examples:
        >>> import numpy as np
        >>> from optrace._core.types import Minimum
        >>> from optrace.results.trace import RaceResult, Trace
        >>> x = np.array([[2.0, 1.0], [-2.0, -0.5], [0.5, np.nan], [3.0, 9.0]])
        >>> trace = Trace("SGD", "SGD", {}, "ro", x, x**2)
        >>> result = RaceResult("", "x**2", (-5.0, 5.0), x[0], x[0], 1, (trace,),
        ...                     minima=(Minimum(0.0, 0.0),), tolerance=1.0)
        >>> reached(trace, result).tolist()
        [0, 0, -2, -2]
    """
    rows = np.arange(trace.x.shape[0])
    last = trace.last_epoch
    out = np.full(len(rows), NONE, dtype=int)
    diverged = np.array([d is not None for d in trace.diverged_at], dtype=bool)
    ended = np.maximum(last, 0)
    outside = trace.outside(result.domain, result.ydomain)[rows, ended]
    if result.minima:
        x = trace.x[rows, ended]
        y = trace.y[rows, ended] if trace.y is not None else np.zeros(len(rows))
        mx = np.array([m.x for m in result.minima])
        my = np.array([m.y or 0.0 for m in result.minima])
        values = np.array([m.value for m in result.minima])
        with np.errstate(invalid="ignore"):
            away = np.hypot(x[:, None] - mx[None, :], y[:, None] - my[None, :])
            nearest = np.argmin(np.where(np.isnan(away), np.inf, away), axis=1)
            final = trace.loss[rows, ended]
            close = np.abs(final - values[nearest]) <= result.tolerance
        out = np.where(close, nearest, NONE)
    out[diverged | outside] = LOST
    return out


@dataclass(frozen=True)
class Basin:
    """How many of a racer's runs ended in one basin.

    Attributes:
        minimum: The known minimum reached; None for the runs that reached none.
        starts: How many runs (every repeat of a start counts).
        diverged: Of the runs that reached none, those that diverged.
        outside: Of the runs that reached none, those that ended outside the domain.
    """

    minimum: Minimum | None
    starts: int
    diverged: int = 0
    outside: int = 0


def basins(trace: Trace, result: RaceResult) -> list[Basin]:
    """A racer's runs by the minimum they reached: each known minimum that some run
    reached, lowest first as ``result.minima`` holds them, then always the runs
    that reached none (the lost ones among them). The counts add up to the runs.

    Args:
        trace: One racer's runs.
        result: The race.

    Returns:
        The basins, the one of no minimum last.
    """
    where = reached(trace, result)
    counts = np.bincount(where[where >= 0], minlength=len(result.minima))
    found = [Basin(result.minima[i], int(n)) for i, n in enumerate(counts) if n]
    lost = where == LOST
    diverged = np.array([d is not None for d in trace.diverged_at], dtype=bool)
    none = Basin(
        None,
        int((where < 0).sum()),
        diverged=int((lost & diverged).sum()),
        outside=int((lost & ~diverged).sum()),
    )
    return [*found, none]


def shown_minima(result: RaceResult, most: int = SHOWN) -> tuple[int, ...]:
    """The known minima a basins map (and the table) name one by one: the ``most``
    nearest the domain's centre, nearest first, never splitting a ring of minima
    equally far from it (rastrigin's centre and its four nearest; every one of
    himmelblau's four). The rest are "another minimum".

    Args:
        result: The race.
        most: At most this many.

    Returns:
        Indices into ``result.minima``.
    """
    if not result.minima:
        return ()
    cx = sum(result.domain) / 2
    cy = sum(result.ydomain) / 2 if result.ydomain is not None else 0.0
    width = result.domain[1] - result.domain[0]
    away = [math.hypot(m.x - cx, (m.y or 0.0) - cy) for m in result.minima]
    order = sorted(range(len(away)), key=lambda i: (away[i], i))
    if len(order) <= most:
        return tuple(order)
    # A ring ends where the next minimum is farther by more than rounding.
    cut = most
    while cut > 0 and away[order[cut]] - away[order[cut - 1]] <= 1e-6 * width:
        cut -= 1
    return tuple(order[: cut or 1])


def grouped(where: np.ndarray, shown: tuple[int, ...]) -> np.ndarray:
    """Runs by what a map colours them as: the position of their minimum in
    ``shown``, :data:`OTHER` for any other minimum, else :data:`NONE` or :data:`LOST`.

    Args:
        where: Per run, as :func:`reached` gives.
        shown: As :func:`shown_minima` gives.

    Returns:
        One int per run.

    Examples:
        >>> grouped(np.array([4, 0, 7, -1, -2]), (4, 0)).tolist()
        [0, 1, -3, -1, -2]
    """
    position = np.full(max(int(where.max(initial=0)) + 1, *(i + 1 for i in shown), 1), OTHER)
    position[list(shown)] = np.arange(len(shown))
    out: np.ndarray = np.where(where >= 0, position[np.maximum(where, 0)], where)
    return out


def describe_minimum(m: Minimum) -> str:
    """A minimum's place in a few digits: ``(3, 2)``, or ``-1.59`` in 1-D.

    Examples:
        >>> describe_minimum(Minimum(3.0, 0.0, 2.0)), describe_minimum(Minimum(-1.5907, -1.25))
        ('(3, 2)', '-1.59')
    """

    def digits(v: float) -> str:
        return f"{round(v, 3) + 0.0:.3g}"  # + 0.0: no "-0" for a minimum at -1e-9

    return digits(m.x) if m.y is None else f"({digits(m.x)}, {digits(m.y)})"
