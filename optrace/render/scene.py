"""The race drawn on a matplotlib Figure: static artists once, moving ones per frame.

One :class:`RaceScene` serves both the live window (FuncAnimation with blitting)
and the file export (blitting on the Agg canvas). It does no file I/O and never
imports pyplot.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm, to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter
from matplotlib.transforms import Bbox, offset_copy

from optrace.engine.styles import split_style
from optrace.render.cover import Cover
from optrace.render.layout import (
    CORNERS,
    MARGIN,
    SLACK,
    SMALLEST_TYPE,
    centred_room,
    fit_title,
    inside,
    overlaps,
    place_legend,
    renderer_of,
    widened,
    widest_line,
    wrap,
)
from optrace.render.loss_panel import LossPanel
from optrace.render.options import SceneOptions
from optrace.render.theme import THEMES, dress, scaled_size, set_tick_sizes, tick_sizes
from optrace.render.trails import RasterTrail
from optrace.results.trace import RaceResult, Surface, Trace

#: Moving artists sit above everything static, so drawing them over a cached
#: background gives the same pixels as a full redraw; a swarm's legend and
#: counter's box lie above its racers (their pixels put back by a Cover), and
#: the counter's number and the notes above those.
_LEGEND_Z, _TRAIL_Z, _GHOST_Z, _MARKER_Z, _BOX_Z, _TEXT_Z = 5.0, 5.5, 6.0, 6.5, 7.0, 7.5
#: Racers with more starts than this are a swarm: small markers without a
#: white outline, and faint whole paths in a still.
_SWARM = 1
#: Where a function has more known minima than this, only the lowest are marked.
_FEW_MINIMA = 8
#: A function "spans decades" (and its contours are log-scaled) when its
#: highest value above the minimum is this many times its 1st percentile.
DECADES = 1000.0
CMAP = "viridis"


class RaceScene:
    """Static and moving artists of a race; :meth:`update` moves the racers.

    A 1-D race moves markers along the curve ``f(x)``; a 2-D race moves them
    over a filled contour of ``f(x, y)`` (log-scaled where it spans decades),
    or over its surface in 3-D, with the known minima marked. A swarm's trails
    in the contour view are rasterised by :class:`RasterTrail`; other trails are
    matplotlib line collections.

    Args:
        figure: The figure to draw on (Agg for files, QtAgg for the window).
        result: The race.
        frame_epochs: The epoch shown in each frame; default one frame per epoch.
        options: Panels, trails and view.
    """

    #: Racers with at least this many starts have their 2-D contour trails
    #: rasterised with numpy rather than stroked by matplotlib.
    RASTER_TRAILS_FROM = 2
    #: A legend goes under the axes only if it takes at most this share of the height.
    LEGEND_BELOW_AT_MOST = 0.3
    #: The least share of the figure's width (and height, less with the loss panel)
    #: that the race's axes keep; smaller, and every text shrinks.
    LEAST_AXES = 0.33
    #: Pixels below the title within which another axes' top may put a label into it.
    NEAR_TITLE = 40

    def __init__(
        self,
        figure: Figure,
        result: RaceResult,
        frame_epochs: Sequence[int] | np.ndarray | None = None,
        options: SceneOptions | None = None,
    ) -> None:
        options = options or SceneOptions()
        self.result = result
        self.trail = options.trail
        self.theme = THEMES[options.theme]
        self.font_scale = options.font_scale
        self.frame_epochs = (
            np.arange(result.epochs + 1) if frame_epochs is None else np.asarray(frame_epochs)
        )
        self._swarm = swarm = max(t.x.shape[0] for t in result.traces) > _SWARM
        size, alpha = (5.0, 0.6) if swarm else (10.0, 1.0)
        # A swarm passes beneath the legend and the counter's box (a Cover puts their
        # pixels back over it); a few racers pass over them, always in sight.
        self._box_z = _BOX_Z if swarm else _LEGEND_Z
        self.figure = figure
        self._last = [trace.last_epoch for trace in result.traces]
        self._outside = [t.outside(result.domain, result.ydomain) for t in result.traces]
        grid = figure.add_gridspec(2, 1, height_ratios=(2.2, 1.0)) if options.loss_panel else None
        where: Any = grid[0] if grid is not None else 111
        self.three_d = result.surface is not None and options.view == "surface"
        if self.three_d:
            # Drawn by zorder, not by depth: the racers stay on top of the
            # surface, as they are when blitted over it.
            ax = figure.add_subplot(where, projection="3d", computed_zorder=False)
        else:
            ax = figure.add_subplot(where)
        self.axes = ax
        self._zmin = 0.0
        self._floor: float | None = None
        # Per racer, the drawn coordinates of every start and epoch, and their bounds.
        self._coords: list[tuple[np.ndarray, ...]]
        if result.surface is None:
            self._bounds = self._draw_curve(ax)
            self._coords = [(t.x, t.loss) for t in result.traces]
        elif self.three_d:
            self._bounds = self._draw_surface(ax, result.surface)
            self._coords = [(t.x, _y(t), self._height(t.loss)) for t in result.traces]
        else:
            self._bounds = self._draw_contour(figure, ax, result.surface)
            self._coords = [(t.x, _y(t)) for t in result.traces]
        ax.set_title(result.title)

        self.markers: list[Line2D] = []
        self.ghosts: list[Line2D] = []
        self.edges: list[Line2D] = []
        self.trails: list[Any] = []
        self.panel: LossPanel | None = None
        flat = result.surface is None or self.three_d
        # Over a contour a single racer is outlined in white; a swarm's outlines
        # would be most of what it draws.
        outline: dict[str, Any] = {} if flat or swarm else {"markeredgecolor": "white"}
        for i, trace in enumerate(result.traces):
            hexcolour, fmt = split_style(trace.style)
            (marker,) = self._plot(
                fmt,
                **({"color": hexcolour} if hexcolour is not None else {}),
                markersize=size,
                alpha=alpha,
                linestyle="none",
                label=trace.label,
                zorder=_MARKER_Z,
                **outline,
            )
            if self.theme.dark:
                marker.set_color(self.theme.racer_colour(marker.get_color()))
            colour = marker.get_color()
            (ghost,) = self._plot(
                linestyle="none",
                marker="x",
                markersize=size,
                markeredgewidth=2,
                color=colour,
                alpha=0.7,
                zorder=_GHOST_Z,
            )
            # A racer outside the domain: hollow, at the edge it crossed.
            (edge,) = self._plot(
                linestyle="none",
                marker=marker.get_marker(),
                markersize=size,
                markeredgewidth=2,
                markerfacecolor="none",
                markeredgecolor=colour,
                clip_on=False,
                zorder=_MARKER_Z,
            )
            self.markers.append(marker)
            self.ghosts.append(ghost)
            self.edges.append(edge)
            if self.trail:
                self.trails.append(self._trail_collection(colour, self._coords[i]))
        self._add_counter(figure, ax, result.epochs, boxed=not flat)
        self.panel = (
            LossPanel(figure.add_subplot(grid[1]), result, self.markers)
            if grid is not None
            else None
        )
        self.legend: Any = None
        self.cover = Cover(figure, self._opaque_boxes)
        self.cover.set_in_layout(False)
        ax.add_artist(self.cover)  # blitting in the window draws it through its axes
        self.update(0)  # every artist placed before the layout is measured
        dress(figure, self.theme, self.font_scale)
        self._want_legend = options.legend
        self._lay_out(figure)
        self.update(0)

    def _lay_out(self, figure: Figure) -> None:
        """Fit every text: the title wrapped, the notes wrapped to the axes, the
        legend clear of the counter and the notes. Where the type is too large for
        the figure (font_scale 2 at 320 px), every text shrinks a step and it is
        all laid out again, until it fits or the type is :data:`SMALLEST_TYPE` of its size."""
        renderer = renderer_of(figure)
        title = self.axes.get_title()
        if self._lay_out_once(figure, renderer, 1.0):
            return
        texts = [(t, float(t.get_fontsize())) for t in figure.findobj(Text)]
        ticks = tick_sizes(figure)
        factor = 1.0
        while factor > SMALLEST_TYPE:
            factor = max(SMALLEST_TYPE, factor * 0.85)
            for text, size in texts:
                text.set_fontsize(size * factor)
            set_tick_sizes(ticks, factor)
            self._retitle(title)
            if self._lay_out_once(figure, renderer, factor):
                return

    def _lay_out_once(self, figure: Figure, renderer: Any, factor: float) -> bool:
        """One layout with every text at ``factor`` of its size; whether it all fits."""
        ax = self.axes
        if self.legend is not None:
            self.legend.remove()
            self.legend = None
        self._room: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
        fit_title(ax.title, SLACK * figure.bbox.width - 2 * MARGIN, renderer)
        fitted = self._tight(figure)
        # Centred over the axes, which the colour bar pushes left: wrap to the room there.
        room = centred_room(ax.title.get_window_extent(renderer), figure)
        if widest_line(ax.title, renderer) > SLACK * room:
            fit_title(ax.title, SLACK * room, renderer)
            fitted = self._tight(figure)
        fitted = self._clear_title(figure, renderer) and fitted
        # The counter and the notes keep their boxes' pads, and a little more,
        # inside the axes' corner at any type size.
        size = float(self.counter_box.get_fontsize())
        inset = 0.4 * size + 2
        width = len(str(self.result.epochs))
        corner = offset_copy(ax.transAxes, figure, x=inset, y=-inset, units="points")
        self.counter_box.set_transform(corner)
        end = offset_copy(
            ax.transAxes, figure, x=inset + (6 + width) * 0.6 * size, y=-inset, units="points"
        )
        self.counter.set_transform(end)
        if self._notes_low:
            under = offset_copy(ax.transAxes, figure, x=inset, y=inset, units="points")
        else:
            under = offset_copy(
                ax.transAxes, figure, x=inset, y=-inset - 1.6 * size, units="points"
            )
        self.notes.set_transform(under)
        home = ax.get_window_extent(renderer)
        self._note_width = SLACK * home.width - 2 * MARGIN
        self._wrapped: dict[str, str] = {}
        counter = self.counter_box.get_window_extent(renderer)
        avoid = [counter]
        notes = self._notes_extent(renderer)
        if notes is not None:
            avoid.append(notes)
        if self._want_legend:
            self.legend = self._make_legend(ax.legend, factor)
            corners = CORNERS["curve" if self.result.surface is None else "plane"]
            points, marks = self._path_points()
            free = place_legend(self.legend, ax, avoid, corners, renderer, points, marks)
            if not free and not self._legend_below(figure, renderer, factor):
                # No room below either: the corner that hides least, if the type
                # can shrink no further.
                place_legend(self.legend, ax, [], corners, renderer, points, marks)
                fitted = False
        # Measured again: a legend moved under the axes has shrunk them.
        # Text drawn at a larger scale is a little wider: each is checked as wide as that.
        home = ax.get_window_extent(renderer)
        counter = widened(self.counter_box.get_window_extent(renderer), 0.0)
        notes = self._notes_extent(renderer)
        notes = None if notes is None else widened(notes, 0.0)
        return (
            fitted
            and inside(counter, home)
            and (notes is None or (inside(notes, home) and not overlaps(notes, counter)))
            and inside(widened(ax.title.get_window_extent(renderer), 0.5), figure.bbox)
            and self._roomy(figure, renderer)
        )

    def _roomy(self, figure: Figure, renderer: Any) -> bool:
        """Whether the race's axes keep a fair share of the figure and no two axes'
        texts touch (a twin, at its axes' very place, is one with it)."""
        home = self.axes.get_window_extent(renderer)
        if home.width < self.LEAST_AXES * figure.bbox.width:
            return False
        if home.height < self.LEAST_AXES * figure.bbox.height * (0.75 if self.panel else 0.9):
            return False
        if len(figure.axes) == 1:
            return True
        boxes: dict[tuple[float, ...], Any] = {}
        for ax in figure.axes:
            place = tuple(np.round(ax.get_position().extents, 4))
            box = ax.get_tightbbox(renderer)
            if ax is self.axes and not self.three_d:  # its title is _clear_title's
                parts = [ax.xaxis.get_tightbbox(renderer), ax.yaxis.get_tightbbox(renderer)]
                box = Bbox.union([home, *(b for b in parts if b is not None)])
            if box is not None:
                boxes[place] = box if place not in boxes else Bbox.union([boxes[place], box])
        found = list(boxes.values())
        return not any(overlaps(a, b, -1.0) for i, a in enumerate(found) for b in found[i + 1 :])

    def _tight(self, figure: Figure, rect: tuple[float, float, float, float] | None = None) -> bool:
        """matplotlib's tight layout within ``rect`` (not in 3-D); False where it could
        not fit the axes' decorations."""
        if self.three_d:
            # No tight layout in 3-D: the axes' top comes down under a tall title.
            ax, height = self.axes, figure.bbox.height
            title = ax.title.get_window_extent().height
            pad = float(matplotlib.rcParams["axes.titlepad"]) * figure.dpi / 72
            box = ax.get_position()
            top = min(1 - (title + pad + 2 * MARGIN) / height, box.y1)
            ax.set_position([box.x0, box.y0, box.width, top - box.y0])
            return True
        rect = rect or self._room
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            try:
                figure.tight_layout(rect=rect)
            except UserWarning:
                return False
        return True

    def _clear_title(self, figure: Figure, renderer: Any) -> bool:
        """Raise the title above another axes' texts it would touch (the colour bar's
        top tick label); whether the layout still fitted."""
        ax = self.axes
        fitted = True
        pad = float(matplotlib.rcParams["axes.titlepad"])
        for _ in range(3):
            title = ax.title.get_window_extent(renderer)
            rise = max(
                (
                    box.y1 - title.y0 + 2 * MARGIN
                    for other in figure.axes
                    # Only an axes whose top nears the title can reach it (the colour bar).
                    if other is not ax and other.bbox.y1 > title.y0 - self.NEAR_TITLE
                    if (box := other.get_tightbbox(renderer)) is not None
                    if overlaps(box, title)
                ),
                default=0.0,
            )
            if rise <= 0:
                break
            pad += rise * 72 / figure.dpi
            self._retitle(ax.title.get_text(), pad)
            fitted = self._tight(figure)
        return fitted

    def _retitle(self, text: str, pad: float | None = None) -> None:
        """Set the title's text and pad, keeping its size and colour (``set_title``
        would reset them to the defaults)."""
        title = self.axes.title
        self.axes.set_title(text, pad=pad, fontsize=title.get_fontsize(), color=title.get_color())

    def _make_legend(self, make: Any, factor: float, **where: Any) -> Any:
        """The legend, opaque and edgeless (a box of whole pixels that the Cover puts
        back), at ``factor`` of its type size; on the loss panel's figure each entry
        shows its line's pattern as well."""
        handles = self.panel.legend_handles() if self.panel is not None else self.markers
        size = FontProperties(
            size=scaled_size("small" if self.result.surface is not None else None, self.font_scale)
        ).get_size_in_points()
        legend = make(
            handles=handles,
            **({"loc": "upper right"} | where),
            numpoints=1,
            fontsize=size * factor,
            title_fontsize=size * factor,
            **self.theme.legend_kwargs(),
            framealpha=1.0,
            fancybox=False,
            edgecolor="none",
        )
        legend.set_zorder(self._box_z)
        return legend

    def _legend_below(self, figure: Figure, renderer: Any, factor: float) -> bool:
        """Move a legend with no free corner under the axes, in as many columns as fit;
        False (and nothing moved) where it would take too much of the figure's height."""
        assert self.legend is not None
        count = len(self.legend.get_texts())
        for ncol in range(count, 0, -1):
            legend = self._make_legend(figure.legend, factor, loc="lower center", ncols=ncol)
            extent = legend.get_window_extent(renderer)
            legend.remove()
            if extent.width <= figure.bbox.width - 2 * MARGIN or ncol == 1:
                break
        share = (extent.height + MARGIN) / figure.bbox.height
        if share > self.LEGEND_BELOW_AT_MOST:
            return False
        self.legend.remove()
        self.legend = self._make_legend(figure.legend, factor, loc="lower center", ncols=ncol)
        self._room = (0.0, share, 1.0, 1.0)
        return self._tight(figure) and self._clear_title(figure, renderer)

    def _path_points(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Every racer's drawn points over the race (a sample of a large swarm's), and
        the marked minima, in display pixels: what the legend should leave in sight.
        None on a surface, whose projection moves them."""
        if self.three_d:
            return None, None
        points = [np.column_stack([c.ravel() for c in coords]) for coords in self._coords]
        every = np.concatenate(points)
        every = every[np.isfinite(every).all(axis=1)]
        if len(every) > 200_000:
            every = every[:: len(every) // 200_000 + 1]
        marks = np.array(self._minima_places, dtype=float).reshape(-1, 2)
        data = self.axes.transData
        return data.transform(every), data.transform(marks) if len(marks) else None

    def _opaque_boxes(self, renderer: Any) -> list[Any]:
        boxes = [self.counter_box.get_bbox_patch().get_window_extent(renderer)]
        if self.legend is not None:
            boxes.append(self.legend.legendPatch.get_window_extent(renderer))
        return boxes

    def _draw_curve(self, ax: Axes) -> list[tuple[float, float]]:
        result = self.result
        ax.plot(result.curve_x, result.curve_y, color=self.theme.curve, linewidth=1.5, zorder=1)
        self._mark_minima(ax)
        ax.set_xlim(*result.domain)
        lo, hi = float(np.nanmin(result.curve_y)), float(np.nanmax(result.curve_y))
        pad = 0.08 * (hi - lo) if hi > lo else 1.0
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel("x")
        ax.set_ylabel("f(x)")
        ax.grid(alpha=0.25)
        return [result.domain, (lo - pad, hi + pad)]

    def _levels(self, surface: Surface) -> tuple[np.ndarray, np.ndarray, LogNorm | None, str]:
        """The values to contour, their levels, a log norm where they span decades,
        and their label."""
        z = np.ma.masked_invalid(surface.z)
        low, high = float(z.min()), float(z.max())
        self._zmin = low
        above = (z - low).compressed()
        small = float(np.percentile(above, 1)) if above.size else 0.0
        if small > 0 and high - low > DECADES * small:
            self._floor = small / 10
            levels = np.geomspace(self._floor, high - low, 25)
            shifted = np.ma.maximum(z - low, self._floor)
            return shifted, levels, LogNorm(levels[0], levels[-1]), "f - min f (log scale)"
        self._floor = None
        return z, np.linspace(low, high, 25), None, "f(x, y)"

    def _height(self, loss: np.ndarray) -> np.ndarray:
        """A loss as drawn on the surface (log10 of its height above the minimum
        where the surface is log-scaled)."""
        if self._floor is None:
            return loss
        with np.errstate(invalid="ignore", divide="ignore"):
            height: np.ndarray = np.log10(np.maximum(loss - self._zmin, self._floor))
        return height

    def _draw_contour(
        self, figure: Figure, ax: Axes, surface: Surface
    ) -> list[tuple[float, float]]:
        result = self.result
        assert result.ydomain is not None
        z, levels, norm, label = self._levels(surface)
        filled = ax.contourf(
            surface.xs, surface.ys, z, levels=levels, norm=norm, cmap=CMAP, zorder=1
        )
        ax.contour(
            surface.xs,
            surface.ys,
            z,
            levels=levels,
            norm=norm,
            colors="white",
            linewidths=0.4,
            alpha=0.35,
            zorder=2,
        )
        bar = figure.colorbar(filled, ax=ax, label=label, format="%.3g")
        if norm is not None:
            # Whole decades, not the lowest level's digits (a floor such as 3.08e-33).
            low, high = float(levels[0]), float(levels[-1])
            decades = np.asarray(LogLocator(numticks=7).tick_values(low, high))
            bar.set_ticks(list(decades[(decades >= low) & (decades <= high)]))
            bar.ax.yaxis.set_major_formatter(LogFormatterSciNotation())
            bar.ax.yaxis.set_minor_formatter(NullFormatter())
        self._mark_minima(ax)
        ax.set_xlim(*result.domain)
        ax.set_ylim(*result.ydomain)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        return [result.domain, result.ydomain]

    def _draw_surface(self, ax: Any, surface: Surface) -> list[tuple[float, float]]:
        result = self.result
        assert result.ydomain is not None
        z, _, norm, _label = self._levels(surface)
        height = np.ma.log10(z) if norm is not None else z
        xs, ys = np.meshgrid(surface.xs, surface.ys)
        ax.plot_surface(
            xs, ys, height, cmap=CMAP, alpha=0.75, linewidth=0, rcount=80, ccount=80, zorder=1
        )
        self._mark_minima(ax)
        ax.set_xlim(*result.domain)
        ax.set_ylim(*result.ydomain)
        low, high = float(height.min()), float(height.max())
        ax.set_zlim(low, high)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_zlabel("log10(f - min f)" if norm is not None else "f(x, y)")
        ax.view_init(elev=40, azim=-60)
        return [result.domain, result.ydomain, (low, high)]

    def _mark_minima(self, ax: Any) -> None:
        result = self.result
        if result.surface is None:  # on the curve, those inside the domain
            low, high = result.domain
            minima = [m for m in result.minima if m.y is None and low <= m.x <= high]
        else:
            minima = [m for m in result.minima if m.y is not None]
        self._minima_places: list[tuple[float, float]] = []
        if not minima:
            return
        label = "known minima"
        if len(minima) > _FEW_MINIMA:
            # Many minima (rastrigin's 121) would bury the picture: the lowest only.
            lowest = min(m.value for m in minima)
            minima = [m for m in minima if m.value <= lowest][:_FEW_MINIMA]
            label = "global minimum" if len(minima) == 1 else "global minima"
        xs, ys = [m.x for m in minima], [m.y for m in minima]
        values = [m.value for m in minima]
        place: list[Any]
        second: list[Any] = list(values if result.surface is None else ys)
        self._minima_places = list(zip(xs, second, strict=True))
        if result.surface is None:
            place = [xs, values]
        elif self.three_d:
            place = [xs, ys, self._height(np.array(values))]
        else:
            place = [xs, ys]
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

    def _plot(self, *style: str, **kwargs: Any) -> list[Line2D]:
        empty: list[list[float]] = [[], [], []] if self.three_d else [[], []]
        lines: list[Line2D] = self.axes.plot(*empty, *style, **kwargs)
        return lines

    def _trail_collection(self, colour: Any, coords: tuple[np.ndarray, ...]) -> Any:
        if not self.three_d and len(coords) == 2 and len(coords[0]) >= self.RASTER_TRAILS_FROM:
            raster = RasterTrail(self.axes, *coords, to_rgba(colour), self.trail, linewidth=1.5)
            raster.set_zorder(_TRAIL_Z)
            self.axes.add_artist(raster)
            return raster
        if self.three_d:
            from mpl_toolkits.mplot3d.art3d import (  # type: ignore[import-untyped]
                Line3DCollection,
            )

            class Trail3D(Line3DCollection):  # type: ignore[misc]
                """Projects itself when drawn alone, as blitting draws it."""

                def draw(self, renderer: Any) -> None:
                    self.do_3d_projection()
                    super().draw(renderer)

            trail: Any = Trail3D([], linewidths=1.5, zorder=_TRAIL_Z)
            self.axes.add_collection3d(trail, autolim=False)
        else:
            trail = LineCollection([], linewidths=1.5, zorder=_TRAIL_Z, capstyle="round")
            self.axes.add_collection(trail, autolim=False)
        trail.base_colour = to_rgba(colour)
        return trail

    def _add_counter(self, figure: Figure, ax: Any, epochs: int, boxed: bool) -> None:
        # Only the number is redrawn per frame; "epoch" and "/ N" are static, on
        # an opaque box that the racers pass beneath. In a monospace font each
        # character advances 0.6 em, so the number ends where the blanks for it end.
        width = len(str(epochs))
        mono: dict[str, Any] = {"va": "top", "family": "monospace"}
        box = {"facecolor": self.theme.box, "alpha": 1.0, "edgecolor": "none", "pad": 2}
        text = ax.text2D if self.three_d else ax.text
        self.counter_box = text(
            0.0,
            1.0,
            f"epoch {' ' * width} / {epochs}",
            transform=ax.transAxes,
            zorder=self._box_z,
            bbox=box,
            **mono,
        )
        em = FontProperties(family="monospace").get_size_in_points() * self.font_scale
        end = offset_copy(ax.transAxes, figure, x=(6 + width) * 0.6 * em, units="points")
        self.counter = text(0.0, 1.0, "", transform=end, ha="right", zorder=_TEXT_Z, **mono)
        # In 2-D the notes go to the bottom, away from the legend and the counter;
        # on a curve or a surface, under the counter.
        self._notes_low = boxed
        notes_box: dict[str, Any] = (
            {"bbox": {"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 2}}
            if boxed
            else {}
        )
        under = offset_copy(ax.transAxes, figure, y=-1.6 * em, units="points")
        self.notes = text(
            0.0,
            0.0 if boxed else 1.0,
            "",
            transform=ax.transAxes if boxed else under,
            va="bottom" if boxed else "top",
            fontsize="small",
            color="0.25",
            zorder=_TEXT_Z,
            clip_on=True,  # wrapped to the axes' width; clipped only past its height
            **notes_box,
        )

    def _notes_extent(self, renderer: Any) -> Any:
        """The box every note of the race lies in (display pixels), or None if none has notes."""
        from matplotlib.transforms import Bbox

        texts = {self._wrap_note(raw) for raw in self._raw_notes}
        if not texts:
            return None
        saved, visible = self.notes.get_text(), self.notes.get_visible()
        self.notes.set_visible(True)  # an invisible text has no extent
        extents = []
        for content in texts:
            self.notes.set_text(content)
            extents.append(self.notes.get_window_extent(renderer))
        self.notes.set_text(saved)
        self.notes.set_visible(visible)
        return Bbox.union(extents)

    @property
    def n_frames(self) -> int:
        """How many frames the animation has."""
        return len(self.frame_epochs)

    @property
    def moving(self) -> list[Artist]:
        """The artists :meth:`update` changes, in drawing order."""
        panel = self.panel.moving if self.panel is not None else []
        return [
            *self.trails,
            *self.ghosts,
            *self.edges,
            *self.markers,
            *([self.cover] if self._swarm else []),
            self.counter,
            self.notes,
            *panel,
        ]

    def set_animated(self, animated: bool) -> None:
        """Mark the moving artists so that a full draw leaves them out (for blitting)."""
        for artist in self.moving:
            artist.set_animated(animated)

    def _state(self, i: int, epoch: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Racer ``i`` at ``epoch``: each start's drawn coordinates (its last finite
        ones once it diverged), whether it is still alive, and whether it is outside."""
        last, outside, coords = self._last[i], self._outside[i], self._coords[i]
        at = np.minimum(epoch, last)
        rows = np.arange(len(last))
        now = [c[rows, at] for c in coords]
        alive = last >= epoch
        return now, alive, alive & outside[rows, at]

    def note_text(self, epoch: int) -> str:
        """The notes shown at ``epoch``: who diverged, who is outside the domain
        (wrapped to the axes' width once the layout has measured it)."""
        return self._wrap_note(self._raw_note(epoch))

    def _raw_note(self, epoch: int) -> str:
        notes: list[str] = []
        for i, trace in enumerate(self.result.traces):
            now, alive, out = self._state(i, epoch)
            if len(alive) == 1 and not alive[0]:
                notes.append(f"x {trace.label} diverged at epoch {int(self._last[i][0]) + 1}")
            elif not alive.all():
                notes.append(f"x {int((~alive).sum())} of {trace.label} diverged")
            if len(alive) == 1 and out[0]:
                notes.append(f"{self._side(now, out)} {trace.label} is outside the domain")
            elif out.any():
                notes.append(
                    f"{self._side(now, out)} {int(out.sum())} of {trace.label} outside the domain"
                )
        return "\n".join(notes)

    @cached_property
    def _raw_notes(self) -> set[str]:
        """Every distinct note of the race, before wrapping: computed once, measured
        at every layout."""
        return {self._raw_note(epoch) for epoch in range(self.result.epochs + 1)} - {""}

    def _wrap_note(self, raw: str) -> str:
        """A note wrapped to the axes' width once the layout has measured it."""
        width = getattr(self, "_note_width", None)
        if not raw or width is None:
            return raw
        wrapped = self._wrapped.get(raw)
        if wrapped is None:
            wrapped = wrap(self.notes, raw, width, renderer_of(self.figure))
            self._wrapped[raw] = wrapped
        return wrapped

    def update(self, frame: int) -> list[Artist]:
        """Move every racer to its place at ``frame``; return the moving artists."""
        epoch = int(self.frame_epochs[frame])
        for i in range(len(self.result.traces)):
            now, alive, out = self._state(i, epoch)
            inside = alive & ~out
            _set(self.markers[i], [c[inside] for c in now])
            _set(self.ghosts[i], [c[~alive] for c in now])
            self.ghosts[i].set_visible(not alive.all())
            clipped = [
                np.clip(c[out], low, high) for c, (low, high) in zip(now, self._bounds, strict=True)
            ]
            _set(self.edges[i], clipped)
            self.edges[i].set_visible(bool(out.any()))
            if self.trails:
                self._move_trail(self.trails[i], self._coords[i], epoch)
        notes = self.note_text(epoch)
        self.counter.set_text(str(epoch))
        self.notes.set_text(notes)
        self.notes.set_visible(bool(notes))
        if self.panel is not None:
            self.panel.update(self.frame_epochs[: frame + 1])
        return self.moving

    def draw_paths(self, epoch: int) -> None:
        """Draw each racer's whole path from the start to ``epoch`` (for a still):
        one static line per racer, every start's path broken from the next by NaN."""
        for marker, coords in zip(self.markers, self._coords, strict=True):
            upto = [c[:, : epoch + 1] for c in coords]
            starts = upto[0].shape[0]
            gap = np.full((starts, 1), np.nan)
            flat = [np.concatenate([c, gap], axis=1).ravel() for c in upto]
            # Many paths overlap: each fainter, so that where they gather shows.
            alpha = 0.8 if starts == 1 else max(0.04, min(0.45, 12 / starts))
            self.axes.plot(
                *flat,
                color=marker.get_color(),
                linewidth=1.5 if starts == 1 else 0.8,
                alpha=alpha,
                zorder=_TRAIL_Z,
            )

    @property
    def coordinates(self) -> list[tuple[np.ndarray, ...]]:
        """Per racer, the drawn coordinates of every start and epoch: ``(x, loss)``
        in 1-D, ``(x, y)`` over a contour, ``(x, y, height)`` on a surface."""
        return self._coords

    def _side(self, now: list[np.ndarray], out: np.ndarray) -> str:
        """An arrow for the way out: in 1-D left or right; in 2-D always ``->``."""
        if self.result.surface is not None:
            return "->"
        xs, (lo, hi) = now[0][out], self.result.domain
        return "<-" if (xs < lo).all() else "->" if (xs > hi).all() else "<->"

    def _move_trail(self, trail: Any, coords: tuple[np.ndarray, ...], epoch: int) -> None:
        """The path over the last ``trail`` epochs, each step fainter with age.

        The steps of one age, from every start, make one path broken by NaN
        (one colour, one draw), so a swarm's trail costs ``trail`` draws, not
        ``trail`` times its starts.
        """
        if isinstance(trail, RasterTrail):
            trail.show(epoch)
            return
        first = max(0, epoch - self.trail)
        path = np.stack([c[:, first : epoch + 1] for c in coords], axis=-1)
        gap = np.full_like(path[:, 1:], np.nan)
        steps = np.stack([path[:, :-1], path[:, 1:], gap], axis=2)  # start, age, 3, axes
        by_age = steps.transpose(1, 0, 2, 3).reshape(steps.shape[1], 3 * len(path), len(coords))
        age = epoch - np.arange(first + 1, epoch + 1)
        colours = np.tile(trail.base_colour, (len(age), 1))
        colours[:, 3] *= 0.85 * (1 - age / self.trail)
        trail.set_segments(list(by_age))
        trail.set_color(colours)
        trail.set_visible(len(by_age) > 0)


def _y(trace: Trace) -> np.ndarray:
    assert trace.y is not None, "a 2-D race records y"
    return trace.y


def _set(line: Any, coords: list[np.ndarray]) -> None:
    if len(coords) == 3:
        line.set_data_3d(*coords)
    else:
        line.set_data(*coords)
