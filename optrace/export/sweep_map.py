"""The sweep map as a file: PNG, SVG or PDF, the same bytes on every run."""

from __future__ import annotations

from pathlib import Path

from optrace.export.drawing import Drawing
from optrace.export.still import write_figure
from optrace.render.sweep_map import draw_sweep_map, sweep_size
from optrace.results.trace import RaceResult


def write_sweep_map(
    result: RaceResult,
    path: Path,
    drawing: Drawing,
    fmt: str = ".png",
) -> None:
    """Draw the sweep map of ``result`` (a race with a sweep) into ``path``.

    Args:
        result: The race; at least one racer has a sweep.
        path: Where to write (the format comes from ``fmt``, not from this name).
        drawing: Its size is ``animation.size``; the map is as high (or high enough
            for its texts), a panel about as wide per racer with a sweep
            (:func:`optrace.render.sweep_map.sweep_size`), times ``options.scale``;
            its options give the theme, font_scale and scale.
        fmt: ``.png``, ``.svg`` or ``.pdf``.
    """
    options = drawing.options
    shape = sweep_size(drawing.size, len(result.sweeps), options.font_scale)
    write_figure(path, fmt, shape, options.scale, lambda f: draw_sweep_map(f, result, options))
