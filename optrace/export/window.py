"""The live window: FuncAnimation with blitting on the same scene, in Qt."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from optrace._core.errors import OutputError
from optrace.export.frames import DPI
from optrace.render.options import SceneOptions
from optrace.render.scene import RaceScene
from optrace.results.trace import RaceResult


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
