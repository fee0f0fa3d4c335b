"""The MP4 sink: H.264 through imageio's ffmpeg plugin."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optrace._core.errors import UsageError


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
            # "fatal": a frame cut short by Ctrl-C or SIGTERM makes ffmpeg print an
            # error before the one-line message; encoder failures still raise here.
            ffmpeg_log_level="fatal",
            output_params=["-crf", "18", "-preset", "medium", "-movflags", "+faststart"],
        )

    def append(self, frame: np.ndarray) -> None:
        self._writer.append_data(frame[..., :3])

    def close(self) -> None:
        self._writer.close()


def check_mp4_size(size: tuple[int, int], scale: float = 1.0) -> None:
    """Refuse an MP4 of odd width or height, which H.264 cannot encode.

    Args:
        size: ``animation.size``.
        scale: ``animation.scale``; the frames are ``size`` times this.
    """
    if scale != 1:
        width, height = round(size[0] * scale), round(size[1] * scale)
        if width % 2 or height % 2:
            raise UsageError(
                f"animation.scale: MP4 (H.264) needs an even width and height, got "
                f"{width}x{height} ({scale:g} x {size[0]}x{size[1]}); use a whole scale"
            )
        return
    if size[0] % 2 or size[1] % 2:
        raise UsageError(
            f"animation.size: MP4 (H.264) needs an even width and height, got "
            f"{size[0]}x{size[1]}; use {size[0] + size[0] % 2}x{size[1] + size[1] % 2}"
        )
