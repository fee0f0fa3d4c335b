"""Nothing clipped, nothing covered: every text and box of every config's figure lies
inside the figure and clear of the others, at every size from 320 x 320 to
1920 x 1080 and at scale and font_scale 2; and the racers pass beneath the legend
and the epoch counter, in the GIF's frames as in a full draw."""

from __future__ import annotations

import itertools
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox
from PIL import Image

from optrace.api import Race
from optrace.export.frames import new_figure, render, scale_figure
from optrace.render.options import SceneOptions
from optrace.render.scene import RaceScene
from optrace.results.trace import RaceResult
from tests.conftest import CONFIGS, ROOT
from tests.test_writers import RecordingSink

#: Sizes a person is shown: a gallery cell, the defaults, a slide.
SIZES = [(320, 320), (640, 480), (1920, 1080)]


@cache
def raced(path: Path) -> tuple[RaceResult, SceneOptions, tuple[int, int]]:
    race = Race.from_yaml(path)
    run = race.run()
    return run.result, run.drawing().options, race.config.animation.size


def laid_out(
    result: RaceResult, size: tuple[int, int], options: SceneOptions
) -> tuple[Figure, RaceScene, Any]:
    """The figure as export draws it: laid out at scale 1, then scaled, then drawn."""
    figure = new_figure(size)
    canvas = FigureCanvasAgg(figure)
    scene = RaceScene(figure, result, options=options)
    scale_figure(figure, size, options.scale)
    canvas.draw()
    return figure, scene, canvas.get_renderer()


def boxes(figure: Figure, scene: RaceScene, renderer: Any) -> dict[str, Bbox]:
    """The extent of every text and box a person reads, by name."""
    ax = scene.axes
    found: dict[str, Bbox] = {}
    if ax.get_title():
        found["title"] = ax.title.get_window_extent(renderer)
    if scene.legend is not None:
        found["legend"] = scene.legend.get_window_extent(renderer)
    found["counter"] = scene.counter_box.get_bbox_patch().get_window_extent(renderer)
    if not scene.three_d:
        for name, label in (("x label", ax.xaxis.label), ("y label", ax.yaxis.label)):
            found[name] = label.get_window_extent(renderer)
    # Every other axes with what it draws around it; a twin (the lr axis) at the
    # very place of its axes is one with it.
    others: dict[tuple[float, ...], Bbox] = {}
    for other in figure.axes:
        if other is not ax:
            place = tuple(np.round(other.get_position().extents, 4))
            box = other.get_tightbbox(renderer)
            others[place] = Bbox.union([others[place], box]) if place in others else box
    for i, box in enumerate(others.values()):
        found[f"axes {i + 1}"] = box
    notes = {scene.note_text(e) for e in range(scene.result.epochs + 1)} - {""}
    saved, visible = scene.notes.get_text(), scene.notes.get_visible()
    scene.notes.set_visible(True)
    for i, text in enumerate(sorted(notes)):
        scene.notes.set_text(text)
        found[f"note {i}"] = scene.notes.get_window_extent(renderer)
    scene.notes.set_text(saved)
    scene.notes.set_visible(visible)
    return found


def problems(figure: Figure, scene: RaceScene, renderer: Any) -> list[str]:
    found = boxes(figure, scene, renderer)
    whole = figure.bbox
    wrong = [
        f"{name} {box.extents.round(1).tolist()} leaves the figure {whole.extents.tolist()}"
        for name, box in found.items()
        if box.x0 < whole.x0 - 0.5
        or box.y0 < whole.y0 - 0.5
        or box.x1 > whole.x1 + 0.5
        or box.y1 > whole.y1 + 0.5
    ]
    for (a, first), (b, second) in itertools.combinations(found.items(), 2):
        if a.startswith("note") and b.startswith("note"):
            continue  # one note at a time
        width = min(first.x1, second.x1) - max(first.x0, second.x0)
        height = min(first.y1, second.y1) - max(first.y0, second.y0)
        if width > 0.5 and height > 0.5:
            wrong.append(
                f"{a} {first.extents.round(1).tolist()} covers {b} "
                f"{second.extents.round(1).tolist()}"
            )
    # Inside the race's axes, the legend, the counter and the notes stay inside them.
    home = scene.axes.get_window_extent(renderer)
    for name in ("counter", *(n for n in found if n.startswith("note"))):
        box = found[name]
        if box.x1 > home.x1 + 0.5 or box.x0 < home.x0 - 0.5:
            wrong.append(f"{name} is clipped by the axes")
    return wrong


CASES = [
    pytest.param(path, size, scale, font, id=f"{path.stem}-{size or 'own'}-s{scale}-f{font}")
    for path in CONFIGS
    for size, scale, font in [
        (None, 1.0, 1.0),
        ((320, 320), 1.0, 1.0),
        ((1920, 1080), 1.0, 2.0),
    ]
] + [
    pytest.param(ROOT / "configs" / name, size, scale, font, id=f"{name}-{size}-s{scale}-f{font}")
    for name in ("third-party.yaml", "basins.yaml", "seed.yaml", "noisy-saddle.yaml")
    for size, scale, font in [
        ((320, 320), 2.0, 2.0),
        ((640, 480), 2.0, 1.0),
        ((480, 520), 1.0, 2.0),
    ]
]


@pytest.mark.parametrize(("path", "size", "scale", "font"), CASES)
def test_no_text_leaves_the_figure_or_covers_another(
    path: Path, size: tuple[int, int] | None, scale: float, font: float
) -> None:
    result, options, own = raced(path)
    options = replace(options, scale=scale, font_scale=font)
    figure, scene, renderer = laid_out(result, size or own, options)
    assert problems(figure, scene, renderer) == []


def test_a_long_title_wraps_inside_the_figure() -> None:
    result, options, _ = raced(ROOT / "configs" / "third-party.yaml")
    figure, scene, renderer = laid_out(result, (320, 320), options)
    title = scene.axes.title
    assert "\n" in title.get_text()
    assert title.get_text().replace("\n", " ") == result.title
    extent = title.get_window_extent(renderer)
    assert extent.x0 >= 0 and extent.x1 <= figure.bbox.width


def test_notes_wrap_to_the_axes_rather_than_being_cut() -> None:
    race = Race(
        title="a note too long for a small figure",
        function="rosenbrock",
        start=[-1.2, 1.0],
        epochs=8,
        racers=[{"optimizer": "SGD", "lr": 1.0, "label": "a racer with a name too long for it"}],
        animation={"size": [320, 320]},
    )
    run = race.run()
    _figure, scene, renderer = laid_out(run.result, (320, 320), run.drawing().options)
    text = scene.note_text(run.result.epochs)
    assert "diverged" in text and "\n" in text
    scene.notes.set_text(text)
    scene.notes.set_visible(True)
    assert scene.notes.get_window_extent(renderer).x1 <= scene.axes.bbox.x1


def cover_pixels(frame: np.ndarray, box: Bbox) -> np.ndarray:
    height = frame.shape[0]
    x0, y0, x1, y1 = (int(v) for v in box.extents)
    return frame[height - y1 : height - y0, x0:x1]


def test_a_swarm_passes_beneath_the_legend_and_the_counter() -> None:
    race = Race.from_yaml(ROOT / "configs" / "basins.yaml")
    config = race.config.model_copy(update={"epochs": 12})
    run = Race.from_config(config, ROOT / "configs").run()
    options = run.drawing().options
    size = (480, 400)
    sink = RecordingSink()
    render(run.result, size, [sink], options=options)
    _figure, scene, renderer = laid_out(run.result, size, options)
    legend, counter = (
        scene.legend.get_window_extent(renderer),
        scene.counter_box.get_bbox_patch().get_window_extent(renderer),
    )
    # The racers do cross both boxes...
    points = np.concatenate(
        [np.column_stack([c.ravel() for c in coords]) for coords in scene.coordinates]
    )
    shown = scene.axes.transData.transform(points)
    for box in (legend, counter):
        x, y = shown[:, 0], shown[:, 1]
        assert ((x > box.x0) & (x < box.x1) & (y > box.y0) & (y < box.y1)).any()
    # ...and every frame shows the legend's pixels as they are with no racer drawn.
    rects = scene.cover.rectangles(renderer)
    first = cover_pixels(sink.frames[0], rects[1])
    for frame in sink.frames:
        assert np.array_equal(cover_pixels(frame, rects[1]), first)
    # The counter's box: only its number changes, in its own columns.
    boxed = [cover_pixels(frame, rects[0]) for frame in sink.frames]
    changed = np.any([b != boxed[0] for b in boxed], axis=(0, 3))
    number = scene.counter.get_window_extent(renderer)
    columns = np.flatnonzero(changed.any(axis=0)) + int(rects[0].x0)
    assert columns.min() >= number.x0 - 12 and columns.max() <= number.x1 + 1


def test_rastrigin_marks_its_global_minimum_not_all_121() -> None:
    run = Race(
        function="rastrigin", start=[2.2, -1.7], epochs=3, racers=[{"optimizer": "Adam", "lr": 0.1}]
    ).run()
    assert len(run.result.minima) > 100
    _figure, scene, _renderer = laid_out(run.result, (320, 320), run.drawing().options)
    stars = [
        line
        for line in scene.axes.lines
        if line.get_marker() == "*" and line.get_label().startswith("global")
    ]
    assert len(stars) == 1 and len(stars[0].get_xdata()) == 1


def test_a_log_colour_bar_labels_whole_decades() -> None:
    result, options, size = raced(ROOT / "configs" / "rosenbrock.yaml")
    figure, _scene, _renderer = laid_out(result, size, options)
    bar = figure.axes[1]
    ticks = bar.get_yticks()
    low, high = bar.get_ylim()
    shown = ticks[(ticks >= low) & (ticks <= high)]
    assert len(shown) >= 3
    assert np.allclose(np.log10(shown), np.round(np.log10(shown)))


def test_a_gif_frame_of_the_legend_is_unchanged_when_swarm_markers_cross(tmp_path: Path) -> None:
    """The same, decoded from a real GIF file."""
    race = Race(
        function="himmelblau",
        starts={"grid": 14},
        epochs=10,
        racers=[{"optimizer": "SGD", "lr": 0.01}, {"optimizer": "Adam", "lr": 0.2}],
        animation={"size": [320, 320], "trail": 4},
    )
    run = race.run()
    path = tmp_path / "swarm.gif"
    run.save(path)
    _, scene, renderer = laid_out(run.result, (320, 320), run.drawing().options)
    rect = scene.cover.rectangles(renderer)[1]
    gif = Image.open(path)
    legends = []
    for k in range(gif.n_frames):
        gif.seek(k)
        legends.append(cover_pixels(np.asarray(gif.convert("RGBA")), rect))
    assert all(np.array_equal(legend, legends[0]) for legend in legends)
