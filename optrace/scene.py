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
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.transforms import offset_copy

from optrace.trace import RaceResult

#: Moving artists sit above everything static (the legend is at 5), so drawing
#: them over a cached background gives the same pixels as a full redraw.
_GHOST_Z, _MARKER_Z, _TEXT_Z = 6.0, 6.5, 7.0


class RaceScene:
    """Static and moving artists of a race; :meth:`update` moves the racers.

    Args:
        figure: The figure to draw on (Agg for files, QtAgg for the window).
        result: The race.
        frame_epochs: The epoch shown in each frame; default one frame per epoch.
    """

    def __init__(
        self,
        figure: Figure,
        result: RaceResult,
        frame_epochs: Sequence[int] | np.ndarray | None = None,
        loss_panel: bool = False,
    ) -> None:
        self.result = result
        self.frame_epochs = (
            np.arange(result.epochs + 1) if frame_epochs is None else np.asarray(frame_epochs)
        )
        swarm = max(t.x.shape[0] for t in result.traces) > 1
        size, alpha = (5.0, 0.6) if swarm else (10.0, 1.0)
        self._last = [trace.last_epoch for trace in result.traces]
        lo_x, hi_x = result.domain
        with np.errstate(invalid="ignore"):
            self._outside = [(t.x < lo_x) | (t.x > hi_x) for t in result.traces]
        self.panel: LossPanel | None = None
        if loss_panel:
            grid = figure.add_gridspec(2, 1, height_ratios=(2.2, 1.0))
            ax = figure.add_subplot(grid[0])
        else:
            ax = figure.add_subplot()
        self.axes = ax
        ax.plot(result.curve_x, result.curve_y, color="0.3", linewidth=1.5, zorder=1)
        ax.set_xlim(*result.domain)
        lo, hi = float(np.nanmin(result.curve_y)), float(np.nanmax(result.curve_y))
        pad = 0.08 * (hi - lo) if hi > lo else 1.0
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_title(result.title)
        ax.set_xlabel("x")
        ax.set_ylabel("f(x)")
        ax.grid(alpha=0.25)

        self._ylim = (lo - pad, hi + pad)
        self.markers = []
        self.ghosts = []
        self.edges = []
        for trace in result.traces:
            (marker,) = ax.plot(
                [],
                [],
                trace.style,
                markersize=size,
                alpha=alpha,
                linestyle="none",
                label=trace.label,
                zorder=_MARKER_Z,
            )
            (ghost,) = ax.plot(
                [],
                [],
                linestyle="none",
                marker="x",
                markersize=size,
                markeredgewidth=2,
                color=marker.get_color(),
                alpha=0.7,
                zorder=_GHOST_Z,
            )
            # A racer outside the domain: hollow, at the edge it crossed.
            (edge,) = ax.plot(
                [],
                [],
                linestyle="none",
                marker=marker.get_marker(),
                markersize=size,
                markeredgewidth=2,
                markerfacecolor="none",
                markeredgecolor=marker.get_color(),
                clip_on=False,
                zorder=_MARKER_Z,
            )
            self.markers.append(marker)
            self.ghosts.append(ghost)
            self.edges.append(edge)
        # Only the number is redrawn per frame; "epoch" and "/ N" are static. In
        # a monospace font each character advances 0.6 em, so the number ends
        # where the blanks for it end.
        width = len(str(result.epochs))
        mono: dict[str, Any] = {"va": "top", "family": "monospace"}
        ax.text(
            0.02, 0.97, f"epoch {' ' * width} / {result.epochs}", transform=ax.transAxes, **mono
        )
        em = FontProperties(family="monospace").get_size_in_points()
        end = offset_copy(ax.transAxes, figure, x=(6 + width) * 0.6 * em, units="points")
        self.counter = ax.text(0.02, 0.97, "", transform=end, ha="right", zorder=_TEXT_Z, **mono)
        self.notes = ax.text(
            0.02,
            0.90,
            "",
            transform=ax.transAxes,
            va="top",
            fontsize="small",
            color="0.25",
            zorder=_TEXT_Z,
        )
        self.update(0)
        ax.legend(handles=self.markers, loc="best", numpoints=1)
        self.panel = (
            LossPanel(figure.add_subplot(grid[1]), result, self.markers) if loss_panel else None
        )
        if self.panel is not None:
            self.panel.update(self.frame_epochs[:1])
        figure.tight_layout()

    @property
    def n_frames(self) -> int:
        """How many frames the animation has."""
        return len(self.frame_epochs)

    @property
    def moving(self) -> list[Artist]:
        """The artists :meth:`update` changes, in drawing order."""
        panel = self.panel.moving if self.panel is not None else []
        return [*self.ghosts, *self.edges, *self.markers, self.counter, self.notes, *panel]

    def set_animated(self, animated: bool) -> None:
        """Mark the moving artists so that a full draw leaves them out (for blitting)."""
        for artist in self.moving:
            artist.set_animated(animated)

    def update(self, frame: int) -> list[Artist]:
        """Move every racer to its place at ``frame``; return the moving artists."""
        epoch = int(self.frame_epochs[frame])
        notes: list[str] = []
        for trace, last, outside, marker, ghost, edge in zip(
            self.result.traces,
            self._last,
            self._outside,
            self.markers,
            self.ghosts,
            self.edges,
            strict=True,
        ):
            at = np.minimum(epoch, last)
            rows = np.arange(len(last))
            xs, ys = trace.x[rows, at], trace.loss[rows, at]
            alive = last >= epoch
            lo, hi = self.result.domain
            out = alive & outside[rows, at]
            inside = alive & ~out
            marker.set_data(xs[inside], ys[inside])
            ghost.set_data(xs[~alive], ys[~alive])
            ghost.set_visible(not alive.all())
            edge.set_data(np.clip(xs[out], lo, hi), np.clip(ys[out], *self._ylim))
            edge.set_visible(bool(out.any()))
            if len(alive) == 1 and not alive[0]:
                notes.append(f"x {trace.label} diverged at epoch {int(last[0]) + 1}")
            elif not alive.all():
                notes.append(f"x {int((~alive).sum())} of {trace.label} diverged")
            side = "<-" if (xs[out] < lo).all() else "->" if (xs[out] > hi).all() else "<->"
            if len(alive) == 1 and out[0]:
                notes.append(f"{side} {trace.label} is outside the domain")
            elif out.any():
                notes.append(f"{side} {int(out.sum())} of {trace.label} outside the domain")
        self.counter.set_text(str(epoch))
        self.notes.set_text("\n".join(notes))
        self.notes.set_visible(bool(notes))
        if self.panel is not None:
            self.panel.update(self.frame_epochs[: frame + 1])
        return self.moving


class LossPanel:
    """Each racer's loss over the epochs shown so far, under the race.

    Where the function's lowest minimum f* is known the panel shows the gap
    ``loss - f*`` on a log scale (how far from the best there is); otherwise
    the loss itself, on a log scale if it stays positive. A swarm shows the
    median over its starts. Learning rates under a schedule, known in advance,
    are drawn whole on a twin axis, beneath the moving lines.
    """

    FLOOR = 1e-16

    def __init__(self, ax: Axes, result: RaceResult, markers: Sequence[Line2D]) -> None:
        self.ax = ax
        best = result.minima[0][1] if result.minima else None
        with np.errstate(all="ignore"):
            values = [np.nanmedian(t.loss, axis=0) for t in result.traces]
            if best is not None:
                values = [np.maximum(v - best, self.FLOOR) for v in values]
        finite = np.concatenate([v[np.isfinite(v)] for v in values])
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
        self.lines = [
            ax.plot([], [], color=marker.get_color(), linewidth=1.5, zorder=6)[0]
            for marker in markers
        ]
        self.cursor = ax.axvline(0, color="0.5", linewidth=1, zorder=6)
        ax.set_xlim(0, max(result.epochs, 1))
        if log:
            ax.set_yscale("log")
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            if log:
                ax.set_ylim(lo / 2, hi * 2)
            else:
                pad = 0.08 * (hi - lo) if hi > lo else 1.0
                ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss - f*" if best is not None else "loss")
        ax.grid(alpha=0.25)

    @property
    def moving(self) -> list[Artist]:
        """The loss lines and the epoch cursor."""
        return [*self.lines, self.cursor]

    def update(self, shown: np.ndarray) -> None:
        """Draw every line through the epochs ``shown`` so far."""
        for line, values in zip(self.lines, self.values, strict=True):
            line.set_data(shown, values[shown])
        epoch = float(shown[-1])
        self.cursor.set_xdata([epoch, epoch])
