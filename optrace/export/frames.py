"""Export: a scene's frames drawn once and streamed into every sink asked for.

Export draws the static artists once, then for each frame restores that
background, draws only the moving artists and hands the pixels to every sink
(blitting on the Agg canvas; matplotlib's ``Animation.save`` redraws the whole
figure each frame). Frames are streamed: memory does not grow with their number.
Sinks are chosen by name from :data:`SINKS`, and each is finished by a context
manager, so a failure anywhere closes every file that was opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from optrace._core.atomic import AtomicFile
from optrace._core.errors import OutputError, UsageError
from optrace.export.drawing import Drawing, Timing
from optrace.render.options import DPI as DPI  # re-exported: outputs size figures by it
from optrace.render.options import SceneOptions
from optrace.render.scene import RaceScene
from optrace.results.trace import RaceResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class FrameSink(Protocol):
    """Takes frames one by one: ``(height, width, 4)`` uint8 RGBA, valid during the call."""

    def append(self, frame: np.ndarray) -> None:
        """Encode one frame."""

    def close(self) -> None:
        """Finish the file."""


def _gif(path: Path, timing: Timing) -> FrameSink:
    from optrace.export.gif import GifSink

    return GifSink(path, timing.interval, timing.loop)


def _mp4(path: Path, timing: Timing) -> FrameSink:
    from optrace.export.mp4 import Mp4Sink

    return Mp4Sink(path, timing.interval)


#: Animation formats by name; each factory imports its encoder only when used.
SINKS: dict[str, Callable[[Path, Timing], FrameSink]] = {"gif": _gif, "mp4": _mp4}


def open_sink(fmt: str, path: Path, timing: Timing) -> FrameSink:
    """The sink registered as ``fmt``, writing to ``path``."""
    factory = SINKS.get(fmt)
    if factory is None:
        raise UsageError(f"unknown animation format '{fmt}'; known: {', '.join(SINKS)}")
    return factory(path, timing)


def render(
    result: RaceResult,
    size: tuple[int, int],
    sinks: Sequence[FrameSink],
    frame_epochs: Sequence[int] | np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
    options: SceneOptions | None = None,
) -> int:
    """Draw every frame once and hand it to each sink; return the number of frames.

    Args:
        size: ``animation.size``; the frames have ``options.scale`` times its pixels,
            drawn at that many times the dpi, so the layout is the same.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = new_figure(size)
    canvas: Any = FigureCanvasAgg(figure)  # its blitting methods are untyped
    scene = RaceScene(figure, result, frame_epochs, options)
    if options is not None and options.scale != 1:
        # Laid out at scale 1, drawn at scale times the dpi: the same layout, exactly.
        scale_figure(figure, size, options.scale)
    scene.set_animated(True)
    canvas.draw()
    background = canvas.copy_from_bbox(figure.bbox)
    for frame in range(scene.n_frames):
        canvas.restore_region(background)
        for artist in scene.update(frame):
            if artist.get_visible():
                figure.draw_artist(artist)
        rgba = np.asarray(canvas.buffer_rgba())
        for sink in sinks:
            sink.append(rgba)
        if progress is not None:
            progress(1)
    return scene.n_frames


def new_figure(size: tuple[int, int]) -> Figure:
    """A figure of ``size`` pixels at :data:`DPI`.

    Args:
        size: Width and height in pixels.

    Returns:
        The figure (no canvas yet).
    """
    from matplotlib.figure import Figure

    return Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI)


def scale_figure(figure: Figure, size: tuple[int, int], scale: float) -> None:
    """Draw ``figure`` (of ``size`` pixels at :data:`DPI`) at ``scale`` times its
    pixels: the dpi grows, the inches and so the layout stay.

    Args:
        figure: The figure, laid out.
        size: Its width and height in pixels at scale 1.
        scale: The multiple of the pixels; ``size * scale`` must be whole.
    """
    dpi = DPI * scale
    inches = []
    for side in size:
        # Agg truncates inches * dpi to whole pixels: never fall a hair short.
        wanted, ins = round(side * scale), side / DPI
        while ins * dpi < wanted:
            ins = float(np.nextafter(ins, np.inf))
        inches.append(ins)
    figure.set_dpi(dpi)
    figure.set_size_inches(inches[0], inches[1])


@contextmanager
def _finished(sink: FrameSink) -> Iterator[FrameSink]:
    """Close ``sink`` however the block ends; a failure to finish it is an OutputError,
    and on an earlier failure that one is reported instead."""
    try:
        yield sink
    except BaseException:
        with suppress(Exception):
            sink.close()
        raise
    try:
        sink.close()
    except (OSError, RuntimeError, ValueError) as exc:
        raise OutputError(f"finishing the animation failed: {exc}") from exc


def export(
    result: RaceResult,
    outputs: Mapping[str, AtomicFile],
    drawing: Drawing,
    frame_epochs: Sequence[int] | np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Render once into every requested file (``{"gif": ..., "mp4": ...}``).

    The caller commits or discards the atomic files; an encoder failure here
    is raised as :class:`OutputError`.

    Args:
        result: The race.
        outputs: The atomic files by animation format.
        drawing: Size, timing and scene options.
        frame_epochs: The epoch shown in each frame (default every epoch).
        progress: Hears of each frame drawn.
    """
    with ExitStack() as stack:
        try:
            sinks = [
                stack.enter_context(_finished(open_sink(fmt, out.path, drawing.timing)))
                for fmt, out in outputs.items()
            ]
            render(result, drawing.size, sinks, frame_epochs, progress, drawing.options)
        except (OSError, RuntimeError, ValueError) as exc:
            raise OutputError(f"writing the animation failed: {exc}") from exc
