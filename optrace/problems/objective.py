"""The objective a race runs on: a 1-D or 2-D function in torch with its box."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from optrace._core.types import Fn, Minimum, Point, Range

#: Every race, curve and minimum is computed in float64; torch's default dtype is left alone.
DTYPE = torch.float64


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
        recipe: How to build it again, ``(builder, arguments)``: what a pickled
            objective carries instead of ``fn`` (a closure, which cannot be pickled).
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    domain: Range
    formula: str
    minima: tuple[Minimum, ...] = ()
    default_start: Point | None = None
    params: Mapping[str, float] = field(default_factory=dict)
    ydomain: Range | None = None
    recipe: tuple[Callable[..., Objective], tuple[Any, ...]] | None = field(
        default=None, compare=False, repr=False
    )

    def __reduce__(self) -> Any:
        if self.recipe is None:
            return super().__reduce__()
        return self.recipe

    @property
    def dims(self) -> int:
        """1 or 2."""
        return 1 if self.ydomain is None else 2

    def curve(self, domain: Range, points: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """The function sampled on ``points`` evenly spaced x values over ``domain``."""
        xs = torch.linspace(domain[0], domain[1], points, dtype=DTYPE)
        with torch.no_grad():
            ys = self.fn(xs)
        return xs.numpy(), ys.numpy()

    def surface(
        self, domain: Range, ydomain: Range, points: int = 241
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(xs, ys, z)``: the 2-D function on a grid, ``z[j, i] = f(xs[i], ys[j])``."""
        return sample_surface(self.fn, domain, ydomain, points)


def sample_surface(
    fn: Fn, domain: Range, ydomain: Range, points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs = torch.linspace(domain[0], domain[1], points, dtype=DTYPE)
    ys = torch.linspace(ydomain[0], ydomain[1], points, dtype=DTYPE)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
    with torch.no_grad():
        z = fn(grid)
    return xs.numpy(), ys.numpy(), z.numpy()
