"""The race: a config made runnable (``prepare``), then run into traces (``run``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optrace.config import AnimationConfig, RaceConfig
from optrace.errors import ConfigError
from optrace.functions import Objective, build_function
from optrace.optimizers import OptimizerSpec, constructor_parameters, resolve
from optrace.styles import assign_styles, parse_style
from optrace.trace import RaceResult, Trace

DTYPE = torch.float64


@dataclass(frozen=True)
class Racer:
    """One racer, resolved: its label, style and optimizer."""

    label: str
    style: str
    optimizer: OptimizerSpec


@dataclass(frozen=True)
class RacePlan:
    """A checked config, ready to run."""

    title: str
    objective: Objective
    domain: tuple[float, float]
    start: float
    epochs: int
    racers: tuple[Racer, ...]
    animation: AnimationConfig


def draw_start(seed: int) -> float:
    """The ``start: random`` point: one standard normal float64 draw from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return float(torch.randn(1, generator=generator, dtype=DTYPE).item())


def _format(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_format(v) for v in value) + ")"
    return repr(value) if isinstance(value, (float, str)) else str(value)


def default_labels(specs: Sequence[OptimizerSpec], chosen: Sequence[str | None]) -> list[str]:
    """Labels for racers without one: the optimizer's name, plus the hyperparameters
    that differ within a group of same-named racers; ``#n`` where still equal."""
    labels: list[str | None] = list(chosen)
    groups: dict[str, list[int]] = {}
    for i, (spec, label) in enumerate(zip(specs, chosen, strict=True)):
        if label is None:
            groups.setdefault(spec.name, []).append(i)
    for name, members in groups.items():
        if len(members) == 1 and name not in chosen:
            labels[members[0]] = name
            continue
        full = [_with_defaults(specs[i]) for i in members]
        keys: list[str] = []
        for hp in full:
            for key in hp:
                if key not in keys and len({_format(h.get(key)) for h in full}) > 1:
                    keys.append(key)
        for i, hp in zip(members, full, strict=True):
            parts = [f"{k}={_format(hp.get(k))}" for k in keys]
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


def _with_defaults(spec: OptimizerSpec) -> Mapping[str, Any]:
    params, _ = constructor_parameters(spec.cls)
    full = {p.name: p.default for p in params}
    full.update(spec.hyperparameters)
    return full


def prepare(config: RaceConfig, folder: Path | None = None) -> RacePlan:
    """Resolve the function, the start and every racer; raise ConfigError on the first problem.

    Args:
        config: A validated config.
        folder: The config file's folder, where dotted optimizer paths are looked for first.
    """
    objective = build_function(config.function.name, config.function.params)
    domain = config.domain or objective.domain
    if config.start == "random":
        start = draw_start(config.seed)
        where = f"the random start {start!r} (seed {config.seed})"
    else:
        start = float(config.start)
        where = f"{start!r}"
    if not math.isfinite(start) or not domain[0] <= start <= domain[1]:
        raise ConfigError(
            "start",
            f"{where} lies outside the domain [{domain[0]}, {domain[1]}]; "
            "choose a start inside it or widen 'domain'",
        )
    start_tensor = torch.tensor([start], dtype=DTYPE)
    with torch.no_grad():
        if not math.isfinite(float(objective.fn(start_tensor).item())):
            raise ConfigError("start", f"{objective.name} is not finite at {start!r}")
    specs = [
        resolve(r.optimizer, r.hyperparameters, f"racers[{i}]", objective.fn, start_tensor, folder)
        for i, r in enumerate(config.racers)
    ]
    chosen_styles = [
        None if r.style is None else parse_style(r.style, f"racers[{i}].style")
        for i, r in enumerate(config.racers)
    ]
    labels = default_labels(specs, [r.label for r in config.racers])
    styles = assign_styles([s.name for s in specs], chosen_styles)
    return RacePlan(
        title=config.title,
        objective=objective,
        domain=domain,
        start=start,
        epochs=config.epochs,
        racers=tuple(
            Racer(label=label, style=style, optimizer=spec)
            for label, style, spec in zip(labels, styles, specs, strict=True)
        ),
        animation=config.animation,
    )


def race_one(
    spec: OptimizerSpec,
    fn: Callable[[torch.Tensor], torch.Tensor],
    start: float,
    epochs: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Race one optimizer from ``start``: ``(x, loss)`` of shape ``(epochs + 1,)``.

    Each epoch is zero_grad, loss.backward(), step(), exactly as a plain torch
    loop; the values after the step are recorded. From the first non-finite x
    or loss on, both are NaN and the racer stops.
    """
    xs = np.full(epochs + 1, np.nan)
    losses = np.full(epochs + 1, np.nan)
    param = torch.tensor([start], dtype=DTYPE, requires_grad=True)
    optimizer = spec.build(param)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        value = fn(param).sum()
        value.backward()  # type: ignore[no-untyped-call]
        return value

    loss = fn(param).sum()
    xs[0], losses[0] = start, loss.item()
    for epoch in range(1, epochs + 1):
        if spec.needs_closure:
            optimizer.step(closure)  # type: ignore[arg-type]
        else:
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        loss = fn(param).sum()
        x, value = param.item(), loss.item()
        if progress is not None:
            progress(1)
        if not (math.isfinite(x) and math.isfinite(value)):
            if progress is not None:
                progress(epochs - epoch)
            break
        xs[epoch], losses[epoch] = x, value
    return xs, losses


def run(plan: RacePlan, progress: Callable[[int], None] | None = None) -> RaceResult:
    """Run every racer from the plan's start; ``progress`` hears of each racer-epoch."""
    traces = []
    for racer in plan.racers:
        xs, losses = race_one(racer.optimizer, plan.objective.fn, plan.start, plan.epochs, progress)
        traces.append(
            Trace(
                label=racer.label,
                optimizer=racer.optimizer.name,
                hyperparameters=dict(racer.optimizer.hyperparameters),
                style=racer.style,
                x=xs[np.newaxis, :],
                loss=losses[np.newaxis, :],
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
    )
