"""The curve view: a 1-D race's markers moving along ``f(x)``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from optrace._core.types import Minimum
from optrace.render.views.base import Bounds, View
from optrace.results.trace import Trace


class CurveView(View):
    """The function's curve, with its known minima inside the domain marked."""

    corners: ClassVar[str] = "curve"
    legend_size: ClassVar[str | None] = None

    def draw(self, figure: Figure, ax: Axes) -> Bounds:
        result = self.result
        ax.plot(result.curve_x, result.curve_y, color=self.theme.curve, linewidth=1.5, zorder=1)
        self.mark_minima(ax)
        ax.set_xlim(*result.domain)
        lo, hi = float(np.nanmin(result.curve_y)), float(np.nanmax(result.curve_y))
        pad = 0.08 * (hi - lo) if hi > lo else 1.0
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel("x")
        ax.set_ylabel("f(x)")
        ax.grid(alpha=0.25)
        return [result.domain, (lo - pad, hi + pad)]

    def coordinates(self, trace: Trace) -> tuple[np.ndarray, ...]:
        return (trace.x, trace.loss)

    def known_minima(self) -> list[Minimum]:
        low, high = self.result.domain
        return [m for m in self.result.minima if m.y is None and low <= m.x <= high]

    def minima_at(self, xs: list[float], ys: list[Any], values: list[float]) -> list[Any]:
        return [xs, values]

    def side(self, now: list[np.ndarray], out: np.ndarray) -> str:
        xs, (lo, hi) = now[0][out], self.result.domain
        return "<-" if (xs < lo).all() else "->" if (xs > hi).all() else "<->"
