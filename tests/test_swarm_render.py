"""A swarm's rasterised trails: the same frames blitted or redrawn, and close to
matplotlib's own stroking of the same steps, by a stated tolerance."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from optrace.engine.loop import run
from optrace.engine.plan import prepare
from optrace.export.frames import DPI, render
from optrace.render.options import SceneOptions
from optrace.render.scene import RaceScene
from optrace.render.trails import RasterTrail
from optrace.render.views import ContourView
from optrace.results.trace import RaceResult
from optrace.spec.loading import parse_config
from tests.test_writers import RecordingSink, full_redraw

#: Per-pixel error (the largest of r, g, b, out of 255) between the rasterised
#: trails and matplotlib's: its mean over all frames, and its 99.9th percentile.
#: Measured: 0.02 and 5 for a sparse swarm (9 starts), 0.25 and 12 for a dense one (400).
MEAN_ERROR, P999_ERROR = 0.6, 24
#: ... and the summed error as a share of how much the trails change the frames.
TRAIL_SHARE = 0.1  # measured 0.05 and 0.04

SIZE = (480, 360)


def swarm(grid: int, **extra: Any) -> RaceResult:
    config = {
        "function": "himmelblau",
        "starts": {"grid": grid},
        "epochs": 24,
        "racers": [{"optimizer": "SGD", "lr": 0.01}, {"optimizer": "Adam", "lr": 0.3}],
        **extra,
    }
    return run(prepare(parse_config(config)))


def frames(result: RaceResult, options: SceneOptions) -> np.ndarray:
    sink = RecordingSink()
    render(result, SIZE, [sink], options=options)
    return np.stack(sink.frames)


def error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a[..., :3].astype(np.int16) - b[..., :3]).max(axis=-1)


@pytest.mark.parametrize("grid", [3, 20])
def test_rasterised_trails_match_matplotlibs_within_the_tolerance(
    grid: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = swarm(grid)
    options = SceneOptions(trail=8)
    ours = frames(result, options)
    monkeypatch.setattr(ContourView, "RASTER_TRAILS_FROM", sys.maxsize)
    theirs = frames(result, options)
    bare = frames(result, SceneOptions(trail=0))
    difference = error(ours, theirs)
    assert difference.mean() <= MEAN_ERROR and np.percentile(difference, 99.9) <= P999_ERROR
    # And small against the trails themselves: out of all they change, little.
    drawn = error(theirs, bare)
    assert difference.sum() < TRAIL_SHARE * drawn.sum()


def test_a_swarm_scene_rasterises_its_trails_and_a_single_start_does_not() -> None:
    scene = RaceScene(Figure(), swarm(3), options=SceneOptions(trail=4))
    assert len(scene.trails) == 2 and all(isinstance(t, RasterTrail) for t in scene.trails)
    config = {
        "function": "himmelblau",
        "start": [0, 0],
        "epochs": 3,
        "racers": [{"optimizer": "Adam"}],
    }
    single = RaceScene(Figure(), run(prepare(parse_config(config))), options=SceneOptions(trail=4))
    assert single.trails and not any(isinstance(t, RasterTrail) for t in single.trails)


def test_swarm_blitted_frames_equal_a_full_redraw() -> None:
    # A wild racer leaves the box at once: steps clipped at the axes, and
    # infinite or NaN points, must draw the same either way.
    result = swarm(
        6,
        racers=[
            {"optimizer": "Adam", "lr": 0.3},
            {"optimizer": "SGD", "lr": 1e300, "label": "wild"},
        ],
    )
    options = SceneOptions(trail=6, loss_panel=True)
    sink = RecordingSink()
    render(result, SIZE, [sink], options=options)
    for frame in (0, 1, 7, 24):
        assert np.array_equal(sink.frames[frame], full_redraw(result, SIZE, frame, options)), frame


def test_the_trail_stays_inside_the_axes() -> None:
    result = swarm(3, epochs=12)
    options = SceneOptions(trail=10)
    bare, drawn = frames(result, SceneOptions(trail=0)), frames(result, options)
    figure = Figure(figsize=(SIZE[0] / DPI, SIZE[1] / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    box = RaceScene(figure, result, options=options).axes.bbox
    rows, cols = np.nonzero(error(drawn[12], bare[12]))
    assert rows.size > 100
    assert round(box.x0) <= cols.min() and cols.max() < round(box.x1)
    assert round(SIZE[1] - box.y1) <= rows.min() and rows.max() < round(SIZE[1] - box.y0)
