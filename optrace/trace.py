"""Race results as numpy arrays, and their export to CSV or JSON."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from optrace.atomic import AtomicFile
from optrace.errors import OutputError, UsageError

if TYPE_CHECKING:
    from optrace.functions import Minimum

Range = tuple[float, float]
Point = float | tuple[float, float]

TRACE_FORMATS = (".csv", ".json")


@dataclass(frozen=True)
class Trace:
    """One racer's path.

    Attributes:
        label: Unique within the race.
        optimizer: The optimizer as named in the config.
        hyperparameters: The keywords it was built with.
        style: Its matplotlib format string.
        x: ``(starts, epochs + 1)`` positions; epoch 0 is the start. NaN from
            the epoch its x or loss became non-finite.
        loss: Values at ``x``, shaped likewise.
        lr: With a schedule, the learning rate each epoch's step used, shaped likewise.
        schedule: The schedule's name, if any.
        y: In 2-D, the y of each position, shaped like ``x``; None in 1-D.
    """

    label: str
    optimizer: str
    hyperparameters: Mapping[str, Any]
    style: str
    x: np.ndarray
    loss: np.ndarray
    lr: np.ndarray | None = None
    schedule: str | None = None
    y: np.ndarray | None = None

    @property
    def last_epoch(self) -> np.ndarray:
        """Per start, the last epoch with a finite position and loss."""
        finite = np.isfinite(self.x) & np.isfinite(self.loss)
        last: np.ndarray = finite.sum(axis=1) - 1
        return last

    def outside(self, domain: Range, ydomain: Range | None = None) -> np.ndarray:
        """Per start and epoch, whether the racer lay outside the box."""
        with np.errstate(invalid="ignore"):
            out: np.ndarray = (self.x < domain[0]) | (self.x > domain[1])
            if ydomain is not None and self.y is not None:
                out |= (self.y < ydomain[0]) | (self.y > ydomain[1])
        return out

    def left_domain_at(self, domain: Range, ydomain: Range | None = None) -> list[int | None]:
        """Per start, the first epoch it lay outside the box, or None."""
        outside = self.outside(domain, ydomain)
        return [int(np.argmax(row)) if row.any() else None for row in outside]

    def place(self, start: int, epoch: int) -> Point:
        """Where ``start`` was at ``epoch``: x, or (x, y) in 2-D."""
        x = float(self.x[start, epoch])
        return x if self.y is None else (x, float(self.y[start, epoch]))

    @property
    def diverged_at(self) -> list[int | None]:
        """Per start, the epoch whose x or loss was non-finite, or None."""
        epochs = self.x.shape[1] - 1
        return [int(e) + 1 if e < epochs else None for e in self.last_epoch]


def describe_box(domain: Range, ydomain: Range | None = None) -> str:
    """``[low, high]``, or ``[x low, x high] x [y low, y high]`` in 2-D."""
    box = [domain] if ydomain is None else [domain, ydomain]
    return " x ".join(f"[{low}, {high}]" for low, high in box)


@dataclass(frozen=True)
class Surface:
    """A 2-D function sampled on a grid: ``z[j, i] = f(xs[i], ys[j])``."""

    xs: np.ndarray
    ys: np.ndarray
    z: np.ndarray


@dataclass(frozen=True)
class RaceResult:
    """Everything a scene needs to draw the race, as plain numpy data.

    In 1-D the function is drawn from ``curve_x`` and ``curve_y``; in 2-D from
    ``surface``, over ``domain`` by ``ydomain``.
    """

    title: str
    function: str
    domain: Range
    curve_x: np.ndarray
    curve_y: np.ndarray
    epochs: int
    traces: tuple[Trace, ...]
    minima: tuple[Minimum, ...] = ()
    tolerance: float = 1e-3
    ydomain: Range | None = None
    surface: Surface | None = None

    @property
    def dims(self) -> int:
        """1 or 2."""
        return 1 if self.ydomain is None else 2


def frame_epochs(epochs: int, frames: int) -> np.ndarray:
    """``frames`` evenly spaced epochs from 0 to ``epochs``, both ends included."""
    if frames >= epochs + 1:
        return np.arange(epochs + 1)
    return np.unique(np.round(np.linspace(0, epochs, frames)).astype(int))


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


def is_swarm(result: RaceResult) -> bool:
    """Whether the racers start from more than one point."""
    return any(t.x.shape[0] > 1 for t in result.traces)


def _rows(result: RaceResult) -> list[list[Any]]:
    swarm = is_swarm(result)
    rows: list[list[Any]] = []
    for trace in result.traces:
        for s, last in enumerate(trace.last_epoch):
            head = [trace.label, s] if swarm else [trace.label]
            columns = [trace.x[s, : last + 1].tolist()]
            if trace.y is not None:
                columns.append(trace.y[s, : last + 1].tolist())
            columns.append(trace.loss[s, : last + 1].tolist())
            rows.extend([*head, e, *values] for e, values in enumerate(zip(*columns, strict=True)))
    return rows


def jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: tuples as lists, anything else unusual as its repr."""
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def traces_json(result: RaceResult) -> dict[str, Any]:
    """The traces as a JSON-ready mapping (floats round-trip exactly)."""
    racers = []
    for trace in result.traces:
        left = trace.left_domain_at(result.domain, result.ydomain)
        runs = [
            {
                "start": s,
                "diverged_at": trace.diverged_at[s],
                "left_domain_at": left[s],
                "x": trace.x[s, : last + 1].tolist(),
                **({} if trace.y is None else {"y": trace.y[s, : last + 1].tolist()}),
                "loss": trace.loss[s, : last + 1].tolist(),
                **({} if trace.lr is None else {"lr": trace.lr[s, : last + 1].tolist()}),
            }
            for s, last in enumerate(trace.last_epoch)
        ]
        racers.append(
            {
                "label": trace.label,
                "optimizer": trace.optimizer,
                "hyperparameters": {k: jsonable(v) for k, v in trace.hyperparameters.items()},
                "schedule": trace.schedule,
                "starts": runs,
            }
        )
    return {"function": result.function, "epochs": result.epochs, "racers": racers}


def check_traces_path(path: Path) -> None:
    """Refuse a traces path whose suffix names no format."""
    if path.suffix.lower() not in TRACE_FORMATS:
        raise UsageError(f"--traces: '{path}' must end in .csv or .json")


def open_traces(path: Path) -> AtomicFile:
    """Check the traces path (by suffix) and open it for an atomic write."""
    check_traces_path(path)
    return AtomicFile(path)


def write_traces(result: RaceResult, out: AtomicFile) -> None:
    """Write CSV (``racer,epoch,x,loss``, or ``racer,epoch,x,y,loss`` in 2-D, with
    ``start`` after ``racer`` for a swarm; floats as repr) or JSON, by suffix."""
    try:
        with open(out.path, "w", encoding="utf-8", newline="") as fh:
            if out.target.suffix.lower() == ".json":
                json.dump(traces_json(result), fh, indent=1)
                fh.write("\n")
            else:
                writer = csv.writer(fh, lineterminator="\n")
                head = ["racer", "start"] if is_swarm(result) else ["racer"]
                place = ["x"] if result.dims == 1 else ["x", "y"]
                writer.writerow([*head, "epoch", *place, "loss"])
                writer.writerows(_rows(result))
    except OSError as exc:
        raise OutputError(f"cannot write '{out.target}': {exc.strerror}") from None
