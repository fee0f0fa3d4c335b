"""Themes and text sizes: a light or dark figure, and every text scaled alike.

The light theme is matplotlib's own look, left untouched. The dark one is for
slides: a dark background, light text and frames, and racer colours lightened
where they would not stand out from the background (the seed's black racers).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Any

from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text

#: WCAG's least contrast for a graphical object against its background.
OBJECT_CONTRAST = 3.0


@dataclass(frozen=True)
class Theme:
    """The colours of a figure besides the racers and the function's colour map.

    Attributes:
        name: ``light`` or ``dark``.
        background: The figure's face.
        face: Each axes' face, the legend's, and the known minima's stars.
        text: Every text, and the stars' edges.
        edge: Spines, ticks and frames.
        curve: The 1-D function's curve.
        box: The epoch counter's box, opaque.
    """

    name: str
    background: str
    face: str
    text: str
    edge: str
    curve: str
    box: str

    @property
    def dark(self) -> bool:
        """Whether this is the dark theme."""
        return self.name == "dark"

    def racer_colour(self, colour: Any) -> Any:
        """A racer's colour as drawn: in the dark theme lightened until it stands out."""
        return readable(colour, self.face) if self.dark else colour

    def legend_kwargs(self) -> dict[str, Any]:
        """Keywords of ``Axes.legend`` for this theme (none for light)."""
        if not self.dark:
            return {}
        return {"facecolor": self.face, "labelcolor": self.text}


THEMES = {
    "light": Theme("light", "white", "white", "black", "black", "0.3", "white"),
    "dark": Theme("dark", "#1b1d22", "#23262c", "#e8e8e8", "#a0a0a0", "#c8c8c8", "#23262c"),
}


def luminance(colour: Any) -> float:
    """WCAG 2's relative luminance of a colour.

    Args:
        colour: Any matplotlib colour.

    Returns:
        From 0 (black) to 1 (white).
    """

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in to_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Any, b: Any) -> float:
    """WCAG 2's contrast ratio of two colours.

    Args:
        a: A matplotlib colour.
        b: Another.

    Returns:
        From 1 (equal luminance) to 21 (black on white); text wants 4.5.

    Examples:
        >>> round(contrast("black", "white"), 1)
        21.0
    """
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def readable(colour: Any, background: Any, least: float = OBJECT_CONTRAST) -> str:
    """``colour``, or a lighter one with at least ``least`` contrast on a dark ``background``.

    A colour darker than mid-grey has its lightness mirrored first (black
    becomes white, navy a light blue), so it keeps its hue; one still too dark
    is mixed with white until it stands out.

    Args:
        colour: A matplotlib colour.
        background: The dark colour it is drawn on.
        least: The contrast wanted (WCAG's 3:1 for graphics by default).

    Returns:
        A hex colour.
    """
    if contrast(colour, background) >= least:
        return to_hex(colour)
    h, lightness, s = colorsys.rgb_to_hls(*to_rgb(colour))
    rgb = colorsys.hls_to_rgb(h, max(lightness, 1 - lightness), s)
    for step in range(21):
        t = step / 20
        r, g, b = (c + (1 - c) * t for c in rgb)
        mixed = (r, g, b)
        if contrast(mixed, background) >= least:
            return to_hex(mixed)
    return "#ffffff"


def _axes_axis(ax: Any) -> list[Any]:
    return [ax.xaxis, ax.yaxis, *([ax.zaxis] if hasattr(ax, "zaxis") else [])]


def scaled_size(size: Any, font_scale: float) -> Any:
    """A font size times ``font_scale``.

    Args:
        size: Points, a name such as ``small``, or None for the default size.
        font_scale: The factor.

    Returns:
        ``size`` itself at 1 (so matplotlib resolves it as before), else points.
    """
    if font_scale == 1:
        return size
    return FontProperties(size=size).get_size_in_points() * font_scale


def tick_sizes(figure: Figure) -> list[tuple[Any, str, float]]:
    """Every axis of ``figure`` with its major and minor tick labels' size.

    Tick labels are made as the axes are drawn, so their size is set through
    each axis's tick parameters (:func:`set_tick_sizes`), and the ones made later match.
    """
    return [
        (axis, which, float(ticks[0].label1.get_fontsize()))
        for ax in figure.axes
        for axis in _axes_axis(ax)
        for which, ticks in (("major", axis.get_major_ticks(1)), ("minor", axis.get_minor_ticks(1)))
    ]


def set_tick_sizes(sizes: list[tuple[Any, str, float]], factor: float) -> None:
    """Set each axis's tick labels to ``factor`` times the size :func:`tick_sizes` read."""
    for axis, which, size in sizes:
        axis.set_tick_params(which=which, labelsize=size * factor)


def dress(figure: Figure, theme: Theme, font_scale: float) -> None:
    """Scale every text on ``figure`` by ``font_scale`` and colour it all for ``theme``.

    Tick labels, made as the axes are drawn, are set through each axis's tick
    parameters, so the ones made later match. At 1 and ``light`` nothing changes.

    Args:
        figure: The figure, with every artist but the legend added.
        theme: The theme.
        font_scale: The factor of every text's size.
    """
    if font_scale != 1:
        sizes = tick_sizes(figure)
        for text in figure.findobj(Text):
            text.set_fontsize(float(text.get_fontsize()) * font_scale)
        set_tick_sizes(sizes, font_scale)
    if not theme.dark:
        return
    figure.set_facecolor(theme.background)
    for ax in figure.axes:
        ax.set_facecolor(theme.face)
        for spine in ax.spines.values():
            spine.set_edgecolor(theme.edge)
        for axis in _axes_axis(ax):
            axis.set_tick_params(which="both", color=theme.edge, labelcolor=theme.text)
            if hasattr(axis, "set_pane_color"):  # 3-D
                axis.set_pane_color((1.0, 1.0, 1.0, 0.06))
                axis.line.set_color(theme.edge)
    for text in figure.findobj(Text):
        text.set_color(theme.text)
        patch = text.get_bbox_patch()
        if patch is not None:
            patch.set_facecolor(theme.box)
