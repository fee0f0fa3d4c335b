"""Learning-rate schedules race exactly as a plain torch loop with the scheduler."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from optrace.engine.loop import run
from optrace.engine.plan import prepare
from optrace.spec.loading import parse_config
from tests.conftest import peaks_slice

SCHEDULES = [
    {"name": "StepLR", "step_size": 5, "gamma": 0.5},
    {"name": "CosineAnnealingLR", "T_max": 20},
    {"name": "ExponentialLR", "gamma": 0.9},
    {"name": "OneCycleLR", "max_lr": 0.3, "total_steps": 30},
    {
        "name": "ReduceLROnPlateau",
        "factor": 0.5,
        "patience": 2,
        "threshold": 0.01,
        "threshold_mode": "abs",
    },
    {"name": "MultiStepLR", "milestones": [4, 9], "gamma": 0.3},
]


def plain_loop(
    schedule: dict[str, Any], start: float, epochs: int
) -> tuple[list[float], list[float]]:
    x = torch.tensor([start], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([x], lr=0.05, momentum=0.9)
    kwargs = {k: v for k, v in schedule.items() if k != "name"}
    scheduler = getattr(torch.optim.lr_scheduler, schedule["name"])(opt, **kwargs)
    xs, lrs = [start], [opt.param_groups[0]["lr"]]
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        peaks_slice(x).backward()
        opt.step()
        loss = peaks_slice(x)
        if schedule["name"] == "ReduceLROnPlateau":
            scheduler.step(loss.item())
        else:
            scheduler.step()
        xs.append(x.item())
    return xs, lrs


def config(schedule: dict[str, Any], **extra: Any) -> dict[str, Any]:
    racer = {"optimizer": "SGD", "lr": 0.05, "momentum": 0.9, "schedule": schedule}
    return {"function": "peaks-slice", "epochs": 30, "racers": [racer], **extra}


@pytest.mark.parametrize("schedule", SCHEDULES, ids=[s["name"] for s in SCHEDULES])
def test_schedule_matches_the_plain_loop(schedule: dict[str, Any]) -> None:
    (trace,) = run(prepare(parse_config(config(schedule, start=1.4)))).traces
    xs, lrs = plain_loop(schedule, 1.4, 30)
    assert trace.x[0].tolist() == xs
    assert trace.lr is not None and trace.lr[0].tolist() == lrs
    assert len(set(lrs)) > 1  # the schedule really changed the learning rate


@pytest.mark.parametrize("name", ["StepLR", "ReduceLROnPlateau"])
def test_scheduled_swarm_equals_separate_runs(name: str) -> None:
    schedule = next(s for s in SCHEDULES if s["name"] == name)
    plan = prepare(parse_config(config(schedule, starts=[-1.0, 0.3, 1.4])))
    assert plan.racers[0].optimizer.elementwise is (name != "ReduceLROnPlateau")
    (trace,) = run(plan).traces
    for row, start in enumerate([-1.0, 0.3, 1.4]):
        assert trace.x[row].tolist() == plain_loop(schedule, start, 30)[0]


def test_labels_tell_apart_racers_that_differ_only_in_schedule() -> None:
    racers = [
        {"optimizer": "Adam", "lr": 0.1},
        {"optimizer": "Adam", "lr": 0.1, "schedule": {"name": "StepLR", "step_size": 3}},
    ]
    plan = prepare(parse_config({"function": "peaks-slice", "epochs": 2, "racers": racers}))
    assert [r.label for r in plan.racers] == ["Adam schedule=none", "Adam schedule=StepLR"]


def test_traces_json_holds_the_learning_rate(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    out = tmp_path / "t.json"
    result = invoke("run", write_config(config(SCHEDULES[0], start=1.4)), "--traces", out)
    assert result.exit_code == 0, result.stderr
    racer = json.loads(out.read_text())["racers"][0]
    assert racer["schedule"] == "StepLR"
    assert racer["starts"][0]["lr"] == plain_loop(SCHEDULES[0], 1.4, 30)[1]


BAD = {
    "unknown scheduler": (
        {"name": "StepLRR", "step_size": 2},
        "racers[0].schedule.name: unknown scheduler 'StepLRR' (did you mean 'StepLR'?)",
    ),
    "no name": ({"step_size": 2}, "racers[0].schedule.name: name a scheduler"),
    "needs a function": (
        {"name": "LambdaLR"},
        "racers[0].schedule.name: LambdaLR cannot come from a config: its lr_lambda",
    ),
    "missing keyword": (
        {"name": "CosineAnnealingLR"},
        "racers[0].schedule.T_max: CosineAnnealingLR needs 'T_max'; add it",
    ),
    "unknown keyword": (
        {"name": "StepLR", "step_size": 2, "gama": 0.5},
        "racers[0].schedule.gama: StepLR has no parameter 'gama' (did you mean 'gamma'?)",
    ),
    "wrong type": (
        {"name": "ExponentialLR", "gamma": "fast"},
        "racers[0].schedule.gamma: expected a number, got 'fast'",
    ),
    "rejected value": (
        {"name": "CosineAnnealingWarmRestarts", "T_0": -1},
        "racers[0].schedule: CosineAnnealingWarmRestarts rejects these parameters",
    ),
    "not a scheduler": (
        {"name": "math.pi"},
        "racers[0].schedule.name: 'math.pi' is not a torch.optim.lr_scheduler",
    ),
}


@pytest.mark.parametrize("schedule, message", BAD.values(), ids=list(BAD))
def test_bad_schedule_is_one_line_exit_2(
    invoke: Any, write_config: Callable[..., Path], schedule: dict[str, Any], message: str
) -> None:
    path = write_config(config(schedule))
    result = invoke("validate", path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {path}: {message}"), result.stderr
    assert len(result.stderr.splitlines()) == 1
