"""A racer's sweep: every combination against a plain torch loop with its values, the
outputs that hold them, and the bad sweeps' one line."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.optim import Optimizer

import optrace
from optrace.engine.race import race_one
from optrace.engine.sweep import SweepPlan, race_sweep
from tests.conftest import ROOT

START = (-1.2, 1.0)
LRS = [0.0001, 0.0003, 0.001, 0.002, 0.003]
MOMENTA = [0.0, 0.5, 0.9, 0.99]


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    """The published Rosenbrock function, written out here."""
    x, y = p[..., 0], p[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def plain(
    make: Callable[[torch.Tensor], Optimizer], epochs: int, start: tuple[float, float] = START
) -> np.ndarray:
    """x, y and loss after each step of the loop a user writes; NaN from the first
    non-finite place on, as a race records it."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = make(p)
    rows = [[p[0].item(), p[1].item(), rosenbrock(p).item()]]
    for _ in range(epochs):
        opt.zero_grad()
        rosenbrock(p).backward()
        opt.step()
        rows.append([p[0].item(), p[1].item(), rosenbrock(p).item()])
    out = np.array(rows)
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        out[np.argmax(bad) :] = np.nan
    return out


def recorded(trace: Any, start: int = 0) -> np.ndarray:
    return np.stack([trace.x[start], trace.y[start], trace.loss[start]], axis=1)


SGD_SWEEP = {
    "optimizer": "SGD",
    "lr": 0.001,
    "momentum": 0.9,
    "sweep": {"lr": LRS, "momentum": MOMENTA},
}


def test_every_combination_is_a_plain_loop_with_its_values() -> None:
    ran = optrace.Race(
        function="rosenbrock", start=list(START), epochs=300, racers=[SGD_SWEEP]
    ).run()
    (sweep,) = ran.result.sweeps
    assert sweep.shape == (5, 4) and sweep.keys == ("lr", "momentum")
    assert sweep.params(sweep.written) == {"lr": 0.001, "momentum": 0.9}
    diverged = 0
    for i, trace in enumerate(sweep.traces):
        lr, momentum = LRS[i // 4], MOMENTA[i % 4]
        assert sweep.params(i) == {"lr": lr, "momentum": momentum}
        assert trace.hyperparameters["lr"] == lr and trace.hyperparameters["momentum"] == momentum
        expected = plain(lambda p, lr=lr, m=momentum: torch.optim.SGD([p], lr=lr, momentum=m), 300)
        assert np.array_equal(recorded(trace), expected, equal_nan=True), (lr, momentum)
        diverged += trace.diverged_at[0] is not None
    assert diverged >= 1  # a diverging group leaves the others exact
    # The racer's own trace, what every picture shows, is the combination as written.
    assert np.array_equal(ran.result.traces[0].x, sweep.traces[sweep.written].x)


def test_the_batched_sweep_is_one_optimizer_over_a_group_per_combination() -> None:
    race = optrace.Race(function="rosenbrock", start=list(START), epochs=40, racers=[SGD_SWEEP])
    racer = race.plan().racers[0]
    built: list[Optimizer] = []
    spec = racer.optimizer

    class Watching(torch.optim.SGD):
        # torch's SGD, counted: batched as torch's own optimizers are.
        __module__ = torch.optim.SGD.__module__

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            built.append(self)

    from dataclasses import replace

    assert racer.sweep is not None
    watched = replace(spec, cls=Watching)
    runs = race_sweep(watched, rosenbrock, [START], 40, racer.sweep)
    # The check (two groups), then the race itself: one optimizer, 20 groups.
    assert [len(o.param_groups) for o in built][-1] == 20
    for i, run in enumerate(runs):
        values = racer.sweep.combinations[i]
        expected = plain(lambda p, v=values: torch.optim.SGD([p], **v), 40)
        got = np.stack([run.x[0], run.y[0], run.loss[0]], axis=1)  # type: ignore[index]
        assert np.array_equal(got, expected, equal_nan=True)


class GlobalNorm(Optimizer):
    """Steps every parameter by its gradient over the norm of all gradients of every
    group: grouping changes its steps, so a sweep must race it combination by
    combination."""

    def __init__(self, params: Any, lr: float = 0.01) -> None:
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        norm = torch.sqrt(sum((g**2).sum() for g in grads)) + 1e-12
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad / norm, alpha=-group["lr"])


def test_an_optimizer_whose_groups_interact_races_each_combination_alone() -> None:
    spec_race = optrace.Race(
        function="rosenbrock",
        start=list(START),
        epochs=30,
        racers=[{"optimizer": GlobalNorm, "lr": 0.01, "sweep": {"lr": [0.01, 0.02, 0.05]}}],
    )
    ran = spec_race.run()
    (sweep,) = ran.result.sweeps
    for i, trace in enumerate(sweep.traces):
        lr = sweep.params(i)["lr"]
        expected = plain(lambda p, lr=lr: GlobalNorm([p], lr=lr), 30)
        assert np.array_equal(recorded(trace), expected, equal_nan=True), lr


@pytest.mark.parametrize(
    "extra",
    [
        {"starts": {"random": 4}, "noise": {"std": 0.3}, "repeats": 2},
        {"budget": {"evaluations": 25}},
    ],
    ids=["swarm-noise-repeats", "budget"],
)
def test_swarms_noise_schedules_and_budgets_take_a_sweep(extra: dict[str, Any]) -> None:
    racers = [
        {
            "optimizer": "SGD",
            "lr": 0.001,
            "momentum": 0.5,
            "schedule": {"name": "StepLR", "step_size": 5, "gamma": 0.5},
            "sweep": {"lr": [0.0005, 0.001], "momentum": [0.0, 0.5]},
        },
        {"optimizer": "LBFGS", "lr": 0.1, "max_iter": 4, "sweep": {"lr": [0.1, 0.2]}},
    ]
    base: dict[str, Any] = {"function": "rosenbrock", "racers": racers, **extra}
    if "budget" not in extra:
        base["epochs"] = 25
    if "starts" not in extra:
        base["start"] = list(START)
    ran = optrace.Race.from_dict(base).run()
    for racer, sweep in zip(racers, ran.result.sweeps, strict=True):
        for i, trace in enumerate(sweep.traces):
            # Each combination alone, as a race of its own with those values.
            alone = {k: v for k, v in racer.items() if k != "sweep"} | sweep.params(i)
            solo = optrace.Race.from_dict({**base, "racers": [alone]}).run().result.traces[0]
            # Under a budget the race ends with its longest run; each stands still after.
            upto = solo.x.shape[1]
            assert np.array_equal(trace.x[:, :upto], solo.x, equal_nan=True), (racer, i)
            assert np.array_equal(trace.loss[:, :upto], solo.loss, equal_nan=True)
            assert trace.evaluations is not None
            assert np.array_equal(trace.evaluations[:, :upto], solo.evaluations)
            # A run still racing at its end stands there to the race's last epoch.
            standing = np.isfinite(trace.x[:, upto - 1])
            assert (trace.x[standing, upto - 1 :] == trace.x[standing, upto - 1, None]).all()


def test_the_outputs_hold_every_combination(invoke: Any, tmp_path: Path) -> None:
    config = ROOT / "configs" / "momentum-sweep.yaml"
    table, summary, traces = tmp_path / "t.csv", tmp_path / "s.json", tmp_path / "t.json"
    result = invoke("run", config, "--traces", table, "--summary", summary)
    assert result.exit_code == 0, result.stderr
    assert invoke("run", config, "--traces", traces).exit_code == 0
    with table.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:3] == ["racer", "lr", "momentum"]
    sgd = json.loads(summary.read_text())["racers"][0]
    assert [c["params"] for c in sgd["sweep"]] == [
        {"lr": lr, "momentum": m} for lr in LRS for m in MOMENTA
    ]
    for combination in sgd["sweep"]:
        lr, m = combination["params"]["lr"], combination["params"]["momentum"]
        mine = [
            r
            for r in rows
            if r["racer"] == "SGD momentum" and (float(r["lr"]), float(r["momentum"])) == (lr, m)
        ]
        expected = plain(lambda p, lr=lr, m=m: torch.optim.SGD([p], lr=lr, momentum=m), 300)
        finite = expected[np.isfinite(expected).all(axis=1)]
        assert [float(r["loss"]) for r in mine] == finite[:, 2].tolist()
        assert combination["final_loss"] == finite[-1, 2]
        assert combination["diverged"] == int(len(finite) < 301)
    adam = [r for r in rows if r["racer"] == "Adam"]
    assert len(adam) == 301 and {r["lr"] for r in adam} == {""}
    doc = json.loads(traces.read_text())
    assert [c["params"] for c in doc["racers"][0]["sweep"]] == [c["params"] for c in sgd["sweep"]]
    assert "sweep" not in doc["racers"][1]
    # The table names the best combination: the lowest final loss of those that finished.
    best = min(
        (c for c in sgd["sweep"] if not c["diverged"] and not c["left_domain"]),
        key=lambda c: c["final_loss"],
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("sweep of"))
    assert f"best lr={best['params']['lr']:g}, momentum={best['params']['momentum']:g}" in line


@pytest.mark.parametrize(
    ("racer", "message"),
    [
        ({"lr": 0.01, "sweep": {"lr": []}}, "racers[0].sweep.lr: give at least one value"),
        (
            {"lr": 0.01, "sweep": {"lr": [0.01, "big"]}},
            "racers[0].sweep.lr[1]: expected a finite number, got 'big'",
        ),
        (
            {"lr": 0.01, "sweep": {"lr": [0.1, 0.2]}},
            "racers[0].sweep.lr: the racer's own lr, 0.01, is not one of the values swept",
        ),
        (
            {"lr": 0.01, "sweep": {"momentum": [0.0, 0.9]}},
            "racers[0].sweep.momentum: write the racer's own momentum too",
        ),
        (
            {"lr": 0.01, "betas2": 0.5, "sweep": {"betas2": [0.5, 0.9]}},
            "racers[0].betas2: ",
        ),
        ({"lr": 0.01, "sweep": {"lr": 0.01}}, "racers[0].sweep.lr: expected a list of values"),
        (
            {"lr": 0.01, "sweep": {"lr": {"low": 0.001, "num": 3}}},
            "racers[0].sweep.lr.high: required key is missing",
        ),
        (
            {"lr": 0.01, "sweep": {"lr": {"low": 0, "high": 0.1, "num": 3, "log": True}}},
            "racers[0].sweep.lr: a log range needs low and high above 0",
        ),
        (
            {"lr": 0.01, "sweep": {"lr": [0.01, -0.001]}},
            "racers[0].sweep: Adam refuses lr=-0.001: Invalid learning rate",
        ),
        (
            {"lr": 0.01, "sweep": {"label": ["a"]}},
            "racers[0].sweep.label: 'label' is not an optimizer keyword",
        ),
    ],
)
def test_a_bad_sweep_is_one_line_and_writes_nothing(
    racer: dict[str, Any],
    message: str,
    invoke: Any,
    write_config: Callable[..., Path],
    tmp_path: Path,
) -> None:
    config = {"function": "rosenbrock", "epochs": 5, "racers": [{"optimizer": "Adam", **racer}]}
    gif = tmp_path / "a.gif"
    result = invoke("run", write_config(config), "--gif", gif)
    assert result.exit_code == 2, result.stdout
    (line,) = result.stderr.splitlines()
    assert message in line, line
    assert not gif.exists()


def test_a_sweep_plan_is_in_grid_order_with_the_written_values_found() -> None:
    plan = SweepPlan.of({"a": (1.0, 2.0, 3.0), "b": (0.0, 1.0)}, {"a": 3.0, "b": 0.0})
    assert plan.written == 4
    assert plan.combinations[:3] == [
        {"a": 1.0, "b": 0.0},
        {"a": 1.0, "b": 1.0},
        {"a": 2.0, "b": 0.0},
    ]


def test_a_racer_without_a_sweep_races_as_before() -> None:
    race = optrace.Race(
        function="rosenbrock",
        start=list(START),
        epochs=20,
        racers=[{"optimizer": "Adam", "lr": 0.05}],
    )
    ran = race.run()
    assert ran.result.sweeps == ()
    spec = race.plan().racers[0].optimizer
    alone = race_one(spec, rosenbrock, [START], 20)
    assert np.array_equal(ran.result.traces[0].x, alone.x)


def test_a_tuned_racer_keeps_its_sweep_with_the_tuned_value_among_its_values(
    tmp_path: Path,
) -> None:
    pytest.importorskip("optuna")
    race = optrace.Race(
        function="rosenbrock",
        start=list(START),
        epochs=30,
        racers=[
            {
                "optimizer": "SGD",
                "lr": 0.0001,
                "momentum": 0.5,
                "sweep": {"lr": [0.0001, 0.001], "momentum": [0.0, 0.5]},
            }
        ],
        tune={
            "trials": 3,
            "starts": [list(START)],
            "space": {"lr": {"low": 0.0005, "high": 0.002}},
        },
    )
    tuning = race.tune()
    (best,) = tuning.best.values()
    assert best["lr"] not in (0.0001, 0.001)  # trial 0 lies outside this space
    (path,) = tuning.save(tmp_path / "tuned.yaml")
    tuned = optrace.Race.from_yaml(path).run()
    (sweep,) = tuned.result.sweeps
    assert sweep.values[0] == tuple(sorted({0.0001, 0.001, best["lr"]}))
    assert sweep.params(sweep.written) == {"lr": best["lr"], "momentum": 0.5}
    # The tuned race from the API is the same race as the tuned file's.
    again = tuning.race.run()
    assert np.array_equal(again.result.traces[0].x, tuned.result.traces[0].x)
    assert again.result.sweeps[0].values == sweep.values


def test_a_third_party_optimizer_whose_groups_share_a_norm_is_exact_in_a_sweep() -> None:
    po = pytest.importorskip("pytorch_optimizer")
    # Adan clips by the gradient norm over every group: raced as groups, the middle
    # combination's huge gradients would clip the others' steps.
    racer = {
        "optimizer": "pytorch_optimizer.Adan",
        "lr": 0.001,
        "max_grad_norm": 1e4,
        "sweep": {"lr": [0.001, 20.0, 0.002]},
    }
    ran = optrace.Race(function="rosenbrock", start=list(START), epochs=60, racers=[racer]).run()
    (sweep,) = ran.result.sweeps
    for i, trace in enumerate(sweep.traces):
        lr = sweep.params(i)["lr"]
        expected = plain(lambda p, lr=lr: po.Adan([p], lr=lr, max_grad_norm=1e4), 60)
        assert np.array_equal(recorded(trace), expected, equal_nan=True), lr


def test_whole_numbers_swept_stay_whole() -> None:
    racer = {"optimizer": "LBFGS", "lr": 0.1, "max_iter": 10, "sweep": {"max_iter": [5, 10, 20]}}
    ran = optrace.Race(function="rosenbrock", start=list(START), epochs=5, racers=[racer]).run()
    (sweep,) = ran.result.sweeps
    assert sweep.values == ((5, 10, 20),)
    assert [type(t.hyperparameters["max_iter"]) for t in sweep.traces] == [int, int, int]
