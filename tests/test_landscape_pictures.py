"""A model race's pictures: the landscape view, its plane stated, its faithfulness
note, test accuracy on the loss panel, and the player in a real Chromium drawing
what the GIF draws.

The race is built by hand (tests/landscape_race.py): a tiny MLP trained by a plain
loop, its PCA plane by numpy's SVD, its grid by ``functional_call`` point by point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm, to_rgba
from matplotlib.text import Text

from optrace.export.drawing import Drawing
from optrace.export.frames import new_figure
from optrace.render.options import SceneOptions
from optrace.render.scene import RaceScene
from optrace.render.views import LandscapeView, view_name
from optrace.results.trace import RaceResult
from tests.landscape_race import landscape_race, with_plane_loss
from tests.test_player import (
    BLUE,
    MAGENTA,
    MISMATCH,
    MISMATCH_SHARE,
    RED,
    Race,
    mismatch,
    open_player,
    screenshot,
    seek,
)
from tests.test_player import browser as browser  # the module's one browser

SIZE = (640, 480)


@pytest.fixture(scope="module")
def race() -> RaceResult:
    return landscape_race()


def scene_of(result: RaceResult, size: tuple[int, int] = SIZE, **options: Any) -> RaceScene:
    figure = new_figure(size)
    FigureCanvasAgg(figure)
    return RaceScene(figure, result, None, SceneOptions(**options))


def texts(scene: RaceScene) -> list[str]:
    return [t.get_text() for t in scene.figure.findobj(Text) if t.get_text()]


def test_a_model_race_is_drawn_on_its_landscape(race: RaceResult) -> None:
    assert view_name(race, SceneOptions()) == "landscape"
    assert view_name(race, SceneOptions(view="surface")) == "surface"
    scene = scene_of(race)
    assert isinstance(scene.view, LandscapeView)
    # The colour bar is the training loss, always on a log scale.
    bars = [ax for ax in scene.figure.axes if ax.get_ylabel() == "training loss (log scale)"]
    assert len(bars) == 1
    (mesh,) = [c for c in scene.axes.collections if c.get_array() is not None][:1]
    assert isinstance(mesh.norm, LogNorm)
    assert mesh.norm.vmin == pytest.approx(race.landscape.losses.min())
    assert mesh.norm.vmax == pytest.approx(race.landscape.losses.max())
    # The start is marked at the origin and named in the legend; no minima.
    (start,) = [line for line in scene.axes.lines if line.get_label() == "initial weights"]
    assert (start.get_xdata()[0], start.get_ydata()[0]) == (0.0, 0.0)
    legend = [t.get_text() for t in scene.legend.get_texts()]
    assert legend == ["SGD", "Adam", "RMSprop", "initial weights"]
    assert not [line for line in scene.axes.lines if line.get_marker() == "*"]
    # A model race asking for its surface: each racer at its plane loss on it.
    surface = scene_of(race, view="surface")
    heights = surface.coordinates[0][2]
    expected = surface.view.height(race.traces[0].plane_loss)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(heights, expected)


def test_the_axes_are_named_by_the_plane_and_the_plane_is_stated(race: RaceResult) -> None:
    explained = race.landscape.explained
    assert explained is not None
    first, second = (f"{100 * e:.0f}%" for e in explained)
    scene = scene_of(race)
    assert scene.axes.get_xlabel() == f"PCA direction 1 ({first})"
    assert scene.axes.get_ylabel() == f"PCA direction 2 ({second})"
    statement = f"PCA plane: {first} + {second} of the paths' variance"
    assert any(statement in " ".join(t.split()) for t in texts(scene))

    ends = scene_of(landscape_race(epochs=12, grid=9, kind="endpoints", examples=100))
    assert ends.axes.get_xlabel() == "towards SGD's end"
    assert ends.axes.get_ylabel() == "towards Adam's end"
    title = " ".join(ends.axes.get_title().split())
    assert "plane through the start and the ends of SGD and Adam" in title
    assert "grid on 100 of 240 training examples" in title

    drawn = scene_of(landscape_race(epochs=12, grid=9, kind="random"))
    assert drawn.axes.get_xlabel() == "random direction 1"
    assert "training examples" not in drawn.axes.get_title()  # the grid used them all


def departs(result: RaceResult, epoch: int) -> list[str]:
    """Who the note must name: |plane loss - loss| / loss > 0.1, written out here."""
    return [
        t.label
        for t in result.traces
        if abs(t.plane_loss[0, epoch] - t.loss[0, epoch]) / t.loss[0, epoch] > 0.1  # type: ignore[index]
    ]


def test_the_note_warns_exactly_where_a_plane_loss_departs_by_more_than_a_tenth(
    race: RaceResult,
) -> None:
    # Every racer's plane loss within 9% of its true loss: no note at any epoch.
    faithful = race
    for t in race.traces:
        faithful = with_plane_loss(faithful, t.label, t.loss * 1.09)
    scene = scene_of(faithful)
    assert all(scene.note_text(e) == "" for e in range(race.epochs + 1))
    # Adam's 11% off at epoch 20 alone, RMSprop 9.9% below there: Adam alone is named, then.
    adam = race.traces[1].loss * 1.09
    adam[0, 20] = race.traces[1].loss[0, 20] * 1.11
    rms = race.traces[2].loss * 0.901
    one = with_plane_loss(with_plane_loss(faithful, "Adam", adam), "RMSprop", rms)
    scene = scene_of(one)
    for epoch in range(race.epochs + 1):
        named = departs(one, epoch)
        note = " ".join(scene.note_text(epoch).split())
        assert (note != "") == bool(named), epoch
        for t in one.traces:
            assert (t.label in note) == (t.label in named), (epoch, t.label)
    assert departs(one, 20) == ["Adam"]
    assert "off the plane's for Adam: the contours mislead there" in " ".join(
        scene.note_text(20).split()
    )
    # The real race: its plane losses depart where they do, and the still says so.
    scene = scene_of(race)
    named = departs(race, race.epochs)
    assert named, "the hand-built race's last epoch departs somewhere"
    assert all(label in " ".join(scene.note_text(race.epochs).split()) for label in named)


def test_the_panel_draws_each_racers_test_accuracy_dashed(race: RaceResult) -> None:
    scene = scene_of(race, loss_panel=True)
    panel = scene.panel
    assert panel is not None and panel.accuracy_ax is not None
    assert panel.accuracy_ax.get_ylabel() == "test accuracy (dashed)"
    assert panel.ax.get_ylabel() == "training loss"
    scene.update(race.epochs)
    for trace, line, accuracy, marker in zip(
        race.traces, panel.lines, panel.accuracy_lines, scene.markers, strict=True
    ):
        np.testing.assert_array_equal(line.get_ydata(), trace.loss[0])  # the true loss
        assert accuracy is not None and trace.test_accuracy is not None
        np.testing.assert_array_equal(accuracy.get_xdata(), np.arange(race.epochs + 1))
        np.testing.assert_array_equal(accuracy.get_ydata(), trace.test_accuracy[0])
        assert accuracy.get_linestyle() == "--"
        assert to_rgba(accuracy.get_color()) == to_rgba(marker.get_color())
    scene.update(10)
    assert len(panel.accuracy_lines[0].get_ydata()) == 11  # moves with the race
    # Without a test split there is no accuracy axis.
    bare = scene_of(landscape_race(epochs=8, grid=9, test=False), loss_panel=True)
    assert bare.panel is not None and bare.panel.accuracy_ax is None


def marker_centre(
    race: Race, k: int, colour: tuple[int, int, int], scene: RaceScene
) -> tuple[float, float]:
    """The centre of the box around the pixels of ``colour`` in GIF frame ``k``,
    within the race's axes and outside the legend (whose handles share the racers'
    colours, and which racers pass over). A marker's box shrinks by 2 pixels each
    way, which leaves no antialiased edge of a line."""
    height = race.size[1]
    hit = (race.gif_frame(k) == colour).all(axis=2)
    keep = np.zeros_like(hit)
    x0, y0, x1, y1 = scene.axes.bbox.extents
    keep[int(height - y1) : int(height - y0), int(x0) : int(x1)] = True
    lx0, ly0, lx1, ly1 = scene.legend.get_window_extent().extents
    keep[int(height - ly1) : int(height - ly0) + 1, int(lx0) : int(lx1) + 1] = False
    moving = hit & keep
    core = moving.copy()
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            core &= np.roll(moving, (dy, dx), axis=(0, 1))
    ys, xs = np.nonzero(core)
    assert xs.size >= 4, f"no marker of colour {colour} in frame {k}"
    return float(xs.min() + xs.max() + 1) / 2, float(ys.min() + ys.max() + 1) / 2


def export_race(folder: Path, result: RaceResult, size: tuple[int, int], **options: Any) -> Race:
    from optrace._core.atomic import AtomicFile
    from optrace.export.frames import export
    from optrace.export.html import write_player

    folder.mkdir(parents=True, exist_ok=True)
    shown = np.arange(result.epochs + 1)
    scene_options = SceneOptions(**options)
    drawing = Drawing(size, 100, options=scene_options)
    gif = AtomicFile(folder / "race.gif")
    export(result, {"gif": gif}, drawing, shown)
    gif.commit()
    write_player(result, folder / "race.html", drawing, shown)
    return Race(result, shown, gif.target, folder / "race.html", size, scene_options)


@pytest.fixture(scope="module")
def exported(race: RaceResult, tmp_path_factory: pytest.TempPathFactory) -> Race:
    return export_race(tmp_path_factory.mktemp("landscape"), race, (560, 520), loss_panel=True)


def test_the_gifs_markers_sit_at_the_racers_plane_coordinates(
    race: RaceResult, exported: Race
) -> None:
    scene = scene_of(race, exported.size, loss_panel=True)
    height = exported.size[1]
    for k in (15, race.epochs):
        for trace, colour in zip(race.traces, (RED, BLUE, MAGENTA), strict=True):
            x, y = marker_centre(exported, k, colour, scene)
            px, py = scene.axes.transData.transform((trace.x[0, k], trace.y[0, k]))  # type: ignore[index]
            assert abs(px - x) <= 1 and abs((height - py) - y) <= 1, (k, trace.label)


def test_the_player_draws_the_landscape_as_the_gif_does(browser: Any, exported: Race) -> None:
    browser.get("about:blank")  # a fresh browser's first page loads its own resources
    open_player(browser, exported.html)
    race = exported.result
    scene = scene_of(race, exported.size, loss_panel=True)
    for k in (0, 15, race.epochs):
        now = seek(browser, k)
        shot = screenshot(browser)
        share = mismatch(shot, exported.gif_frame(k))
        print(f"landscape frame {k}: {share:.4%} of pixels differ by more than {MISMATCH}")
        assert share <= MISMATCH_SHARE, k
        if k:
            for racer, colour in zip(now["racers"], (RED, BLUE, MAGENTA), strict=True):
                x, y = marker_centre(exported, k, colour, scene)
                assert abs(racer["px"] - x) <= 1 and abs(racer["py"] - y) <= 1, (k, racer)
    # The accuracy lines are the player's to draw: the last frame is not the first.
    assert mismatch(shot, exported.gif_frame(0)) > 2 * mismatch(shot, exported.gif_frame(k))


def test_configs_digits_still_and_player_load_and_draw(browser: Any, tmp_path: Path) -> None:
    """configs/digits.yaml as a user runs it (10 frames): the still shows every racer's
    colour, and the player's first and last frames are the GIF's."""
    import yaml
    from PIL import Image

    import optrace
    from tests.conftest import ROOT

    pytest.importorskip("sklearn")
    pytest.importorskip("pytorch_optimizer")
    doc = yaml.safe_load((ROOT / "configs" / "digits.yaml").read_text())
    doc["animation"]["frames"] = 10
    race = optrace.Race.from_dict(doc, base_dir=ROOT / "configs")
    gif, html, still = tmp_path / "d.gif", tmp_path / "d.html", tmp_path / "d.png"
    run = race.run(save=[gif, html, still])
    with Image.open(still) as image:
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
        assert image.size == (640, 480)
    for style in ("#FF0000", "#000000", "#0072B2", "#E69F00"):
        colour = np.array([int(style[i : i + 2], 16) for i in (1, 3, 5)])
        assert (pixels == colour).all(axis=1).sum() > 30, style
    shown = run.frame_epochs()
    exported = Race(run.pictured, shown, gif, html, (640, 480), run.drawing().options)
    browser.get("about:blank")
    open_player(browser, html)
    for k in (0, len(shown) - 1):
        seek(browser, int(shown[k]))
        share = mismatch(screenshot(browser), exported.gif_frame(k))
        assert share <= MISMATCH_SHARE, (k, share)
