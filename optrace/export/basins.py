"""The basins map as a file: PNG, SVG or PDF, the same bytes on every run."""

from __future__ import annotations

from pathlib import Path

from optrace.export.drawing import Drawing
from optrace.export.still import write_figure
from optrace.render.basins import basins_size, draw_basins
from optrace.results.trace import RaceResult


def write_basins(
    result: RaceResult,
    path: Path,
    drawing: Drawing,
    fmt: str = ".png",
) -> None:
    """Draw the basins map of ``result`` (a swarm) into ``path``.

    Args:
        result: The race; it has more than one start.
        path: Where to write (the format comes from ``fmt``, not from this name).
        drawing: Its size is ``animation.size``; the map is as high (or high enough
            for its texts), a panel about as wide per racer
            (:func:`optrace.render.basins.basins_size`), times ``options.scale``;
            its options give the theme, font_scale and scale.
        fmt: ``.png``, ``.svg`` or ``.pdf``.
    """
    options = drawing.options
    shape = basins_size(drawing.size, len(result.traces), options.font_scale)
    write_figure(path, fmt, shape, options.scale, lambda f: draw_basins(f, result, options))
