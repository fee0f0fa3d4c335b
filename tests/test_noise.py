"""Gradient noise: seeded, exact, common to every racer, and the spread it causes.

The reference is a hand-written torch loop that draws the noise as the README
documents it: per (start, repeat) a torch.Generator seeded with the first 8
bytes (little-endian) of sha256("optrace-noise:{seed}:{start}:{repeat}"), which
draws torch.randn(64, dims) every 64 epochs, one row per epoch added to .grad
after backward(); further closure evaluations of an epoch draw torch.randn(dims)
from a generator seeded with ":{epoch}" appended.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from optrace.engine.loop import run
from optrace.engine.plan import load, prepare
from optrace.optim.optimizers import ELEMENTWISE_NAMES
from optrace.results.report import summary_json, summary_table
from optrace.results.trace import RaceResult, Trace
from optrace.spec.loading import parse_config
from tests.conftest import ROOT, peaks_slice
from tests.test_race import SEED_RACERS
from tests.test_two_d import SEED_FIVE

Point = tuple[float, ...]


def noise_seed(*parts: int) -> int:
    text = "optrace-noise:" + ":".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def noisy_loop(
    name: str,
    hyper: dict[str, Any],
    f: Callable[[torch.Tensor], torch.Tensor],
    start: Point,
    epochs: int,
    std: float,
    relative: bool = False,
    seed: int = 0,
    start_index: int = 0,
    repeat: int = 0,
) -> list[Point]:
    """(x[, y], loss) per epoch of the loop a user would write, noise and all."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, name)([p], **hyper)
    main = torch.Generator().manual_seed(noise_seed(seed, start_index, repeat))
    block = torch.empty(0)

    def add_noise(z: torch.Tensor) -> None:
        assert p.grad is not None
        scale = std * p.grad.abs() if relative else std
        p.grad = p.grad + scale * z

    out = [(*start, f(p).item())]
    for epoch in range(1, epochs + 1):
        if (epoch - 1) % 64 == 0:  # the first gradients' noise, 64 epochs at a time
            block = torch.randn(64, len(start), generator=main, dtype=torch.float64)
        first = block[(epoch - 1) % 64]
        if name == "LBFGS":
            extra = torch.Generator().manual_seed(noise_seed(seed, start_index, repeat, epoch))
            calls = 0

            def closure(
                extra: torch.Generator = extra, first: torch.Tensor = first
            ) -> torch.Tensor:
                nonlocal calls
                opt.zero_grad()
                loss = f(p)
                loss.backward()
                if calls == 0:
                    add_noise(first)
                else:
                    add_noise(torch.randn(len(start), generator=extra, dtype=torch.float64))
                calls += 1
                return loss

            opt.step(closure)
        else:
            opt.zero_grad()
            f(p).backward()
            add_noise(first)
            opt.step()
        out.append((*p.detach().tolist(), f(p).item()))
    return out


def rows(trace: Trace, row: int) -> list[Point]:
    columns = [trace.x[row].tolist()]
    if trace.y is not None:
        columns.append(trace.y[row].tolist())
    columns.append(trace.loss[row].tolist())
    return list(zip(*columns, strict=True))


def race(config: dict[str, Any]) -> RaceResult:
    return run(prepare(parse_config(config)))


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_the_seed_five_are_a_hand_written_noisy_loop_in_1d(relative: bool) -> None:
    std = 0.4 if relative else 2.0
    result = race({"function": "peaks-slice", "start": -0.35, "epochs": 100, "seed": 5,
                   "noise": {"std": std, "relative": relative},
                   "racers": [{"optimizer": n, **h} for n, h in SEED_RACERS]})  # fmt: skip
    for trace, (name, hyper) in zip(result.traces, SEED_RACERS, strict=True):
        expected = noisy_loop(name, hyper, peaks_slice, (-0.35,), 100, std, relative, seed=5)
        assert rows(trace, 0) == expected, name
        assert rows(trace, 0) != noisy_loop(name, hyper, peaks_slice, (-0.35,), 100, 0.0)


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_the_seed_five_are_a_hand_written_noisy_loop_in_2d(relative: bool) -> None:
    std = 0.3 if relative else 5.0
    result = race({"function": "rosenbrock", "start": [-1.2, 1.0], "epochs": 60, "seed": 9,
                   "noise": {"std": std, "relative": relative},
                   "racers": [{"optimizer": n, **h} for n, h in SEED_FIVE]})  # fmt: skip
    for trace, (name, hyper) in zip(result.traces, SEED_FIVE, strict=True):
        expected = noisy_loop(name, hyper, rosenbrock, (-1.2, 1.0), 60, std, relative, seed=9)
        assert rows(trace, 0) == expected, name


STARTS_1D = [-2.2, -0.9, -0.35, 0.1, 0.7, 1.3, 2.9]


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_NAMES))
def test_a_noisy_swarm_equals_its_separate_runs(name: str) -> None:
    # One tensor holds every start, yet each start gets its own noise: the noise
    # of start i, raced alone.
    result = race({"function": "peaks-slice", "starts": STARTS_1D, "epochs": 15, "seed": 2,
                   "noise": {"std": 1.5}, "racers": [{"optimizer": name}]})  # fmt: skip
    (trace,) = result.traces
    for i, start in enumerate(STARTS_1D):
        expected = noisy_loop(name, {}, peaks_slice, (start,), 15, 1.5, seed=2, start_index=i)
        assert rows(trace, i) == expected, (name, i)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_NAMES))
def test_a_noisy_2d_swarm_equals_its_separate_runs(name: str) -> None:
    starts = [(-1.2, 1.0), (0.5, -0.5), (1.5, 2.5)]
    result = race({"function": "rosenbrock", "starts": [list(s) for s in starts], "epochs": 12,
                   "noise": {"std": 0.5, "relative": True},
                   "racers": [{"optimizer": name, "lr": 0.001}]})  # fmt: skip
    (trace,) = result.traces
    for i, start in enumerate(starts):
        expected = noisy_loop(name, {"lr": 0.001}, rosenbrock, start, 12, 0.5, True, start_index=i)
        assert rows(trace, i) == expected, (name, i)


def test_lbfgs_draws_fresh_noise_for_every_closure_evaluation() -> None:
    starts = [-0.9, 0.7]
    result = race({"function": "peaks-slice", "starts": starts, "epochs": 6, "seed": 4,
                   "noise": {"std": 0.5}, "repeats": 2,
                   "racers": [{"optimizer": "LBFGS", "lr": 0.5}]})  # fmt: skip
    (trace,) = result.traces
    for i, start in enumerate(starts):
        for r in range(2):
            expected = noisy_loop("LBFGS", {"lr": 0.5}, peaks_slice, (start,), 6, 0.5,
                                  seed=4, start_index=i, repeat=r)  # fmt: skip
            assert rows(trace, 2 * i + r) == expected, (i, r)


def test_repeats_equal_separate_runs_with_their_noise_seeds() -> None:
    starts = [-0.35, 1.3]
    result = race({"function": "peaks-slice", "starts": starts, "epochs": 40, "seed": 7,
                   "noise": {"std": 1.0}, "repeats": 3,
                   "racers": [{"optimizer": "SGD", "lr": 0.05, "momentum": 0.9},
                              {"optimizer": "Adam", "lr": 0.1}]})  # fmt: skip
    for trace, (name, hyper) in zip(
        result.traces, [("SGD", {"lr": 0.05, "momentum": 0.9}), ("Adam", {"lr": 0.1})], strict=True
    ):
        assert trace.x.shape == (6, 41) and trace.repeats == 3
        for i, start in enumerate(starts):
            for r in range(3):
                assert trace.run_of(3 * i + r) == (i, r)
                expected = noisy_loop(name, hyper, peaks_slice, (start,), 40, 1.0,
                                      seed=7, start_index=i, repeat=r)  # fmt: skip
                assert rows(trace, 3 * i + r) == expected, (name, i, r)
        finals = trace.x[:, -1]
        assert len(set(finals.tolist())) == 6  # every repeat has noise of its own


def test_every_racer_sees_the_same_noise() -> None:
    result = race({"function": "peaks-slice", "starts": [-0.35, 0.7], "epochs": 50,
                   "noise": {"std": 2.0}, "repeats": 4,
                   "racers": [{"optimizer": "SGD", "lr": 0.02, "label": "first"},
                              {"optimizer": "Adam", "lr": 0.1},
                              {"optimizer": "SGD", "lr": 0.02, "label": "second"}]})  # fmt: skip
    first, _, second = result.traces
    assert first.x.tolist() == second.x.tolist()
    assert first.loss.tolist() == second.loss.tolist()
    assert len(set(first.x[:, -1].tolist())) == 8


def test_noise_std_0_is_exactly_the_noiseless_race() -> None:
    base = {"function": "rosenbrock", "starts": {"random": 5}, "epochs": 30, "seed": 3,
            "racers": [{"optimizer": n, **h} for n, h in SEED_FIVE]}  # fmt: skip
    plain = race(base)
    silent = race({**base, "noise": {"std": 0.0}})
    overridden = race(
        {
            **base,
            "noise": {"std": 4.0},
            "racers": [{**r, "noise": {"std": 0}} for r in base["racers"]],
        }
    )
    for a, b, c in zip(plain.traces, silent.traces, overridden.traces, strict=True):
        for arrays in ((a.x, b.x, c.x), (a.y, b.y, c.y), (a.loss, b.loss, c.loss)):
            assert arrays[0].tobytes() == arrays[1].tobytes() == arrays[2].tobytes()


def test_a_racer_noise_overrides_the_race_noise() -> None:
    adam = {"optimizer": "Adam", "lr": 0.1, "noise": {"std": 3.0}}
    result = race({"function": "peaks-slice", "start": -0.35, "epochs": 30, "seed": 1,
                   "noise": {"std": 0.5},
                   "racers": [{"optimizer": "SGD", "lr": 0.05}, adam]})  # fmt: skip
    sgd, own = result.traces
    assert rows(sgd, 0) == noisy_loop("SGD", {"lr": 0.05}, peaks_slice, (-0.35,), 30, 0.5, seed=1)
    assert rows(own, 0) == noisy_loop("Adam", {"lr": 0.1}, peaks_slice, (-0.35,), 30, 3.0, seed=1)
    assert dict(own.noise or {}) == {"std": 3.0, "relative": False}
    assert dict(own.hyperparameters) == {"lr": 0.1}


def test_two_processes_write_the_same_noisy_bytes(tmp_path: Path, write_config: Any) -> None:
    config = write_config({"function": "himmelblau", "starts": {"random": 4}, "seed": 12,
                           "epochs": 25, "noise": {"std": 2.0}, "repeats": 3,
                           "racers": [{"optimizer": "Adam", "lr": 0.1},
                                      {"optimizer": "LBFGS", "lr": 0.2},
                                      {"optimizer": "SGD", "lr": 0.005, "momentum": 0.9,
                                       "noise": {"std": 0.3, "relative": True}}]})  # fmt: skip
    outputs = []
    for name in ("first", "second"):
        csv_path, summary = tmp_path / f"{name}.csv", tmp_path / f"{name}.json"
        done = subprocess.run(
            [sys.executable, "-m", "optrace", "run", str(config),
             "--traces", str(csv_path), "--summary", str(summary)],
            capture_output=True, check=True,
        )  # fmt: skip
        outputs.append((csv_path.read_bytes(), summary.read_bytes(), done.stdout))
    assert outputs[0] == outputs[1]
    lines = outputs[0][0].decode().splitlines()
    assert lines[0] == "racer,start,repeat,epoch,evaluations,x,y,loss"
    assert len(lines) == 1 + 3 * 4 * 3 * 26


def test_csv_and_json_traces_name_each_run(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    small_config.update(noise={"std": 1.0}, repeats=2)
    out, out_json = tmp_path / "t.csv", tmp_path / "t.json"
    result = invoke("run", write_config(small_config), "--traces", out)
    assert result.exit_code == 0, result.stderr
    assert invoke("run", write_config(small_config), "--traces", out_json).exit_code == 0
    with out.open() as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["racer", "start", "repeat", "epoch", "evaluations", "x", "loss"]
    assert len(table) == 1 + 2 * 2 * 7
    plan = prepare(parse_config(small_config))
    traces = run(plan).traces
    for row in table[1:]:
        racer = next(t for t in traces if t.label == row[0])
        index = 2 * int(row[1]) + int(row[2])
        assert float(row[5]) == racer.x[index, int(row[3])]
    doc = json.loads(out_json.read_text())
    sgd = doc["racers"][0]
    assert sgd["noise"] == {"std": 1.0, "relative": False}
    assert [(s["start"], s["repeat"]) for s in sgd["starts"]] == [(0, 0), (0, 1)]
    assert sgd["starts"][1]["x"] == traces[0].x[1].tolist()


def test_without_repeats_the_csv_has_no_repeat_column(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    small_config.update(noise={"std": 1.0})
    out = tmp_path / "t.csv"
    assert invoke("run", write_config(small_config), "--traces", out).exit_code == 0
    assert out.read_text().splitlines()[0] == "racer,epoch,evaluations,x,loss"


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return float(q1), float(median), float(q3)


def test_the_summary_gives_the_median_and_iqr_over_all_runs(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = {"function": "peaks-slice", "starts": [-0.35, 1.3], "epochs": 60, "seed": 3,
              "tolerance": 0.01, "noise": {"std": 1.0}, "repeats": 5,
              "racers": [{"optimizer": "SGD", "lr": 0.05, "momentum": 0.9},
                         {"optimizer": "Adam", "lr": 0.1, "noise": {"std": 0}}]}  # fmt: skip
    path, out = write_config(config), tmp_path / "s.json"
    done = invoke("run", path, "--summary", out)
    assert done.exit_code == 0, done.stderr
    doc = json.loads(out.read_text())
    result = run(load(path))
    lowest = result.minima[0].value
    for racer, trace in zip(doc["racers"], result.traces, strict=True):
        finals = trace.loss[:, -1]
        assert np.isfinite(finals).all()
        gaps = (finals - lowest).tolist()
        spread = racer["spread"]
        assert spread["runs"] == 10
        q1, median, q3 = quartiles(gaps)
        assert spread["final_gap"]["median"] == pytest.approx(median, rel=1e-12)
        assert spread["final_gap"]["q1"] == pytest.approx(q1, rel=1e-12)
        assert spread["final_gap"]["iqr"] == pytest.approx(q3 - q1, rel=1e-9, abs=1e-15)
        hit = trace.loss <= lowest + 0.01
        reached = [int(np.argmax(h)) if h.any() else np.inf for h in hit]
        assert spread["reached"] == sum(np.isfinite(reached))
        if all(np.isfinite(reached)):
            assert spread["reached_at"]["median"] == pytest.approx(np.median(reached))
        assert [(s["start"], s["repeat"]) for s in racer["starts"]] == [
            (i, r) for i in range(2) for r in range(5)
        ]
    sgd, adam = result.traces
    assert len(set(sgd.x[:5, -1].tolist())) == 5
    assert len(set(adam.x[:5, -1].tolist())) == 1  # no noise: every repeat alike
    table = summary_table(result)
    assert "median gap" in table and "gap IQR" in table and "reached IQR" in table
    assert "(2 starts x 5 repeats:" in table
    median_gap = f"{doc['racers'][0]['spread']['final_gap']['median']:.6g}"
    assert median_gap in table.splitlines()[1].split()


def test_a_run_that_diverges_counts_as_infinitely_far() -> None:
    # From -0.35 and 0.5 the first step overflows; on the flat tail it stays finite.
    result = race({"function": "peaks-slice", "starts": [-0.35, -5.0, -4.8, 0.5], "epochs": 6,
                   "racers": [{"optimizer": "SGD", "lr": 1e104}]})  # fmt: skip
    doc = summary_json(result)
    (trace,) = result.traces
    assert trace.diverged_at == [1, None, None, 1]
    spread = doc["racers"][0]["spread"]
    # Two of four runs diverged: the median and the third quartile are infinite.
    assert spread["final_gap"]["median"] is None and spread["final_gap"]["iqr"] is None
    assert spread["final_gap"]["q1"] is not None
    assert spread["reached_at"]["median"] is None and spread["reached"] == 0


def test_the_loss_panel_draws_the_median_and_its_interquartile_band() -> None:
    from matplotlib.figure import Figure

    from optrace.render.options import SceneOptions
    from optrace.render.scene import RaceScene

    result = race({"function": "peaks-slice", "start": -0.35, "epochs": 30, "noise": {"std": 2.0},
                   "repeats": 6, "racers": [{"optimizer": "SGD", "lr": 0.02},
                                            {"optimizer": "Adam", "lr": 0.1,
                                             "noise": {"std": 0}}]})  # fmt: skip
    scene = RaceScene(Figure(), result, options=SceneOptions(loss_panel=True))
    scene.update(20)
    panel = scene.panel
    assert panel is not None
    assert [len(m.get_xdata()) for m in scene.markers] == [6, 6]  # each repeat drawn
    lowest = result.minima[0].value
    sgd = result.traces[0]
    gaps = np.maximum(sgd.loss - lowest, panel.FLOOR)
    line = panel.lines[0]
    assert line.get_xdata().tolist() == list(range(21))
    assert line.get_ydata().tolist() == pytest.approx(np.median(gaps[:, :21], axis=0).tolist())
    band = panel.bands[0]
    assert band is not None and band in panel.moving
    vertices = band.get_paths()[0].vertices
    low, high = np.percentile(gaps[:, :21], [25, 75], axis=0)
    for epoch in (0, 10, 20):
        at = vertices[vertices[:, 0] == epoch][:, 1]
        assert min(at) == pytest.approx(low[epoch]) and max(at) == pytest.approx(high[epoch])
    assert np.ptp(high - low) > 0
    # A racer whose repeats are all alike has a band of no width.
    adam_band = panel.bands[1]
    assert adam_band is not None
    adam = adam_band.get_paths()[0].vertices
    assert np.allclose(adam[adam[:, 0] == 10][:, 1], adam[adam[:, 0] == 10][0, 1])


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"noise": {"std": -0.5}}, "noise.std: must be at least 0.0, got -0.5"),
        (
            {"noise": {"sd": 0.5}},
            "noise.sd: unknown key (did you mean 'std'?); valid keys are std, relative",
        ),
        (
            {"noise": {"std": 0.5, "relativ": True}},
            "noise.relativ: unknown key (did you mean 'relative'?)",
        ),
        ({"noise": {"std": ".inf"}}, "noise.std: expected a number, got '.inf'"),
        ({"noise": {"std": 0.5, "relative": "yes"}}, "noise.relative: expected true or false"),
        ({"noise": 0.5}, "noise: expected a mapping of keys, got 0.5"),
        ({"repeats": 0}, "repeats: must be at least 1, got 0"),
        ({"repeats": 2.5}, "repeats: expected a whole number, got 2.5"),
        (
            {"racers": [{"optimizer": "SGD", "noise": {"std": -1}}]},
            "racers[0].noise.std: must be at least 0.0, got -1",
        ),
        (
            {"racers": [{"optimizer": "SGD", "noise": {"stdev": 1}}]},
            "racers[0].noise.stdev: unknown key (did you mean 'std'?)",
        ),
    ],
)
def test_bad_noise_is_a_one_line_config_error(
    invoke: Any, write_config: Callable[..., Path], bad: dict[str, Any], message: str
) -> None:
    config = write_config({"function": "peaks-slice", "epochs": 3,
                           "racers": [{"optimizer": "SGD"}], **bad})  # fmt: skip
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {config}: {message}")
    assert result.stderr.count("\n") == 1


def test_an_infinite_std_is_refused(invoke: Any, write_config: Callable[..., Path]) -> None:
    config = write_config("function: peaks-slice\nepochs: 3\nnoise: {std: .inf}\n"
                          "racers: [{optimizer: SGD}]\n")  # fmt: skip
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {config}: noise.std: expected a finite number, got inf\n"


def test_repeats_without_noise_are_warned_of(
    invoke: Any, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    small_config["repeats"] = 3
    result = invoke("run", write_config(small_config))
    assert result.exit_code == 0
    assert result.stderr == (
        "warning: repeats: 3 repeats but no racer has noise, so every repeat of a start is "
        "the same race; add e.g. 'noise: {std: 0.1}'\n"
    )
    small_config["racers"][1]["noise"] = {"std": 0.1}
    assert invoke("run", write_config(small_config)).stderr == ""


def test_noise_knocks_plain_sgd_off_the_saddle() -> None:
    plan = load(ROOT / "configs" / "noisy-saddle.yaml")
    assert plan.repeats > 1
    plain, noisy = run(plan).traces
    assert noisy.y is not None and plain.y is not None
    assert plain.noise is not None and plain.noise["std"] == 0
    # Without noise the gradient never leaves the ridge y = 0: SGD creeps into the
    # saddle point and stays there, every repeat alike.
    assert (plain.y == 0).all()
    assert np.abs(plain.x[:, -1]).max() < 0.05
    # With it every repeat is knocked off the ridge and rolls away down the saddle.
    escaped = np.abs(noisy.y[:, -1])
    assert escaped.min() > 0.2 and np.median(escaped) > 1.0
    assert np.median(noisy.loss[:, -1]) < plain.loss[:, -1].max() - 1.0
