"""The race drawn on a matplotlib Figure: static artists once, moving ones per frame.

One :class:`RaceScene` serves both the live window (FuncAnimation with blitting)
and the file export (blitting on the Agg canvas). It does no file I/O and never
imports pyplot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm, to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.transforms import offset_copy

from optrace.engine.styles import split_style
from optrace.render.loss_panel import LossPanel
from optrace.render.options import SceneOptions
from optrace.render.theme import THEMES, dress, scaled_size
from optrace.render.trails import RasterTrail
from optrace.results.trace import RaceResult, Surface, Trace

#: Moving artists sit above everything static (the legend is at 5), so drawing
#: them over a cached background gives the same pixels as a full redraw.
_TRAIL_Z, _GHOST_Z, _MARKER_Z, _TEXT_Z = 5.5, 6.0, 6.5, 7.0
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
        self._swarm = swarm = max(t.x.shape[0] for t in result.traces) > 1
        size, alpha = (5.0, 0.6) if swarm else (10.0, 1.0)
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
        outline: dict[str, Any] = {} if flat else {"markeredgecolor": "white"}
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
        self.update(0)
        dress(figure, self.theme, self.font_scale)
        # With the loss panel, each entry shows its line's pattern as well.
        legend = ax.legend(
            handles=self.panel.legend_handles() if self.panel is not None else self.markers,
            loc="best" if result.surface is None else "upper right",
            numpoints=1,
            fontsize=scaled_size("small" if result.surface is not None else None, self.font_scale),
            title_fontsize=scaled_size(None, self.font_scale),
            **self.theme.legend_kwargs(),
        )
        if not options.legend:  # the page around the picture names the racers
            legend.remove()
        if not self.three_d:
            figure.tight_layout()
        if result.surface is None and self.font_scale != 1:
            # 'best' weighs the epoch counter as one point of the curve, so a
            # legend in larger type could cover it: it goes below the counter.
            height = ax.get_position().height * figure.get_figheight() * 72
            top = 0.97 - 1.4 * float(self.counter.get_fontsize()) / height
            legend.set_bbox_to_anchor((0, 0, 1, top), transform=ax.transAxes)

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
        figure.colorbar(filled, ax=ax, label=label, format="%.3g")
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
        if not minima:
            return
        xs, ys = [m.x for m in minima], [m.y for m in minima]
        values = [m.value for m in minima]
        place: list[Any]
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
            label="known minima",
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
        # Only the number is redrawn per frame; "epoch" and "/ N" are static. In
        # a monospace font each character advances 0.6 em, so the number ends
        # where the blanks for it end.
        width = len(str(epochs))
        mono: dict[str, Any] = {"va": "top", "family": "monospace"}
        box: dict[str, Any] = (
            {"bbox": {"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 2}}
            if boxed
            else {}
        )
        text = ax.text2D if self.three_d else ax.text
        text(0.02, 0.97, f"epoch {' ' * width} / {epochs}", transform=ax.transAxes, **mono, **box)
        em = FontProperties(family="monospace").get_size_in_points() * self.font_scale
        end = offset_copy(ax.transAxes, figure, x=(6 + width) * 0.6 * em, units="points")
        self.counter = text(0.02, 0.97, "", transform=end, ha="right", zorder=_TEXT_Z, **mono)
        # In 2-D the notes go to the bottom, away from the legend and the counter.
        self.notes = text(
            0.02,
            0.03 if boxed else 0.90,
            "",
            transform=ax.transAxes,
            va="bottom" if boxed else "top",
            fontsize="small",
            color="0.25",
            zorder=_TEXT_Z,
            clip_on=True,  # a long note stays inside the axes, off the colour bar
            **box,
        )

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
        """The notes shown at ``epoch``: who diverged, who is outside the domain."""
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
        swarm = self._swarm
        for marker, coords in zip(self.markers, self._coords, strict=True):
            upto = [c[:, : epoch + 1] for c in coords]
            gap = np.full((upto[0].shape[0], 1), np.nan)
            flat = [np.concatenate([c, gap], axis=1).ravel() for c in upto]
            self.axes.plot(
                *flat,
                color=marker.get_color(),
                linewidth=1.0 if swarm else 1.5,
                alpha=0.45 if swarm else 0.8,
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
