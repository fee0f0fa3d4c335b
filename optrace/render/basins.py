"""The basins map: one panel per racer, every start drawn at its start point in
the colour of the known minimum it reached (see :mod:`optrace.results.basins`).

In 2-D the starts lie over light contour lines of the function; in 1-D on its
curve. Starts that reached no known minimum are grey, lost ones (diverged, or
ended outside the domain) a cross in the text colour; the minima are stars in
their basin's colour. Drawn on a given Figure, without pyplot or file I/O.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from optrace._core.types import Minimum
from optrace.engine.styles import OKABE_ITO
from optrace.render.options import SceneOptions
from optrace.render.theme import THEMES, dress, scaled_size
from optrace.results.basins import (
    LOST,
    NONE,
    OTHER,
    describe_minimum,
    grouped,
    reached,
    shown_minima,
)
from optrace.results.trace import RaceResult, Trace

#: A colour per shown minimum, nearest the domain's centre first: Okabe and Ito's,
#: apart from black (a lost start's cross) and yellow (any other minimum).
BASIN_COLOURS = tuple(c for c in OKABE_ITO if c not in ("#000000", "#F0E442"))
#: Starts that reached one of the minima not shown one by one.
OTHER_COLOUR = "#F0E442"
#: Starts that reached no known minimum.
NONE_COLOUR = "#bbbbbb"
#: The largest side of a start's marker, in points (a grid's cells tile below it).
MARKER_MAX = 8.0
#: The least height of a map at font_scale 1: titles, a panel and the legend fit.
MIN_HEIGHT = 400
_START_Z, _LOST_Z, _STAR_Z = 2.0, 3.0, 4.0


def basins_size(size: tuple[int, int], racers: int, font_scale: float = 1.0) -> tuple[int, int]:
    """The map's width and height in pixels: ``size``'s height (at least room for
    its texts at ``font_scale``), and a panel about that wide per racer (in all at
    least ``size``'s width).

    Examples:
        >>> basins_size((640, 480), 2), basins_size((320, 320), 1, font_scale=2)
        ((768, 480), (800, 800))
    """
    height = max(size[1], round(MIN_HEIGHT * font_scale))
    # One panel is as wide as high: the legend under it needs the room.
    return max(size[0], round(max(racers * 0.8, 1.0) * height)), height


@dataclass(frozen=True)
class BasinsMap:
    """What :func:`draw_basins` drew.

    Attributes:
        axes: One panel per racer, in the race's order.
        shown: The minima coloured one by one (indices into ``result.minima``).
        groups: Per racer, per start drawn: its position in ``shown``, or
            ``OTHER``, ``NONE`` or ``LOST`` (:func:`optrace.results.basins.grouped`).
        rows: The rows of each trace drawn (with repeats, each start's first run).
    """

    axes: tuple[Axes, ...]
    shown: tuple[int, ...]
    groups: tuple[np.ndarray, ...]
    rows: np.ndarray


def group_colour(group: int, text: str = "black") -> str:
    """The colour a group of starts is drawn in (``text``: a lost start's cross).

    Examples:
        >>> group_colour(0), group_colour(-1)
        ('#E69F00', '#bbbbbb')
    """
    if group >= 0:
        return BASIN_COLOURS[group % len(BASIN_COLOURS)]
    return {OTHER: OTHER_COLOUR, NONE: NONE_COLOUR, LOST: text}[group]


def draw_basins(
    figure: Figure, result: RaceResult, options: SceneOptions | None = None
) -> BasinsMap:
    """Draw ``result``'s basins map on ``figure``, laid out and ready to save.

    Args:
        figure: An empty figure with a canvas (its size is the map's).
        result: A race with more than one start.
        options: Its ``theme`` and ``font_scale`` apply; the rest is for animations.

    Returns:
        The panels and what each start was drawn as.
    """
    options = options or SceneOptions()
    theme = THEMES[options.theme]
    shown = shown_minima(result)
    traces = result.traces
    figure.set_layout_engine("constrained")
    axes = tuple(figure.subplots(1, len(traces), squeeze=False)[0])
    rows = np.arange(0, traces[0].x.shape[0], traces[0].repeats)
    groups = tuple(grouped(reached(t, result), shown)[rows] for t in traces)
    for ax, trace, group in zip(axes, traces, groups, strict=True):
        _landscape(ax, result, theme.curve)
        _stars(ax, result, shown, theme.text)
        ax.set_title(_panel_title(trace, group))
    repeats = traces[0].repeats
    note = (
        f"each start coloured by the known minimum it ends at (final loss within "
        f"{result.tolerance:g} of it)"
        + (f"; the first of each start's {repeats} repeats" if repeats > 1 else "")
    )
    # Wrapped to the figure's width: about 0.55 em a character.
    em = 10 * options.font_scale * figure.dpi / 72
    width = max(20, int(figure.bbox.width / (0.55 * em)))
    figure.suptitle(
        "\n".join([*textwrap.wrap(result.title, width), *textwrap.wrap(note, width)]),
        fontsize="medium",
    )
    handles = _legend_handles(result, shown, groups, theme.text)
    dress(figure, theme, options.font_scale)  # every text so far; the legend is sized below
    # Under the panels, in as many columns as fit across the figure.
    for columns in range(min(len(handles), 4), 0, -1):
        legend = figure.legend(
            handles=handles,
            loc="outside lower center",
            ncols=columns,
            fontsize=scaled_size("small", options.font_scale),
            frameon=False,
            **theme.legend_kwargs(),
        )
        figure.canvas.draw()  # lay out, then freeze it: the markers are sized from it
        box = legend.get_window_extent()
        if columns == 1 or (box.x0 >= 0 and box.x1 <= figure.bbox.width):
            break
        legend.remove()
    figure.set_layout_engine("none")
    for ax, trace, group in zip(axes, traces, groups, strict=True):
        if result.surface is not None:
            # Equal scales once laid out: the box only shrinks inside its place, so
            # nothing laid out around it comes to overlap it.
            ax.set_aspect("equal", adjustable="box")
            ax.apply_aspect()
        _starts(ax, result, trace, rows, group, theme.text)
    return BasinsMap(axes, shown, groups, rows)


def _landscape(ax: Axes, result: RaceResult, curve: str) -> None:
    """The function, lightly: contour lines in 2-D, the curve in 1-D."""
    if result.surface is None:
        ax.plot(result.curve_x, result.curve_y, color=curve, linewidth=1.0, alpha=0.6, zorder=1)
        lo, hi = float(np.nanmin(result.curve_y)), float(np.nanmax(result.curve_y))
        pad = 0.08 * (hi - lo) if hi > lo else 1.0
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel("start x")
        ax.set_ylabel("f(x)")
    else:
        assert result.ydomain is not None
        s = result.surface
        z = np.ma.masked_invalid(s.z)
        # Levels at quantiles of the values: evenly spread lines for any function,
        # also one that spans decades.
        levels = np.unique(np.quantile(z.compressed(), np.linspace(0.02, 0.98, 14)))
        if len(levels) > 1:
            ax.contour(s.xs, s.ys, z, levels=levels, colors=curve, linewidths=0.5, alpha=0.5)
        ax.set_ylim(*result.ydomain)
        ax.set_xlabel("start x")
        ax.set_ylabel("start y")
    ax.set_xlim(*result.domain)


def _stars(ax: Axes, result: RaceResult, shown: tuple[int, ...], edge: str) -> None:
    for position, i in enumerate(shown):
        m = result.minima[i]
        ax.plot(
            m.x,
            m.value if m.y is None else m.y,
            linestyle="none",
            marker="*",
            markersize=14,
            color=group_colour(position),
            markeredgecolor=edge,
            markeredgewidth=0.9,
            zorder=_STAR_Z,
        )


def _panel_title(trace: Trace, group: np.ndarray) -> str:
    n = len(group)
    at = int((group >= 0).sum() + (group == OTHER).sum())
    lost = int((group == LOST).sum())
    title = f"{trace.label}\n{at:,} of {n:,} at a minimum"
    return title + (f", {lost:,} lost" if lost else "")


def _legend_handles(
    result: RaceResult, shown: tuple[int, ...], groups: tuple[np.ndarray, ...], text: str
) -> list[Line2D]:
    def square(colour: str, label: str) -> Line2D:
        return Line2D([], [], linestyle="none", marker="s", markersize=8, color=colour, label=label)

    handles = [
        square(group_colour(p), f"ends at {_at(result.minima[i])}") for p, i in enumerate(shown)
    ]
    others = len(result.minima) - len(shown)
    if others:
        handles.append(
            square(OTHER_COLOUR, f"ends at another of the {others} minima farther from the centre")
        )
    handles.append(square(NONE_COLOUR, "ends at no known minimum"))
    if any((g == LOST).any() for g in groups):
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="x",
                markersize=7,
                markeredgewidth=1.5,
                color=text,
                label="diverged or left the domain",
            )
        )
    if shown:
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="*",
                markersize=11,
                color="white",
                markeredgecolor=text,
                label="a known minimum",
            )
        )
    return handles


def _at(m: Minimum) -> str:
    return describe_minimum(m) if m.y is not None else f"x = {describe_minimum(m)}"


def _starts(
    ax: Axes, result: RaceResult, trace: Trace, rows: np.ndarray, group: np.ndarray, text: str
) -> None:
    """Every start at its start point, one marker per start, sized to tile a grid."""
    x = trace.x[rows, 0]
    y = trace.y[rows, 0] if trace.y is not None else trace.loss[rows, 0]
    side = _marker_side(ax, result, len(rows))
    marker = "s" if result.surface is not None else "o"
    style: dict[str, Any] = {"linestyle": "none", "markeredgewidth": 0, "clip_on": True}
    for g in np.unique(group):
        chosen = group == g
        if g == LOST:
            ax.plot(
                x[chosen],
                y[chosen],
                **{**style, "markeredgewidth": max(1.0, side / 6)},
                marker="x",
                markersize=side,
                color=text,
                zorder=_LOST_Z,
            )
        else:
            ax.plot(
                x[chosen],
                y[chosen],
                **style,
                marker=marker,
                markersize=side,
                color=group_colour(int(g)),
                zorder=_START_Z,
            )


def _marker_side(ax: Axes, result: RaceResult, starts: int) -> float:
    """A start's marker side in points: the cell each start would have if they were
    spread evenly (a grid's own cells), at most :data:`MARKER_MAX`."""
    box = ax.get_window_extent()
    points = 72 / ax.figure.dpi
    if result.ydomain is None:
        cell = box.width * points / starts
    else:
        per_side = max(1.0, np.sqrt(starts))
        cell = min(box.width, box.height) * points / per_side
    # A little over the cell, so that neighbouring squares leave no seam where
    # their edges are rounded to pixels; each start's centre stays its own.
    return float(min(MARKER_MAX, max(1.5, cell * 1.15)))
