"""The tuning plot: each tuned racer's objective against one searched keyword.

It draws plain numbers (one :class:`Panel` per racer), so the tuning that fills
them in needs no matplotlib of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory


@dataclass(frozen=True)
class Panel:
    """One racer's trials: the keyword's values ``xs`` and their objectives ``ys``
    (``inf`` where the racer diverged or left the domain).

    Attributes:
        label: The racer's label (the panel's title).
        key: The keyword on the x axis.
        xs, ys: One value per finished trial.
        low, high: The keyword's searched range; ``log`` if searched on a log scale.
        binned: Whether to draw the best objective per bin of ``xs`` (other keywords
            were searched too, so the scatter alone hides the best).
        best: The chosen trial's (x, objective), when finite.
        baseline: The config's own (x, objective), when finite.
    """

    label: str
    key: str
    xs: np.ndarray
    ys: np.ndarray
    low: float
    high: float
    log: bool
    binned: bool
    best: tuple[float, float] | None
    baseline: tuple[float, float] | None


def draw_sensitivity(
    path: Path, panels: Sequence[Panel], objective: str, title: str, size: tuple[int, int]
) -> None:
    """Draw the panels side by side (three to a row) and write them as PNG.

    Args:
        path: The PNG file.
        panels: One per racer.
        objective: The objective's name (the y axis); ``epochs-to-tolerance`` keeps
            a linear y axis, any other all-positive objective a log one.
        title: The figure's title.
        size: Width and least height in pixels (each row takes at least 260).
    """
    count = max(1, len(panels))
    cols = min(count, 3)
    rows = math.ceil(count / cols)
    dpi = 100
    figure = Figure(figsize=(size[0] / dpi, max(size[1], 260 * rows) / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    for n, panel in enumerate(panels):
        _draw(figure.add_subplot(rows, cols, n + 1), panel, objective)
    if not panels:
        figure.text(0.5, 0.5, "no tuned racer has a number keyword to plot", ha="center")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, format="png")


def _draw(ax: Axes, panel: Panel, objective: str) -> None:
    xs, ys = panel.xs, panel.ys
    finite = np.isfinite(ys)
    logy = bool(finite.any() and (ys[finite] > 0).all() and objective != "epochs-to-tolerance")
    ax.scatter(xs[finite], ys[finite], s=14, color="tab:blue", alpha=0.7, label="trial")
    if (~finite).any():
        top = blended_transform_factory(ax.transData, ax.transAxes)
        ax.scatter(
            xs[~finite],
            np.full((~finite).sum(), 0.97),
            marker="x",
            color="tab:gray",
            transform=top,
            label="diverged / left",
            clip_on=False,
        )
    if panel.log:
        ax.set_xscale("log")
    ax.set_xlim(panel.low, panel.high)
    if logy:
        ax.set_yscale("log")
    if panel.binned and finite.any():
        ax.plot(*_best_per_bin(panel, finite), "-", color="tab:orange", label="best per bin")
    if panel.best is not None:
        ax.scatter(*panel.best, marker="*", s=180, color="tab:red", zorder=5, label="chosen")
    if panel.baseline is not None:
        ax.scatter(
            *panel.baseline,
            marker="o",
            s=60,
            facecolors="none",
            edgecolors="black",
            zorder=5,
            label="as written",
        )
    ax.set_title(panel.label, fontsize=10)
    ax.set_xlabel(panel.key)
    ax.set_ylabel(objective)
    ax.legend(fontsize=7, loc="best")


def _best_per_bin(panel: Panel, finite: np.ndarray) -> tuple[list[float], list[float]]:
    """The lowest finite objective in each of 12 bins of the range, at the bins' centres."""
    spaced = np.geomspace if panel.log else np.linspace
    edges = spaced(panel.low, panel.high, 13)
    xs, ys = panel.xs[finite], panel.ys[finite]
    which = np.clip(np.digitize(xs, edges) - 1, 0, len(edges) - 2)
    centres, best = [], []
    for b in range(len(edges) - 1):
        inside = ys[which == b]
        if inside.size:
            low, high = edges[b], edges[b + 1]
            centres.append(math.sqrt(low * high) if panel.log else 0.5 * (low + high))
            best.append(float(inside.min()))
    return centres, best
