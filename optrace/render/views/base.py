"""What every view shares: the known minima marked, empty racer lines, trails.

A view is one kind of picture (a curve, a contour, a surface): it draws the
background once, says where each racer is drawn, and answers the few questions
on which the kinds differ (the axes' projection, the legend's corners, where
the notes go). The frame around it (title, legend, counter, notes, loss panel)
is :mod:`optrace.render.frame`'s.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from optrace._core.types import Minimum
from optrace.render.theme import Theme
from optrace.results.trace import RaceResult, Trace

#: Where a function has more known minima than this, only the lowest are marked.
FEW_MINIMA = 8
#: Trails lie above the background and beneath the racers' markers.
TRAIL_Z = 5.5
#: The colour map of a function's values.
CMAP = "viridis"

Bounds = list[tuple[float, float]]


class View:
    """One kind of picture of a race: the background and the racers' coordinates.

    Args:
        result: The race.
        theme: The light or dark look.
    """

    #: A key of :data:`optrace.render.layout.CORNERS`: where the legend may go.
    corners: ClassVar[str] = "plane"
    #: Whether the notes sit boxed at the axes' foot (else under the counter).
    boxed_notes: ClassVar[bool] = False
    #: Whether a racer of one start is outlined in white, to stand out on colour.
    outlined: ClassVar[bool] = False
    #: The legend's type size (None: the theme's own).
    legend_size: ClassVar[str | None] = "small"
    #: Whether the view is drawn in 3-D (a projection the player maps itself).
    three_d: ClassVar[bool] = False
    #: Whether the notes lie beneath the racers' markers (else above them).
    notes_under_racers: ClassVar[bool] = False

    def __init__(self, result: RaceResult, theme: Theme) -> None:
        self.result = result
        self.theme = theme
        #: The marked minima's places in the axes' first two coordinates.
        self.minima_places: list[tuple[float, float]] = []

    def add_axes(self, figure: Figure, where: Any) -> Axes:
        """The race's axes at ``where`` (a gridspec cell, or 111)."""
        return figure.add_subplot(where)

    def draw(self, figure: Figure, ax: Axes) -> Bounds:
        """Draw the background once; return the bounds of each drawn coordinate."""
        raise NotImplementedError

    def coordinates(self, trace: Trace) -> tuple[np.ndarray, ...]:
        """A racer's drawn coordinates, each ``(starts, epochs + 1)``."""
        raise NotImplementedError

    def title(self, title: str) -> str:
        """The axes' title for the race's ``title`` (a view may add what its plane is)."""
        return title

    def legend_extras(self) -> list[Any]:
        """Artists the legend names after the racers (none: the minima's stars are
        not racers)."""
        return []

    def notes(self, epoch: int) -> list[str]:
        """The view's own notes at ``epoch``, after who diverged and who left."""
        return []

    def known_minima(self) -> list[Minimum]:
        """The known minima this view can show."""
        return [m for m in self.result.minima if m.y is not None]

    def minima_at(self, xs: list[float], ys: list[Any], values: list[float]) -> list[Any]:
        """Where the marked minima are drawn, coordinate by coordinate."""
        return [xs, ys]

    def mark_minima(self, ax: Axes) -> None:
        """Mark the known minima as stars (the lowest only, where there are many)."""
        minima = self.known_minima()
        if not minima:
            return
        label = "known minima"
        if len(minima) > FEW_MINIMA:
            # Many minima (rastrigin's 121) would bury the picture: the lowest only.
            lowest = min(m.value for m in minima)
            minima = [m for m in minima if m.value <= lowest][:FEW_MINIMA]
            label = "global minimum" if len(minima) == 1 else "global minima"
        place = self.minima_at(
            [m.x for m in minima], [m.y for m in minima], [m.value for m in minima]
        )
        self.minima_places = list(zip(place[0], place[1], strict=True))
        ax.plot(
            *place,
            linestyle="none",
            marker="*",
            markersize=11,
            # Hollow-looking in both themes, apart from a racer's filled star.
            markerfacecolor=self.theme.face,
            markeredgecolor=self.theme.text,
            markeredgewidth=0.8,
            zorder=3,
            label=label,
        )

    def plot(self, ax: Axes, *style: str, **kwargs: Any) -> list[Line2D]:
        """An empty line on the axes, for a racer's markers."""
        lines: list[Line2D] = ax.plot([], [], *style, **kwargs)
        return lines

    def trail(self, ax: Axes, colour: Any, coords: tuple[np.ndarray, ...], trail: int) -> Any:
        """An empty trail of ``trail`` epochs for a racer of ``colour``."""
        collection: Any = LineCollection([], linewidths=1.5, zorder=TRAIL_Z, capstyle="round")
        ax.add_collection(collection, autolim=False)
        collection.base_colour = to_rgba(colour)
        return collection

    def text(self, ax: Axes) -> Callable[..., Any]:
        """The axes' method that places a text in axes coordinates."""
        return ax.text

    def side(self, now: list[np.ndarray], out: np.ndarray) -> str:
        """An arrow for the way out of the domain (in 2-D always ``->``)."""
        return "->"

    def path_points(
        self, ax: Axes, coords: list[tuple[np.ndarray, ...]]
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Every racer's drawn points over the race (a sample of a large swarm's), and
        the marked minima, in display pixels: what the legend should leave in sight."""
        points = [np.column_stack([c.ravel() for c in racer]) for racer in coords]
        every = np.concatenate(points)
        every = every[np.isfinite(every).all(axis=1)]
        if len(every) > 200_000:
            every = every[:: len(every) // 200_000 + 1]
        marks = np.array(self.minima_places, dtype=float).reshape(-1, 2)
        data = ax.transData
        return data.transform(every), data.transform(marks) if len(marks) else None

    def tight(self, figure: Figure, ax: Axes, rect: tuple[float, float, float, float]) -> bool:
        """matplotlib's tight layout within ``rect``; False where it could not fit the
        axes' decorations."""
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            try:
                figure.tight_layout(rect=rect)
            except UserWarning:
                return False
        return True


def set_coords(line: Any, coords: list[np.ndarray]) -> None:
    """Put a line's points at ``coords`` (two or three arrays)."""
    if len(coords) == 3:
        line.set_data_3d(*coords)
    else:
        line.set_data(*coords)
