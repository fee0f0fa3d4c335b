"""One racer's race: its optimizer stepped from every start, each epoch exactly as a
plain torch loop, into arrays of places, losses and gradient evaluations."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from optrace._core.types import Fn, Point
from optrace.optim.noise import NoiseSpec
from optrace.optim.optimizers import OptimizerSpec, learning_rate
from optrace.optim.probe import first_line, seeded
from optrace.optim.schedules import ScheduleSpec
from optrace.optim.step import Evaluations, stacked, step


class Run(NamedTuple):
    """One racer's run from every start, each array ``(starts, epochs + 1)``;
    ``y`` only in 2-D; ``lr`` None where the optimizer has no learning rate;
    ``failure`` what the optimizer raised, if it stopped the racer.
    ``evaluations`` counts the gradients each start had used by each epoch (held
    after the epoch it diverged at); ``steps`` how many steps each start's run took
    (fewer than ``epochs`` where it diverged or used up a budget of evaluations).
    After a budget ends a run, its place, loss and counts are held to the last
    epoch, as a racer that has stopped stands still."""

    x: np.ndarray
    loss: np.ndarray
    lr: np.ndarray | None
    y: np.ndarray | None = None
    failure: str | None = None
    stopped: bool = False
    evaluations: np.ndarray | None = None
    steps: np.ndarray | None = None


def race_one(
    spec: OptimizerSpec,
    fn: Fn,
    starts: Sequence[Point],
    epochs: int,
    progress: Callable[[int], None] | None = None,
    schedule: ScheduleSpec | None = None,
    seed: int = 0,
    noise: NoiseSpec | None = None,
    stop_when: Callable[[np.ndarray, np.ndarray], bool] | None = None,
    budget: int | None = None,
) -> Run:
    """Race one optimizer from every start.

    The parameter is one tensor of ``spec.dtype`` (float64 unless the config
    says float32): in 1-D, of one element per start; in 2-D, of the two
    elements ``(x, y)`` (``(starts, 2)`` for a swarm). Each epoch is zero_grad,
    loss.backward(), step(), then the schedule's step, exactly as a plain torch
    loop (with a closure or ``create_graph=True`` where the optimizer needs
    them, see :class:`optrace.optim.step.StepMode`); the values after the step
    are recorded, and ``lr`` is the learning rate that step used (at epoch 0,
    the first one). From a start's first non-finite place or loss on, all are
    NaN; an optimizer that raises stops the same way, its message kept in
    ``failure``. Torch's random generator is seeded with ``seed`` for each run
    (and left as it was), so optimizers that draw noise repeat. An element-wise
    optimizer races all starts as one tensor, which gives the same bits as
    separate runs; any other races each start on its own. ``noise`` is added to
    each gradient, its rows matching ``starts``.

    ``stop_when(places, losses)`` (the tuner's: a start diverged or left the
    domain) is asked after every epoch with each start's place ``(starts, dims)``
    and loss; once it says True the race stops, and every epoch not run, and
    every start not raced, is NaN (``stopped`` says so).

    ``budget``: a number of gradient evaluations (see
    :class:`optrace.optim.step.Evaluations`); each start's run ends after the step
    that reaches it, and at most ``epochs`` steps.
    """
    if len(starts) > 1 and not spec.elementwise:
        runs: list[Run] = []
        for i, s in enumerate(starts):
            if runs and runs[-1].stopped:
                runs.append(_unraced(runs[-1], epochs))
                if progress is not None:
                    progress(epochs)
                continue
            row = None if noise is None else noise.row(i)
            runs.append(
                race_one(spec, fn, [s], epochs, progress, schedule, seed, row, stop_when, budget)
            )
        ys = [r.y for r in runs if r.y is not None]
        lrs = [r.lr for r in runs if r.lr is not None]
        return Run(
            np.concatenate([r.x for r in runs]),
            np.concatenate([r.loss for r in runs]),
            np.concatenate(lrs) if len(lrs) == len(runs) else None,
            np.concatenate(ys) if ys else None,
            next((r.failure for r in runs if r.failure is not None), None),
            any(r.stopped for r in runs),
            np.concatenate([_counts(r, epochs) for r in runs]),
            np.concatenate([_steps(r, epochs) for r in runs]),
        )
    with seeded(seed):
        (ran,) = race_groups(spec, fn, starts, epochs, progress, schedule, noise, stop_when, budget)
    return ran


def _lr(optimizer: torch.optim.Optimizer, group: int = 0) -> float:
    lr = learning_rate(optimizer, group)
    return np.nan if lr is None else lr


def race_groups(
    spec: OptimizerSpec,
    fn: Fn,
    starts: Sequence[Point],
    epochs: int,
    progress: Callable[[int], None] | None,
    schedule: ScheduleSpec | None,
    noise: NoiseSpec | None = None,
    stop_when: Callable[[np.ndarray, np.ndarray], bool] | None = None,
    budget: int | None = None,
    groups: Sequence[Mapping[str, Any]] | None = None,
) -> list[Run]:
    """Race ``starts`` as one tensor, or with ``groups`` as one tensor per group of
    one optimizer (each group's keywords over the racer's own, see
    :meth:`OptimizerSpec.build_groups`), all stepped by one backward() over the
    sum of their losses; a Run per group. The caller seeds torch's generator."""
    count = len(starts)
    dims = 2 if isinstance(starts[0], tuple) else 1
    tensors = 1 if groups is None else len(groups)
    rows = tensors * count  # row g * count + s: group g's start s
    places = np.full((rows, epochs + 1, dims), np.nan)
    losses = np.full((rows, epochs + 1), np.nan)
    lrs = np.full((rows, epochs + 1), np.nan)
    used = np.zeros((rows, epochs + 1), dtype=np.int64)
    first = starts[0] if dims == 2 and count == 1 else list(starts)
    params = [torch.tensor(first, dtype=spec.dtype, requires_grad=True) for _ in range(tensors)]
    drawn = None if noise is None else [noise.start(dims) for _ in params]

    stopped = False

    def record(epoch: int, alive: np.ndarray) -> np.ndarray:
        nonlocal stopped
        place = np.concatenate([p.detach().numpy().reshape(count, dims) for p in params])
        value = loss.detach().numpy().reshape(rows)
        alive &= np.isfinite(place).all(axis=1) & np.isfinite(value)
        places[alive, epoch], losses[alive, epoch] = place[alive], value[alive]
        if stop_when is not None and stop_when(place, value):
            stopped = True
            alive[:] = False
        return alive

    def runs(failure: str | None, steps: int, has_lr: bool) -> list[Run]:
        return [
            Run(
                places[g * count : (g + 1) * count, :, 0],
                losses[g * count : (g + 1) * count],
                lrs[g * count : (g + 1) * count] if has_lr else None,
                places[g * count : (g + 1) * count, :, 1] if dims == 2 else None,
                failure,
                stopped,
                used[g * count : (g + 1) * count],
                np.full(count, steps),
            )
            for g in range(tensors)
        ]

    joined = params[0] if groups is None else params
    loss = fn(stacked(joined))
    alive = record(0, np.ones(rows, dtype=bool))
    try:
        optimizer = spec.build(params[0]) if groups is None else spec.build_groups(params, groups)
        scheduler = schedule.build(optimizer) if schedule is not None else None
    except Exception as exc:
        # Stopped at its first step, as a racer that diverged there.
        return runs(first_line(exc), 1, False)
    has_lr = learning_rate(optimizer) is not None
    for g in range(tensors):
        lrs[g * count : (g + 1) * count, 0] = _lr(optimizer, g)
    counted = [Evaluations(p) for p in params]
    steps, failure = epochs, None
    for epoch in range(1, epochs + 1):
        stepped = alive.copy()
        if has_lr:
            lr = np.repeat([_lr(optimizer, g) for g in range(tensors)], count)
            lrs[alive, epoch] = lr[alive]
        try:
            perturb = None if drawn is None else _each(params, [d.at(epoch) for d in drawn])
            step(optimizer, joined, fn, spec.mode, loss, perturb)
            loss = fn(stacked(joined))
            if scheduler is not None and schedule is not None:
                schedule.step(scheduler, loss.detach())
            alive = record(epoch, alive)
        except Exception as exc:
            # Whatever a third-party optimizer raises stops this racer like a
            # divergence; the race goes on.
            failure = first_line(exc)
            alive[:] = False
        # A start's count grows with each step it takes, the one it diverged at too.
        totals = np.repeat([c.total for c in counted], count)
        used[:, epoch] = np.where(stepped, totals, used[:, epoch - 1])
        if progress is not None:
            progress(rows)
        spent = budget is not None and int(totals.min()) >= budget
        if spent or not alive.any():
            steps = epoch
            if progress is not None:
                progress(rows * (epochs - epoch))
            if spent:
                _hold(alive, epoch, places, losses, lrs)
            break
    for c in counted:
        c.close()
    used[:, steps + 1 :] = used[:, steps, None]
    return runs(failure, steps, has_lr)


def _each(
    params: Sequence[torch.Tensor], perturbs: Sequence[Callable[[torch.Tensor], None]]
) -> Callable[[torch.Tensor], None]:
    """One gradient hook for several tensors: each tensor's own noise."""
    own = {id(p): f for p, f in zip(params, perturbs, strict=True)}

    def perturb(param: torch.Tensor) -> None:
        own[id(param)](param)

    return perturb


def _hold(alive: np.ndarray, epoch: int, *series: np.ndarray) -> None:
    """Hold the starts still ``alive`` at ``epoch`` there to the last epoch."""
    for values in series:
        values[alive, epoch + 1 :] = values[alive, epoch][:, None]


def _none(count: int) -> np.ndarray:
    return np.zeros(count, dtype=np.int64)


def _counts(run: Run, epochs: int) -> np.ndarray:
    """A run's evaluation counts; none for a start left unraced."""
    if run.evaluations is not None:
        return run.evaluations
    return np.zeros((run.x.shape[0], epochs + 1), dtype=np.int64)


def _steps(run: Run, epochs: int) -> np.ndarray:
    return run.steps if run.steps is not None else _none(run.x.shape[0])


def _unraced(like: Run, epochs: int) -> Run:
    """A start left unraced after a stop: NaN throughout, shaped like one start's run."""
    blank = np.full((1, epochs + 1), np.nan)
    y = None if like.y is None else blank.copy()
    return Run(blank, blank.copy(), None if like.lr is None else blank.copy(), y, None, True)
