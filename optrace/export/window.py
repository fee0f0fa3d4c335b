"""The live window: FuncAnimation with blitting on the same scene, in Qt."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from optrace._core.errors import OutputError
from optrace.export.drawing import Drawing
from optrace.export.frames import DPI
from optrace.render.scene import RaceScene
from optrace.results.trace import RaceResult

POLL_MS = 50
"""How often the open window asks ``stop_requested``; Python's signal handlers run then too."""

OPEN_SECONDS = 5.0
"""How long a display may take to answer before ``check_display`` gives up on it."""

HEADLESS = "start an X server, run under xvfb-run -a -s -noreset, or write a GIF or an MP4 instead"


def check_display() -> None:
    """Refuse a window early when none can open.

    On Linux it opens a connection to the X server in ``DISPLAY`` (or the Wayland
    compositor in ``WAYLAND_DISPLAY``) and closes it again: the test matplotlib
    makes before it allows QtAgg, made before the race runs instead of after it.

    Raises:
        OutputError: No display is set, none can be opened, or Qt is not installed.
    """
    if sys.platform.startswith("linux"):
        x_display = os.environ.get("DISPLAY")
        wayland = os.environ.get("WAYLAND_DISPLAY")
        if not (x_display or wayland):
            raise OutputError(
                "show: a window needs a display and DISPLAY is not set; write a GIF or "
                "an MP4 instead, or run under xvfb-run",
                parameter="show",
            )
        if not ((x_display and _x_opens(x_display)) or (wayland and _wayland_opens(wayland))):
            named = repr(x_display) if x_display else f"(Wayland) {wayland!r}"
            raise OutputError(
                f"show: cannot open the display {named}; {HEADLESS}", parameter="show"
            )
    try:
        import PySide6  # noqa: F401
    except ImportError:
        raise OutputError(
            "show: a window needs Qt: pip install 'optrace[qt]'", parameter="show"
        ) from None


def _x_opens(name: str) -> bool:
    """Whether Xlib opens a connection to the X display ``name`` (closed again at once).

    Xlib runs on a daemon thread (ctypes releases the GIL), so a display on a host
    that never answers costs ``OPEN_SECONDS``, not a TCP timeout.
    """
    try:
        xlib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    except OSError:  # no Xlib, and so no Qt on X either
        return False
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    opened: list[bool] = []

    def attempt() -> None:
        handle = xlib.XOpenDisplay(name.encode())
        if handle:
            xlib.XCloseDisplay(handle)
        opened.append(bool(handle))

    thread = threading.Thread(target=attempt, name="optrace-display-check", daemon=True)
    thread.start()
    thread.join(OPEN_SECONDS)
    return opened == [True]


def _wayland_opens(name: str) -> bool:
    """Whether the Wayland compositor's socket accepts a connection (what
    ``wl_display_connect`` does first; libwayland would print its own errors)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    path = name if os.path.isabs(name) else os.path.join(runtime, name)
    if not (runtime or os.path.isabs(name)):
        return False
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(OPEN_SECONDS)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def _qt_figure(size: tuple[int, int]) -> Any:
    """A pyplot figure of ``size`` pixels in a Qt window.

    Raises:
        OutputError: Qt cannot open a window.
    """
    import matplotlib

    try:
        matplotlib.use("QtAgg")
        import matplotlib.pyplot as plt  # noqa: TID251 - the window needs pyplot's event loop

        return plt.figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI)
    except (ImportError, RuntimeError) as exc:  # the display went away since the check
        raise OutputError(
            f"show: cannot open a Qt window ({exc}); {HEADLESS}", parameter="show"
        ) from None


def show(
    result: RaceResult,
    drawing: Drawing,
    frame_epochs: Sequence[int] | np.ndarray | None = None,
    close_when_done: bool = False,
    on_frame: Callable[[int], None] | None = None,
    stop_requested: Callable[[], bool] | None = None,
) -> None:
    """Animate the race in a Qt window (FuncAnimation, blitting); return when it is closed.

    Args:
        result: The race to play.
        drawing: The window's canvas in pixels, (width, height); milliseconds per
            frame; what the scene draws (trail, 2-D view, ...).
        frame_epochs: The epochs shown, one per frame (default: every epoch).
        close_when_done: Close the window one interval after the last frame.
        on_frame: Called with each frame number as it is drawn.
        stop_requested: Asked every ``POLL_MS`` ms while the window is open; once it
            returns True the window closes and ``show`` returns. Give it when the
            caller handles SIGINT and SIGTERM (a command line wires them to it):
            their handlers, which Qt's loop holds back, run at these polls, and
            must not raise, since an exception raised inside a Qt callback is
            printed and lost. Without it, matplotlib's ``plt.show`` runs the loop,
            and its own SIGINT handler closes the window on Ctrl-C.

    Raises:
        OutputError: No window can open (see :func:`check_display`).
    """

    def stopping() -> bool:
        return stop_requested is not None and stop_requested()

    interval = drawing.interval
    check_display()
    if stopping():
        return
    figure = _qt_figure(drawing.size)
    import matplotlib.pyplot as plt  # noqa: TID251 - the window needs pyplot's event loop
    from matplotlib.animation import FuncAnimation
    from matplotlib.backends.qt_compat import QtWidgets  # type: ignore[attr-defined]

    try:
        manager = figure.canvas.manager
        if manager is not None:
            manager.set_window_title(f"optrace: {result.title}")
        scene = RaceScene(figure, result, frame_epochs, drawing.options)
        last = scene.n_frames - 1
        closer = figure.canvas.new_timer(interval=interval)
        closer.single_shot = True
        closer.add_callback(plt.close, figure)
        poll = figure.canvas.new_timer(interval=POLL_MS)

        def check() -> None:
            # Quit the loop rather than close the figure: closing it before its
            # first draw leaves FuncAnimation a draw event it cannot handle.
            if stopping():
                poll.stop()
                QtWidgets.QApplication.instance().quit()

        poll.add_callback(check)

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
        if not stopping():
            poll.start()
            _run_loop(figure, own_signals=stop_requested is None)
            poll.stop()
        del animation
    finally:
        plt.close(figure)


def _run_loop(figure: Any, own_signals: bool) -> None:
    """Run Qt's loop until the window closes or the loop is quit."""
    import matplotlib.pyplot as plt  # noqa: TID251 - the window needs pyplot's event loop
    from matplotlib.backends.qt_compat import QtWidgets  # type: ignore[attr-defined]

    if own_signals:
        plt.show()
    else:
        # The caller handles the signals: run Qt's loop without the SIGINT
        # handler plt.show adds, which closes the windows from inside
        # whichever callback is running, and FuncAnimation fails there.
        figure.show()
        QtWidgets.QApplication.instance().exec()
