"""Opaque boxes (the legend, the epoch counter's box) kept above the moving racers.

Blitting restores a background in which the legend and the counter's box are
already drawn, then draws the racers over it, so a swarm's markers and trails
would cover them. Both are drawn fully opaque with no edge, so each covers a
rectangle of whole pixels whatever lies below (Agg snaps an edgeless box to
pixel edges). :class:`Cover` copies those rectangles out of each full draw and
puts them back after the racers are drawn: the same pixels as a full draw in
which the boxes' zorder lies above the racers', at the cost of a copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox


def pixel_box(extent: Bbox) -> Bbox:
    """The whole pixels an opaque, edgeless box of ``extent`` covers, as Agg snaps it.

    Args:
        extent: The box's window extent, in display pixels (y up).

    Returns:
        A bbox with integral corners.

    Examples:
        >>> pixel_box(Bbox([[10.4, 20.5], [30.6, 40.49]])).extents.tolist()
        [10.0, 21.0, 31.0, 40.0]
    """
    corners = np.floor(np.asarray(extent.extents) + 0.5)
    return Bbox.from_extents(*corners)


class Cover(Artist):
    """Puts the pixels of opaque boxes back over whatever the moving artists drew.

    It acts only while animated (blitting, where it is drawn after the racers by
    ``draw_artist``); a full draw leaves it out and draws the boxes themselves
    at their zorder.

    Args:
        figure: The figure whose full draws are copied from.
        boxes: Gives, for a renderer, the display extents of the opaque boxes.
    """

    def __init__(self, figure: Figure, boxes: Callable[[Any], Sequence[Bbox]]) -> None:
        super().__init__()
        self._boxes = boxes
        self._regions: list[Any] = []
        figure.canvas.mpl_connect("draw_event", self._capture)

    def rectangles(self, renderer: Any) -> list[Bbox]:
        """The covered pixel rectangles for ``renderer`` (display pixels, y up)."""
        return [pixel_box(extent) for extent in self._boxes(renderer)]

    def _capture(self, event: Any) -> None:
        canvas = event.canvas
        if not hasattr(canvas, "copy_from_bbox"):
            self._regions = []
            return
        self._regions = [canvas.copy_from_bbox(box) for box in self.rectangles(event.renderer)]

    def draw(self, renderer: Any) -> None:
        if not self.get_animated() or not hasattr(renderer, "restore_region"):
            return
        for region in self._regions:
            renderer.restore_region(region)
