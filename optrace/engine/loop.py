"""The race loop: a plan run into traces, each epoch exactly as a plain torch loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch

from optrace._core.types import Fn, Point
from optrace.engine.plan import RacePlan
from optrace.optim.optimizers import OptimizerSpec
from optrace.optim.schedules import ScheduleSpec
from optrace.optim.step import step
from optrace.problems.objective import DTYPE
from optrace.results.trace import RaceResult, Surface, Trace


class Run(NamedTuple):
    """One racer's run from every start, each array ``(starts, epochs + 1)``;
    ``y`` only in 2-D."""

    x: np.ndarray
    loss: np.ndarray
    lr: np.ndarray
    y: np.ndarray | None = None
    stopped: bool = False


def race_one(
    spec: OptimizerSpec,
    fn: Fn,
    starts: Sequence[Point],
    epochs: int,
    progress: Callable[[int], None] | None = None,
    schedule: ScheduleSpec | None = None,
    stop_when: Callable[[np.ndarray, np.ndarray], bool] | None = None,
) -> Run:
    """Race one optimizer from every start.

    The parameter is one float64 tensor: in 1-D, of one element per start; in
    2-D, of the two elements ``(x, y)`` (``(starts, 2)`` for a swarm). Each
    epoch is zero_grad, loss.backward(), step(), then the schedule's step,
    exactly as a plain torch loop; the values after the step are recorded, and
    ``lr`` is the learning rate that step used (at epoch 0, the first one). From
    a start's first non-finite place or loss on, all are NaN. An element-wise
    optimizer races all starts as one tensor, which gives the same bits as
    separate runs; any other races each start on its own.

    ``stop_when(places, losses)`` (the tuner's: a start diverged or left the
    domain) is asked after every epoch with each start's place ``(starts, dims)``
    and loss; once it says True the race stops, and every epoch not run, and
    every start not raced, is NaN (``stopped`` says so).
    """
    if len(starts) > 1 and not spec.elementwise:
        runs: list[Run] = []
        for s in starts:
            if runs and runs[-1].stopped:
                runs.append(_unraced(runs[-1], epochs))
                if progress is not None:
                    progress(epochs)
                continue
            runs.append(race_one(spec, fn, [s], epochs, progress, schedule, stop_when))
        ys = [r.y for r in runs if r.y is not None]
        return Run(
            np.concatenate([r.x for r in runs]),
            np.concatenate([r.loss for r in runs]),
            np.concatenate([r.lr for r in runs]),
            np.concatenate(ys) if ys else None,
            any(r.stopped for r in runs),
        )
    count = len(starts)
    dims = 2 if isinstance(starts[0], tuple) else 1
    places = np.full((count, epochs + 1, dims), np.nan)
    losses = np.full((count, epochs + 1), np.nan)
    lrs = np.full((count, epochs + 1), np.nan)
    first = starts[0] if dims == 2 and count == 1 else list(starts)
    param = torch.tensor(first, dtype=DTYPE, requires_grad=True)
    optimizer = spec.build(param)
    scheduler = schedule.build(optimizer) if schedule is not None else None

    stopped = False

    def record(epoch: int, alive: np.ndarray) -> np.ndarray:
        nonlocal stopped
        place = param.detach().numpy().reshape(count, dims)
        value = loss.detach().numpy().reshape(count)
        alive &= np.isfinite(place).all(axis=1) & np.isfinite(value)
        places[alive, epoch], losses[alive, epoch] = place[alive], value[alive]
        if stop_when is not None and stop_when(place, value):
            stopped = True
            alive[:] = False
        return alive

    loss = fn(param)
    alive = record(0, np.ones(count, dtype=bool))
    lrs[:, 0] = optimizer.param_groups[0]["lr"]
    for epoch in range(1, epochs + 1):
        lrs[alive, epoch] = optimizer.param_groups[0]["lr"]
        step(optimizer, param, fn, spec.needs_closure, loss)
        loss = fn(param)
        if scheduler is not None and schedule is not None:
            schedule.step(scheduler, loss.detach())
        alive = record(epoch, alive)
        if progress is not None:
            progress(count)
        if not alive.any():
            if progress is not None:
                progress(count * (epochs - epoch))
            break
    return Run(places[..., 0], losses, lrs, places[..., 1] if dims == 2 else None, stopped)


def _unraced(like: Run, epochs: int) -> Run:
    """A start left unraced after a stop: NaN throughout, shaped like one start's run."""
    blank = np.full((1, epochs + 1), np.nan)
    return Run(blank, blank.copy(), blank.copy(), None if like.y is None else blank.copy(), True)


def run(plan: RacePlan, progress: Callable[[int], None] | None = None) -> RaceResult:
    """Run every racer from the plan's start; ``progress`` hears of each racer-epoch."""
    traces = []
    for racer in plan.racers:
        ran = race_one(
            racer.optimizer, plan.objective.fn, plan.starts, plan.epochs, progress, racer.schedule
        )
        traces.append(
            Trace(
                label=racer.label,
                optimizer=racer.optimizer.name,
                hyperparameters=dict(racer.optimizer.hyperparameters),
                style=racer.style,
                x=ran.x,
                loss=ran.loss,
                lr=ran.lr if racer.schedule is not None else None,
                schedule=racer.schedule.name if racer.schedule is not None else None,
                y=ran.y,
            )
        )
    objective = plan.objective
    if objective.ydomain is None:
        curve_x, curve_y = objective.curve(plan.domain)
        surface = None
    else:
        curve_x = curve_y = np.empty(0)
        surface = Surface(*objective.surface(plan.domain, objective.ydomain))
    return RaceResult(
        title=plan.title,
        function=objective.formula,
        domain=plan.domain,
        curve_x=curve_x,
        curve_y=curve_y,
        epochs=plan.epochs,
        traces=tuple(traces),
        minima=objective.minima,
        tolerance=plan.tolerance,
        ydomain=objective.ydomain,
        surface=surface,
    )
