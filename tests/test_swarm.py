"""Swarms: N starts race exactly as N separate runs, however they are computed."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optrace.engine.loop import run
from optrace.engine.plan import prepare
from optrace.engine.starts import draw_starts
from optrace.optim.optimizers import ELEMENTWISE_NAMES
from optrace.spec.loading import parse_config
from tests.test_race import RACEABLE, plain_loop

STARTS = [-2.2, -0.9, -0.35, 0.1, 0.7, 1.3, 2.9]


def swarm(racers: list[dict[str, Any]], starts: Any, epochs: int, **extra: Any) -> Any:
    config = {"function": "peaks-slice", "starts": starts, "epochs": epochs, "racers": racers}
    return run(prepare(parse_config({**config, **extra})))


@pytest.mark.parametrize("name", RACEABLE)
def test_swarm_equals_separate_plain_loops(name: str) -> None:
    (trace,) = swarm([{"optimizer": name}], STARTS, epochs=15).traces
    assert trace.x.shape == (len(STARTS), 16)
    for row, start in enumerate(STARTS):
        expected = plain_loop(name, {}, start, 15)
        assert trace.x[row].tolist() == [p[0] for p in expected]
        assert trace.loss[row].tolist() == [p[1] for p in expected]


def test_which_torch_optimizers_share_one_tensor() -> None:
    plan = prepare(parse_config({"function": "peaks-slice", "starts": [0.0, 1.0], "epochs": 1,
                                 "racers": [{"optimizer": n} for n in RACEABLE]}))  # fmt: skip
    shared = {r.optimizer.name for r in plan.racers if r.optimizer.elementwise}
    assert shared == ELEMENTWISE_NAMES
    assert {"Adafactor", "LBFGS"} & shared == set()


def test_a_user_optimizer_is_raced_start_by_start(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text("import torch\nclass Copy(torch.optim.Adam):\n    pass\n")
    config = parse_config({"function": "peaks-slice", "starts": [0.5, -1.0], "epochs": 5,
                           "racers": [{"optimizer": "mine.Copy", "lr": 0.1}]})  # fmt: skip
    plan = prepare(config, tmp_path)
    assert plan.racers[0].optimizer.elementwise is False
    trace = run(plan).traces[0]
    assert trace.x[1].tolist() == [p[0] for p in plain_loop("Adam", {"lr": 0.1}, -1.0, 5)]


def test_one_diverging_start_leaves_the_others_untouched() -> None:
    # From -0.35 the first step overflows x**3; on the flat tail at -5 the gradient
    # is tiny, so the same step size leaves x huge but finite.
    (trace,) = swarm([{"optimizer": "SGD", "lr": 1e104}], [-0.35, -5.0], epochs=6).traces
    assert trace.diverged_at == [1, None]
    expected = plain_loop("SGD", {"lr": 1e104}, -5.0, 6)
    assert trace.x[1].tolist() == [p[0] for p in expected]
    stop = trace.diverged_at[0]
    assert np.isnan(trace.x[0, stop:]).all() and np.isfinite(trace.x[0, :stop]).all()


def test_grid_and_random_starts_cover_the_domain() -> None:
    grid = draw_starts({"grid": 4}, (-2.0, 2.0), seed=0)
    assert grid == [-1.5, -0.5, 0.5, 1.5]
    drawn = draw_starts({"random": 500}, (-5.0, 5.0), seed=3)
    assert drawn == draw_starts({"random": 500}, (-5.0, 5.0), seed=3)
    assert min(drawn) >= -5 and max(drawn) <= 5 and np.std(drawn) > 2
    result = swarm([{"optimizer": "Adam", "lr": 0.1}], {"random": 50}, epochs=2, seed=3)
    assert result.traces[0].x[:, 0].tolist() == draw_starts({"random": 50}, (-5.0, 5.0), seed=3)


def test_swarm_csv_gains_a_start_column(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    del small_config["start"]
    small_config["starts"] = {"grid": 3}
    out = tmp_path / "t.csv"
    result = invoke("run", write_config(small_config), "--traces", out)
    assert result.exit_code == 0, result.stderr
    with out.open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["racer", "start", "epoch", "evaluations", "x", "loss"]
    assert len(rows) == 1 + 2 * 3 * 7
    firsts = [r for r in rows[1:] if r[2] == "0" and r[0] == "SGD"]
    assert [float(r[4]) for r in firsts] == draw_starts({"grid": 3}, (-5.0, 5.0), 0)
    # Raced as one tensor, every start takes one gradient per step.
    assert {r[3] for r in rows[1:] if r[2] == "6"} == {"6"}


def test_swarm_renders_every_start(small_config: dict[str, Any]) -> None:
    from matplotlib.figure import Figure

    from optrace.render.scene import RaceScene

    del small_config["start"]
    small_config["starts"] = [-1.0, 0.0, 1.0, 2.0]
    result = run(prepare(parse_config(small_config)))
    scene = RaceScene(Figure(), result)
    scene.update(3)
    assert [len(m.get_xdata()) for m in scene.markers] == [4, 4]
    assert scene.markers[0].get_xdata().tolist() == result.traces[0].x[:, 3].tolist()


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"starts": {"grid": 0}}, "starts.grid: expected a whole number, at least 1, got 0"),
        ({"starts": {"gird": 3}}, "starts.gird: unknown key (did you mean 'grid'?)"),
        ({"starts": [0.0, "x"]}, "starts[1]: expected a number or [x, y], got 'x'"),
        ({"starts": [0.0, 7.5]}, "starts[1]: 7.5 lies outside the domain [-5.0, 5.0]"),
        ({"starts": [1.0], "start": 1.0}, "starts: give either 'start' (one point) or 'starts'"),
    ],
)
def test_bad_starts_are_config_errors(
    invoke: Any, write_config: Callable[..., Path], bad: dict[str, Any], message: str
) -> None:
    config = write_config({"function": "peaks-slice", "epochs": 3,
                           "racers": [{"optimizer": "SGD"}], **bad})  # fmt: skip
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {config}: {message}")
