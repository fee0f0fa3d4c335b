"""One view per kind of picture, chosen once by name.

Examples:
    >>> sorted(VIEWS)
    ['contour', 'curve', 'landscape', 'surface']
"""

from __future__ import annotations

from optrace.render.options import SceneOptions
from optrace.render.theme import Theme
from optrace.render.views.base import View
from optrace.render.views.contour import ContourView
from optrace.render.views.curve import CurveView
from optrace.render.views.landscape import LandscapeView
from optrace.render.views.surface import SurfaceView
from optrace.results.trace import RaceResult

#: The views by name: a new kind of background is one more entry.
VIEWS: dict[str, type[View]] = {
    "curve": CurveView,
    "contour": ContourView,
    "surface": SurfaceView,
    "landscape": LandscapeView,
}


def view_name(result: RaceResult, options: SceneOptions) -> str:
    """The view a race is drawn in: a 1-D race's curve; a model race's landscape
    (or its surface, where the options ask for one); else the options' view.

    Args:
        result: The race.
        options: Its scene options (``view``: ``contour`` or ``surface``).

    Returns:
        A key of :data:`VIEWS`.
    """
    if result.surface is None:
        return "curve"
    if result.landscape is not None and options.view != "surface":
        return "landscape"
    return options.view


def view_for(result: RaceResult, options: SceneOptions, theme: Theme) -> View:
    """The view of ``result`` that ``options`` ask for (see :func:`view_name`)."""
    return VIEWS[view_name(result, options)](result, theme)


__all__ = [
    "VIEWS",
    "ContourView",
    "CurveView",
    "LandscapeView",
    "SurfaceView",
    "View",
    "view_for",
    "view_name",
]
