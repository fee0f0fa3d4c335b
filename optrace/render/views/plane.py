"""What the contour and the surface views share: ``f(x, y)`` on a grid, its levels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.colors import LogNorm

from optrace.render.views.base import View
from optrace.results.trace import Surface, Trace

#: A function "spans decades" (and its contours are log-scaled) when its
#: highest value above the minimum is this many times its 1st percentile.
DECADES = 1000.0


@dataclass(frozen=True)
class Levels:
    """The values to contour, their levels, a log norm where they span decades,
    their label, the lowest value, and the floor of a log scale (None if linear)."""

    z: np.ndarray
    levels: np.ndarray
    norm: LogNorm | None
    label: str
    low: float
    floor: float | None


def levels_of(surface: Surface) -> Levels:
    """The levels a function's grid is drawn with.

    Args:
        surface: The function on a grid.

    Returns:
        25 levels, spaced by decades where the values span :data:`DECADES`.
    """
    z = np.ma.masked_invalid(surface.z)
    low, high = float(z.min()), float(z.max())
    above = (z - low).compressed()
    small = float(np.percentile(above, 1)) if above.size else 0.0
    if small > 0 and high - low > DECADES * small:
        floor = small / 10
        levels = np.geomspace(floor, high - low, 25)
        shifted = np.ma.maximum(z - low, floor)
        norm = LogNorm(levels[0], levels[-1])
        return Levels(shifted, levels, norm, "f - min f (log scale)", low, floor)
    return Levels(z, np.linspace(low, high, 25), None, "f(x, y)", low, None)


class PlaneView(View):
    """A view of a 2-D function: racers at ``(x, y)``, minima with a ``y``."""

    def surface(self) -> Surface:
        """The function on its grid."""
        assert self.result.surface is not None, "a 2-D race has a surface"
        return self.result.surface

    def ydomain(self) -> tuple[float, float]:
        """The domain's y range."""
        assert self.result.ydomain is not None, "a 2-D race has a y domain"
        return self.result.ydomain


def y_of(trace: Trace) -> np.ndarray:
    """A 2-D racer's y coordinates."""
    assert trace.y is not None, "a 2-D race records y"
    return trace.y
