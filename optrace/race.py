"""The race: a config made runnable (``prepare``), then run into traces (``run``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from optrace import cost
from optrace.config import AnimationConfig, RaceConfig, load_config
from optrace.errors import ConfigError
from optrace.functions import Objective, Point, Range, build_function
from optrace.optimizers import OptimizerSpec, constructor_parameters, resolve
from optrace.schedules import ScheduleSpec, resolve_schedule
from optrace.styles import assign_styles, parse_style
from optrace.trace import RaceResult, Surface, Trace, describe_box

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
    domain: Range
    starts: tuple[Point, ...]
    epochs: int
    racers: tuple[Racer, ...]
    animation: AnimationConfig
    tolerance: float = 1e-3


def draw_starts(
    spec: dict[str, int], domain: Range, seed: int, ydomain: Range | None = None
) -> list[Point]:
    """``{grid: N}``: the centres of N equal cells of the domain (N by N in 2-D,
    row by row from the lowest y); ``{random: N}``: N uniform float64 draws over
    the domain from ``seed`` (in 2-D, N pairs)."""
    ((kind, count),) = spec.items()
    lo, hi = domain
    if kind == "grid":
        xs = [lo + (i + 0.5) * (hi - lo) / count for i in range(count)]
        if ydomain is None:
            return list(xs)
        ylo, yhi = ydomain
        ys = [ylo + (j + 0.5) * (yhi - ylo) / count for j in range(count)]
        return [(x, y) for y in ys for x in xs]
    generator = torch.Generator().manual_seed(seed)
    if ydomain is None:
        unit = torch.rand(count, generator=generator, dtype=DTYPE)
        return list((lo + unit * (hi - lo)).tolist())
    units = torch.rand(count, 2, generator=generator, dtype=DTYPE)
    low = torch.tensor([lo, ydomain[0]], dtype=DTYPE)
    size = torch.tensor([hi - lo, ydomain[1] - ydomain[0]], dtype=DTYPE)
    return [(x, y) for x, y in (low + units * size).tolist()]


def draw_start(seed: int, dims: int = 1) -> Point:
    """The ``start: random`` point: standard normal float64 draws from ``seed``,
    one per axis."""
    generator = torch.Generator().manual_seed(seed)
    drawn = torch.randn(dims, generator=generator, dtype=DTYPE).tolist()
    return float(drawn[0]) if dims == 1 else (drawn[0], drawn[1])


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
    function = config.function
    objective = build_function(
        function.name,
        function.params,
        expr=function.expr,
        domain=config.domain or function.domain,
        domain_path="domain" if config.domain else "function.domain",
    )
    dims = objective.dims
    if dims == 1 and config.animation.view == "surface":
        raise ConfigError(
            "animation.view",
            f"a surface needs a function of x and y; {objective.name} is 1-D: use 'contour'",
        )
    if limits:
        cost.check_traces(len(config.racers), _start_count(config, dims), config.epochs, dims)
        cost.check_animation(config.animation.frame_count(config.epochs), config.animation.size)
    domain = objective.domain
    starts = _starts(config, objective)
    box = [domain] if objective.ydomain is None else [domain, objective.ydomain]
    shown = describe_box(domain, objective.ydomain)
    for key, start in starts:
        coords = start if isinstance(start, tuple) else (start,)
        if len(coords) != dims:
            want = "one number x" if dims == 1 else "[x, y]"
            raise ConfigError(
                key,
                f"{objective.name} is a function of {_axes(dims)}: give {want}, "
                f"got {_show_point(start)}",
            )
        if not all(
            math.isfinite(c) and low <= c <= high
            for c, (low, high) in zip(coords, box, strict=True)
        ):
            raise ConfigError(
                key,
                f"{_described(config, start)} lies outside the domain {shown}; "
                "choose a start inside it or widen 'domain'",
            )
    with torch.no_grad():
        values = objective.fn(torch.tensor([s for _, s in starts], dtype=DTYPE))
    for (key, start), value in zip(starts, values.tolist(), strict=True):
        if not math.isfinite(value):
            raise ConfigError(key, f"{objective.name} is not finite at {_show_point(start)}")
    first = starts[0][1]
    start_tensor = torch.tensor(first if isinstance(first, tuple) else [first], dtype=DTYPE)
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
        cost.check_race(
            [(s.elementwise, s.step_seconds) for s in specs], len(starts), config.epochs, dims
        )
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


def _start_count(config: RaceConfig, dims: int) -> int:
    if isinstance(config.starts, list):
        return len(config.starts)
    if isinstance(config.starts, dict):
        ((kind, count),) = config.starts.items()
        return int(count**dims if kind == "grid" else count)
    return 1


def _axes(dims: int) -> str:
    return "x alone" if dims == 1 else "x and y"


def _show_point(point: Point) -> str:
    return repr(point) if not isinstance(point, tuple) else f"[{point[0]!r}, {point[1]!r}]"


def _starts(config: RaceConfig, objective: Objective) -> list[tuple[str, Point]]:
    """Each start with the key path that names it; the function's own start is
    used when the config names none."""
    if isinstance(config.starts, list):
        points: list[Point] = list(config.starts)
        return [(f"starts[{i}]", s) for i, s in enumerate(points)]
    if isinstance(config.starts, dict):
        drawn = draw_starts(config.starts, objective.domain, config.seed, objective.ydomain)
        return [("starts", s) for s in drawn]
    if "start" not in config.model_fields_set and objective.default_start is not None:
        return [("start", objective.default_start)]
    if config.start == "random":
        return [("start", draw_start(config.seed, objective.dims))]
    return [("start", config.start)]


def _described(config: RaceConfig, start: Point) -> str:
    if config.starts is None and config.start == "random":
        return f"the random start {_show_point(start)} (seed {config.seed})"
    return _show_point(start)


class Run(NamedTuple):
    """One racer's run from every start, each array ``(starts, epochs + 1)``;
    ``y`` only in 2-D."""

    x: np.ndarray
    loss: np.ndarray
    lr: np.ndarray
    y: np.ndarray | None = None


def race_one(
    spec: OptimizerSpec,
    fn: Callable[[torch.Tensor], torch.Tensor],
    starts: Sequence[Point],
    epochs: int,
    progress: Callable[[int], None] | None = None,
    schedule: ScheduleSpec | None = None,
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
    """
    if len(starts) > 1 and not spec.elementwise:
        runs = [race_one(spec, fn, [s], epochs, progress, schedule) for s in starts]
        ys = [r.y for r in runs if r.y is not None]
        return Run(
            np.concatenate([r.x for r in runs]),
            np.concatenate([r.loss for r in runs]),
            np.concatenate([r.lr for r in runs]),
            np.concatenate(ys) if ys else None,
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

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        value = fn(param).sum()
        value.backward()  # type: ignore[no-untyped-call]
        return value

    def record(epoch: int, alive: np.ndarray) -> np.ndarray:
        place = param.detach().numpy().reshape(count, dims)
        value = loss.detach().numpy().reshape(count)
        alive &= np.isfinite(place).all(axis=1) & np.isfinite(value)
        places[alive, epoch], losses[alive, epoch] = place[alive], value[alive]
        return alive

    loss = fn(param)
    alive = record(0, np.ones(count, dtype=bool))
    lrs[:, 0] = optimizer.param_groups[0]["lr"]
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
        alive = record(epoch, alive)
        if progress is not None:
            progress(count)
        if not alive.any():
            if progress is not None:
                progress(count * (epochs - epoch))
            break
    return Run(places[..., 0], losses, lrs, places[..., 1] if dims == 2 else None)


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
