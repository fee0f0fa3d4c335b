"""Test functions: a registry from YAML names to factories of :class:`Objective`.

Each objective is written once, in torch, and serves both the race (autograd)
and the drawn curve (evaluated on a grid and handed on as numpy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from optrace.config import child, did_you_mean
from optrace.errors import ConfigError

Fn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Objective:
    """A 1-D test function with the domain it is drawn over.

    Attributes:
        name: The registry name, e.g. ``peaks-slice``, or ``expr`` for your own.
        fn: Maps a float64 tensor of points to their values, element by element.
        domain: ``(low, high)`` drawn on the x axis; a racer may leave it.
        formula: A one-line description shown by ``list-functions`` and in titles.
        minima: Known local minima ``(x, f(x))`` in the domain, lowest first.
        default_start: Where racers start when the config names no start (None: random).
        params: The parameters the function was built with.
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    domain: tuple[float, float]
    formula: str
    minima: tuple[tuple[float, float], ...] = ()
    default_start: float | None = None
    params: Mapping[str, float] = field(default_factory=dict)

    def curve(
        self, domain: tuple[float, float], points: int = 1000
    ) -> tuple[np.ndarray, np.ndarray]:
        """The function sampled on ``points`` evenly spaced x values over ``domain``."""
        xs = torch.linspace(domain[0], domain[1], points, dtype=torch.float64)
        with torch.no_grad():
            ys = self.fn(xs)
        return xs.numpy(), ys.numpy()


def peaks(x: torch.Tensor, y: torch.Tensor | float) -> torch.Tensor:
    """MATLAB's peaks, written as its published formula."""
    return (
        3 * (1 - x) ** 2 * torch.exp(-(x**2) - (y + 1) ** 2)
        - 10 * (x / 5 - x**3 - y**5) * torch.exp(-(x**2) - y**2)
        - 1 / 3 * torch.exp(-((x + 1) ** 2) - y**2)
    )


def find_minima(
    fn: Callable[[torch.Tensor], torch.Tensor], domain: tuple[float, float], points: int = 20001
) -> tuple[tuple[float, float], ...]:
    """The local minima of ``fn`` inside ``domain``, lowest first: sampled on a fine
    grid, then each refined by golden-section search between its neighbours."""
    xs = torch.linspace(domain[0], domain[1], points, dtype=torch.float64)
    with torch.no_grad():
        ys = fn(xs)
        inside = (ys[1:-1] < ys[:-2]) & (ys[1:-1] <= ys[2:]) & torch.isfinite(ys[1:-1])
        found = []
        ratio = (math.sqrt(5) - 1) / 2
        for i in (torch.nonzero(inside).flatten() + 1).tolist():
            a, b = float(xs[i - 1]), float(xs[i + 1])
            for _ in range(80):
                c, d = b - ratio * (b - a), a + ratio * (b - a)
                fc, fd = fn(torch.tensor([c, d], dtype=torch.float64)).tolist()
                a, b = (a, d) if fc < fd else (c, b)
            x = (a + b) / 2
            found.append((x, float(fn(torch.tensor([x], dtype=torch.float64)))))
    return tuple(sorted(found, key=lambda m: m[1]))


@dataclass(frozen=True)
class FunctionSpec:
    """A registry entry: a description, its parameters, published minima, and a builder."""

    name: str
    formula: str
    domain: tuple[float, float]
    defaults: Mapping[str, float]
    build: Callable[[Mapping[str, float]], Callable[[torch.Tensor], torch.Tensor]]
    default_start: float | None = None


def _peaks_slice(params: Mapping[str, float]) -> Callable[[torch.Tensor], torch.Tensor]:
    y = float(params["y"])
    return lambda x: peaks(x, y)


def _fixed(fn: Fn) -> Callable[[Mapping[str, float]], Fn]:
    return lambda params: fn


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec(
            name="peaks-slice",
            formula="MATLAB's peaks(x, y) along the line y = const (default -0.5)",
            domain=(-5.0, 5.0),
            defaults={"y": -0.5},
            build=_peaks_slice,
        ),
        FunctionSpec(
            name="quartic",
            formula="x**4 - 3*x**2 + x: two basins, the left one deeper",
            domain=(-2.5, 2.5),
            defaults={},
            build=_fixed(lambda x: x**4 - 3 * x**2 + x),
            default_start=2.0,
        ),
        FunctionSpec(
            name="rastrigin-1d",
            formula="10 + x**2 - 10*cos(2*pi*x) (Rastrigin): a minimum near every integer",
            domain=(-5.12, 5.12),
            defaults={},
            build=_fixed(lambda x: 10 + x**2 - 10 * torch.cos(2 * math.pi * x)),
            default_start=3.3,
        ),
        FunctionSpec(
            name="forrester",
            formula="(6x - 2)**2 * sin(12x - 4) on [0, 1] (Forrester et al. 2008)",
            domain=(0.0, 1.0),
            defaults={},
            build=_fixed(lambda x: (6 * x - 2) ** 2 * torch.sin(12 * x - 4)),
            default_start=0.3,
        ),
        FunctionSpec(
            name="gramacy-lee",
            formula="sin(10*pi*x) / (2x) + (x - 1)**4 on [0.5, 2.5] (Gramacy and Lee 2012)",
            domain=(0.5, 2.5),
            defaults={},
            build=_fixed(lambda x: torch.sin(10 * math.pi * x) / (2 * x) + (x - 1) ** 4),
            default_start=1.4,
        ),
    )
}


def build_function(
    name: str | None,
    params: Mapping[str, Any],
    path: str = "function",
    expr: str | None = None,
    domain: tuple[float, float] | None = None,
) -> Objective:
    """Build the registry function ``name`` with ``params``, or compile ``expr``."""
    if expr is not None:
        from optrace.expressions import compile_expression

        fn = compile_expression(expr, child(path, "expr"))
        box = domain or (-5.0, 5.0)
        return Objective(name="expr", fn=fn, domain=box, formula=expr, minima=find_minima(fn, box))
    assert name is not None
    spec = FUNCTIONS.get(name)
    if spec is None:
        hint = did_you_mean(name, list(FUNCTIONS))
        known = ", ".join(FUNCTIONS)
        raise ConfigError(child(path, "name"), f"unknown function '{name}'{hint}; known: {known}")
    values = dict(spec.defaults)
    for key, value in params.items():
        if key not in spec.defaults:
            hint = did_you_mean(key, list(spec.defaults))
            takes = ", ".join(spec.defaults) or "no parameters"
            raise ConfigError(
                child(path, key), f"{name} has no parameter '{key}'{hint}; it takes {takes}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(child(path, key), f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(child(path, key), f"expected a finite number, got {value!r}")
        values[key] = float(value)
    fn = spec.build(values)
    box = domain or spec.domain
    return Objective(
        name=name,
        fn=fn,
        domain=box,
        formula=spec.formula,
        minima=find_minima(fn, box),
        default_start=spec.default_start,
        params=values,
    )
