"""Shared value types: ranges, boxes, points and known minima."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import torch

#: ``(low, high)`` of one axis.
Range = tuple[float, float]
#: One range (x; for a 2-D function both axes) or two (x, then y).
Box = tuple[Range, ...]
#: A start or a minimum's place: x in 1-D, (x, y) in 2-D.
Point = float | tuple[float, float]
#: A function of points: a float64 tensor in, its values out (1-D: element by
#: element; 2-D: the last axis holds (x, y)).
Fn = Callable[["torch.Tensor"], "torch.Tensor"]


class Minimum(NamedTuple):
    """A local minimum: its place ``x`` (and ``y`` in 2-D) and its ``value``."""

    x: float
    value: float
    y: float | None = None

    @property
    def point(self) -> Point:
        """``x``, or ``(x, y)`` in 2-D."""
        return self.x if self.y is None else (self.x, self.y)


def describe_box(domain: Range, ydomain: Range | None = None) -> str:
    """``[low, high]``, or ``[x low, x high] x [y low, y high]`` in 2-D."""
    box = [domain] if ydomain is None else [domain, ydomain]
    return " x ".join(f"[{low}, {high}]" for low, high in box)
