"""A swarm's fading trail, rasterised with numpy straight into the Agg frame buffer.

A trail of ``trail`` epochs is ``trail`` layers, one per step ``e - 1 -> e``
of every start, each fainter with age. matplotlib strokes every start's step
of every layer on every frame; here each layer is rasterised once, when it
first enters the trail (its pixels and their coverage), and kept while it
stays in the trail, only its opacity changing with age. A frame then costs one
multiply per covered pixel per layer, and a layer's work is bounded by the
pixels it covers rather than by the number of starts: starts whose steps land
on the same sub-pixel positions (a converged swarm) are rasterised once.

The drawing follows matplotlib's LineCollection of the same steps (round caps,
the same width and colours, each layer composited over the last, clipped to
the axes): coverage is the pixel centre's distance to the stroke's edge
clipped to [0, 1], and overlapping steps of one layer take the larger coverage.
tests/test_swarm_render.py measures the difference from matplotlib's drawing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes

#: Sub-pixel steps per pixel when steps are merged as duplicates.
_SNAP = 8
#: The pixel offsets around each sample point that a stroke up to 2.5 px wide can reach.
_AROUND = np.arange(-2, 3)


class RasterTrail(Artist):
    """The fading trail of every start of one racer in a 2-D contour view.

    Args:
        axes: The axes it is drawn in (its data transform places the points).
        x: ``(starts, epochs + 1)`` x of every start and epoch.
        y: The same for y.
        colour: The racer's RGBA colour.
        trail: How many epochs the trail spans.
        linewidth: In points, as matplotlib's ``linewidths``.
    """

    def __init__(
        self,
        axes: Axes,
        x: np.ndarray,
        y: np.ndarray,
        colour: tuple[float, float, float, float],
        trail: int,
        linewidth: float = 1.5,
    ) -> None:
        super().__init__()
        self.axes = axes
        self._home = axes  # never None, unlike Artist.axes
        self.base_colour = colour
        self._xy = np.stack([x, y], axis=-1).astype(np.float64)
        self._trail = trail
        self._linewidth = linewidth
        self._epoch = 0
        self._placed: tuple[Any, ...] | None = None
        self._pixels: np.ndarray = np.empty((0, 0, 2))
        self._layers: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def get_linewidths(self) -> list[float]:
        """The trail's width in points, as a LineCollection reports it."""
        return [self._linewidth]

    def show(self, epoch: int) -> None:
        """Show the trail that ends at ``epoch``."""
        self._epoch = epoch
        self.set_visible(epoch > 0)
        self.stale = True

    def draw(self, renderer: Any) -> None:
        """Composite the trail's layers into the renderer's buffer (Agg only)."""
        if not self.get_visible() or self._epoch == 0:
            return
        buffer = np.asarray(renderer.buffer_rgba())
        height, width = buffer.shape[:2]
        box = self._home.bbox
        c0, c1 = max(0, round(box.x0)), min(width, round(box.x1))
        r0, r1 = max(0, round(height - box.y1)), min(height, round(height - box.y0))
        if c1 <= c0 or r1 <= r0:
            return
        stroke = float(renderer.points_to_pixels(self._linewidth))
        self._place(height, (c0, c1, r0, r1), stroke)
        first = max(0, self._epoch - self._trail)
        steps = range(first + 1, self._epoch + 1)
        for step in [s for s in self._layers if s not in steps]:
            del self._layers[step]
        # Composited over each other in one colour, the layers' order does not
        # matter: the result is the background times the product of (1 - alpha).
        clear = np.ones((r1 - r0) * (c1 - c0), np.float32)
        for step in steps:
            if step not in self._layers:
                self._layers[step] = self._rasterise(step, (c0, c1, r0, r1), stroke)
            where, coverage = self._layers[step]
            age = self._epoch - step
            alpha = self.base_colour[3] * 0.85 * (1 - age / self._trail)
            clear[where] *= 1 - np.float32(alpha) * coverage
        touched = np.flatnonzero(clear < 1)
        if touched.size == 0:
            return
        rows, cols = np.divmod(touched, c1 - c0)
        rows += r0
        cols += c0
        keep = clear[touched][:, None]
        old = buffer[rows, cols, :3].astype(np.float32)
        colour = np.float32(255) * np.asarray(self.base_colour[:3], np.float32)
        buffer[rows, cols, :3] = (old * keep + colour * (1 - keep) + 0.5).astype(np.uint8)

    def _place(self, height: int, clip: tuple[int, int, int, int], stroke: float) -> None:
        """Every point in buffer pixels (x right, y down); layers drawn for another
        placement are dropped."""
        placed = (tuple(self._home.transData.get_matrix().ravel()), height, clip, stroke)
        if placed == self._placed:
            return
        with np.errstate(invalid="ignore", over="ignore"):
            pixels = self._home.transData.transform(self._xy.reshape(-1, 2))
        pixels = pixels.reshape(self._xy.shape)
        pixels[..., 1] = height - pixels[..., 1]
        self._pixels, self._placed, self._layers = pixels, placed, {}

    def _rasterise(
        self, step: int, clip: tuple[int, int, int, int], stroke: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The pixels (flat, within ``clip``) that step ``step - 1 -> step`` covers, and
        how much."""
        c0, c1, r0, r1 = clip
        start, end = self._pixels[:, step - 1], self._pixels[:, step]
        reach = stroke / 2 + 0.5
        start, end = _clipped(start, end, (c0 - reach, c1 + reach, r0 - reach, r1 + reach))
        if len(start) == 0:
            return np.empty(0, np.intp), np.empty(0, np.float32)
        start, end = _distinct(start, end)
        # Walk each step along its major axis one pixel at a time (caps included),
        # taking the pixels across it that the stroke can reach there.
        ax, ay = start[:, 0], start[:, 1]
        dx, dy = end[:, 0] - ax, end[:, 1] - ay
        steep = np.abs(dy) > np.abs(dx)
        a_major, d_major = np.where(steep, ay, ax), np.where(steep, dy, dx)
        a_minor, d_minor = np.where(steep, ax, ay), np.where(steep, dx, dy)
        lo = np.floor(np.minimum(a_major, a_major + d_major) - reach).astype(np.intp)
        count = np.floor(np.maximum(a_major, a_major + d_major) + reach).astype(np.intp) - lo + 1
        owner = np.repeat(np.arange(len(start)), count)
        along = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(len(owner))
        # Where the step crosses this pixel column (or row), its ends held for the caps.
        inverse = 1 / np.where(d_major != 0, d_major, 1)
        t = np.clip((along + 0.5 - a_major[owner]) * inverse[owner], 0, 1)
        across = np.floor(a_minor[owner] + t * d_minor[owner]).astype(np.intp)
        across = across[:, None] + _AROUND[None]  # entry, offset
        along = along[:, None]
        on_y = steep[owner][:, None]
        cols, rows = np.where(on_y, across, along), np.where(on_y, along, across)
        # Coverage from the pixel centre's distance to the step (a round-capped
        # stroke); overlapping steps add up to full coverage, as Agg's do.
        span = dx * dx + dy * dy
        scale = np.where(span > 0, 1 / np.where(span > 0, span, 1), 0)
        sx, sy, ux, uy = ax[owner, None], ay[owner, None], dx[owner, None], dy[owner, None]
        px, py = cols + 0.5 - sx, rows + 0.5 - sy
        at = np.clip((px * ux + py * uy) * scale[owner, None], 0, 1)
        ex, ey = px - at * ux, py - at * uy
        coverage = reach - np.sqrt(ex * ex + ey * ey)
        keep = (coverage > 0) & (cols >= c0) & (cols < c1) & (rows >= r0) & (rows < r1)
        flat = (rows[keep] - r0) * (c1 - c0) + (cols[keep] - c0)
        layer = np.bincount(flat, np.minimum(coverage[keep], 1), minlength=(r1 - r0) * (c1 - c0))
        where = np.flatnonzero(layer)
        return where, np.minimum(layer[where], 1).astype(np.float32)


def _distinct(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The steps snapped to 1/8 pixel, each distinct one once."""
    snapped = np.round(np.concatenate([start, end], axis=1) * _SNAP).astype(np.int64)
    low = snapped.min(axis=0)
    snapped -= low
    base = int(snapped.max()) + 1
    if base**4 < 2**63:  # one integer per step: a fast 1-D unique
        key = ((snapped[:, 0] * base + snapped[:, 1]) * base + snapped[:, 2]) * base
        _, first = np.unique(key + snapped[:, 3], return_index=True)
        snapped = snapped[first]
    else:
        snapped = np.unique(snapped, axis=0)
    snapped += low
    return snapped[:, :2] / _SNAP, snapped[:, 2:] / _SNAP


def _clipped(
    start: np.ndarray, end: np.ndarray, box: tuple[float, float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """The finite steps clipped to ``box`` (x0, x1, y0, y1); steps outside it dropped."""
    finite = np.isfinite(start).all(axis=1) & np.isfinite(end).all(axis=1)
    start, end = start[finite], end[finite]
    x0, x1, y0, y1 = box
    xs, ys = np.concatenate([start[:, 0], end[:, 0]]), np.concatenate([start[:, 1], end[:, 1]])
    if len(xs) and xs.min() >= x0 and xs.max() <= x1 and ys.min() >= y0 and ys.max() <= y1:
        return start, end  # all inside: nothing to clip
    d = end - start
    low, high = np.zeros(len(start)), np.ones(len(start))
    # Liang-Barsky: each edge bounds the part of the step inside it.
    for p, q in (
        (-d[:, 0], start[:, 0] - x0),
        (d[:, 0], x1 - start[:, 0]),
        (-d[:, 1], start[:, 1] - y0),
        (d[:, 1], y1 - start[:, 1]),
    ):
        with np.errstate(divide="ignore", invalid="ignore"):
            r = q / p
        entering, leaving = p < 0, p > 0
        low = np.where(entering, np.maximum(low, r), low)
        high = np.where(leaving, np.minimum(high, r), high)
        high = np.where((p == 0) & (q < 0), -1.0, high)
    keep = low <= high
    start, d, low, high = start[keep], d[keep], low[keep], high[keep]
    return start + low[:, None] * d, start + high[:, None] * d
