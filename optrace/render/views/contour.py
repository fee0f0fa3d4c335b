"""The contour view: a 2-D race seen from above, over filled contours of ``f(x, y)``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

from optrace.render.trails import RasterTrail
from optrace.render.views.base import CMAP, TRAIL_Z, Bounds
from optrace.render.views.plane import PlaneView, levels_of, y_of
from optrace.results.trace import Trace


class ContourView(PlaneView):
    """Filled contours (log-scaled where the function spans decades), a colour
    bar, the known minima; a swarm's trails rasterised by :class:`RasterTrail`."""

    boxed_notes: ClassVar[bool] = True
    outlined: ClassVar[bool] = True
    #: Racers with at least this many starts have their trails rasterised with
    #: numpy rather than stroked by matplotlib.
    RASTER_TRAILS_FROM: ClassVar[int] = 2

    def draw(self, figure: Figure, ax: Axes) -> Bounds:
        surface, ydomain = self.surface(), self.ydomain()
        shade = levels_of(surface)
        levels, norm = shade.levels, shade.norm
        filled = ax.contourf(
            surface.xs, surface.ys, shade.z, levels=levels, norm=norm, cmap=CMAP, zorder=1
        )
        ax.contour(
            surface.xs,
            surface.ys,
            shade.z,
            levels=levels,
            norm=norm,
            colors="white",
            linewidths=0.4,
            alpha=0.35,
            zorder=2,
        )
        bar = figure.colorbar(filled, ax=ax, label=shade.label, format="%.3g")
        if norm is not None:
            # Whole decades, not the lowest level's digits (a floor such as 3.08e-33).
            low, high = float(levels[0]), float(levels[-1])
            decades = np.asarray(LogLocator(numticks=7).tick_values(low, high))
            bar.set_ticks(list(decades[(decades >= low) & (decades <= high)]))
            bar.ax.yaxis.set_major_formatter(LogFormatterSciNotation())
            bar.ax.yaxis.set_minor_formatter(NullFormatter())
        self.mark_minima(ax)
        ax.set_xlim(*self.result.domain)
        ax.set_ylim(*ydomain)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        return [self.result.domain, ydomain]

    def coordinates(self, trace: Trace) -> tuple[np.ndarray, ...]:
        return (trace.x, y_of(trace))

    def trail(self, ax: Axes, colour: Any, coords: tuple[np.ndarray, ...], trail: int) -> Any:
        if len(coords[0]) >= self.RASTER_TRAILS_FROM:
            xs, ys = coords
            raster = RasterTrail(ax, xs, ys, to_rgba(colour), trail, linewidth=1.5)
            raster.set_zorder(TRAIL_Z)
            ax.add_artist(raster)
            return raster
        return super().trail(ax, colour, coords, trail)
