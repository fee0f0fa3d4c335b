"""The sweep map: for each racer with a ``sweep:``, how far every combination of its
swept values finished from the lowest known minimum (see :class:`~optrace.results.trace.Sweep`).

A two-key sweep is a heatmap, one row per value of the first key (the first value at
the bottom) and one column per value of the second. A one-key sweep is a curve of
the gap against the value. A sweep of more than two keys shows the grid of its first
two keys with the others at their values as written, and its title says so. Every
panel shares one colour scale (log when it can be), so racers compare at a glance.
A combination that diverged or left the domain is marked, never coloured:
a grey cell saying ``div.`` or ``out`` (on a curve, a cross at the top). The values
as written are outlined (on a curve, ringed). Drawn on a given Figure, without
pyplot or file I/O.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.patheffects import withStroke
from matplotlib.ticker import NullLocator
from matplotlib.transforms import Bbox, blended_transform_factory

from optrace.render.options import SceneOptions
from optrace.render.theme import THEMES, Theme, dress
from optrace.results.summary import summarize
from optrace.results.trace import RaceResult, Sweep

#: What marks a combination that diverged, and one that ended outside the domain.
DIVERGED, OUTSIDE = "div.", "out"
#: The colour map of the gap: dark is near the minimum, yellow far from it.
COLOURMAP = "viridis"
#: A lost combination's cell, per theme: a grey that no colour of the map comes near.
LOST_COLOURS = {"light": "#c8c8c8", "dark": "#55585f"}
#: The least height of a map at font_scale 1: titles, a panel and its ticks fit.
MIN_HEIGHT = 400
#: The widest span of a log colour scale, in decades: gaps below it share its lowest colour.
DECADES = 12
#: The most tick labels along a grid's side; more values label every second, third...
MOST_TICKS = 10
#: The height of a curve's crosses for lost values, a fraction of its axes.
LOST_AT = 0.9
#: The most values a curve's x axis labels one by one, each at most this long.
CURVE_TICKS, TICK_CHARS = 6, 6
_CELL_Z, _MARK_Z, _OUTLINE_Z = 1.0, 2.0, 3.0


@dataclass(frozen=True)
class Cell:
    """One combination as the map shows it.

    Attributes:
        combination: Its index in the sweep's grid order.
        params: Its swept values.
        gap: Its final loss minus the lowest known minimum (the final loss when none
            is known); with several starts, of the start the summary reports.
        lost: :data:`DIVERGED`, :data:`OUTSIDE`, or None (it is coloured).
    """

    combination: int
    params: dict[str, Any]
    gap: float
    lost: str | None


def sweep_cells(sweep: Sweep, result: RaceResult) -> tuple[Cell, ...]:
    """Every combination of ``sweep``, in grid order, with its gap and whether it was lost.

    Both come from :func:`~optrace.results.summary.summarize`, as the summary's
    ``sweep`` list and the table's best combination do: the gap is of the run it
    reports (with several starts, the one with the lowest final loss); a combination
    is lost when any of its runs diverged, or else left the domain.

    Examples:
        >>> import numpy as np
        >>> from optrace._core.types import Minimum
        >>> from optrace.results.trace import Trace
        >>> def t(lr, end): return Trace("SGD", "SGD", {"lr": lr}, "ro",
        ...                               np.array([[2.0, end]]), np.array([[4.0, end**2]]))
        >>> traces = (t(0.1, 1.0), t(0.5, 0.1), t(2.0, 9.0))
        >>> result = RaceResult("", "x**2", (-5.0, 5.0), np.zeros(2), np.zeros(2), 1,
        ...                     traces[:1], minima=(Minimum(0.0, 0.0),))
        >>> sweep = Sweep("SGD", ("lr",), ((0.1, 0.5, 2.0),), traces, 0)
        >>> [(c.params, round(c.gap, 6), c.lost) for c in sweep_cells(sweep, result)]
        [({'lr': 0.1}, 1.0, None), ({'lr': 0.5}, 0.01, None), ({'lr': 2.0}, 81.0, 'out')]
    """
    lowest = result.minima[0].value if result.minima else 0.0
    cells = []
    for i, trace in enumerate(sweep.traces):
        summary = summarize(trace, result)
        lost = DIVERGED if summary.diverged else OUTSIDE if summary.left else None
        cells.append(Cell(i, sweep.params(i), summary.final_loss - lowest, lost))
    return tuple(cells)


def shared_norm(gaps: np.ndarray, known: bool) -> Normalize:
    """One colour scale for the gaps of every panel.

    Log when every gap can be: a minimum is known (a gap at or below zero, the
    minimum's value rounded, takes the lowest colour), or every final loss is
    positive; it spans at most :data:`DECADES` decades below the largest gap. Else linear.

    Args:
        gaps: The coloured combinations' gaps.
        known: Whether a minimum is known (else the gaps are the final losses).

    Examples:
        >>> norm = shared_norm(np.array([1e-3, 0.0, 10.0]), True)
        >>> type(norm).__name__, norm.vmin, norm.vmax
        ('LogNorm', 0.001, 10.0)
        >>> type(shared_norm(np.array([-2.0, 3.0]), False)).__name__
        'Normalize'
    """
    gaps = gaps[np.isfinite(gaps)]
    if gaps.size and not known and gaps.min() <= 0:
        low, high = float(gaps.min()), float(gaps.max())
        if high <= low:
            low, high = low - 1.0, high + 1.0
        return Normalize(low, high)
    positive = gaps[gaps > 0]
    if not positive.size:
        return LogNorm(1e-3, 1.0)
    high = float(positive.max())
    low = max(float(positive.min()), high * 10.0**-DECADES)
    if high <= low * (1 + 1e-9):
        low, high = low / 10, high * 10
    return LogNorm(low, high)


def colour_value(norm: Normalize, gap: float) -> float:
    """The value a gap is coloured by: inside the scale (a log scale's lowest colour
    for anything below it)."""
    low, high = float(norm.vmin), float(norm.vmax)  # type: ignore[arg-type]
    return min(max(gap, low), high)


@dataclass(frozen=True)
class SweepPanel:
    """One racer's panel.

    Attributes:
        sweep: The racer's sweep.
        ax: Its axes.
        cells: Every combination of the sweep (:func:`sweep_cells`).
        shown: The combinations drawn: for a grid, ``shown[row][column]`` (row: the
            first key's value, column: the second's); for a curve, one row.
        keys: The keys drawn: two for a grid, one for a curve.
        fixed: The other keys, at their values as written.
    """

    sweep: Sweep
    ax: Axes
    cells: tuple[Cell, ...]
    shown: tuple[tuple[int, ...], ...]
    keys: tuple[str, ...]
    fixed: Mapping[str, Any]

    @property
    def grid(self) -> bool:
        """Whether this panel is a heatmap (else a curve)."""
        return len(self.keys) == 2

    def cell_box(self, combination: int) -> Bbox:
        """Where ``combination``'s cell lies in display pixels (y up from the bottom),
        once the figure is laid out; a grid's only."""
        for row, columns in enumerate(self.shown):
            if combination in columns:
                column = columns.index(combination)
                corners = [(column - 0.5, row - 0.5), (column + 0.5, row + 0.5)]
                return Bbox(self.ax.transData.transform(corners))
        raise ValueError(f"combination {combination} is not drawn")


@dataclass(frozen=True)
class SweepMap:
    """What :func:`draw_sweep_map` drew: the panels, and the one colour scale."""

    panels: tuple[SweepPanel, ...]
    norm: Normalize
    cmap: Colormap

    def colour(self, gap: float) -> tuple[float, float, float, float]:
        """The RGBA a coloured combination with ``gap`` is drawn in."""
        rgba = self.cmap(self.norm(colour_value(self.norm, gap)))
        return (float(rgba[0]), float(rgba[1]), float(rgba[2]), float(rgba[3]))


def sweep_size(size: tuple[int, int], panels: int, font_scale: float = 1.0) -> tuple[int, int]:
    """The map's width and height in pixels: ``size``'s height (at least room for its
    texts at ``font_scale``), a panel about as wide per racer and room for the
    colour bar (in all at least ``size``'s width).

    Examples:
        >>> sweep_size((640, 480), 1), sweep_size((640, 480), 2), sweep_size((320, 240), 1, 2)
        ((640, 480), (984, 480), (920, 800))
    """
    height = max(size[1], round(MIN_HEIGHT * font_scale))
    return max(size[0], round((max(panels, 1) * 0.9 + 0.25) * height)), height


def draw_sweep_map(
    figure: Figure, result: RaceResult, options: SceneOptions | None = None
) -> SweepMap:
    """Draw ``result``'s sweep map on ``figure``, laid out and ready to save.

    Args:
        figure: An empty figure with a canvas (its size is the map's).
        result: A race with at least one sweep.
        options: Its ``theme`` and ``font_scale`` apply; the rest is for animations.

    Returns:
        The panels (each knows its cells' pixels) and the colour scale.

    Raises:
        ValueError: ``result`` has no sweep.
    """
    if not result.sweeps:
        raise ValueError("the race has no sweep")
    options = options or SceneOptions()
    theme = THEMES[options.theme]
    cmap = colormaps[COLOURMAP]
    lost_colour = LOST_COLOURS[theme.name]
    figure.set_layout_engine("constrained")
    axes = figure.subplots(1, len(result.sweeps), squeeze=False)[0]
    layouts = [_layout(s, sweep_cells(s, result)) for s in result.sweeps]
    panels = [
        SweepPanel(s, ax, cells, shown, keys, fixed)
        for s, ax, (cells, shown, keys, fixed) in zip(result.sweeps, axes, layouts, strict=True)
    ]
    gaps = np.array(
        [p.cells[i].gap for p in panels for row in p.shown for i in row if p.cells[i].lost is None],
        dtype=float,
    )
    norm = shared_norm(gaps, bool(result.minima))
    drawn = SweepMap(tuple(panels), norm, cmap)
    for panel in panels:
        if panel.grid:
            _heatmap(panel, drawn, theme, lost_colour)
        else:
            _curve(panel, drawn, theme, bool(result.minima))
        panel.ax.set_title(_panel_title(panel, result, figure, options.font_scale))
    bar = figure.colorbar(ScalarMappable(norm, cmap), ax=list(axes), fraction=0.06, pad=0.02)
    name = "final gap" if result.minima else "final loss"
    bar.set_label(name + (" (log scale)" if isinstance(norm, LogNorm) else ""))
    figure.suptitle(_figure_title(result, figure, options.font_scale), fontsize="medium")
    dress(figure, theme, options.font_scale)
    figure.canvas.draw()  # lay out, then freeze it: the cells' pixels stay where drawn
    figure.set_layout_engine("none")
    return drawn


def _layout(
    sweep: Sweep, cells: tuple[Cell, ...]
) -> tuple[tuple[Cell, ...], tuple[tuple[int, ...], ...], tuple[str, ...], dict[str, Any]]:
    """The combinations a panel draws: the first two keys' grid (or the one key's
    values) with every other key at its value as written."""
    written = sweep.params(sweep.written)
    keys = sweep.keys[:2]
    fixed = {k: written[k] for k in sweep.keys[2:]}

    def at(*drawn: Any) -> int:
        return sweep.index({**fixed, **dict(zip(keys, drawn, strict=True))})

    if len(keys) == 1:
        return cells, (tuple(at(v) for v in sweep.values[0]),), keys, fixed
    shown = tuple(tuple(at(a, b) for b in sweep.values[1]) for a in sweep.values[0])
    return cells, shown, keys, fixed


def _value(v: Any) -> str:
    # Four digits: a log range's values (0.00316228) stay short on an axis.
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _ticks(ax: Axes, axis: str, values: tuple[Any, ...]) -> None:
    every = math.ceil(len(values) / MOST_TICKS)
    positions = range(0, len(values), every)
    labels = [_value(values[i]) for i in positions]
    if axis == "x":
        ax.set_xticks(list(positions), labels)
    else:
        ax.set_yticks(list(positions), labels)


def _heatmap(panel: SweepPanel, drawn: SweepMap, theme: Theme, lost_colour: str) -> None:
    ax, sweep = panel.ax, panel.sweep
    rows, columns = len(panel.shown), len(panel.shown[0])
    values = np.ma.masked_array(np.zeros((rows, columns)), mask=np.zeros((rows, columns), bool))
    for r, row in enumerate(panel.shown):
        for c, i in enumerate(row):
            cell = panel.cells[i]
            if cell.lost is None:
                values[r, c] = colour_value(drawn.norm, cell.gap)
            else:
                values[r, c] = np.ma.masked
                ax.text(
                    c,
                    r,
                    cell.lost,
                    ha="center",
                    va="center",
                    fontsize="small",
                    color=theme.text,
                    zorder=_MARK_Z,
                )
    cmap = drawn.cmap.with_extremes(bad=lost_colour)
    edges_x, edges_y = np.arange(columns + 1) - 0.5, np.arange(rows + 1) - 0.5
    ax.pcolormesh(edges_x, edges_y, values, cmap=cmap, norm=drawn.norm, zorder=_CELL_Z)
    if sweep.written in {i for row in panel.shown for i in row}:
        r = next(r for r, row in enumerate(panel.shown) if sweep.written in row)
        c = panel.shown[r].index(sweep.written)
        # Dark on a light cell, a light rim on a dark one: it shows on every colour.
        rim = withStroke(linewidth=7, foreground=theme.face)
        ax.add_patch(
            Rectangle(
                (c - 0.46, r - 0.46),
                0.92,
                0.92,
                fill=False,
                edgecolor=theme.text,
                linewidth=3,
                zorder=_OUTLINE_Z,
                path_effects=[rim],
                clip_on=False,
            )
        )
    ax.set_xlim(-0.5, columns - 0.5)
    ax.set_ylim(-0.5, rows - 0.5)
    _ticks(ax, "x", sweep.values[1])
    _ticks(ax, "y", sweep.values[0])
    ax.set_xlabel(panel.keys[1])
    ax.set_ylabel(panel.keys[0])
    ax.tick_params(length=0)


def _curve(panel: SweepPanel, drawn: SweepMap, theme: Theme, known: bool) -> None:
    ax, sweep = panel.ax, panel.sweep
    (shown,) = panel.shown
    xs = np.array([float(v) for v in sweep.values[0]])
    cells = [panel.cells[i] for i in shown]
    ok = np.array([c.lost is None for c in cells])
    ys = np.array([colour_value(drawn.norm, c.gap) for c in cells])
    logx = bool((xs > 0).all() and xs.max() >= 10 * xs.min())
    if logx:
        ax.set_xscale("log")
    if isinstance(drawn.norm, LogNorm):
        ax.set_yscale("log")
    ax.plot(xs[ok], ys[ok], "-", color=theme.curve, linewidth=1.2, zorder=_CELL_Z)
    colours = [drawn.colour(c.gap) for c in cells]
    ax.scatter(
        xs[ok],
        ys[ok],
        s=55,
        c=[colours[i] for i in np.flatnonzero(ok)],
        edgecolors=theme.face,
        linewidths=0.6,
        zorder=_MARK_Z,
    )
    # Lost values cannot sit at a gap: a cross at the top, saying why.
    top = blended_transform_factory(ax.transData, ax.transAxes)
    for x, cell in zip(xs, cells, strict=True):
        if cell.lost is None:
            continue
        ax.plot(
            x,
            LOST_AT,
            "x",
            color=theme.text,
            markersize=8,
            markeredgewidth=1.6,
            transform=top,
            zorder=_MARK_Z,
        )
        ax.text(
            x,
            LOST_AT + 0.03,
            cell.lost,
            ha="center",
            va="bottom",
            fontsize="x-small",
            color=theme.text,
            transform=top,
        )
    if sweep.written in shown:
        k = shown.index(sweep.written)
        y, transform = (ys[k], ax.transData) if ok[k] else (LOST_AT, top)
        ax.plot(
            xs[k],
            y,
            "o",
            markersize=15,
            markerfacecolor="none",
            markeredgecolor=theme.text,
            markeredgewidth=2.0,
            transform=transform,
            zorder=_OUTLINE_Z,
        )
    low, high = float(drawn.norm.vmin), float(drawn.norm.vmax)  # type: ignore[arg-type]
    if isinstance(drawn.norm, LogNorm):
        # Room above the highest point for the crosses of lost values.
        ax.set_ylim(low / 2, high * 10 ** (0.25 * math.log10(high / low) + 0.3))
    else:
        pad = 0.08 * (high - low)
        ax.set_ylim(low - pad, high + 3 * pad)
    labels = [_value(v) for v in sweep.values[0]]
    # The values themselves where they fit; else the axis's own round ticks.
    if len(xs) <= CURVE_TICKS and max(len(t) for t in labels) <= TICK_CHARS:
        ax.set_xticks(xs, labels)
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(panel.keys[0])
    ax.set_ylabel("final gap" if known else "final loss")


def _wrap(text: str, figure: Figure, share: float, font_scale: float) -> list[str]:
    """``text`` wrapped to ``share`` of the figure's width (about 0.55 em a character)."""
    em = 10 * font_scale * figure.dpi / 72
    return textwrap.wrap(text, max(16, int(share * figure.bbox.width / (0.55 * em))))


def _panel_title(panel: SweepPanel, result: RaceResult, figure: Figure, font_scale: float) -> str:
    sweep = panel.sweep
    trace = sweep.traces[sweep.written]
    share = 0.85 / len(result.sweeps)
    # A label of its own names the optimizer beside it; else the label is the optimizer.
    name = sweep.label if sweep.label == trace.optimizer else f"{sweep.label} ({trace.optimizer})"
    lines = _wrap(name, figure, share, font_scale)
    if panel.fixed:
        fixed = ", ".join(f"{k} {_value(v)}" for k, v in panel.fixed.items())
        lines += _wrap(f"at {fixed} as written", figure, share, font_scale)
    coloured = [c for row in panel.shown for i in row if (c := panel.cells[i]).lost is None]
    if coloured:
        best = min(coloured, key=lambda c: c.gap)
        at = ", ".join(f"{k} {_value(best.params[k])}" for k in panel.keys)
        # A gap a hair below zero is the minimum's value rounded.
        gap = max(best.gap, 0.0) if result.minima else best.gap
        lines += _wrap(f"best: {at} ({gap:.3g})", figure, share, font_scale)
    else:
        lines.append("every combination lost")
    return "\n".join(lines)


def _figure_title(result: RaceResult, figure: Figure, font_scale: float) -> str:
    after = f"after {result.epochs} {result.axis}s"
    if result.minima:
        lowest = result.minima[0].value
        gap = f"final gap {after}: the final loss minus the lowest known minimum ({lowest:g})"
    else:
        gap = f"final loss {after} (no minimum is known)"
    swarm = any(t.x.shape[0] > 1 for s in result.sweeps for t in s.traces[:1])
    note = (
        f"{gap}{' of the best start' if swarm else ''}; outlined: the values as written; "
        f"grey: diverged ({DIVERGED}) or left the domain ({OUTSIDE})"
    )
    lines = [*_wrap(result.title, figure, 0.95, font_scale), *_wrap(note, figure, 0.95, font_scale)]
    return "\n".join(lines)
