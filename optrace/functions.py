"""Test functions: a registry from YAML names to factories of :class:`Objective`.

Each objective is written once, in torch, and serves both the race (autograd)
and the drawn curve (evaluated on a grid and handed on as numpy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from optrace.config import child, did_you_mean
from optrace.errors import ConfigError

Fn = Callable[[torch.Tensor], torch.Tensor]
Range = tuple[float, float]
#: A start or a minimum's place: x in 1-D, (x, y) in 2-D.
Point = float | tuple[float, float]


class Minimum(NamedTuple):
    """A local minimum: its place ``x`` (and ``y`` in 2-D) and its ``value``."""

    x: float
    value: float
    y: float | None = None

    @property
    def point(self) -> Point:
        """``x``, or ``(x, y)`` in 2-D."""
        return self.x if self.y is None else (self.x, self.y)


@dataclass(frozen=True)
class Objective:
    """A 1-D or 2-D test function with the box it is drawn over.

    Attributes:
        name: The registry name, e.g. ``peaks-slice``, or ``expr`` for your own.
        fn: In 1-D, maps a float64 tensor of points to their values, element by
            element. In 2-D, maps a tensor whose last axis holds ``(x, y)`` to
            the values over the other axes.
        domain: ``(low, high)`` drawn on the x axis; a racer may leave it.
        formula: A one-line description shown by ``list-functions`` and in titles.
        minima: Known local minima in the box, lowest first.
        default_start: Where racers start when the config names no start (None: random).
        params: The parameters the function was built with.
        ydomain: In 2-D, ``(low, high)`` drawn on the y axis; None in 1-D.
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    domain: Range
    formula: str
    minima: tuple[Minimum, ...] = ()
    default_start: Point | None = None
    params: Mapping[str, float] = field(default_factory=dict)
    ydomain: Range | None = None

    @property
    def dims(self) -> int:
        """1 or 2."""
        return 1 if self.ydomain is None else 2

    def curve(self, domain: Range, points: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """The function sampled on ``points`` evenly spaced x values over ``domain``."""
        xs = torch.linspace(domain[0], domain[1], points, dtype=torch.float64)
        with torch.no_grad():
            ys = self.fn(xs)
        return xs.numpy(), ys.numpy()

    def surface(
        self, domain: Range, ydomain: Range, points: int = 241
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(xs, ys, z)``: the 2-D function on a grid, ``z[j, i] = f(xs[i], ys[j])``."""
        return _surface(self.fn, domain, ydomain, points)


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


def _surface(
    fn: Fn, domain: Range, ydomain: Range, points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs = torch.linspace(domain[0], domain[1], points, dtype=torch.float64)
    ys = torch.linspace(ydomain[0], ydomain[1], points, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
    with torch.no_grad():
        z = fn(grid)
    return xs.numpy(), ys.numpy(), z.numpy()


def find_minima_2d(
    fn: Fn, domain: Range, ydomain: Range, points: int = 401, most: int = 400
) -> tuple[Minimum, ...]:
    """The local minima of a 2-D ``fn`` inside the box, lowest first: the grid
    points lower than their eight neighbours, each refined by a compass search
    (move to the lowest of the eight neighbours a step away, or halve the step)
    and then by Newton steps that do not raise the value."""
    xs, ys, z = (torch.from_numpy(a) for a in _surface(fn, domain, ydomain, points))
    centre = z[1:-1, 1:-1]
    lower = torch.isfinite(centre)
    for dj in (-1, 0, 1):
        for di in (-1, 0, 1):
            if dj or di:
                near = z[1 + dj : points - 1 + dj, 1 + di : points - 1 + di]
                # strict against the earlier neighbours, so a flat pair yields one
                lower &= centre < near if (dj, di) < (0, 0) else centre <= near
    rows, cols = torch.nonzero(lower, as_tuple=True)
    if rows.numel() == 0:
        return ()
    order = torch.argsort(centre[rows, cols])[:most]
    place = torch.stack([xs[cols[order] + 1], ys[rows[order] + 1]], dim=-1)
    size = torch.tensor([domain[1] - domain[0], ydomain[1] - ydomain[0]], dtype=torch.float64)
    step = (size / (points - 1)).expand_as(place).clone()
    moves = torch.tensor(
        [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)], dtype=torch.float64
    )  # index 4 is (0, 0): stay
    rows = torch.arange(len(place))
    with torch.no_grad():
        for _ in range(100):
            tries = place[:, None, :] + moves[None, :, :] * step[:, None, :]
            values = fn(tries)
            best = torch.argmin(torch.where(torch.isfinite(values), values, torch.inf), dim=1)
            place = tries[rows, best]
            step = torch.where((best == 4)[:, None], step / 2, step)
    for _ in range(50):
        place = _newton_step(fn, place)
    with torch.no_grad():
        low = torch.tensor([domain[0], ydomain[0]], dtype=torch.float64)
        high = torch.tensor([domain[1], ydomain[1]], dtype=torch.float64)
        inside = ((place > low) & (place < high)).all(dim=1)
        values = fn(place)
        # A minimum is no higher than its eight neighbours a hair away.
        near = fn(place[:, None, :] + moves[None, :, :] * (size * 1e-6))
        inside &= (values[:, None] <= near).all(dim=1)
    found: list[Minimum] = []
    for (x, y), value in zip(place[inside].tolist(), values[inside].tolist(), strict=True):
        if all(abs(x - m.x) + abs(y - (m.y or 0.0)) > 1e-6 * float(size.sum()) for m in found):
            found.append(Minimum(x, value, y))
    return tuple(sorted(found, key=lambda m: m.value))


def _newton_step(fn: Fn, place: torch.Tensor) -> torch.Tensor:
    """One damped Newton step for each point of ``place`` (n, 2): of the steps
    256, 128, ..., 2**-40 times the Newton direction (and none), the one with
    the lowest value. Each point's value depends on that point alone, so the
    gradient of the sum is each point's gradient."""
    p = place.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(p).sum(), p, create_graph=True)
    rows = [torch.autograd.grad(grad[:, i].sum(), p, retain_graph=True)[0] for i in range(2)]
    with torch.no_grad():
        hessian = torch.stack(rows, dim=1)
        det = torch.linalg.det(hessian)
        usable = (det > 0) & (hessian[:, 0, 0] > 0) & torch.isfinite(det)
        safe = torch.where(usable[:, None, None], hessian, torch.eye(2, dtype=place.dtype))
        direction = torch.linalg.solve(safe, grad[..., None])[..., 0]
        # Where the Hessian is not positive definite, down the gradient instead.
        direction = torch.where(usable[:, None], direction, grad)
        direction = torch.where(torch.isfinite(direction), direction, 0.0)
        scales = torch.tensor([0.0] + [2.0**-k for k in range(-8, 41)], dtype=place.dtype)
        tries = place[:, None, :] - scales[None, :, None] * direction[:, None, :]
        values = fn(tries)
        best = torch.argmin(torch.where(torch.isfinite(values), values, torch.inf), dim=1)
        return tries[torch.arange(len(place)), best]


def find_minima(fn: Fn, domain: Range, points: int = 20001) -> tuple[Minimum, ...]:
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
            found.append(Minimum(x, float(fn(torch.tensor([x], dtype=torch.float64)))))
    return tuple(sorted(found, key=lambda m: m.value))


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
) -> Objective:
    """Build the registry function ``name`` with ``params``, or compile ``expr``.

    ``domain`` holds one range (for a 2-D function, both axes) or two (x, then y);
    ``domain_path`` is the key blamed when it does not fit the function.
    """
    if expr is not None:
        from optrace.expressions import compile_expression

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
            name="expr",
            fn=fn,
            domain=xs,
            ydomain=ys,
            formula=expr,
            minima=find_minima_2d(fn, xs, ys),
        )
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
