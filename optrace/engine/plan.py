"""The plan: a config made runnable (``prepare``), every racer resolved and checked."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from optrace._core.errors import ConfigError
from optrace._core.keys import did_you_mean
from optrace._core.types import Point, Range, describe_box
from optrace.engine import cost
from optrace.engine.labels import default_labels
from optrace.engine.starts import draw_start, draw_starts
from optrace.engine.styles import assign_styles, parse_style
from optrace.engine.sweep import SweepPlan, check_combinations
from optrace.optim.optimizers import OptimizerSpec, resolve
from optrace.optim.schedules import ScheduleSpec, resolve_schedule
from optrace.problems.functions import build_function
from optrace.problems.model import ModelProblem, build_problem
from optrace.problems.objective import DTYPE, Objective
from optrace.spec.loading import load_config
from optrace.spec.model import AnimationConfig, NoiseConfig, RaceConfig
from optrace.spec.training import PlaneConfig

#: The config's dtype names.
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class RacerPlan:
    """One racer, resolved: its label, style, optimizer, schedule, gradient noise
    (its own, else the race's) and sweep."""

    label: str
    style: str
    optimizer: OptimizerSpec
    schedule: ScheduleSpec | None = None
    noise: NoiseConfig | None = None
    sweep: SweepPlan | None = None

    @property
    def combinations(self) -> int:
        """How many races it is: one, or one per combination of its sweep."""
        return 1 if self.sweep is None else len(self.sweep.combinations)


@dataclass(frozen=True)
class RacePlan:
    """A checked config, ready to run; every start is raced ``repeats`` times, each
    repeat with its own noise (drawn from ``seed``). ``epochs`` is the most steps a
    racer takes; with a budget of ``evaluations``, each racer stops at the step that
    reaches them."""

    title: str
    objective: Objective | None
    domain: Range
    starts: tuple[Point, ...]
    epochs: int
    racers: tuple[RacerPlan, ...]
    animation: AnimationConfig
    tolerance: float = 1e-3
    seed: int = 0
    repeats: int = 1
    evaluations: int | None = None
    model: ModelProblem | None = None
    plane: PlaneConfig | None = None
    target: float | None = None

    def describe(self) -> str:
        """The race in a line: its racers, what they race on, how long, from where.

        Examples:
            >>> from optrace.api import Race
            >>> Race.from_yaml("configs/seed.yaml").plan().describe()[:46]
            '5 racers (SGD, Adam, Adagrad, Adadelta, RMSpro'
        """
        labels = ", ".join(r.label for r in self.racers)
        if self.model is not None:
            what, where = self.model.description, "the initial weights"
        else:
            first = self.starts[0]
            where = (
                f"(x, y) = ({first[0]!r}, {first[1]!r})"
                if isinstance(first, tuple)
                else f"x = {first!r}"
            )
            if len(self.starts) > 1:
                where = f"{len(self.starts)} starts"
            if self.repeats > 1:
                where += f", {self.repeats} times each"
            what = self.function.name
        return f"{len(self.racers)} racers ({labels}) on {what}, {self.epochs} epochs from {where}"

    @property
    def function(self) -> Objective:
        """The function raced (a model race has none)."""
        assert self.objective is not None, "a function race has an objective"
        return self.objective


def prepare(
    config: RaceConfig,
    folder: Path | None = None,
    limits: bool = True,
    like: RacePlan | None = None,
) -> RacePlan:
    """Resolve the function, the start and every racer; raise ConfigError on the first problem.

    Args:
        config: A validated config.
        folder: The config file's folder, where dotted optimizer paths are looked for first.
        limits: Refuse a race or animation too large for this machine (see optrace.cost).
        like: The plan of a config that differs from ``config`` only in its starts
            and epochs (a tuning's): its function and racers are taken as they are,
            not built and probed again.
    """
    if config.model is not None:
        return _prepare_model(config, folder, limits, like)
    objective = _objective(config) if like is None else like.function
    dims = objective.dims
    if limits:
        runs = _start_count(config, dims) * config.repeats
        races = sum(math.prod(len(v) for v in r.swept.values()) for r in config.racers)
        cost.check_traces(races, runs, config.steps, dims)
        cost.check_animation(config.animation.frame_count(config.steps), config.animation.pixels)
    starts = _checked_starts(config, objective)
    first = starts[0][1]
    start = torch.tensor(first if isinstance(first, tuple) else [first], dtype=DTYPE)
    if like is None:
        specs, schedules = _optimizers(config, objective, start, folder, limits)
        noises = [config.noise if r.noise is None else r.noise for r in config.racers]
        racers = _racer_plans(config, specs, schedules, noises)
        for i, racer in enumerate(racers):
            if racer.sweep is not None:
                check_combinations(racer.optimizer, racer.sweep, start, f"racers[{i}].sweep")
    else:
        racers = like.racers
    if limits:
        # A sweep's combinations are counted as races of their own (at most).
        each = [r for r in racers for _ in range(r.combinations)]
        cost.check_race(
            [(r.optimizer.elementwise, r.optimizer.step_seconds) for r in each],
            len(starts) * config.repeats,
            config.steps,
            dims,
            noisy=[r.noise is not None and r.noise.std > 0 for r in each],
        )
    return RacePlan(
        title=config.title,
        objective=objective,
        domain=objective.domain,
        starts=tuple(s for _, s in starts),
        epochs=config.steps,
        racers=racers,
        animation=config.animation,
        tolerance=config.tolerance,
        seed=config.seed,
        repeats=config.repeats,
        evaluations=config.evaluations,
    )


def _objective(config: RaceConfig) -> Objective:
    """The config's function, built, and refused where its view cannot show it."""
    function = config.function
    assert function is not None, "a function race has a function"
    objective = build_function(
        function.name,
        function.params,
        expr=function.expr,
        domain=config.domain or function.domain,
        domain_path="domain" if config.domain else "function.domain",
        call=function.call,
    )
    if objective.dims == 1 and config.animation.view == "surface":
        raise ConfigError(
            "animation.view",
            f"a surface needs a function of x and y; {objective.name} is 1-D: use 'contour'",
        )
    return objective


def _checked_starts(config: RaceConfig, objective: Objective) -> list[tuple[str, Point]]:
    """Each start with its key path, checked: as many coordinates as the function
    has, inside the domain, and the function finite there."""
    dims = objective.dims
    starts = _starts(config, objective)
    box = [objective.domain] if objective.ydomain is None else [objective.domain, objective.ydomain]
    shown = describe_box(objective.domain, objective.ydomain)
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
    return starts


def _optimizers(
    config: RaceConfig,
    objective: Objective,
    start: torch.Tensor,
    folder: Path | None,
    limits: bool,
) -> tuple[list[OptimizerSpec], list[ScheduleSpec | None]]:
    """Every racer's optimizer and schedule, resolved and probed from ``start``."""
    probe_limit = cost.PROBE_SECONDS if limits else None
    specs = [
        resolve(
            r.optimizer,
            r.hyperparameters,
            f"racers[{i}]",
            objective.fn,
            start,
            folder,
            probe_limit,
            base_optimizer=r.base_optimizer,
            wraps=None if r.wraps is None else r.wraps.as_mapping(),
            dtype=DTYPES[r.dtype or config.dtype],
        )
        for i, r in enumerate(config.racers)
    ]
    schedules = [
        None
        if r.schedule is None
        else resolve_schedule(
            r.schedule, f"racers[{i}].schedule", spec, objective.fn, start, folder
        )
        for i, (r, spec) in enumerate(zip(config.racers, specs, strict=True))
    ]
    # A schedule that reads the loss would see every start's loss summed: such a
    # racer races start by start to stay exact.
    specs = [
        replace(spec, elementwise=False) if sched is not None and sched.on_loss else spec
        for spec, sched in zip(specs, schedules, strict=True)
    ]
    return specs, schedules


def _racer_plans(
    config: RaceConfig,
    specs: list[OptimizerSpec],
    schedules: list[ScheduleSpec | None],
    noises: list[NoiseConfig | None],
) -> tuple[RacerPlan, ...]:
    """Each racer's plan: its label and style (chosen, else assigned) with its parts."""
    chosen_styles = [
        None if r.style is None else parse_style(r.style, f"racers[{i}].style")
        for i, r in enumerate(config.racers)
    ]
    labels = default_labels(specs, [r.label for r in config.racers], schedules)
    styles = assign_styles([s.name for s in specs], chosen_styles)
    sweeps = [
        SweepPlan.of(r.swept, r.hyperparameters) if r.sweep is not None else None
        for r in config.racers
    ]
    return tuple(
        RacerPlan(label, style, spec, sched, noise, sweep)
        for label, style, spec, sched, noise, sweep in zip(
            labels, styles, specs, schedules, noises, sweeps, strict=True
        )
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


def _prepare_model(
    config: RaceConfig, folder: Path | None, limits: bool, like: RacePlan | None
) -> RacePlan:
    """The plan of a model race: its problem built, every racer's optimizer probed on
    a copy of the network, the plane's racers named."""
    from optrace.optim.models import resolve_for_model

    assert config.model is not None
    dtype = DTYPES[config.dtype]
    if like is not None and like.model is not None:
        problem, racers = like.model, like.racers
    else:
        problem = build_problem(config.model, config.seed, dtype, folder)
        probe_limit = cost.PROBE_SECONDS * 10 if limits else None
        specs = [
            resolve_for_model(
                r.optimizer,
                r.hyperparameters,
                f"racers[{i}]",
                problem.module,
                problem.evaluator,
                folder,
                probe_limit,
                base_optimizer=r.base_optimizer,
                wraps=None if r.wraps is None else r.wraps.as_mapping(),
            )
            for i, r in enumerate(config.racers)
        ]
        schedules = [
            None
            if r.schedule is None
            else resolve_schedule(
                r.schedule,
                f"racers[{i}].schedule",
                spec,
                bowl,
                torch.tensor([1.0, 1.0], dtype=DTYPE),
                folder,
            )
            for i, (r, spec) in enumerate(zip(config.racers, specs, strict=True))
        ]
        racers = _racer_plans(config, specs, schedules, [None] * len(specs))
    plane = config.planed
    if plane.racers is not None:
        labels = [r.label for r in racers]
        for j, name in enumerate(plane.racers):
            if name not in labels:
                raise ConfigError(
                    f"plane.racers[{j}]",
                    f"no racer is labelled '{name}'{did_you_mean(name, labels)}; the racers "
                    f"are {', '.join(labels)}",
                )
    if limits:
        cost.check_animation(config.animation.frame_count(config.steps), config.animation.pixels)
    return RacePlan(
        title=config.title,
        objective=None,
        # One run per racer, from the initial weights; the drawn box is the plane's
        # grid, known once the race has run.
        domain=(-1.0, 1.0),
        starts=(0.0,),
        epochs=config.steps,
        racers=racers,
        animation=config.animation,
        tolerance=config.tolerance,
        seed=config.seed,
        repeats=1,
        evaluations=config.evaluations,
        model=problem,
        plane=plane,
        target=config.model.target,
    )


def bowl(x: torch.Tensor) -> torch.Tensor:
    """What a model racer's schedule and search space are checked on: they are the
    optimizer's keywords, not the model's."""
    return (x**2).sum(-1)
