"""The loss panel: each racer's gap to the lowest minimum (and its lr, or a model's
test accuracy), animated in step."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import FillBetweenPolyCollection
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from optrace.render.views.landscape import loss_ticks
from optrace.results.axis import EVALUATION
from optrace.results.trace import RaceResult, Trace

#: Line patterns for racers that share a colour, in order (dashed last: the
#: learning rates are dashed).
DASHES: tuple[Any, ...] = (
    "-",
    ":",
    "-.",
    "--",
    (0, (5, 1, 1, 1, 1, 1)),
    (0, (8, 2)),
    (0, (1, 3)),
    (0, (3, 1, 1, 1, 1, 1, 1, 1)),
)


def dashes(colours: Sequence[Any]) -> list[Any]:
    """A line pattern per racer: solid, unless an earlier racer has the same colour.

    Args:
        colours: Each racer's colour.

    Returns:
        Each racer's linestyle, from :data:`DASHES`.

    Examples:
        >>> dashes(["r", "k", "red", "b"])
        ['-', '-', ':', '-']
    """
    seen: list[tuple[float, ...]] = []
    patterns = []
    for colour in colours:
        rgba = to_rgba(colour)
        patterns.append(DASHES[seen.count(rgba) % len(DASHES)])
        seen.append(rgba)
    return patterns


class LossPanel:
    """Each racer's loss over the epochs shown so far, under the race.

    Where the function's lowest minimum f* is known the panel shows the gap
    ``loss - f*`` on a log scale (how far from the best there is); otherwise
    the loss itself, on a log scale if it stays positive. A swarm (or repeats)
    shows the median over its runs, in a band from the first to the third
    quartile; a run that diverged drops out. The range spans every combination
    of a racer's sweep that did not diverge. Learning rates under a schedule,
    known in advance, are drawn whole on a twin axis, beneath the moving lines;
    a model race's test accuracy, where it has a test split, moves with them on
    another twin axis, dashed.

    Each line carries its racer's marker at its head (the epoch shown), and
    racers of one colour get distinct line patterns, so the lines read without
    the legend; :meth:`legend_handles` gives the legend the same look.
    """

    FLOOR = 1e-16
    CEILING = 1e150
    MARGIN = 0.02

    def __init__(self, ax: Axes, result: RaceResult, markers: Sequence[Line2D]) -> None:
        self.ax = ax
        best = result.minima[0][1] if result.minima else None
        quantiles = [panel_rows(t, best) for t in result.traces]
        values = [q[0] for q in quantiles]
        # The player's sliders draw a sweep's other combinations on this panel: its
        # range spans those that stayed finite too (one that diverged leaves it).
        swept = [
            panel_rows(t, best)
            for sweep in result.sweeps
            for t in sweep.traces
            if np.isfinite(t.loss).all()
        ]
        finite = np.concatenate([q[np.isfinite(q)] for q in [*quantiles, *swept]])
        log = best is not None or bool(finite.size and (finite > 0).all())
        self.values = values
        if any(t.lr is not None for t in result.traces):
            twin = ax.twinx()
            twin.set_zorder(ax.get_zorder() - 1)  # drawn first, so a full draw blits alike
            ax.patch.set_visible(False)
            for trace, marker in zip(result.traces, markers, strict=True):
                if trace.lr is not None:
                    epochs = np.arange(trace.lr.shape[1])
                    twin.plot(
                        epochs,
                        trace.lr[0],
                        linestyle="--",
                        linewidth=1,
                        color=marker.get_color(),
                        alpha=0.5,
                    )
            twin.set_ylabel("lr (dashed)")
        self.accuracy = [
            None if t.test_accuracy is None else t.test_accuracy[0] for t in result.traces
        ]
        self.accuracy_ax: Axes | None = None
        self.accuracy_lines: list[Line2D | None] = [None] * len(result.traces)
        if any(a is not None for a in self.accuracy):
            self._add_accuracy(ax, markers, lr=any(t.lr is not None for t in result.traces))
        patterns = dashes([marker.get_color() for marker in markers])
        self.lines = [
            ax.plot(
                [],
                [],
                color=marker.get_color(),
                linestyle=pattern,
                linewidth=1.5,
                marker=marker.get_marker(),
                markevery=[-1],
                markersize=6,
                markeredgecolor=marker.get_markeredgecolor(),
                zorder=6,
            )[0]
            for marker, pattern in zip(markers, patterns, strict=True)
        ]
        self.quartiles = [q[1:] if len(q) == 3 else None for q in quantiles]
        self.bands: list[FillBetweenPolyCollection | None] = [
            None
            if q is None
            else ax.fill_between(
                [], [], [], color=marker.get_color(), alpha=0.2, linewidth=0, zorder=5
            )
            for q, marker in zip(self.quartiles, markers, strict=True)
        ]
        self._markers = list(markers)
        self.cursor = ax.axvline(0, color="0.5", linewidth=1, zorder=6)
        # A margin, so the heads' markers at the first and last epoch show whole.
        span = max(result.epochs, 1)
        ax.set_xlim(-self.MARGIN * span, (1 + self.MARGIN) * span)
        if log:
            ax.set_yscale("log")
        if finite.size:
            # A diverging racer's last finite losses can near 1e308, past what
            # the log ticks can count in decades.
            lo, hi = float(finite.min()), min(float(finite.max()), self.CEILING)
            if log:
                ax.set_ylim(lo / 2, hi * 2)
                if result.landscape is not None:
                    # A model's loss spans a decade or two: plain numbers, not 6x10^-1.
                    ax.yaxis.set_major_locator(FixedLocator(list(loss_ticks(lo / 2, hi * 2))))
                    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
                    ax.yaxis.set_minor_locator(NullLocator())
            else:
                pad = 0.08 * (hi - lo) if hi > lo else 1.0
                ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel("gradient evaluations" if result.axis == EVALUATION else "epoch")
        model = result.landscape is not None
        ax.set_ylabel("loss - f*" if best is not None else "training loss" if model else "loss")
        ax.grid(alpha=0.25)

    def _add_accuracy(self, ax: Axes, markers: Sequence[Line2D], lr: bool) -> None:
        """Each racer's test accuracy, dashed in its colour, on a twin axis beneath
        the loss lines (moved outward past the lr's axis where there is one)."""
        twin = ax.twinx()
        twin.set_zorder(ax.get_zorder() - 1)  # drawn first, so a full draw blits alike
        ax.patch.set_visible(False)
        if lr:
            twin.spines["right"].set_position(("outward", 45))
        self.accuracy_ax = twin
        for i, (values, marker) in enumerate(zip(self.accuracy, markers, strict=True)):
            if values is not None:
                (self.accuracy_lines[i],) = twin.plot(
                    [], [], linestyle="--", linewidth=1.2, color=marker.get_color(), zorder=2
                )
        finite = np.concatenate([a[np.isfinite(a)] for a in self.accuracy if a is not None])
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        pad = 0.08 * (hi - lo) if hi > lo else 0.05
        twin.set_ylim(lo - pad, hi + pad)
        twin.set_ylabel("test accuracy (dashed)")

    def legend_handles(self) -> list[Line2D]:
        """Legend entries that look like the race's markers on the panel's lines."""
        handles = []
        for marker, line in zip(self._markers, self.lines, strict=True):
            handle = Line2D([], [])
            handle.update_from(marker)
            handle.set_linestyle(line.get_linestyle())
            handle.set_linewidth(line.get_linewidth())
            handles.append(handle)
        return handles

    @property
    def moving(self) -> list[Artist]:
        """The test accuracy lines (on their axis beneath), the interquartile bands,
        the loss lines and the epoch cursor."""
        accuracy = [line for line in self.accuracy_lines if line is not None]
        return [*accuracy, *(b for b in self.bands if b is not None), *self.lines, self.cursor]

    def update(self, shown: np.ndarray) -> None:
        """Draw every line (and band) through the epochs ``shown`` so far."""
        for line, values in zip(self.lines, self.values, strict=True):
            # Up to the last finite value, so a racer that diverged keeps its head.
            finite = np.flatnonzero(np.isfinite(values[shown]))
            upto = shown[: finite[-1] + 1] if finite.size else shown[:0]
            line.set_data(upto, values[upto])
            line.set_visible(bool(finite.size))  # a head needs a point to sit on
        for accuracy, dashed in zip(self.accuracy, self.accuracy_lines, strict=True):
            if dashed is not None and accuracy is not None:
                finite = np.flatnonzero(np.isfinite(accuracy[shown]))
                upto = shown[: finite[-1] + 1] if finite.size else shown[:0]
                dashed.set_data(upto, accuracy[upto])
        for band, q in zip(self.bands, self.quartiles, strict=True):
            if band is not None and q is not None:
                band.set_data(shown, q[0, shown], q[1, shown])
        epoch = float(shown[-1])
        self.cursor.set_xdata([epoch, epoch])


def panel_rows(trace: Trace, best: float | None) -> np.ndarray:
    """What the panel draws of a racer at each epoch: its loss (the gap to ``best``,
    the lowest minimum, where known) or with more than one run the median, then
    the first and third quartiles, as rows.

    Args:
        trace: The racer.
        best: The function's lowest value, or None where it is not known.

    Returns:
        ``(1, epochs + 1)``, or ``(3, epochs + 1)`` for more than one run.
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an epoch where every run diverged
        loss = _raced(trace)
        rows = np.nanquantile(loss, (0.5, 0.25, 0.75), axis=0) if loss.shape[0] > 1 else loss[:1]
        if best is not None:
            rows = np.maximum(rows - best, LossPanel.FLOOR)
    return rows


def _raced(trace: Trace) -> np.ndarray:
    """A racer's losses through its last step: a racer that a budget of evaluations
    stopped early has no line past its longest run (its marker stands at its end)."""
    if trace.steps is None:
        return trace.loss
    loss = trace.loss.copy()
    loss[:, int(trace.steps.max()) + 1 :] = np.nan
    return loss
