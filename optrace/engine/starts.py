"""Where racers start: a swarm's grid or seeded random draws, and ``start: random``."""

from __future__ import annotations

import torch

from optrace._core.types import Point, Range
from optrace.problems.objective import DTYPE


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
