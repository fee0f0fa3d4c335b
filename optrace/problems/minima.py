"""Known minima, found numerically: every grid point lower than its neighbours,
refined (golden-section search in 1-D; compass search and damped Newton steps in 2-D)."""

from __future__ import annotations

import math

import torch

from optrace._core.types import Fn, Minimum, Range
from optrace.problems.objective import DTYPE, sample_surface


def find_minima_2d(
    fn: Fn, domain: Range, ydomain: Range, points: int = 401, most: int = 400
) -> tuple[Minimum, ...]:
    """The local minima of a 2-D ``fn`` inside the box, lowest first: the grid
    points lower than their eight neighbours, each refined by a compass search
    (move to the lowest of the eight neighbours a step away, or halve the step)
    and then by Newton steps that do not raise the value."""
    xs, ys, z = (torch.from_numpy(a) for a in sample_surface(fn, domain, ydomain, points))
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
    size = torch.tensor([domain[1] - domain[0], ydomain[1] - ydomain[0]], dtype=DTYPE)
    step = (size / (points - 1)).expand_as(place).clone()
    moves = torch.tensor(
        [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)], dtype=DTYPE
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
        low = torch.tensor([domain[0], ydomain[0]], dtype=DTYPE)
        high = torch.tensor([domain[1], ydomain[1]], dtype=DTYPE)
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
    xs = torch.linspace(domain[0], domain[1], points, dtype=DTYPE)
    with torch.no_grad():
        ys = fn(xs)
        inside = (ys[1:-1] < ys[:-2]) & (ys[1:-1] <= ys[2:]) & torch.isfinite(ys[1:-1])
        found = []
        ratio = (math.sqrt(5) - 1) / 2
        for i in (torch.nonzero(inside).flatten() + 1).tolist():
            a, b = float(xs[i - 1]), float(xs[i + 1])
            for _ in range(80):
                c, d = b - ratio * (b - a), a + ratio * (b - a)
                fc, fd = fn(torch.tensor([c, d], dtype=DTYPE)).tolist()
                a, b = (a, d) if fc < fd else (c, b)
            x = (a + b) / 2
            found.append(Minimum(x, float(fn(torch.tensor([x], dtype=DTYPE)))))
    return tuple(sorted(found, key=lambda m: m.value))
