"""2-D races: functions at published points, exact races, swarms, traces and scenes."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from optrace.engine.loop import run
from optrace.engine.plan import prepare
from optrace.engine.starts import draw_starts
from optrace.export.frames import render
from optrace.optim.optimizers import ELEMENTWISE_NAMES
from optrace.problems.functions import build_function
from optrace.render.options import SceneOptions
from optrace.render.scene import RaceScene
from optrace.results.trace import RaceResult
from optrace.spec.loading import parse_config
from tests.test_writers import RecordingSink, full_redraw


def value(name: str, x: float, y: float) -> float:
    return float(build_function(name, {}).fn(torch.tensor([x, y], dtype=torch.float64)))


@pytest.mark.parametrize(
    "name, x, y, expected",
    [
        # Published values: Surjanovic and Bingham's Virtual Library of
        # Simulation Experiments, and MATLAB's peaks documentation.
        ("rosenbrock", 1.0, 1.0, 0.0),
        ("rosenbrock", 0.0, 0.0, 1.0),
        ("rosenbrock", -1.2, 1.0, 24.2),
        ("beale", 3.0, 0.5, 0.0),
        ("beale", 0.0, 0.0, 14.203125),
        ("booth", 1.0, 3.0, 0.0),
        ("booth", 0.0, 0.0, 74.0),
        ("himmelblau", 3.0, 2.0, 0.0),
        ("himmelblau", -2.805118, 3.131312, 0.0),
        ("himmelblau", -3.779310, -3.283186, 0.0),
        ("himmelblau", 3.584428, -1.848126, 0.0),
        ("himmelblau", 0.0, 0.0, 170.0),
        ("six-hump-camel", 0.0898, -0.7126, -1.0316),
        ("six-hump-camel", -0.0898, 0.7126, -1.0316),
        ("rastrigin", 0.0, 0.0, 0.0),
        ("rastrigin", 1.0, 1.0, 2.0),
        ("rastrigin", 0.5, 0.5, 40.5),
        ("ackley", 0.0, 0.0, 0.0),
        ("ackley", 1.0, 1.0, 3.6253849384403627),
        ("peaks", 0.2283, -1.6255, -6.5511),
        ("peaks", -0.0093, 1.5814, 8.1062),
        ("saddle", 1.0, 2.0, -3.0),
    ],
)
def test_values_at_published_points(name: str, x: float, y: float, expected: float) -> None:
    assert value(name, x, y) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(
    "name, minima",
    [
        ("rosenbrock", [(1.0, 1.0, 0.0)]),
        ("beale", [(3.0, 0.5, 0.0)]),
        ("booth", [(1.0, 3.0, 0.0)]),
        (
            "himmelblau",
            [
                (3.0, 2.0, 0.0),
                (-2.805118, 3.131312, 0.0),
                (-3.779310, -3.283186, 0.0),
                (3.584428, -1.848126, 0.0),
            ],
        ),
        ("peaks", [(0.2283, -1.6255, -6.5511), (-1.3474, 0.2045, -3.0498)]),
    ],
)
def test_found_minima_are_the_published_ones(
    name: str, minima: list[tuple[float, float, float]]
) -> None:
    found = build_function(name, {}).minima
    for x, y, f in minima:
        near = min(found, key=lambda m: math.hypot(m.x - x, (m.y or 0.0) - y))
        assert (near.x, near.y) == pytest.approx((x, y), abs=1e-4)
        assert near.value == pytest.approx(f, abs=1e-4)
    assert len(found) >= len(minima)


def test_six_hump_camel_has_its_six_minima_and_two_lowest() -> None:
    found = build_function("six-hump-camel", {}).minima
    assert len(found) == 6
    lowest = sorted((round(m.x, 4), round(m.y or 0.0, 4)) for m in found[:2])
    assert lowest == [(-0.0898, 0.7127), (0.0898, -0.7127)]
    assert found[0].value == pytest.approx(-1.0316285, abs=1e-7)


def test_rastrigin_and_ackley_minima_lie_on_the_lattice() -> None:
    for name in ("rastrigin", "ackley"):
        found = build_function(name, {}).minima
        assert found[0].value == pytest.approx(0.0, abs=1e-12)
        assert math.hypot(found[0].x, found[0].y or 0.0) < 1e-6
        assert len(found) == 121, name  # one near each point of the integer lattice


def test_the_saddle_has_no_minimum() -> None:
    assert build_function("saddle", {}).minima == ()


SEED_FIVE = [
    ("SGD", {"lr": 0.001, "momentum": 0.9}),
    ("Adam", {"lr": 0.05}),
    ("Adagrad", {"lr": 1.0}),
    ("Adadelta", {"lr": 20.0}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9}),
]


def rosenbrock_loop(
    name: str, hyper: dict[str, Any], start: tuple[float, float], epochs: int
) -> list[tuple[float, float, float]]:
    """The plain torch loop: one tensor of two elements, x and y."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, name)([p], **hyper)

    def f() -> torch.Tensor:
        x, y = p[0], p[1]
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2

    out = [(start[0], start[1], f().item())]
    for _ in range(epochs):
        opt.zero_grad()
        f().backward()
        opt.step()
        out.append((p[0].item(), p[1].item(), f().item()))
    return out


def test_a_2d_race_is_the_plain_torch_loop_bit_for_bit() -> None:
    config = {
        "function": "rosenbrock",
        "start": [-1.2, 1.0],
        "epochs": 60,
        "racers": [{"optimizer": name, **hyper} for name, hyper in SEED_FIVE],
    }
    result = run(prepare(parse_config(config)))
    for (name, hyper), trace in zip(SEED_FIVE, result.traces, strict=True):
        assert trace.y is not None
        got = list(
            zip(trace.x[0].tolist(), trace.y[0].tolist(), trace.loss[0].tolist(), strict=True)
        )
        assert got == rosenbrock_loop(name, hyper, (-1.2, 1.0), 60), name


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_NAMES))
def test_a_2d_swarm_equals_separate_runs(name: str) -> None:
    starts = [[-1.2, 1.0], [0.5, -0.5], [1.5, 2.5]]
    config = {
        "function": "rosenbrock",
        "starts": starts,
        "epochs": 12,
        "racers": [{"optimizer": name, "lr": 0.001}],
    }
    plan = prepare(parse_config(config))
    assert plan.racers[0].optimizer.elementwise
    trace = run(plan).traces[0]
    assert trace.y is not None and trace.x.shape == (3, 13)
    for row, (x0, y0) in enumerate(starts):
        expected = rosenbrock_loop(name, {"lr": 0.001}, (x0, y0), 12)
        got = list(
            zip(trace.x[row].tolist(), trace.y[row].tolist(), trace.loss[row].tolist(), strict=True)
        )
        assert got == expected, (name, row)


def test_lbfgs_races_each_2d_start_on_its_own() -> None:
    config = {
        "function": "rosenbrock",
        "starts": [[-1.2, 1.0], [0.5, -0.5]],
        "epochs": 5,
        "racers": [{"optimizer": "LBFGS", "lr": 0.5}],
    }
    trace = run(prepare(parse_config(config))).traces[0]
    assert trace.y is not None
    for row, start in enumerate([(-1.2, 1.0), (0.5, -0.5)]):
        p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([p], lr=0.5)

        def closure(p: torch.Tensor = p, opt: Any = opt) -> torch.Tensor:
            opt.zero_grad()
            loss = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
            loss.backward()
            return loss

        xs = [start[0]]
        for _ in range(5):
            opt.step(closure)
            xs.append(p[0].item())
        assert trace.x[row].tolist() == xs


def test_a_2d_expression_races_like_the_same_torch_code() -> None:
    config = {
        "function": {"expr": "(x**2 - 1)**2 + 2*y**2 + 0.3*x", "domain": [[-2, 2], [-1.5, 1.5]]},
        "start": [1.9, 1.2],
        "epochs": 30,
        "racers": [{"optimizer": "SGD", "lr": 0.01, "momentum": 0.9}],
    }
    plan = prepare(parse_config(config))
    assert plan.objective.ydomain == (-1.5, 1.5)
    trace = run(plan).traces[0]
    p = torch.tensor([1.9, 1.2], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.01, momentum=0.9)
    ys = [1.2]
    for _ in range(30):
        opt.zero_grad()
        ((p[0] ** 2 - 1) ** 2 + 2 * p[1] ** 2 + 0.3 * p[0]).backward()
        opt.step()
        ys.append(p[1].item())
    assert trace.y is not None and trace.y[0].tolist() == ys
    lowest = plan.objective.minima[0]
    assert (lowest.x, lowest.y) == pytest.approx((-1.0355787, 0.0), abs=1e-6)


def test_a_2d_grid_is_n_by_n_cell_centres_and_random_draws_are_seeded() -> None:
    grid = draw_starts({"grid": 2}, (-2.0, 2.0), 0, (0.0, 4.0))
    assert grid == [(-1.0, 1.0), (1.0, 1.0), (-1.0, 3.0), (1.0, 3.0)]
    drawn = draw_starts({"random": 5}, (-2.0, 2.0), 3, (0.0, 4.0))
    g = torch.Generator().manual_seed(3)
    unit = torch.rand(5, 2, generator=g, dtype=torch.float64)
    expected = torch.stack([-2 + unit[:, 0] * 4, unit[:, 1] * 4], dim=1).tolist()
    assert [list(p) for p in drawn] == expected
    plan = prepare(
        parse_config(
            {
                "function": "booth",
                "starts": {"grid": 3},
                "epochs": 2,
                "racers": [{"optimizer": "Adam"}],
            }
        )
    )
    assert len(plan.starts) == 9


def test_2d_traces_csv_and_json_hold_x_and_y(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = {
        "function": "himmelblau",
        "start": [0.0, 0.0],
        "epochs": 6,
        "racers": [{"optimizer": "Adam", "lr": 0.2}],
    }
    path = write_config(config)
    csv_path, json_path = tmp_path / "t.csv", tmp_path / "t.json"
    assert invoke("run", path, "--traces", csv_path).exit_code == 0
    assert invoke("run", path, "--traces", json_path).exit_code == 0
    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == ["racer", "epoch", "evaluations", "x", "y", "loss"]
    expected = run(prepare(parse_config(config))).traces[0]
    assert expected.y is not None
    assert [int(r[2]) for r in rows[1:]] == list(range(7))
    assert [float(r[3]) for r in rows[1:]] == expected.x[0].tolist()
    assert [float(r[4]) for r in rows[1:]] == expected.y[0].tolist()
    assert [float(r[5]) for r in rows[1:]] == expected.loss[0].tolist()
    only = json.loads(json_path.read_text())["racers"][0]["starts"][0]
    assert only["y"] == expected.y[0].tolist()

    config["starts"] = {"grid": 2}
    del config["start"]
    assert invoke("run", write_config(config), "--traces", csv_path).exit_code == 0
    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == ["racer", "start", "epoch", "evaluations", "x", "y", "loss"]
    firsts = [(float(r[4]), float(r[5])) for r in rows[1:] if r[2] == "0"]
    assert firsts == [(-2.5, -2.5), (2.5, -2.5), (-2.5, 2.5), (2.5, 2.5)]


def test_2d_summary_measures_the_distance_in_the_plane(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = {
        "function": "himmelblau",
        "start": [0.0, 0.0],
        "epochs": 200,
        "racers": [{"optimizer": "Adam", "lr": 0.1}],
    }
    summary = tmp_path / "s.json"
    result = invoke("run", write_config(config), "--summary", summary)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].split()[:4] == ["racer", "final", "x,", "y"]
    doc = json.loads(summary.read_text())
    racer = doc["racers"][0]
    x, y = racer["final_x"], racer["final_y"]
    near = min(doc["known_minima"], key=lambda m: math.hypot(m["x"] - x, m["y"] - y))
    assert racer["nearest_minimum"] == [near["x"], near["y"]]
    assert racer["distance_to_minimum"] == math.hypot(x - near["x"], y - near["y"])
    assert racer["reached_at"] is not None and doc["lowest_minimum"]["f"] == pytest.approx(0)


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"start": 1.5}, "start: himmelblau is a function of x and y: give [x, y], got 1.5"),
        ({"starts": [[0, 0], 1]}, "starts[1]: expected [x, y] like starts[0], got 1"),
        ({"start": [9, 0]}, "start: [9.0, 0.0] lies outside the domain [-5.0, 5.0] x [-5.0, 5.0]"),
        ({"domain": [[0, 1], [2, 1]]}, "domain[1]: the lower bound must be below the upper"),
        ({"domain": [[0, 1], [0, 1], [0, 1]]}, "domain: expected [low, high] or [[x low, x high]"),
        (
            {"function": "quartic", "start": [1, 1]},
            "start: quartic is a function of x alone: give one number x, got [1.0, 1.0]",
        ),
        (
            {"function": "quartic", "domain": [[0, 1], [0, 1]]},
            "domain: quartic is a function of x alone; give one range [low, high]",
        ),
        (
            {"function": "quartic", "animation": {"view": "surface"}},
            "animation.view: a surface needs a function of x and y; quartic is 1-D",
        ),
        (
            {"animation": {"view": "side"}},
            "animation.view: expected 'contour' or 'surface', got 'side'",
        ),
        ({"animation": {"trail": -1}}, "animation.trail: must be at least 0, got -1"),
    ],
)
def test_bad_2d_input_is_one_line_exit_2(
    invoke: Any,
    tmp_path: Path,
    write_config: Callable[..., Path],
    extra: dict[str, Any],
    message: str,
) -> None:
    config = {"function": "himmelblau", "epochs": 3, "racers": [{"optimizer": "SGD"}], **extra}
    path = write_config(config)
    gif = tmp_path / "a.gif"
    result = invoke("run", path, "--gif", gif)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {path}: {message}"), result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not gif.exists()


def saddle_result(**extra: Any) -> RaceResult:
    config = {
        "function": "saddle",
        "start": [1.5, 0.001],
        "epochs": 40,
        "racers": [
            {"optimizer": "SGD", "lr": 0.05, "label": "plain"},
            {"optimizer": "SGD", "lr": 0.05, "momentum": 0.9, "label": "momentum"},
        ],
        **extra,
    }
    return run(prepare(parse_config(config)))


def test_the_saddle_separates_momentum_from_plain_sgd() -> None:
    plain, momentum = saddle_result().traces
    assert plain.y is not None and momentum.y is not None
    assert abs(plain.y[0, -1]) < 0.2 and plain.left_domain_at((-2, 2), (-2, 2)) == [None]
    assert momentum.left_domain_at((-2, 2), (-2, 2))[0] is not None


@pytest.mark.parametrize("view", ["contour", "surface"])
def test_2d_blitted_frames_equal_a_full_redraw(view: str) -> None:
    result = saddle_result()
    options = SceneOptions(trail=8, view=view, loss_panel=view == "contour")  # type: ignore[arg-type]
    size = (320, 320)
    sink = RecordingSink()
    render(result, size, [sink], options=options)
    assert len(sink.frames) == 41
    for frame in (0, 5, 33):
        assert np.array_equal(sink.frames[frame], full_redraw(result, size, frame, options)), frame


def test_2d_scene_moves_markers_in_the_plane_with_a_fading_trail() -> None:
    result = saddle_result()
    plain = result.traces[0]
    assert plain.y is not None
    scene = RaceScene(Figure(), result, options=SceneOptions(trail=5))
    scene.update(12)
    assert scene.markers[0].get_xdata().tolist() == [plain.x[0, 12]]
    assert scene.markers[0].get_ydata().tolist() == [plain.y[0, 12]]
    segments = scene.trails[0].get_segments()
    assert len(segments) == 5
    assert segments[-1][:2].tolist() == [
        [plain.x[0, 11], plain.y[0, 11]],
        [plain.x[0, 12], plain.y[0, 12]],
    ]
    alphas = scene.trails[0].get_colors()[:, 3]
    assert (np.diff(alphas) > 0).all()  # the newest segment is the most opaque
    # The momentum racer has left the box: hollow, clipped to its edge.
    left = result.traces[1].left_domain_at(result.domain, result.ydomain)[0]
    assert left is not None
    scene.update(left)
    assert scene.edges[1].get_visible() and scene.markers[1].get_xdata().tolist() == []
    ex, ey = scene.edges[1].get_xdata()[0], scene.edges[1].get_ydata()[0]
    assert -2 <= ex <= 2 and abs(ey) == 2.0
    assert "momentum is outside the domain" in scene.notes.get_text()


def test_2d_contours_are_log_scaled_where_the_function_spans_decades() -> None:
    config = {"function": "rosenbrock", "epochs": 1, "racers": [{"optimizer": "Adam"}]}
    scene = RaceScene(Figure(), run(prepare(parse_config(config))))
    contours = [c for c in scene.axes.collections if hasattr(c, "levels")]
    levels = contours[0].levels
    assert np.allclose(np.diff(np.log(levels)), np.log(levels[1] / levels[0]))
    stars = [line for line in scene.axes.lines if line.get_marker() == "*"]
    assert [line.get_xdata().tolist() for line in stars] == [[1.0]]
    flat = RaceScene(Figure(), saddle_result())
    levels = next(c for c in flat.axes.collections if hasattr(c, "levels")).levels
    assert np.allclose(np.diff(levels), levels[1] - levels[0])


def test_1d_trails_follow_the_curve(small_config: dict[str, Any]) -> None:
    result = run(prepare(parse_config(small_config)))
    trace = result.traces[0]
    scene = RaceScene(Figure(), result, options=SceneOptions(trail=3))
    scene.update(5)
    segments = scene.trails[0].get_segments()
    assert [s[:2].tolist() for s in segments] == [
        [[trace.x[0, e - 1], trace.loss[0, e - 1]], [trace.x[0, e], trace.loss[0, e]]]
        for e in (3, 4, 5)
    ]
    assert not RaceScene(Figure(), result).trails  # 1-D draws no trail unless asked


def test_list_functions_and_validate_speak_2d(
    invoke: Any, write_config: Callable[..., Path]
) -> None:
    doc = {f["name"]: f for f in json.loads(invoke("list-functions", "--json").stdout)}
    assert doc["rosenbrock"]["dimensions"] == 2
    assert doc["rosenbrock"]["domain"] == [[-2.0, 2.0], [-1.0, 3.0]]
    assert doc["rosenbrock"]["minima"] == [{"x": 1.0, "y": 1.0, "f": 0.0}]
    assert doc["rosenbrock"]["default_start"] == [-1.2, 1.0]
    assert doc["quartic"]["dimensions"] == 1 and doc["quartic"]["domain"] == [-2.5, 2.5]
    config = {"function": "rosenbrock", "epochs": 3, "racers": [{"optimizer": "Adam"}]}
    result = invoke("validate", write_config(config))
    assert result.exit_code == 0
    assert result.stdout.endswith("on rosenbrock, 3 epochs from (x, y) = (-1.2, 1.0)\n")
