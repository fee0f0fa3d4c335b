"""Writers: stream a scene's frames into GIF and MP4 files, or show it in a Qt window.

Export draws the static artists once, then for each frame restores that
background, draws only the moving artists and hands the pixels to every sink
(blitting on the Agg canvas; matplotlib's ``Animation.save`` redraws the whole
figure each frame). Frames are streamed: memory does not grow with their number.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np

from optrace.atomic import AtomicFile
from optrace.errors import OutputError, UsageError
from optrace.scene import RaceScene, SceneOptions
from optrace.trace import RaceResult

DPI = 100


class FrameSink(Protocol):
    """Takes frames one by one: ``(height, width, 4)`` uint8 RGBA, valid during the call."""

    def append(self, frame: np.ndarray) -> None:
        """Encode one frame."""

    def close(self) -> None:
        """Finish the file."""


class GifSink:
    """A GIF written frame by frame with Pillow's GIF encoder.

    One palette serves the whole race, so colours never flicker: the 255
    commonest colours of the first frame, which shows every racer's colour in
    the legend. Those map to themselves exactly (a plot has few colours);
    any other colour maps to its nearest entry. Index 255 is transparent:
    each later frame stores only the rectangle that changed, with the
    unchanged pixels in it transparent, which LZW compresses to almost nothing.
    """

    TRANSPARENT = 255

    def __init__(self, path: Path, interval: int, loop: bool = True) -> None:
        self.path = path
        self.interval = interval
        self.loop = loop
        self._file: IO[bytes] | None = None
        self._palette: _Palette | None = None
        self._keys: np.ndarray | None = None

    def append(self, frame: np.ndarray) -> None:
        keys = _colour_keys(frame)
        if self._palette is None or self._keys is None:
            self._start(keys)
            return
        changed = keys != self._keys
        rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
        if rows.size == 0:  # an unchanged frame still takes its time slot
            self._write(np.full((1, 1), self.TRANSPARENT, np.uint8), (0, 0))
            return
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        box = changed[y0:y1, x0:x1]
        new = self._palette.indices(keys[y0:y1, x0:x1][box])
        stored = np.full(box.shape, self.TRANSPARENT, np.uint8)
        stored[box] = new
        self._write(stored, (x0, y0))
        self._keys[y0:y1, x0:x1] = keys[y0:y1, x0:x1]

    def _start(self, keys: np.ndarray) -> None:
        from PIL import GifImagePlugin, Image

        self._palette = _Palette(keys, self.TRANSPARENT)
        canvas = Image.new("P", (keys.shape[1], keys.shape[0]))
        canvas.putpalette(self._palette.rgb.astype(np.uint8).tobytes())
        info: dict[str, Any] = {"duration": self.interval, "transparency": self.TRANSPARENT}
        if self.loop:
            info["loop"] = 0
        header, _ = GifImagePlugin.getheader(canvas, info=info)
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._file.write(b"".join(header))
        self._keys = keys.copy()
        self._write(self._palette.indices(keys), (0, 0), transparent=False)

    def _write(
        self, indices: np.ndarray, offset: tuple[int, int], transparent: bool = True
    ) -> None:
        from PIL import GifImagePlugin, Image

        params: dict[str, Any] = {"duration": self.interval, "disposal": 1}
        if transparent:
            params["transparency"] = self.TRANSPARENT
        data = GifImagePlugin.getdata(Image.fromarray(indices), offset=offset, **params)
        assert self._file is not None
        self._file.write(b"".join(data))

    def close(self) -> None:
        if self._file is not None:
            self._file.write(b";")
            self._file.close()


def _colour_keys(frame: np.ndarray) -> np.ndarray:
    """``(h, w)`` uint32 keys ``r | g << 8 | b << 16`` of an RGBA frame (alpha dropped)."""
    rgba = np.ascontiguousarray(frame)
    keys: np.ndarray = rgba.view("<u4")[..., 0] & 0xFFFFFF
    return keys


class _Palette:
    """The race's palette: a lookup table from colour key to index, filled as colours appear."""

    def __init__(self, keys: np.ndarray, size: int) -> None:
        colours, counts = np.unique(keys, return_counts=True)
        top = colours[np.argsort(-counts, kind="stable")[:size]]
        self.rgb = np.stack([top & 255, (top >> 8) & 255, (top >> 16) & 255], axis=1)
        self.rgb = self.rgb.astype(np.int32)
        self._unknown = size
        self._lut = np.full(1 << 24, size, np.uint8)
        self._lut[top] = np.arange(len(top), dtype=np.uint8)

    def indices(self, keys: np.ndarray) -> np.ndarray:
        """Palette indices of ``keys``: exact where the colour is in the palette, else nearest."""
        found: np.ndarray = self._lut[keys]
        missing = found == self._unknown
        if missing.any():
            new = np.unique(keys[missing])
            rgb = np.stack([new & 255, (new >> 8) & 255, (new >> 16) & 255], axis=1)
            distance = ((rgb[:, None, :].astype(np.int32) - self.rgb[None]) ** 2).sum(axis=2)
            self._lut[new] = distance.argmin(axis=1).astype(np.uint8)
            found = self._lut[keys]
        return found


class Mp4Sink:
    """An H.264 MP4 through imageio's ffmpeg plugin (the binary from imageio-ffmpeg)."""

    def __init__(self, path: Path, interval: int) -> None:
        import imageio.v2 as imageio

        self._writer = imageio.get_writer(
            str(path),
            format="FFMPEG",
            mode="I",
            fps=1000.0 / interval,
            codec="libx264",
            pixelformat="yuv420p",
            quality=None,
            macro_block_size=2,
            ffmpeg_log_level="error",
            output_params=["-crf", "18", "-preset", "medium", "-movflags", "+faststart"],
        )

    def append(self, frame: np.ndarray) -> None:
        self._writer.append_data(frame[..., :3])

    def close(self) -> None:
        self._writer.close()


def render(
    result: RaceResult,
    size: tuple[int, int],
    sinks: Sequence[FrameSink],
    frame_epochs: Sequence[int] | np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
    options: SceneOptions | None = None,
) -> int:
    """Draw every frame once and hand it to each sink; return the number of frames."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI)
    canvas: Any = FigureCanvasAgg(figure)  # its blitting methods are untyped
    scene = RaceScene(figure, result, frame_epochs, options)
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


def check_mp4_size(size: tuple[int, int]) -> None:
    """Refuse an MP4 of odd width or height, which H.264 cannot encode."""
    if size[0] % 2 or size[1] % 2:
        raise UsageError(
            f"animation.size: MP4 (H.264) needs an even width and height, got "
            f"{size[0]}x{size[1]}; use {size[0] + size[0] % 2}x{size[1] + size[1] % 2}"
        )


def export(
    result: RaceResult,
    outputs: dict[str, AtomicFile],
    interval: int,
    size: tuple[int, int],
    loop: bool = True,
    frame_epochs: Sequence[int] | np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
    options: SceneOptions | None = None,
) -> None:
    """Render once into every requested file (``{"gif": ..., "mp4": ...}``).

    The caller commits or discards the atomic files; an encoder failure here
    is raised as :class:`OutputError`.
    """
    sinks: list[FrameSink] = []
    try:
        for fmt, out in outputs.items():
            sinks.append(
                GifSink(out.path, interval, loop) if fmt == "gif" else Mp4Sink(out.path, interval)
            )
        render(result, size, sinks, frame_epochs, progress, options)
    except BaseException as exc:
        for sink in sinks:
            with suppress(Exception):  # the first failure is the one to report
                sink.close()
        if isinstance(exc, (OSError, RuntimeError, ValueError)):
            raise OutputError(f"writing the animation failed: {exc}") from exc
        raise
    for sink in sinks:
        try:
            sink.close()
        except (OSError, RuntimeError, ValueError) as exc:
            raise OutputError(f"finishing the animation failed: {exc}") from exc


def check_display() -> None:
    """Refuse ``--show`` early when no window can open."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise OutputError(
            "--show needs a display and DISPLAY is not set; write a file with --gif or "
            "--mp4, or run under xvfb-run"
        )
    try:
        import PySide6  # noqa: F401
    except ImportError:
        raise OutputError("--show needs Qt: pip install 'optrace[qt]'") from None


def show(
    result: RaceResult,
    interval: int,
    size: tuple[int, int],
    frame_epochs: Sequence[int] | np.ndarray | None = None,
    close_when_done: bool = False,
    on_frame: Callable[[int], None] | None = None,
    options: SceneOptions | None = None,
) -> None:
    """Animate the race in a Qt window (FuncAnimation, blitting); return when it is closed.

    Args:
        close_when_done: Close the window one interval after the last frame.
        on_frame: Called with each frame number as it is drawn.
    """
    check_display()
    import matplotlib

    matplotlib.use("QtAgg")
    import matplotlib.pyplot as plt  # noqa: TID251 - the window needs pyplot's event loop
    from matplotlib.animation import FuncAnimation

    figure = plt.figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI)
    manager = figure.canvas.manager
    if manager is not None:
        manager.set_window_title(f"optrace: {result.title}")
    scene = RaceScene(figure, result, frame_epochs, options)
    last = scene.n_frames - 1
    closer = figure.canvas.new_timer(interval=interval)
    closer.single_shot = True
    closer.add_callback(plt.close, figure)

    def draw(frame: int) -> list[Any]:
        artists = scene.update(frame)
        if on_frame is not None:
            on_frame(frame)
        if close_when_done and frame == last:
            closer.start()
        return artists

    animation = FuncAnimation(
        figure, draw, frames=scene.n_frames, interval=interval, blit=True, repeat=False
    )
    plt.show()
    del animation
