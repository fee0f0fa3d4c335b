"""The landscape view: a model race on the plane every racer's weights are drawn on,
over log-scaled contours of the training loss there."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from optrace.render.views.base import CMAP, Bounds
from optrace.render.views.contour import ContourView
from optrace.results.landscape import FAITHFUL, Landscape
from optrace.results.trace import RaceResult

#: The colour bar's label: a loss is positive, so its contours are always log-scaled.
LOSS_LABEL = "training loss (log scale)"
#: The start's mark sits above the contours and beneath the racers.
START_Z = 4.0


def plane_labels(landscape: Landscape) -> tuple[str, str]:
    """The plane's axes as a figure labels them.

    Examples:
        >>> z = np.zeros(2)
        >>> plane_labels(Landscape("pca", z, np.eye(2), np.array([0.93, 0.05]), z, z,
        ...                        np.zeros((2, 2)), 9, 9))
        ('PCA direction 1 (93%)', 'PCA direction 2 (5%)')
        >>> plane_labels(Landscape("endpoints", z, np.eye(2), None, z, z, np.zeros((2, 2)),
        ...                        9, 9, ("SGD", "Adam")))
        ("towards SGD's end", "towards Adam's end")
    """
    if landscape.kind == "pca" and landscape.explained is not None:
        first, second = (100 * float(e) for e in landscape.explained)
        return f"PCA direction 1 ({first:.0f}%)", f"PCA direction 2 ({second:.0f}%)"
    if landscape.kind == "endpoints" and len(landscape.racers) == 2:
        a, b = landscape.racers
        return f"towards {a}'s end", f"towards {b}'s end"
    return "random direction 1", "random direction 2"


def plane_statement(landscape: Landscape) -> str:
    """What the figure says of the plane: its kind, and the grid's subset if any.

    Examples:
        >>> z = np.zeros(2)
        >>> plane_statement(Landscape("random", z, np.eye(2), None, z, z, np.zeros((2, 2)),
        ...                           500, 1437))
        'random filter-normalised plane; grid on 500 of 1437 training examples'
    """
    statement = landscape.describe()
    if landscape.subset:
        statement += f"; grid on {landscape.examples} of {landscape.total} training examples"
    return statement


def titled(title: str, landscape: Landscape) -> str:
    """A model race's title, with the plane stated on a line under it."""
    statement = plane_statement(landscape)
    return f"{title}\n{statement}" if title else statement


def unfaithful(result: RaceResult, epoch: int) -> list[str]:
    """The racers whose plane loss departs from their true loss by more than
    :data:`~optrace.results.landscape.FAITHFUL` of it at ``epoch`` (each at its
    last drawn epoch, if it diverged before).

    Args:
        result: A model race.
        epoch: The epoch shown.

    Returns:
        Their labels, in the race's order.
    """
    labels = []
    for trace in result.traces:
        if trace.plane_loss is None:
            continue
        at = int(min(epoch, int(trace.last_drawn[0])))
        loss, plane = float(trace.loss[0, at]), float(trace.plane_loss[0, at])
        with np.errstate(all="ignore"):
            departs = abs(plane - loss) > FAITHFUL * abs(loss)
        if departs and np.isfinite(plane):
            labels.append(trace.label)
    return labels


def unfaithful_note(labels: list[str]) -> str:
    """The note that warns of the racers in ``labels`` ("" for none).

    Examples:
        >>> unfaithful_note(["Adam"])
        "true loss >10% off the plane's for Adam: the contours mislead there"
        >>> unfaithful_note(["SGD", "Adam", "RMSprop"])
        "true loss >10% off the plane's for SGD, Adam and RMSprop: the contours mislead there"
    """
    if not labels:
        return ""
    names = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    return (
        f"true loss >{100 * FAITHFUL:.0f}% off the plane's for {names}: the contours mislead there"
    )


class LandscapeView(ContourView):
    """A model race over the plane's training loss: log-scaled contours, the axes
    named by the plane, its initial weights marked at ``(0, 0)``, and a note where
    a racer's true loss departs from the plane's beneath it (drawn beneath the
    racers, which may pass over the foot of the axes where it sits)."""

    notes_under_racers: ClassVar[bool] = True

    def __init__(self, result: RaceResult, theme: Any) -> None:
        super().__init__(result, theme)
        assert result.landscape is not None, "a model race has a landscape"
        self.landscape: Landscape = result.landscape
        self.start: Line2D | None = None

    def draw(self, figure: Figure, ax: Axes) -> Bounds:
        surface, ydomain = self.surface(), self.ydomain()
        z = np.ma.masked_invalid(surface.z)
        positive = z[z > 0]
        low = float(positive.min()) if positive.size else 1e-12
        high = max(float(z.max()), low * 1.01)
        levels = np.geomspace(low, high, 25)
        norm = LogNorm(low, high)
        shaded = np.ma.maximum(z, low)
        filled = ax.contourf(
            surface.xs, surface.ys, shaded, levels=levels, norm=norm, cmap=CMAP, zorder=1
        )
        ax.contour(
            surface.xs,
            surface.ys,
            shaded,
            levels=levels,
            norm=norm,
            colors="white",
            linewidths=0.4,
            alpha=0.35,
            zorder=2,
        )
        bar = figure.colorbar(filled, ax=ax, label=LOSS_LABEL)
        bar.set_ticks(list(loss_ticks(low, high)))
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
        bar.ax.yaxis.set_minor_locator(NullLocator())
        # Every racer starts at the initial weights: the plane's origin.
        (self.start,) = ax.plot(
            [0.0],
            [0.0],
            linestyle="none",
            marker="P",
            markersize=9,
            markerfacecolor="white",
            markeredgecolor="black",
            markeredgewidth=0.8,
            zorder=START_Z,
            label="initial weights",
        )
        ax.set_xlim(*self.result.domain)
        ax.set_ylim(*ydomain)
        xlabel, ylabel = plane_labels(self.landscape)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        return [self.result.domain, ydomain]

    def title(self, title: str) -> str:
        return titled(title, self.landscape)

    def legend_extras(self) -> list[Any]:
        return [] if self.start is None else [self.start]

    def notes(self, epoch: int) -> list[str]:
        note = unfaithful_note(unfaithful(self.result, epoch))
        return [note] if note else []

    def path_points(
        self, ax: Axes, coords: list[tuple[np.ndarray, ...]]
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        points, _ = super().path_points(ax, coords)
        # The start's mark and where each racer ends (what a still and the last
        # frame show): the legend should leave them in sight first.
        marks = [(0.0, 0.0)]
        for trace, (xs, ys) in zip(self.result.traces, coords, strict=True):
            rows, last = np.arange(len(trace.last_drawn)), trace.last_drawn
            marks.extend(zip(xs[rows, last], ys[rows, last], strict=True))
        return points, ax.transData.transform(np.array(marks, dtype=float))


def loss_ticks(low: float, high: float) -> np.ndarray:
    """The colour bar's ticks between ``low`` and ``high``: whole decades where
    there are three, else 1, 2 and 5 times them, else every digit.

    Examples:
        >>> loss_ticks(0.3, 2.2).tolist()
        [0.5, 1.0, 2.0]
        >>> loss_ticks(1e-4, 3.0).tolist()
        [0.0001, 0.001, 0.01, 0.1, 1.0]
    """
    for subs in ((1.0,), (1.0, 2.0, 5.0), tuple(float(s) for s in range(1, 10))):
        # At most about six decades: a colour bar or a panel 100 pixels high reads them.
        count = 6 if subs == (1.0,) else 30
        ticks = np.asarray(LogLocator(subs=subs, numticks=count).tick_values(low, high))
        ticks = ticks[(ticks >= low * (1 - 1e-9)) & (ticks <= high * (1 + 1e-9))]
        if len(ticks) >= 3:
            return ticks
    return np.array([low, high])
