"""Race results as plain numpy data: what the renderer, the summary and the files read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from optrace._core.types import Minimum, Point, Range
from optrace.results.landscape import Landscape


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
        repeats: Runs per start: row ``i * repeats + r`` is start ``i``'s repeat ``r``.
        noise: The gradient noise it raced with (``std``, ``relative``), if any.
        failure: What the optimizer raised when it stopped the racer (its first
            line); the racer stops there as if it had diverged.
        evaluations: Shaped like ``x``: the gradient evaluations each run had used
            by each epoch (0 at epoch 0; see :class:`optrace.optim.step.Evaluations`).
        steps: Per run, the steps it took, where a budget of evaluations ended it
            before the race's last epoch; from there on its place, loss and count
            are held. None: every run raced every epoch (unless it diverged).
        plane_loss: In a model race, shaped like ``x``: the training loss at the
            weights on the plane where ``(x, y)`` is (see :class:`Landscape`); None
            for a function.
        off_plane: In a model race: the distance of the weights from the plane over
            their distance from the initial weights (0 at epoch 0).
        test_loss: In a model race with a test split: the loss on the held-out part.
        test_accuracy: And with classes: the share of held-out examples classified right.
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
    repeats: int = 1
    noise: Mapping[str, Any] | None = None

    def run_of(self, row: int) -> tuple[int, int]:
        """The (start index, repeat) that row ``row`` holds."""
        return divmod(row, self.repeats)

    @property
    def epoch(self) -> np.ndarray:
        """The epochs: 0 (the start) to the last, one per value along the last axis."""
        return np.arange(self.x.shape[-1])

    failure: str | None = None
    evaluations: np.ndarray | None = None
    steps: np.ndarray | None = None
    plane_loss: np.ndarray | None = None
    off_plane: np.ndarray | None = None
    test_loss: np.ndarray | None = None
    test_accuracy: np.ndarray | None = None

    @property
    def raced(self) -> np.ndarray:
        """Per start, the last epoch it could reach: its steps, or the race's last epoch."""
        if self.steps is not None:
            return self.steps
        return np.full(self.x.shape[0], self.x.shape[1] - 1)

    @property
    def last_epoch(self) -> np.ndarray:
        """Per start, the last epoch it raced with a finite position and loss."""
        finite = np.isfinite(self.x) & np.isfinite(self.loss)
        last: np.ndarray = np.minimum(finite.sum(axis=1) - 1, self.raced)
        return last

    @property
    def last_drawn(self) -> np.ndarray:
        """Per start, the last epoch a picture shows it in the race: the last before it
        diverged, else the race's last (a run that a budget ended stands at its end)."""
        finite = np.isfinite(self.x) & np.isfinite(self.loss)
        last: np.ndarray = finite.sum(axis=1) - 1
        return last

    def used(self, start: int, epoch: int) -> int | None:
        """The gradient evaluations ``start`` had used by ``epoch`` (None if not counted)."""
        return None if self.evaluations is None else int(self.evaluations[start, epoch])

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
        return [
            int(e) + 1 if e < end else None
            for e, end in zip(self.last_epoch, self.raced, strict=True)
        ]


@dataclass(frozen=True)
class Sweep:
    """A racer raced with every combination of some of its values (``sweep:``).

    Attributes:
        label: The racer's label.
        keys: The swept keywords, in the order the config names them.
        values: Per key, the values swept, in order (each a grid axis).
        traces: One per combination, in grid order: every combination of the
            values, the last key varying fastest (``itertools.product``). Each is
            the racer's trace with that combination's values in ``hyperparameters``.
        written: The index of the combination of the values as written, whose
            trace is the racer's own (what the GIF, MP4, still and window show).

    Examples:
        >>> import numpy as np
        >>> x = np.zeros((1, 3))
        >>> def t(lr, m): return Trace("SGD", "SGD", {"lr": lr, "momentum": m}, "ro", x, x)
        >>> grid = [t(lr, m) for lr in (0.1, 0.2) for m in (0.0, 0.9)]
        >>> sweep = Sweep("SGD", ("lr", "momentum"), ((0.1, 0.2), (0.0, 0.9)), tuple(grid), 1)
        >>> sweep.shape, sweep.params(3), sweep.index({"lr": 0.1, "momentum": 0.9})
        ((2, 2), {'lr': 0.2, 'momentum': 0.9}, 1)
    """

    label: str
    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]
    traces: tuple[Trace, ...]
    written: int

    @property
    def shape(self) -> tuple[int, ...]:
        """The grid's size along each key."""
        return tuple(len(v) for v in self.values)

    def params(self, combination: int) -> dict[str, Any]:
        """The swept values of ``combination`` (an index in grid order)."""
        at = np.unravel_index(combination, self.shape)
        return {k: v[int(i)] for k, v, i in zip(self.keys, self.values, at, strict=True)}

    def index(self, params: Mapping[str, Any]) -> int:
        """The combination with ``params`` (every swept key, each one of its values).

        Raises:
            ValueError: A key is missing or a value is not on the grid.
        """
        at = tuple(v.index(params[k]) for k, v in zip(self.keys, self.values, strict=True))
        return int(np.ravel_multi_index(at, self.shape))


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
    ``surface``, over ``domain`` by ``ydomain``. ``evaluations`` is the race's budget
    of gradient evaluations, if it has one. ``axis`` names what the traces' last
    axis counts: ``epoch``, or ``evaluation`` once :func:`optrace.results.axis.by_evaluations`
    has laid the traces out along their evaluations. ``sweeps``: each racer with a
    ``sweep:`` raced with every combination of its values (its trace in ``traces``
    is the combination as written). ``landscape``: in a model race, the plane every
    racer's weights are drawn on; ``surface`` is then its grid of training losses,
    ``domain`` and ``ydomain`` its extent, and each trace's ``x``, ``y`` the racer's
    coordinates on it. ``target``: the loss a model race's racer has reached once its
    loss is at or below it (the model block's ``target``, else the best loss any racer
    reached plus ``tolerance``).
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
    evaluations: int | None = None
    axis: str = "epoch"
    sweeps: tuple[Sweep, ...] = ()
    landscape: Landscape | None = None
    target: float | None = None

    def sweep_of(self, label: str) -> Sweep | None:
        """The sweep of the racer ``label``, if it has one."""
        return next((s for s in self.sweeps if s.label == label), None)

    @property
    def dims(self) -> int:
        """1 or 2."""
        return 1 if self.ydomain is None else 2


def is_swarm(result: RaceResult) -> bool:
    """Whether the racers run more than once: from more than one point, or repeated."""
    return any(t.x.shape[0] > 1 for t in result.traces)


def is_repeated(result: RaceResult) -> bool:
    """Whether each start is raced more than once (``repeats``)."""
    return any(t.repeats > 1 for t in result.traces)


def run_keys(trace: Trace, row: int, repeated: bool) -> dict[str, int]:
    """Which run row ``row`` of ``trace`` holds: its start, and with repeats its repeat."""
    start, repeat = trace.run_of(row)
    return {"start": start, "repeat": repeat} if repeated else {"start": start}
