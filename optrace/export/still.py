"""Stills: one frame of the race, with each racer's whole path, as PNG, SVG or PDF."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from optrace.export.drawing import Drawing
from optrace.export.frames import new_figure, scale_figure
from optrace.render.scene import RaceScene
from optrace.results.trace import RaceResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Still formats by suffix, and the metadata that would make two runs' bytes differ.
FORMATS: dict[str, dict[str, Any]] = {
    ".png": {},
    ".svg": {"Date": None},
    ".pdf": {"CreationDate": None},
}


def write_still(
    result: RaceResult,
    path: Path | IO[bytes],
    drawing: Drawing,
    epoch: int,
    fmt: str = ".png",
) -> None:
    """Draw the race at ``epoch``, with every racer's path and loss line so far, into ``path``.

    Args:
        result: The race.
        path: Where to write, a path or a binary file (the format comes from
            ``fmt``, not from a name).
        drawing: The size, ``(width, height)`` in pixels (in points at 100 per inch
            for SVG and PDF), and the options: panels and view; the fading trail
            gives way to the whole path.
        epoch: The epoch shown, from 0 to ``result.epochs``.
        fmt: ``.png``, ``.svg`` or ``.pdf``.
    """
    options = replace(drawing.options, trail=0)

    def draw(figure: Figure) -> None:
        scene = RaceScene(figure, result, [epoch], options)
        scene.draw_paths(epoch)
        if scene.panel is not None:
            # The scene's one frame shows only ``epoch``; the panel shows every
            # epoch up to it, as an animation's frame at that epoch does.
            scene.panel.update(np.arange(epoch + 1))

    write_figure(path, fmt, drawing.size, options.scale, draw)


def write_figure(
    path: Path | IO[bytes],
    fmt: str,
    size: tuple[int, int],
    scale: float,
    draw: Callable[[Figure], object],
) -> None:
    """A figure of ``size`` pixels (times ``scale``) that ``draw`` draws on, saved as
    ``fmt`` (``.png``, ``.svg`` or ``.pdf``), the same bytes on every run."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with matplotlib.rc_context({"svg.hashsalt": "optrace", "svg.fonttype": "path"}):
        figure = new_figure(size)
        FigureCanvasAgg(figure)
        draw(figure)
        scale_figure(figure, size, scale)
        figure.savefig(path, format=fmt.lstrip("."), dpi=figure.dpi, metadata=FORMATS[fmt])
