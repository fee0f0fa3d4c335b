"""Render options: what a scene draws besides the racers (panels, trails, view, look)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from optrace.spec.model import AnimationConfig

#: Dots per inch of every figure at scale 1: a figure's pixels are its inches times this.
DPI = 100


@dataclass(frozen=True)
class SceneOptions:
    """How a race is drawn.

    Attributes:
        loss_panel: A second axes under the race with each racer's loss (and lr).
        trail: How many epochs of each racer's recent path are drawn, fading.
        view: For a 2-D function, ``contour`` (seen from above) or ``surface`` (3-D).
        scale: Pixels per pixel of ``animation.size`` (the figure's dpi is 100 times it).
        font_scale: The factor of every text's size.
        theme: ``light`` or ``dark``.
        legend: Whether the racers' names are drawn in a legend (off where the
            picture is named elsewhere, as a gallery's cell of one racer is).
    """

    loss_panel: bool = False
    trail: int = 0
    view: Literal["contour", "surface"] = "contour"
    scale: float = 1.0
    font_scale: float = 1.0
    theme: Literal["light", "dark"] = "light"
    legend: bool = True

    @classmethod
    def of(cls, animation: AnimationConfig, dims: int) -> SceneOptions:
        """The options a config's ``animation`` asks for, in ``dims`` dimensions."""
        return cls(
            loss_panel=animation.loss_panel,
            trail=animation.trail_epochs(dims),
            view=animation.view,
            scale=animation.scale,
            font_scale=animation.font_scale,
            theme=animation.theme,
            legend=animation.legend,
        )
