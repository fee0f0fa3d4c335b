"""Test functions: a registry from YAML names to factories of :class:`Objective`.

Each objective is written once, in torch, and serves both the race (autograd)
and the drawn curve (evaluated on a grid and handed on as numpy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch

from optrace._core.errors import ConfigError
from optrace._core.keys import child, did_you_mean
from optrace._core.types import Fn, Point, Range
from optrace.problems.callables import objective_from_callable
from optrace.problems.expressions import compile_expression
from optrace.problems.minima import find_minima, find_minima_2d
from optrace.problems.objective import Objective


def peaks(x: torch.Tensor, y: torch.Tensor | float) -> torch.Tensor:
    """MATLAB's peaks, written as its published formula."""
    return (
        3 * (1 - x) ** 2 * torch.exp(-(x**2) - (y + 1) ** 2)
        - 10 * (x / 5 - x**3 - y**5) * torch.exp(-(x**2) - y**2)
        - 1 / 3 * torch.exp(-((x + 1) ** 2) - y**2)
    )


def _xy(f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Fn:
    """A function of x and y as a function of points whose last axis is (x, y)."""
    return lambda p: f(p[..., 0], p[..., 1])


@dataclass(frozen=True)
class FunctionSpec:
    """A registry entry: a description, its parameters, published minima, and a builder."""

    name: str
    formula: str
    domain: Range
    defaults: Mapping[str, float]
    build: Callable[[Mapping[str, float]], Fn]
    default_start: Point | None = None
    ydomain: Range | None = None


def _peaks_slice(params: Mapping[str, float]) -> Callable[[torch.Tensor], torch.Tensor]:
    y = float(params["y"])
    return lambda x: peaks(x, y)


def _ackley(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (
        -20 * torch.exp(-0.2 * torch.sqrt((x**2 + y**2) / 2))
        - torch.exp((torch.cos(2 * math.pi * x) + torch.cos(2 * math.pi * y)) / 2)
        + math.e
        + 20
    )


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
        FunctionSpec(
            name="peaks",
            formula="MATLAB's peaks(x, y): three peaks and three pits",
            domain=(-3.0, 3.0),
            ydomain=(-3.0, 3.0),
            defaults={},
            build=_fixed(_xy(peaks)),
            default_start=(-0.5, 1.5),
        ),
        FunctionSpec(
            name="rosenbrock",
            formula="(1 - x)**2 + 100*(y - x**2)**2 (Rosenbrock): a curved valley to (1, 1)",
            domain=(-2.0, 2.0),
            ydomain=(-1.0, 3.0),
            defaults={},
            build=_fixed(_xy(lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2)),
            default_start=(-1.2, 1.0),
        ),
        FunctionSpec(
            name="rastrigin",
            formula="20 + x**2 + y**2 - 10*(cos(2*pi*x) + cos(2*pi*y)) (Rastrigin)",
            domain=(-5.12, 5.12),
            ydomain=(-5.12, 5.12),
            defaults={},
            build=_fixed(
                _xy(
                    lambda x, y: (
                        20
                        + x**2
                        + y**2
                        - 10 * (torch.cos(2 * math.pi * x) + torch.cos(2 * math.pi * y))
                    )
                )
            ),
            default_start=(3.3, 2.6),
        ),
        FunctionSpec(
            name="himmelblau",
            formula="(x**2 + y - 11)**2 + (x + y**2 - 7)**2 (Himmelblau): four equal minima",
            domain=(-5.0, 5.0),
            ydomain=(-5.0, 5.0),
            defaults={},
            build=_fixed(_xy(lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2)),
            default_start=(0.0, 0.0),
        ),
        FunctionSpec(
            name="beale",
            formula="(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2 (Beale)",
            domain=(-4.5, 4.5),
            ydomain=(-4.5, 4.5),
            defaults={},
            build=_fixed(
                _xy(
                    lambda x, y: (
                        (1.5 - x + x * y) ** 2
                        + (2.25 - x + x * y**2) ** 2
                        + (2.625 - x + x * y**3) ** 2
                    )
                )
            ),
            default_start=(1.0, 1.5),
        ),
        FunctionSpec(
            name="booth",
            formula="(x + 2*y - 7)**2 + (2*x + y - 5)**2 (Booth): a tilted bowl",
            domain=(-10.0, 10.0),
            ydomain=(-10.0, 10.0),
            defaults={},
            build=_fixed(_xy(lambda x, y: (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2)),
            default_start=(-7.0, -6.0),
        ),
        FunctionSpec(
            name="six-hump-camel",
            formula="(4 - 2.1*x**2 + x**4/3)*x**2 + x*y + (-4 + 4*y**2)*y**2: six pits",
            domain=(-3.0, 3.0),
            ydomain=(-2.0, 2.0),
            defaults={},
            build=_fixed(
                _xy(
                    lambda x, y: (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2
                )
            ),
            default_start=(-1.5, 1.2),
        ),
        FunctionSpec(
            name="ackley",
            formula="-20*exp(-0.2*sqrt((x**2 + y**2)/2)) - exp((cos(2*pi*x) + cos(2*pi*y))/2) "
            "+ e + 20 (Ackley)",
            domain=(-5.0, 5.0),
            ydomain=(-5.0, 5.0),
            defaults={},
            build=_fixed(_xy(_ackley)),
            default_start=(3.6, -2.4),
        ),
        FunctionSpec(
            name="saddle",
            formula="x**2 - y**2: a saddle at (0, 0), unbounded below",
            domain=(-2.0, 2.0),
            ydomain=(-2.0, 2.0),
            defaults={},
            build=_fixed(_xy(lambda x, y: x**2 - y**2)),
            default_start=(1.5, 0.001),
        ),
    )
}


def build_function(
    name: str | None,
    params: Mapping[str, Any],
    path: str = "function",
    expr: str | None = None,
    domain: tuple[Range, ...] | None = None,
    domain_path: str = "domain",
    call: Callable[..., Any] | None = None,
) -> Objective:
    """Build the registry function ``name`` with ``params``, compile ``expr``, or
    check the Python callable ``call``.

    ``domain`` holds one range (for a 2-D function, both axes) or two (x, then y);
    ``domain_path`` is the key blamed when it does not fit the function. The
    objective pickles as these arguments, and is built again where it is unpickled.
    """
    built = _built(name, params, path, expr, domain, domain_path, call)
    arguments = (name, dict(params), path, expr, domain, domain_path, call)
    return replace(built, recipe=(build_function, arguments))


def _built(
    name: str | None,
    params: Mapping[str, Any],
    path: str,
    expr: str | None,
    domain: tuple[Range, ...] | None,
    domain_path: str,
    call: Callable[..., Any] | None,
) -> Objective:
    if call is not None:
        return objective_from_callable(call, domain, path)
    if expr is not None:
        return _from_expression(expr, domain, path)
    assert name is not None
    spec = FUNCTIONS.get(name)
    if spec is None:
        hint = did_you_mean(name, list(FUNCTIONS))
        known = ", ".join(FUNCTIONS)
        raise ConfigError(child(path, "name"), f"unknown function '{name}'{hint}; known: {known}")
    values = _parameters(spec, name, params, path)
    fn = spec.build(values)
    if spec.ydomain is None:
        if domain is not None and len(domain) == 2:
            raise ConfigError(
                domain_path, f"{name} is a function of x alone; give one range [low, high]"
            )
        line = domain[0] if domain else spec.domain
        return Objective(
            name=name,
            fn=fn,
            domain=line,
            formula=spec.formula,
            minima=find_minima(fn, line),
            default_start=spec.default_start,
            params=values,
        )
    xs, ys = (domain[0], domain[-1]) if domain else (spec.domain, spec.ydomain)
    return Objective(
        name=name,
        fn=fn,
        domain=xs,
        ydomain=ys,
        formula=spec.formula,
        minima=find_minima_2d(fn, xs, ys),
        default_start=spec.default_start,
        params=values,
    )


def _from_expression(expr: str, domain: tuple[Range, ...] | None, path: str) -> Objective:
    """The objective of an expression in x (or in x and y) over ``domain``."""
    body, uses_y = compile_expression(expr, child(path, "expr"))
    box = domain or ((-5.0, 5.0),)
    if not uses_y and len(box) == 1:
        fn: Fn = lambda x: body(x, None)  # noqa: E731
        return Objective(
            name="expr", fn=fn, domain=box[0], formula=expr, minima=find_minima(fn, box[0])
        )
    fn = lambda p: body(p[..., 0], p[..., 1])  # noqa: E731
    xs, ys = box[0], box[-1]
    return Objective(
        name="expr", fn=fn, domain=xs, ydomain=ys, formula=expr, minima=find_minima_2d(fn, xs, ys)
    )


def _parameters(
    spec: FunctionSpec, name: str, params: Mapping[str, Any], path: str
) -> dict[str, float]:
    """The registry function's parameters: its defaults, with ``params`` checked over them."""
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
    return values
