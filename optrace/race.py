"""The race: a config made runnable (``prepare``), then run into traces (``run``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optrace import cost
from optrace.config import AnimationConfig, RaceConfig, load_config
from optrace.errors import ConfigError
from optrace.functions import Objective, build_function
from optrace.optimizers import OptimizerSpec, constructor_parameters, resolve
from optrace.schedules import ScheduleSpec, resolve_schedule
from optrace.styles import assign_styles, parse_style
from optrace.trace import RaceResult, Trace

DTYPE = torch.float64


@dataclass(frozen=True)
class Racer:
    """One racer, resolved: its label, style, optimizer and schedule."""

    label: str
    style: str
    optimizer: OptimizerSpec
    schedule: ScheduleSpec | None = None


@dataclass(frozen=True)
class RacePlan:
    """A checked config, ready to run."""

    title: str
    objective: Objective
    domain: tuple[float, float]
    starts: tuple[float, ...]
    epochs: int
    racers: tuple[Racer, ...]
    animation: AnimationConfig
    tolerance: float = 1e-3


def draw_starts(spec: dict[str, int], domain: tuple[float, float], seed: int) -> list[float]:
    """``{grid: N}``: the centres of N equal cells of the domain; ``{random: N}``: N
    uniform float64 draws over the domain from ``seed``."""
    ((kind, count),) = spec.items()
    lo, hi = domain
    if kind == "grid":
        return [lo + (i + 0.5) * (hi - lo) / count for i in range(count)]
    generator = torch.Generator().manual_seed(seed)
    unit = torch.rand(count, generator=generator, dtype=DTYPE)
    return (lo + unit * (hi - lo)).tolist()


def draw_start(seed: int) -> float:
    """The ``start: random`` point: one standard normal float64 draw from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return float(torch.randn(1, generator=generator, dtype=DTYPE).item())


def _format(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_format(v) for v in value) + ")"
    return repr(value) if isinstance(value, (float, str)) else str(value)


def default_labels(
    specs: Sequence[OptimizerSpec],
    chosen: Sequence[str | None],
    schedules: Sequence[ScheduleSpec | None] | None = None,
) -> list[str]:
    """Labels for racers without one: the optimizer's name, plus the hyperparameters
    (and schedule) that differ within a group of same-named racers; ``#n`` where
    still equal."""
    schedules = schedules or [None] * len(specs)
    labels: list[str | None] = list(chosen)
    groups: dict[str, list[int]] = {}
    for i, (spec, label) in enumerate(zip(specs, chosen, strict=True)):
        if label is None:
            groups.setdefault(spec.name, []).append(i)
    for name, members in groups.items():
        if len(members) == 1 and name not in chosen:
            labels[members[0]] = name
            continue
        full = [_with_defaults(specs[i], schedules[i]) for i in members]
        keys: list[str] = []
        for hp in full:
            for key in hp:
                if key not in keys and len({_format(h.get(key)) for h in full}) > 1:
                    keys.append(key)
        for i, hp in zip(members, full, strict=True):
            parts = [f"{k}={hp[k] if k == 'schedule' else _format(hp.get(k))}" for k in keys]
            labels[i] = " ".join([name, *parts])
    taken: dict[str, int] = {}
    for i, label in enumerate(labels):
        assert label is not None
        if label in taken or (chosen[i] is None and label in chosen):
            n = 2
            while f"{label} #{n}" in labels or f"{label} #{n}" in taken:
                n += 1
            label = f"{label} #{n}"
            labels[i] = label
        taken[label] = i
    return [str(label) for label in labels]


def _with_defaults(spec: OptimizerSpec, schedule: ScheduleSpec | None) -> Mapping[str, Any]:
    params, _ = constructor_parameters(spec.cls)
    full = {p.name: p.default for p in params}
    full.update(spec.hyperparameters)
    full["schedule"] = "none" if schedule is None else schedule.name
    return full


def prepare(config: RaceConfig, folder: Path | None = None, limits: bool = True) -> RacePlan:
    """Resolve the function, the start and every racer; raise ConfigError on the first problem.

    Args:
        config: A validated config.
        folder: The config file's folder, where dotted optimizer paths are looked for first.
        limits: Refuse a race or animation too large for this machine (see optrace.cost).
    """
    count = _start_count(config)
    if limits:
        cost.check_traces(len(config.racers), count, config.epochs)
        cost.check_animation(config.animation.frame_count(config.epochs), config.animation.size)
    function = config.function
    objective = build_function(
        function.name, function.params, expr=function.expr, domain=config.domain or function.domain
    )
    domain = objective.domain
    starts = _starts(config, domain, objective.default_start)
    for key, start in starts:
        if not math.isfinite(start) or not domain[0] <= start <= domain[1]:
            raise ConfigError(
                key,
                f"{_described(config, start)} lies outside the domain [{domain[0]}, {domain[1]}]; "
                "choose a start inside it or widen 'domain'",
            )
    with torch.no_grad():
        values = objective.fn(torch.tensor([s for _, s in starts], dtype=DTYPE))
    for (key, start), value in zip(starts, values.tolist(), strict=True):
        if not math.isfinite(value):
            raise ConfigError(key, f"{objective.name} is not finite at {start!r}")
    start_tensor = torch.tensor([starts[0][1]], dtype=DTYPE)
    probe_limit = cost.PROBE_SECONDS if limits else None
    specs = [
        resolve(
            r.optimizer,
            r.hyperparameters,
            f"racers[{i}]",
            objective.fn,
            start_tensor,
            folder,
            probe_limit,
        )
        for i, r in enumerate(config.racers)
    ]
    schedules = [
        None
        if r.schedule is None
        else resolve_schedule(
            r.schedule, f"racers[{i}].schedule", spec, objective.fn, start_tensor, folder
        )
        for i, (r, spec) in enumerate(zip(config.racers, specs, strict=True))
    ]
    # A schedule that reads the loss would see every start's loss summed: such a
    # racer races start by start to stay exact.
    specs = [
        replace(spec, elementwise=False) if sched is not None and sched.on_loss else spec
        for spec, sched in zip(specs, schedules, strict=True)
    ]
    if limits:
        cost.check_race([(s.elementwise, s.step_seconds) for s in specs], count, config.epochs)
    chosen_styles = [
        None if r.style is None else parse_style(r.style, f"racers[{i}].style")
        for i, r in enumerate(config.racers)
    ]
    labels = default_labels(specs, [r.label for r in config.racers], schedules)
    styles = assign_styles([s.name for s in specs], chosen_styles)
    return RacePlan(
        title=config.title,
        objective=objective,
        domain=domain,
        starts=tuple(s for _, s in starts),
        epochs=config.epochs,
        racers=tuple(
            Racer(label=label, style=style, optimizer=spec, schedule=sched)
            for label, style, spec, sched in zip(labels, styles, specs, schedules, strict=True)
        ),
        animation=config.animation,
        tolerance=config.tolerance,
    )


def load(path: Path, config: RaceConfig | None = None, limits: bool = True) -> RacePlan:
    """Prepare the config file at ``path`` (read here unless ``config`` is given);
    every error names the file."""
    config = load_config(path) if config is None else config
    try:
        return prepare(config, path.parent, limits)
    except ConfigError as exc:
        raise exc.in_file(str(path)) from None


def _start_count(config: RaceConfig) -> int:
    if isinstance(config.starts, list):
        return len(config.starts)
    if isinstance(config.starts, dict):
        return next(iter(config.starts.values()))
    return 1


def _starts(
    config: RaceConfig, domain: tuple[float, float], default: float | None
) -> list[tuple[str, float]]:
    """Each start with the key path that names it; ``default`` is the function's own
    start, used when the config names none."""
    if isinstance(config.starts, list):
        return [(f"starts[{i}]", float(s)) for i, s in enumerate(config.starts)]
    if isinstance(config.starts, dict):
        return [("starts", s) for s in draw_starts(config.starts, domain, config.seed)]
    if "start" not in config.model_fields_set and default is not None:
        return [("start", default)]
    if config.start == "random":
        return [("start", draw_start(config.seed))]
    return [("start", float(config.start))]


def _described(config: RaceConfig, start: float) -> str:
    if config.starts is None and config.start == "random":
        return f"the random start {start!r} (seed {config.seed})"
    return repr(start)


def race_one(
    spec: OptimizerSpec,
    fn: Callable[[torch.Tensor], torch.Tensor],
    starts: Sequence[float],
    epochs: int,
    progress: Callable[[int], None] | None = None,
    schedule: ScheduleSpec | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Race one optimizer from every start: ``(x, loss, lr)``, each ``(starts, epochs + 1)``.

    Each epoch is zero_grad, loss.backward(), step(), then the schedule's step,
    exactly as a plain torch loop; the values after the step are recorded, and
    ``lr`` is the learning rate that step used (at epoch 0, the first one). From
    a start's first non-finite x or loss on, both are NaN. An element-wise
    optimizer races all starts as one tensor, which gives the same bits as
    separate runs; any other races each start on its own.
    """
    if len(starts) > 1 and not spec.elementwise:
        rows = [race_one(spec, fn, [s], epochs, progress, schedule) for s in starts]
        return (
            np.concatenate([r[0] for r in rows]),
            np.concatenate([r[1] for r in rows]),
            np.concatenate([r[2] for r in rows]),
        )
    count = len(starts)
    xs = np.full((count, epochs + 1), np.nan)
    losses = np.full((count, epochs + 1), np.nan)
    lrs = np.full((count, epochs + 1), np.nan)
    param = torch.tensor(list(starts), dtype=DTYPE, requires_grad=True)
    optimizer = spec.build(param)
    scheduler = schedule.build(optimizer) if schedule is not None else None

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        value = fn(param).sum()
        value.backward()  # type: ignore[no-untyped-call]
        return value

    loss = fn(param)
    xs[:, 0], losses[:, 0] = starts, loss.detach().numpy()
    lrs[:, 0] = optimizer.param_groups[0]["lr"]
    alive = np.ones(count, dtype=bool)
    for epoch in range(1, epochs + 1):
        lrs[alive, epoch] = optimizer.param_groups[0]["lr"]
        if spec.needs_closure:
            optimizer.step(closure)  # type: ignore[arg-type]
        else:
            optimizer.zero_grad()
            loss.sum().backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        loss = fn(param)
        if scheduler is not None and schedule is not None:
            schedule.step(scheduler, loss.detach())
        x, value = param.detach().numpy(), loss.detach().numpy()
        alive &= np.isfinite(x) & np.isfinite(value)
        xs[alive, epoch], losses[alive, epoch] = x[alive], value[alive]
        if progress is not None:
            progress(count)
        if not alive.any():
            if progress is not None:
                progress(count * (epochs - epoch))
            break
    return xs, losses, lrs


def run(plan: RacePlan, progress: Callable[[int], None] | None = None) -> RaceResult:
    """Run every racer from the plan's start; ``progress`` hears of each racer-epoch."""
    traces = []
    for racer in plan.racers:
        xs, losses, lrs = race_one(
            racer.optimizer, plan.objective.fn, plan.starts, plan.epochs, progress, racer.schedule
        )
        traces.append(
            Trace(
                label=racer.label,
                optimizer=racer.optimizer.name,
                hyperparameters=dict(racer.optimizer.hyperparameters),
                style=racer.style,
                x=xs,
                loss=losses,
                lr=lrs if racer.schedule is not None else None,
                schedule=racer.schedule.name if racer.schedule is not None else None,
            )
        )
    curve_x, curve_y = plan.objective.curve(plan.domain)
    return RaceResult(
        title=plan.title,
        function=plan.objective.formula,
        domain=plan.domain,
        curve_x=curve_x,
        curve_y=curve_y,
        epochs=plan.epochs,
        traces=tuple(traces),
        minima=plan.objective.minima,
        tolerance=plan.tolerance,
    )
