"""Rendering: frames counted without encoders, then decoded back from real files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageSequence

from optrace.engine.loop import run
from optrace.engine.plan import prepare
from optrace.export.frames import DPI, render
from optrace.render.options import SceneOptions
from optrace.render.scene import RaceScene
from optrace.results.trace import RaceResult
from optrace.spec.loading import parse_config


class RecordingSink:
    """Keeps a copy of every frame it is given (small races only)."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.closed = False

    def append(self, frame: np.ndarray) -> None:
        self.frames.append(frame.copy())

    def close(self) -> None:
        self.closed = True


def make_result(config: dict[str, Any]) -> RaceResult:
    return run(prepare(parse_config(config)))


def full_redraw(
    result: RaceResult, size: tuple[int, int], frame: int, options: SceneOptions | None = None
) -> np.ndarray:
    """A frame drawn the slow way: a new figure, everything drawn, no blitting."""
    figure = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    scene = RaceScene(figure, result, options=options)
    scene.update(frame)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def test_render_gives_one_frame_per_epoch_of_the_configured_size(
    small_config: dict[str, Any],
) -> None:
    sink = RecordingSink()
    count = render(make_result(small_config), (160, 120), [sink])
    assert count == len(sink.frames) == small_config["epochs"] + 1
    assert {f.shape for f in sink.frames} == {(120, 160, 4)}
    assert all(f.dtype == np.uint8 for f in sink.frames)
    assert len({f.tobytes() for f in sink.frames}) > 1  # the racers move


def test_blitted_frames_equal_a_full_redraw(small_config: dict[str, Any]) -> None:
    small_config["racers"].append({"optimizer": "SGD", "lr": 1e300, "label": "wild"})
    result = make_result(small_config)
    size = (320, 240)
    sink = RecordingSink()
    render(result, size, [sink])
    for frame in (0, 1, 3, 6):
        assert np.array_equal(sink.frames[frame], full_redraw(result, size, frame)), frame


def test_a_diverged_racer_stays_drawn_as_a_cross(small_config: dict[str, Any]) -> None:
    small_config["racers"] = [{"optimizer": "SGD", "lr": 1e300, "label": "wild"}]
    result = make_result(small_config)
    figure = Figure()
    scene = RaceScene(figure, result)
    scene.update(0)
    assert scene.markers[0].get_xdata().tolist() == [-0.3]
    assert scene.ghosts[0].get_xdata().tolist() == []
    scene.update(3)
    assert scene.markers[0].get_xdata().tolist() == []
    assert scene.ghosts[0].get_xdata().tolist() == [-0.3]
    assert scene.notes.get_text() == "x wild diverged at epoch 1"


def test_gif_decodes_to_every_frame_with_size_interval_and_loop(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    gif = tmp_path / "race.gif"
    result = invoke("run", write_config(small_config), "--gif", gif)
    assert result.exit_code == 0, result.stderr
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.size == (160, 120)
        assert im.n_frames == small_config["epochs"] + 1
        assert im.info["loop"] == 0
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(im)]
    assert durations == [150] * (small_config["epochs"] + 1)


def test_gif_frames_match_the_rendered_frames(tmp_path: Path, small_config: dict[str, Any]) -> None:
    from optrace.export.gif import GifSink

    result = make_result(small_config)
    sink = RecordingSink()
    gif = GifSink(tmp_path / "r.gif", interval=100, loop=False)
    render(result, (320, 240), [sink, gif])
    gif.close()
    with Image.open(tmp_path / "r.gif") as im:
        assert "loop" not in im.info
        decoded = [np.asarray(f.convert("RGB"), dtype=np.int16) for f in ImageSequence.Iterator(im)]
    assert len(decoded) == len(sink.frames)
    for got, want in zip(decoded, sink.frames, strict=True):
        error = np.abs(got - want[..., :3].astype(np.int16))
        assert error.mean() < 1.0 and np.percentile(error, 99.9) <= 24


def test_mp4_reads_back_with_every_frame(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    import imageio.v3 as iio

    mp4 = tmp_path / "race.mp4"
    result = invoke("run", write_config(small_config), "--mp4", mp4, "--gif", tmp_path / "r.gif")
    assert result.exit_code == 0, result.stderr
    frames = iio.imread(mp4, plugin="FFMPEG")
    assert frames.shape == (small_config["epochs"] + 1, 120, 160, 3)
    meta = iio.immeta(mp4, plugin="FFMPEG")
    assert meta["fps"] == pytest.approx(1000 / 150, rel=1e-3)
    assert meta["codec"] == "h264"


def test_loss_panel_frames_equal_a_full_redraw_and_follow_the_epochs(
    small_config: dict[str, Any],
) -> None:
    small_config["racers"].append(
        {"optimizer": "SGD", "lr": 0.05, "schedule": {"name": "StepLR", "step_size": 2}}
    )
    result = make_result(small_config)
    size = (320, 300)
    sink = RecordingSink()
    panel = SceneOptions(loss_panel=True)
    render(result, size, [sink], options=panel)
    for frame in (0, 2, 5):
        assert np.array_equal(sink.frames[frame], full_redraw(result, size, frame, panel)), frame
    scene = RaceScene(Figure(), result, options=panel)
    scene.update(4)
    assert scene.panel is not None and scene.panel.ax.get_yscale() == "log"
    lowest = result.minima[0].value
    for line, trace in zip(scene.panel.lines, result.traces, strict=True):
        assert line.get_xdata().tolist() == [0, 1, 2, 3, 4]
        assert line.get_ydata().tolist() == np.maximum(trace.loss[0, :5] - lowest, 1e-16).tolist()
    assert list(scene.panel.cursor.get_xdata()) == [4.0, 4.0]
