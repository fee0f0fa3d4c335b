"""The surface view: a 2-D race on the 3-D surface of ``f(x, y)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d.art3d import Line3DCollection  # type: ignore[import-untyped]

from optrace.render.layout import MARGIN
from optrace.render.views.base import CMAP, TRAIL_Z, Bounds
from optrace.render.views.landscape import plane_labels, titled, unfaithful, unfaithful_note
from optrace.render.views.plane import PlaneView, levels_of, y_of
from optrace.results.trace import Trace


class Trail3D(Line3DCollection):  # type: ignore[misc]
    """A 3-D trail that projects itself when drawn alone, as blitting draws it."""

    def draw(self, renderer: Any) -> None:
        self.do_3d_projection()
        super().draw(renderer)


class SurfaceView(PlaneView):
    """The surface (log10 of its height above the minimum where it spans decades),
    seen from above at an angle, with the known minima on it."""

    three_d: ClassVar[bool] = True
    #: The lowest value and the floor of the surface's log scale (None if linear).
    low: float = 0.0
    floor: float | None = None

    def add_axes(self, figure: Figure, where: Any) -> Axes:
        # Drawn by zorder, not by depth: the racers stay on top of the
        # surface, as they are when blitted over it.
        ax: Axes = figure.add_subplot(where, projection="3d", computed_zorder=False)
        return ax

    def draw(self, figure: Figure, ax: Any) -> Bounds:
        surface, ydomain = self.surface(), self.ydomain()
        shade = levels_of(surface)
        self.low, self.floor = shade.low, shade.floor
        height = np.ma.log10(shade.z) if shade.norm is not None else shade.z
        xs, ys = np.meshgrid(surface.xs, surface.ys)
        ax.plot_surface(
            xs, ys, height, cmap=CMAP, alpha=0.75, linewidth=0, rcount=80, ccount=80, zorder=1
        )
        self.mark_minima(ax)
        ax.set_xlim(*self.result.domain)
        ax.set_ylim(*ydomain)
        low, high = float(height.min()), float(height.max())
        ax.set_zlim(low, high)
        landscape = self.result.landscape
        xlabel, ylabel = ("x", "y") if landscape is None else plane_labels(landscape)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_zlabel("log10(f - min f)" if shade.norm is not None else "f(x, y)")
        ax.view_init(elev=40, azim=-60)
        return [self.result.domain, ydomain, (low, high)]

    def title(self, title: str) -> str:
        landscape = self.result.landscape
        return title if landscape is None else titled(title, landscape)

    def notes(self, epoch: int) -> list[str]:
        if self.result.landscape is None:
            return []
        note = unfaithful_note(unfaithful(self.result, epoch))
        return [note] if note else []

    def height(self, loss: np.ndarray) -> np.ndarray:
        """A loss as drawn on the surface (log10 of its height above the minimum
        where the surface is log-scaled)."""
        if self.floor is None:
            return loss
        with np.errstate(invalid="ignore", divide="ignore"):
            height: np.ndarray = np.log10(np.maximum(loss - self.low, self.floor))
        return height

    def coordinates(self, trace: Trace) -> tuple[np.ndarray, ...]:
        # A model's racer sits on the plane's surface: at its plane loss, not its own.
        loss = trace.loss if trace.plane_loss is None else trace.plane_loss
        return (trace.x, y_of(trace), self.height(loss))

    def minima_at(self, xs: list[float], ys: list[Any], values: list[float]) -> list[Any]:
        return [xs, ys, self.height(np.array(values))]

    def plot(self, ax: Axes, *style: str, **kwargs: Any) -> list[Any]:
        lines: list[Any] = ax.plot([], [], [], *style, **kwargs)
        return lines

    def trail(self, ax: Any, colour: Any, coords: tuple[np.ndarray, ...], trail: int) -> Any:
        collection: Any = Trail3D([], linewidths=1.5, zorder=TRAIL_Z)
        ax.add_collection3d(collection, autolim=False)
        collection.base_colour = to_rgba(colour)
        return collection

    def text(self, ax: Any) -> Callable[..., Any]:
        return ax.text2D  # type: ignore[no-any-return]

    def path_points(
        self, ax: Axes, coords: list[tuple[np.ndarray, ...]]
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        # The projection moves them: none to keep in sight.
        return None, None

    def tight(self, figure: Figure, ax: Any, rect: tuple[float, float, float, float]) -> bool:
        # No tight layout in 3-D: the axes' top comes down under a tall title.
        height = figure.bbox.height
        title = ax.title.get_window_extent().height
        pad = float(matplotlib.rcParams["axes.titlepad"]) * figure.dpi / 72
        box = ax.get_position()
        top = min(1 - (title + pad + 2 * MARGIN) / height, box.y1)
        ax.set_position([box.x0, box.y0, box.width, top - box.y0])
        return True
