"""The live window, for real: Qt on a virtual X server (Xvfb)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

from optrace.spec.loading import parse_config
from tests.conftest import ROOT
from tests.test_writers import RecordingSink, make_result

pytestmark = pytest.mark.skipif(
    shutil.which("Xvfb") is None and not os.environ.get("CI"),
    reason="Xvfb is not installed (make test installs it)",
)


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A fresh virtual X server; its DISPLAY. With -noreset it does not restart
    when its last client leaves, which would refuse the next test's client."""
    read, write = os.pipe()
    server = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write),
            "-screen",
            "0",
            "1024x768x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ],
        pass_fds=[write],
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as fh:
        number = fh.readline().strip()
    assert number, "Xvfb did not start"
    wait_for_x_socket(f"/tmp/.X11-unix/X{number}")
    wait_for_display(f":{number}")
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


def wait_for_x_socket(path: str, seconds: float = 20) -> None:
    """Return once the X server accepts connections on its socket."""
    deadline = time.monotonic() + seconds
    while True:
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(path)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
        time.sleep(0.1)


def wait_for_display(display: str, seconds: float = 20) -> None:
    """Return once Xlib opens ``display``: matplotlib asks the same before it
    allows QtAgg, and a server that has just bound its socket may refuse it."""
    xlib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    deadline = time.monotonic() + seconds
    while True:
        handle = xlib.XOpenDisplay(display.encode())
        if handle:
            xlib.XCloseDisplay(handle)
            return
        assert time.monotonic() < deadline, f"Xlib cannot open {display}"
        time.sleep(0.1)


def window_env(display: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "MPLBACKEND")}
    env["DISPLAY"] = display
    return env


@pytest.fixture
def config_file(tmp_path: Path, small_config: dict[str, Any]) -> Path:
    small_config["epochs"] = 30
    path = tmp_path / "race.yaml"
    path.write_text(yaml.safe_dump(small_config))
    return path


SADDLE = {
    "function": "saddle",
    "start": [1.5, 0.01],
    "epochs": 30,
    "racers": [{"optimizer": "SGD", "lr": 0.05}, {"optimizer": "Adam", "lr": 0.05}],
    "animation": {"size": [320, 240], "trail": 6},
}


@pytest.mark.parametrize("dims", [1, 2])
def test_window_plays_every_frame_and_shows_the_exported_pixels(
    display: str, tmp_path: Path, small_config: dict[str, Any], dims: int
) -> None:
    config = dict(small_config, epochs=30) if dims == 1 else SADDLE
    config_file = tmp_path / "race.yaml"
    config_file.write_text(yaml.safe_dump(config))
    shot = tmp_path / "shot.png"
    grab_at = 20
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "scripts" / "window_probe.py"),
            str(config_file),
            str(shot),
            str(grab_at),
        ],
        env=window_env(display),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["backend"].lower() == "qtagg"
    assert report["visible"] is True
    assert report["title"].startswith("optrace: ")
    assert set(report["drawn"]) == set(range(31))

    sink = RecordingSink()
    from optrace.export.frames import render
    from optrace.render.options import SceneOptions

    result = make_result(config)
    loaded = parse_config(config)
    render(result, (320, 240), [sink], options=SceneOptions.of(loaded.animation, dims))
    screen = np.asarray(Image.open(shot).convert("RGB"))
    assert screen.shape == (240, 320, 3)
    # The window shows exactly a frame the file export draws (one of the last few,
    # as the grab may trail the newest blit).
    matches = [
        k
        for k in range(grab_at - 3, grab_at + 1)
        if np.array_equal(screen, sink.frames[k][..., :3])
    ]
    assert matches, "the window shows none of the exported frames"
    assert not np.array_equal(sink.frames[0], sink.frames[grab_at])


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_cli_show_opens_a_window_that_closes_on_q(display: str, config_file: Path) -> None:
    env = window_env(display)
    proc = subprocess.Popen(
        [sys.executable, "-m", "optrace", "run", str(config_file), "--show"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        window = ""
        deadline = time.monotonic() + 60
        while not window and time.monotonic() < deadline and proc.poll() is None:
            found = subprocess.run(
                ["xdotool", "search", "--onlyvisible", "--name", "^optrace: "],
                env=env,
                capture_output=True,
                text=True,
            )
            window = found.stdout.split()[-1] if found.stdout.split() else ""
            time.sleep(0.2)
        assert window, "no optrace window appeared"
        assert proc.poll() is None  # the window stays until closed
        # matplotlib's keymap closes the figure on 'q'; press it until the window
        # listens (a key sent the moment the window appears can be lost).
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, timeout=10)
            subprocess.run(["xdotool", "key", "q"], env=env, timeout=10)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0, err
    assert out.splitlines()[0].split()[:5] == ["racer", "final", "x", "final", "loss"]


def _show_and_gif(config: Path, gif: Path, env: dict[str, str]) -> Any:
    """``optrace run CONFIG --show --gif GIF`` in a fresh process with ``env``."""
    return subprocess.run(
        [sys.executable, "-m", "optrace", "run", str(config), "--show", "--gif", str(gif)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_show_without_a_display_is_one_line_and_writes_nothing(
    config_file: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    gif = tmp_path / "a.gif"
    done = _show_and_gif(config_file, gif, env)
    assert done.returncode == 1
    assert done.stderr == (
        "Error: --show: a window needs a display and DISPLAY is not set; write a GIF or "
        "an MP4 instead, or run under xvfb-run\n"
    )
    assert not gif.exists()


def visible_windows(env: dict[str, str], title: str = "") -> list[str]:
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", f"^optrace: {title}"],
        env=env,
        capture_output=True,
        text=True,
    )
    return found.stdout.split()


RUNS = 5


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
@pytest.mark.parametrize(
    "signum, code, message",
    [
        (signal.SIGTERM, 143, "Error: terminated; the window was closed\n"),
        (signal.SIGINT, 130, "Error: interrupted; the window was closed\n"),
    ],
    ids=["SIGTERM", "SIGINT"],
)
def test_a_signal_closes_the_window_at_once_and_keeps_the_files(
    display: str, tmp_path: Path, small_config: dict[str, Any], signum: int, code: int, message: str
) -> None:
    """Five runs with their windows open side by side (they start together, to
    keep the test short); each is stopped at another moment of its animation."""
    env = window_env(display)
    procs: list[subprocess.Popen[str]] = []
    for run in range(RUNS):
        # 600 frames at 40 ms: the animation is still drawing when the signal comes.
        config = dict(small_config, title=f"run {run}", epochs=600, animation={"interval": 40})
        (tmp_path / f"race{run}.yaml").write_text(yaml.safe_dump(config))
        procs.append(
            subprocess.Popen(
                [
                    *(sys.executable, "-m", "optrace", "run", tmp_path / f"race{run}.yaml"),
                    *("--show", "--traces", tmp_path / f"traces{run}.csv"),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                # As in a terminal: a background job's inherited SIGINT "ignore" would stay.
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
        )
    took: list[float] = []
    try:
        deadline = time.monotonic() + 300  # five starts at once on a busy machine
        while len(visible_windows(env)) < RUNS and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.2)
        for run, proc in enumerate(procs):
            assert visible_windows(env, f"run {run}$"), f"run {run}: no window appeared"
            time.sleep(0.15)  # a different moment of the animation each time
            sent = time.monotonic()
            proc.send_signal(signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
            took.append(time.monotonic() - sent)
            assert proc.poll() is not None, f"run {run}: still running 2 s after the signal"
            assert not visible_windows(env, f"run {run}$")
        outputs = [p.communicate(timeout=10) for p in procs]
    finally:
        for proc in procs:
            proc.kill() if proc.poll() is None else None
    for run, (proc, (out, err)) in enumerate(zip(procs, outputs, strict=True)):
        assert proc.returncode == code, (run, err)
        assert "Traceback" not in err
        assert err == f"wrote {tmp_path / f'traces{run}.csv'}\n{message}", run
        assert out.splitlines()[0].split()[:3] == ["racer", "final", "x"]
        rows = (tmp_path / f"traces{run}.csv").read_text().splitlines()
        assert rows[0] == "racer,epoch,evaluations,x,loss"
        assert len(rows) == 1 + 2 * 601 and rows[-1].split(",")[1] == "600"
    assert max(took) < 2, took
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"race{run}.yaml" for run in range(RUNS)] + [f"traces{run}.csv" for run in range(RUNS)]
    )


@contextlib.contextmanager
def free_display(first: int = 55) -> Iterator[str]:
    """A display number no X server listens on here, kept free while in use: its lock
    file, made here and naming this live process, keeps any X server off it."""
    number = first
    while True:
        lock = f"/tmp/.X{number}-lock"
        if not os.path.exists(f"/tmp/.X11-unix/X{number}"):
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
                break
            except FileExistsError:
                pass
        number += 1
    try:
        os.write(fd, f"{os.getpid():10d}\n".encode())  # the format X servers write
        yield f":{number}"
    finally:
        os.close(fd)
        os.unlink(lock)


def test_show_with_a_display_that_does_not_open_is_one_line_and_writes_nothing(
    config_file: Path, tmp_path: Path
) -> None:
    gif = tmp_path / "a.gif"
    with free_display() as absent:
        env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY",)}
        env["DISPLAY"] = absent
        done = _show_and_gif(config_file, gif, env)
    assert done.returncode == 1
    assert done.stderr == (
        f"Error: --show: cannot open the display '{absent}'; start an X server, run under "
        "xvfb-run -a -s -noreset, or write a GIF or an MP4 instead\n"
    )
    assert done.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.yaml"]
