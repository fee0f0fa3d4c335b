"""Pictures that read at a glance: loss-panel lines told apart without the legend,
scale, font_scale, the dark theme, a palette checked for colour-vision
deficiency, and the known minima on a 1-D curve."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image, ImageSequence

from optrace.engine.loop import run
from optrace.engine.plan import load, prepare
from optrace.engine.styles import POOL, SEED_STYLES, assign_styles, split_style
from optrace.export.frames import new_figure, render, scale_figure
from optrace.render.options import SceneOptions
from optrace.render.scene import RaceScene
from optrace.results.trace import RaceResult
from optrace.spec.loading import parse_config
from tests.conftest import ROOT, peaks_slice

ROSENBROCK = ROOT / "configs" / "rosenbrock.yaml"


class LastFrame:
    """A sink that keeps a copy of the last frame: a still."""

    def __init__(self) -> None:
        self.frame: np.ndarray | None = None
        self.count = 0

    def append(self, frame: np.ndarray) -> None:
        self.frame = frame.copy()
        self.count += 1

    def close(self) -> None:
        pass


def race(config: dict[str, Any]) -> tuple[RaceResult, SceneOptions, tuple[int, int]]:
    loaded = parse_config(config)
    result = run(prepare(loaded, ROOT))
    return result, SceneOptions.of(loaded.animation, result.dims), loaded.animation.size


def scene_on(
    result: RaceResult, size: tuple[int, int], options: SceneOptions
) -> tuple[Figure, RaceScene]:
    """A scene as render() draws it: laid out at scale 1, then scaled; drawn once."""
    figure = new_figure(size)
    FigureCanvasAgg(figure)
    scene = RaceScene(figure, result, None, options)
    scale_figure(figure, size, options.scale)
    figure.canvas.draw()
    return figure, scene


def small(**animation: Any) -> dict[str, Any]:
    """A short 2-D race with the loss panel, where SGD and RMSprop share red."""
    return {
        "function": "rosenbrock",
        "start": [-1.2, 1.0],
        "epochs": 12,
        "racers": [
            {"optimizer": "SGD", "lr": 0.001},
            {"optimizer": "Adam", "lr": 0.05},
            {"optimizer": "RMSprop", "lr": 0.01},
        ],
        "animation": {"size": [320, 360], "loss_panel": True, **animation},
    }


def curve(**animation: Any) -> dict[str, Any]:
    """A short race of the seed's five on the seed's curve."""
    names = ["SGD", "Adam", "Adagrad", "Adadelta", "RMSprop"]
    return {
        "function": "peaks-slice",
        "start": 1.0,
        "epochs": 8,
        "racers": [{"optimizer": n, "lr": 0.05} for n in names],
        "animation": {"size": [320, 240], **animation},
    }


def surface(**animation: Any) -> dict[str, Any]:
    return {
        "function": "himmelblau",
        "starts": {"grid": 2},
        "epochs": 5,
        "racers": [{"optimizer": "Adam", "lr": 0.1}],
        "animation": {"size": [320, 240], "view": "surface", **animation},
    }


# --- the loss panel ---------------------------------------------------------


def test_rosenbrock_loss_lines_carry_their_markers_and_distinct_patterns() -> None:
    plan = load(ROSENBROCK)
    result = run(plan)
    options = SceneOptions.of(plan.animation, result.dims)
    _, scene = scene_on(result, plan.animation.size, options)
    assert scene.panel is not None
    lines = scene.panel.lines
    colours = [to_rgba(line.get_color()) for line in lines]
    # The seed's styles repeat colours here (SGD and RMSprop red, Adam and Adadelta black).
    assert len(set(colours)) == 3 and len(lines) == 5
    for line, marker in zip(lines, scene.markers, strict=True):
        assert line.get_marker() == marker.get_marker()
        assert to_rgba(line.get_color()) == to_rgba(marker.get_color())
        assert line.get_markevery() == [-1]  # the marker sits at the head only
    # matplotlib reports every custom pattern as '--'; the pattern itself tells them apart.
    looks = [(c, line._unscaled_dash_pattern) for c, line in zip(colours, lines, strict=True)]
    assert len(set(looks)) == len(looks)

    frame = scene.n_frames // 2
    scene.update(frame)
    epoch = int(scene.frame_epochs[frame])
    for line, trace in zip(lines, result.traces, strict=True):
        xs, ys = line.get_data()
        assert xs[-1] == epoch  # the head is at the epoch shown
        assert ys[-1] == pytest.approx(float(trace.loss[0, epoch]) - result.minima[0].value)

    legend = scene.axes.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [t.label for t in result.traces]
    for handle, line in zip(legend.legend_handles, lines, strict=True):
        assert isinstance(handle, type(line))
        assert to_rgba(handle.get_color()) == to_rgba(line.get_color())
        assert handle.get_marker() == line.get_marker()
        assert handle._unscaled_dash_pattern == line._unscaled_dash_pattern


def test_a_diverged_racer_keeps_its_head_at_its_last_finite_loss() -> None:
    config = curve(loss_panel=True)
    config["function"], config["start"] = "quartic", 2.0
    config["racers"] = [{"optimizer": "SGD", "lr": 1.0}, {"optimizer": "Adam", "lr": 0.05}]
    result, options, size = race(config)
    last = int(result.traces[0].last_epoch[0])
    assert last < result.epochs
    _, scene = scene_on(result, size, options)
    assert scene.panel is not None
    scene.update(scene.n_frames - 1)
    xs, ys = scene.panel.lines[0].get_data()
    assert xs[-1] == last and np.isfinite(ys).all()


def panel_box(result: RaceResult, size: tuple[int, int], options: SceneOptions) -> Any:
    """The loss panel's axes as rows and columns of a picture (y down), laid out
    as the GIF and the still lay it out."""
    figure, scene = scene_on(result, size, options)
    assert scene.panel is not None
    x0, y0, x1, y1 = scene.panel.ax.bbox.extents
    height = figure.bbox.height
    return np.s_[int(height - y1) : int(height - y0), int(x0) : int(x1)]


def panel_ink(picture: np.ndarray, box: Any) -> int:
    """The panel's ink: pixels darker than its grid in some channel (the lines,
    their heads, the lr lines and a band; a GIF's palette may shift a line's
    colour, but not to white)."""
    return int((picture[box][..., :3].min(axis=2) < 225).sum())


STILL_RACES = {
    # SGD and RMSprop share red: told apart by their patterns and heads.
    "patterns": small(),
    "schedule": {
        "function": "quartic",
        "start": 2.0,
        "epochs": 24,
        "racers": [
            {"optimizer": "SGD", "lr": 0.02, "momentum": 0.9},
            {
                "optimizer": "SGD",
                "lr": 0.02,
                "momentum": 0.9,
                "schedule": {"name": "StepLR", "step_size": 6, "gamma": 0.5},
            },
        ],
        "animation": {"size": [320, 300], "loss_panel": True},
    },
    "band": {
        "function": "peaks-slice",
        "starts": {"grid": 8},
        "epochs": 16,
        "noise": {"std": 0.5},
        "seed": 3,
        "racers": [{"optimizer": "SGD", "lr": 0.05, "style": "ro"}],
        "animation": {"size": [320, 300], "loss_panel": True},
    },
}


@pytest.mark.parametrize("which", list(STILL_RACES))
def test_a_still_draws_the_loss_panel_of_the_gif_frame_at_its_epoch(
    which: str, tmp_path: Path
) -> None:
    import optrace

    config = STILL_RACES[which]
    epochs = config["epochs"]
    config = {**config, "animation": {**config["animation"], "frames": epochs + 1}}
    done = optrace.Race.from_dict(config, base_dir=".").run()
    result, options = done.result, done.drawing().options
    size = done.race.config.animation.size
    if which == "schedule":
        assert result.traces[1].lr is not None
    if which == "band":
        assert result.traces[0].loss.shape[0] == 8
    k = epochs // 2
    gif, _ = done.save(tmp_path / "race.gif", tmp_path / "last.png")
    done.save(tmp_path / "early.png", epoch=k)
    box = panel_box(result, size, options)
    with Image.open(gif) as image:
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(image)]
    assert len(frames) == epochs + 1  # frame k is epoch k
    for still, frame in (("last.png", frames[-1]), ("early.png", frames[k])):
        with Image.open(tmp_path / still) as image:
            drawn = np.asarray(image.convert("RGB"))
        ink, want = panel_ink(drawn, box), panel_ink(frame, box)
        print(f"{which} {still}: {ink} pixels of ink in the panel, the GIF's {want}")
        assert abs(ink - want) <= 0.04 * want, still
    # And the measure tells the epochs apart: the early still has less of the lines.
    with Image.open(tmp_path / "early.png") as image:
        assert panel_ink(np.asarray(image.convert("RGB")), box) < 0.9 * panel_ink(frames[-1], box)


# --- scale ------------------------------------------------------------------


def axes_boxes(figure: Figure) -> np.ndarray:
    return np.array([ax.get_position().bounds for ax in figure.axes])


@pytest.mark.parametrize("make", [curve, small, surface], ids=["curve", "contour", "surface"])
def test_scale_2_doubles_the_pixels_and_keeps_the_layout(make: Callable[..., Any]) -> None:
    result, one, size = race(make(loss_panel=True) if make is curve else make())
    two = SceneOptions(**{**one.__dict__, "scale": 2.0})
    stills = []
    for options in (one, two):
        sink = LastFrame()
        render(result, size, [sink], options=options)
        assert sink.frame is not None
        stills.append(sink.frame)
    assert stills[0].shape == (size[1], size[0], 4)
    assert stills[1].shape == (2 * size[1], 2 * size[0], 4)
    assert np.array_equal(
        axes_boxes(scene_on(result, size, one)[0]), axes_boxes(scene_on(result, size, two)[0])
    )


def test_scale_doubles_the_gif_and_the_mp4(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = write_config(curve(scale=2))
    gif, mp4 = tmp_path / "race.gif", tmp_path / "race.mp4"
    result = invoke("run", config, "--gif", gif, "--mp4", mp4)
    assert result.exit_code == 0, result.stderr
    with Image.open(gif) as im:
        assert im.size == (640, 480)
    assert iio.imread(mp4, plugin="FFMPEG").shape[1:] == (480, 640, 3)


@pytest.mark.parametrize(
    ("animation", "message"),
    [
        (
            {"size": [321, 240], "scale": 1.5},
            "animation.scale: 1.5 x 321x240 is not a whole number of pixels; use a scale "
            "such as 2, or a size it divides evenly",
        ),
        (
            {"size": [20000, 240], "scale": 2},
            "animation.scale: 2 x 20000x240 is 40000x480; each side must be at most 32767 pixels",
        ),
        ({"scale": 0}, "animation.scale: must be above 0, got 0"),
        ({"font_scale": -1}, "animation.font_scale: must be above 0, got -1"),
        ({"font_scale": 6}, "animation.font_scale: must be at most 5.0, got 6"),
        ({"theme": "night"}, "animation.theme: expected 'light' or 'dark', got 'night'"),
    ],
)
def test_bad_picture_options_are_one_line_errors(
    invoke: Any, write_config: Callable[..., Path], animation: dict[str, Any], message: str
) -> None:
    config = write_config(curve(**animation))
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"Error: {config}: {message}"]


def test_an_odd_scaled_mp4_is_refused_before_the_race(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = write_config(curve(size=[322, 240], scale=1.5))
    result = invoke("run", config, "--mp4", tmp_path / "a.mp4")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: animation.scale: MP4 (H.264) needs an even width and height, got 483x360 "
        "(1.5 x 322x240); use a whole scale"
    )
    assert not (tmp_path / "a.mp4").exists()


# --- font_scale -------------------------------------------------------------


def text_sizes(figure: Figure) -> tuple[list[float], list[set[float]]]:
    """The sizes of every text but the tick labels, in order, and per axis the
    set of its tick labels' sizes."""
    axes = [a for ax in figure.axes for a in (ax.xaxis, ax.yaxis, getattr(ax, "zaxis", None))]
    ticks = [a.get_major_ticks() + a.get_minor_ticks() for a in axes if a is not None]
    tick_ids = {id(label) for ts in ticks for t in ts for label in (t.label1, t.label2)}
    others = [t.get_fontsize() for t in figure.findobj(Text) if id(t) not in tick_ids]
    sizes = [
        {float(t.label1.get_fontsize()) for t in ts} | {float(t.label2.get_fontsize()) for t in ts}
        for ts in ticks
    ]
    return [float(s) for s in others], sizes


@pytest.mark.parametrize("make", [curve, small, surface], ids=["curve", "contour", "surface"])
def test_font_scale_multiplies_every_text(make: Callable[..., Any]) -> None:
    # A figure with room for type half as large again (a smaller one shrinks it all).
    result, options, size = race(make(size=[640, 720]))
    plain, plain_ticks = text_sizes(scene_on(result, size, options)[0])
    bigger = SceneOptions(**{**options.__dict__, "font_scale": 1.5})
    large, large_ticks = text_sizes(scene_on(result, size, bigger)[0])
    assert len(plain) == len(large) >= 5
    # Sorted: a legend with no free corner in larger type moves under the axes,
    # which changes where its texts come in the figure's order.
    assert sorted(large) == pytest.approx(sorted(1.5 * s for s in plain))
    for before, after in zip(plain_ticks, large_ticks, strict=True):
        assert len(before) <= 1 and after == {1.5 * size for size in before}
    assert sum(len(before) for before in plain_ticks) >= 2


def test_larger_type_keeps_the_seed_legend_off_the_epoch_counter() -> None:
    plan = load(ROOT / "configs" / "seed.yaml")
    result = run(plan)
    options = SceneOptions.of(plan.animation.model_copy(update={"font_scale": 1.5}), 1)
    figure, scene = scene_on(result, plan.animation.size, options)
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    legend = scene.axes.get_legend().get_window_extent(renderer)
    counter = next(t for t in scene.axes.texts if t.get_text().startswith("epoch"))
    assert not legend.overlaps(counter.get_window_extent(renderer))
    assert legend.overlaps(scene.axes.get_window_extent(renderer))  # still inside the axes


# --- the dark theme ---------------------------------------------------------


def luminance(colour: Any) -> float:
    """WCAG 2.x relative luminance: sRGB linearised, weighted 0.2126, 0.7152, 0.0722."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: Any, b: Any) -> float:
    """WCAG 2.x contrast ratio (L1 + 0.05) / (L2 + 0.05), L1 the lighter."""
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


@pytest.mark.parametrize("make", [curve, small, surface], ids=["curve", "contour", "surface"])
def test_dark_theme_text_has_at_least_4_5_to_1_contrast(make: Callable[..., Any]) -> None:
    result, options, size = race(make(theme="dark"))
    figure, scene = scene_on(result, size, options)
    background = figure.get_facecolor()
    assert luminance(background) < 0.05  # dark: below the luminance of 25% grey
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert len(texts) >= 8
    for text in texts:
        assert contrast(text.get_color(), background) >= 4.5, text.get_text()
    for ax in figure.axes:
        if ax.patch.get_visible():
            assert contrast(ax.get_facecolor(), "#e8e8e8") >= 4.5
    if make is curve:  # the seed's black markers, and every other racer, stand out
        for marker in scene.markers:
            assert contrast(marker.get_color(), scene.axes.get_facecolor()) >= 3.0


def test_dark_still_is_dark_and_the_light_one_is_white() -> None:
    result, options, size = race(curve(theme="dark"))
    dark, light = LastFrame(), LastFrame()
    render(result, size, [dark], options=options)
    render(result, size, [light], options=SceneOptions(**{**options.__dict__, "theme": "light"}))
    assert dark.frame is not None and light.frame is not None
    assert tuple(dark.frame[0, 0, :3]) == tuple(round(255 * c) for c in to_rgb("#1b1d22"))
    assert tuple(light.frame[0, 0, :3]) == (255, 255, 255)
    assert dark.frame[..., :3].mean() < 90 < light.frame[..., :3].mean()


# --- the default palette ----------------------------------------------------

#: Machado, Oliveira and Fernandes (2009), severity 1.0, applied to linear RGB.
DEUTERANOPIA = np.array(
    [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ]
)
PROTANOPIA = np.array(
    [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ]
)
#: Least CIELAB distance (CIE76, D65) between any two of the first eight default
#: colours as seen with the deficiency (a just-noticeable difference is about 2.3;
#: 15 is a clear difference between small markers).
LEAST_DELTA_E = 15.0


def simulated_lab(colour: Any, matrix: np.ndarray) -> np.ndarray:
    srgb = np.array(to_rgb(colour))
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    seen = np.clip(matrix @ linear, 0, 1)
    xyz = (
        np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
        @ seen
        / np.array([0.95047, 1.0, 1.08883])
    )
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("matrix", [DEUTERANOPIA, PROTANOPIA], ids=["deuteranopia", "protanopia"])
def test_first_eight_default_colours_stay_apart_under_colour_blindness(matrix: np.ndarray) -> None:
    styles = assign_styles(["NAdam"] * 8, [None] * 8)
    assert styles == list(POOL[:8])
    colours = [split_style(s)[0] for s in styles]
    assert None not in colours
    distances = {
        (a, b): float(np.linalg.norm(simulated_lab(a, matrix) - simulated_lab(b, matrix)))
        for a, b in itertools.combinations(colours, 2)
    }
    assert len(distances) == 28
    assert min(distances.values()) >= LEAST_DELTA_E, min(distances.items(), key=lambda kv: kv[1])


def test_default_styles_differ_in_colour_and_marker_and_keep_the_seeds() -> None:
    first = [split_style(s) for s in POOL[:8]]
    assert len({c for c, _ in first}) == 8 and len({m for _, m in first}) == 8
    seed_markers = {s[1:] for s in SEED_STYLES.values()}
    assert not seed_markers & {m for _, m in first}
    assert len(set(POOL)) == len(POOL) >= 24
    styles = assign_styles(["SGD", "Adam", "Adagrad", "Adadelta", "RMSprop", "AdamW"], [None] * 6)
    assert styles == ["ro", "kp", "b<", "k*", "rv", POOL[0]]


# --- minima on the 1-D curve ------------------------------------------------


def stars(scene: RaceScene) -> list[tuple[float, float]]:
    return [
        (float(x), float(y))
        for line in scene.axes.get_lines()
        if line.get_marker() == "*" and line.get_label() == "known minima"
        for x, y in zip(*line.get_data(), strict=True)
    ]


def test_a_1d_race_marks_the_known_minima_on_the_curve() -> None:
    result, options, size = race(curve())
    points = stars(scene_on(result, size, options)[1])
    assert len(points) == 2
    for x, y in points:  # on the published curve, lower than either side of it
        at = peaks_slice(torch.tensor([x - 1e-3, x, x + 1e-3], dtype=torch.float64)).tolist()
        assert y == pytest.approx(at[1], abs=1e-9)
        assert at[1] < at[0] and at[1] < at[2]
    assert min(y for _, y in points) == pytest.approx(-1.25269, abs=1e-5)

    config = curve()
    config["domain"] = [0.0, 5.0]
    config["start"] = 1.0
    result, options, size = race(config)
    assert [round(x, 2) for x, _ in stars(scene_on(result, size, options)[1])] == [0.44]


def test_scale_doubles_the_players_background_and_keeps_its_layout() -> None:
    import base64
    import io
    import re

    from PIL import Image

    import optrace

    pages = {}
    for scale in (1, 2):
        run = optrace.Race(
            function="rosenbrock",
            epochs=5,
            racers=[{"optimizer": "Adam", "lr": 0.05}],
            animation={"scale": scale, "size": [320, 240]},
        ).run()
        html = run._repr_html_()
        found = re.search(r'"background":"data:image/png;base64,([A-Za-z0-9+/=]+)', html)
        assert found
        with Image.open(io.BytesIO(base64.b64decode(found.group(1)))) as background:
            layout = re.findall(r'"(width|height)":\s*(\d+)', html)
            pages[scale] = (background.size, layout[:2])
    assert pages[1][0] == (320, 240) and pages[2][0] == (640, 480)
    # The page lays its moving parts out in the figure's pixels at scale 1.
    assert pages[1][1] == pages[2][1] == [("width", "320"), ("height", "240")]


def test_type_too_large_for_the_figure_shrinks_every_text_alike() -> None:
    result, options, size = race(small())
    plain, _ = text_sizes(scene_on(result, size, options)[0])
    bigger = SceneOptions(**{**options.__dict__, "font_scale": 2.0})
    large, _ = text_sizes(scene_on(result, size, bigger)[0])
    ratios = {round(b / a, 6) for a, b in zip(sorted(plain), sorted(large), strict=True)}
    # One factor for every text but the title (which may also have been wrapped or shrunk).
    common = max(
        ratios,
        key=lambda r: sum(
            1 for a, b in zip(sorted(plain), sorted(large), strict=True) if round(b / a, 6) == r
        ),
    )
    assert 1.0 < common < 2.0
