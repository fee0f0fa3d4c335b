"""Texts that fit: a title that wraps or shrinks, notes that wrap inside the axes,
and a legend placed where it covers neither the epoch counter nor the notes.

Every measure is taken from matplotlib's own layout of the text (its window
extent at the figure's dpi), so what fits here fits in every output drawn from
the same figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.transforms import Bbox, BboxBase

#: Pixels kept free around the figure's edge and between boxes.
MARGIN = 3.0
#: The share of a width that text is laid out to fill: drawn at twice the dpi
#: (``scale: 2``), hinting makes a line a little wider than twice as wide.
SLACK = 0.96
#: The least size a title shrinks to, as a fraction of its own.
SMALLEST = 0.6
#: The least size every text shrinks to where the figure is too small for its type.
SMALLEST_TYPE = 0.4
#: Corners tried for the legend, in order, by the kind of picture.
CORNERS = {
    "curve": ("best", "upper right", "lower right", "lower left", "center right", "upper center"),
    "plane": (
        "upper right",
        "lower right",
        "center right",
        "upper center",
        "lower center",
        "lower left",
        "center left",
        "center",
    ),
}


def renderer_of(figure: Figure) -> Any:
    """The renderer that measures texts before anything is drawn: the canvas's own
    on Agg (files, the window), else the one matplotlib's tight layout measures with."""
    get = getattr(figure.canvas, "get_renderer", None)
    if get is not None:
        return get()
    return figure._get_renderer()  # type: ignore[attr-defined]


def text_width(text: Text, content: str, renderer: Any) -> float:
    """The width in pixels ``text`` would have with ``content`` (its font, its dpi)."""
    width, _, _ = renderer.get_text_width_height_descent(
        content, text.get_fontproperties(), ismath=False
    )
    return float(width)


def wrap(text: Text, content: str, width: float, renderer: Any) -> str:
    """``content`` broken at spaces into lines no wider than ``width`` pixels where
    it can be (a single word wider than that stays whole on its line).

    Args:
        text: The artist whose font measures the lines.
        content: The text, possibly of several lines already.
        width: The widest a line may be, in pixels.
        renderer: The renderer that measures.

    Returns:
        The text with line breaks.
    """
    lines: list[str] = []
    for line in content.split("\n"):
        words = line.split(" ")
        current = words[0]
        for word in words[1:]:
            longer = f"{current} {word}"
            if text_width(text, longer, renderer) <= width:
                current = longer
            else:
                lines.append(current)
                current = word
        lines.append(current)
    return "\n".join(lines)


def fit_title(title: Text, width: float, renderer: Any) -> None:
    """Wrap a title wider than ``width`` pixels at its spaces, and shrink one whose
    longest word still is (never below :data:`SMALLEST` of its size).

    Args:
        title: The axes' title.
        width: The widest it may be, in pixels.
        renderer: The renderer that measures.
    """
    content = title.get_text()
    if not content or widest_line(title, renderer) <= width:
        return
    wrapped = wrap(title, content.replace("\n", " "), width, renderer)
    title.set_text(wrapped)
    widest = max(text_width(title, line, renderer) for line in wrapped.split("\n"))
    if widest > width:
        size = float(title.get_fontsize())
        title.set_fontsize(max(size * width / widest, size * SMALLEST))


def widest_line(text: Text, renderer: Any) -> float:
    """The width in pixels of the widest line of ``text``."""
    return max(text_width(text, line, renderer) for line in text.get_text().split("\n"))


def centred_room(extent: Bbox, figure: Figure) -> float:
    """How wide a text centred where ``extent`` is centred may be inside the figure."""
    centre = (extent.x0 + extent.x1) / 2
    return float(2 * min(centre, figure.bbox.width - centre) - 2 * MARGIN)


def inside(extent: BboxBase, box: BboxBase, margin: float = 0.0) -> bool:
    """Whether ``extent`` lies within ``box`` shrunk by ``margin`` pixels."""
    return bool(
        extent.x0 >= box.x0 + margin - 0.5
        and extent.y0 >= box.y0 + margin - 0.5
        and extent.x1 <= box.x1 - margin + 0.5
        and extent.y1 <= box.y1 - margin + 0.5
    )


def widened(box: BboxBase, anchor: float) -> Bbox:
    """``box`` as wide as a text drawn at a larger scale may be (``1 / SLACK`` times),
    grown from ``anchor``: 0 its left edge, 0.5 its centre, 1 its right edge."""
    grow = box.width * (1 / SLACK - 1)
    return Bbox.from_extents(box.x0 - anchor * grow, box.y0, box.x1 + (1 - anchor) * grow, box.y1)


def overlaps(a: BboxBase, b: BboxBase, margin: float = 0.0) -> bool:
    """Whether two extents come within ``margin`` pixels of each other."""
    return bool(
        a.x0 < b.x1 + margin
        and b.x0 < a.x1 + margin
        and a.y0 < b.y1 + margin
        and b.y0 < a.y1 + margin
    )


def place_legend(
    legend: Legend,
    ax: Axes,
    avoid: Sequence[Bbox],
    corners: Sequence[str],
    renderer: Any,
    points: np.ndarray | None = None,
    marks: np.ndarray | None = None,
) -> bool:
    """Put the legend where it lies inside the axes, clear of every box in ``avoid``,
    over the fewest of ``points`` (the racers' paths), the earliest of ``corners``
    on a tie; fix it there (``best`` is not searched again at every draw).

    Args:
        legend: The axes' legend.
        ax: Its axes.
        avoid: Display extents the legend must not cover (the counter, the notes).
        corners: Legend locations to try, in order.
        renderer: The renderer that measures.
        points: ``(n, 2)`` display coordinates the legend should hide as few of as it can.
        marks: ``(m, 2)`` display coordinates it should hide fewer of still (the
            known minima): counted before ``points``.

    Returns:
        Whether a free place was found; if not the legend is left at the first corner.
    """
    home = ax.get_window_extent(renderer)
    best: tuple[tuple[int, int, int], Any] | None = None
    for order, corner in enumerate(corners):
        legend.set_loc(cast(Any, corner))
        extent = legend.get_window_extent(renderer)
        if not inside(extent, home, 1.0) or any(overlaps(extent, box, 2 * MARGIN) for box in avoid):
            continue
        rank = (_under(marks, extent), _under(points, extent), order)
        if best is None or rank < best[0]:
            # The place in axes fractions: the same at any dpi.
            x0, y0 = ax.transAxes.inverted().transform((extent.x0, extent.y0))
            best = (rank, (float(x0), float(y0)))
    if best is None:
        legend.set_loc(cast(Any, corners[0] if corners[0] != "best" else "upper right"))
        return False
    legend.set_loc(best[1])
    return True


def _under(points: np.ndarray | None, extent: Bbox) -> int:
    """How many of ``points`` lie inside ``extent``."""
    if points is None or not len(points):
        return 0
    x, y = points[:, 0], points[:, 1]
    return int(((x >= extent.x0) & (x <= extent.x1) & (y >= extent.y0) & (y <= extent.y1)).sum())
