"""Tuning and the gallery take model races: each trial and each cell against a
hand-written training loop."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

import optrace
from optrace._core.errors import ConfigError

pytest.importorskip("sklearn")
pytest.importorskip("optuna")

MODEL = {"data": "iris", "net": [6], "test": 0.3}


def _hand(lr: float, epochs: int, seed: int = 0) -> tuple[float, float]:
    """Adam on iris's MLP by hand: the final training loss and test accuracy."""
    from optrace.problems.datasets import load_dataset
    from optrace.problems.networks import build_mlp

    data = load_dataset("iris", seed=seed, test=0.3)
    net = build_mlp(4, [6], 3, "tanh", seed, torch.float64)
    X, y = torch.tensor(data.X), torch.tensor(data.y)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(epochs):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    with torch.no_grad():
        loss = float(torch.nn.functional.cross_entropy(net(X), y))
        out = net(torch.tensor(data.X_test))
        accuracy = float((out.argmax(-1) == torch.tensor(data.y_test)).double().mean())
    return loss, accuracy


@pytest.mark.parametrize("objective", ["final-loss", "test-accuracy"])
def test_every_trial_scores_what_a_hand_loop_of_its_values_gives(objective: str) -> None:
    race = optrace.Race(
        model=MODEL,
        epochs=15,
        racers=[{"optimizer": "Adam", "lr": 0.01}],
        tune={"trials": 4, "objective": objective},
    )
    tuning = race.tune()
    (trials,) = tuning.trials.values()
    assert len(trials) == 4
    for trial in trials:
        loss, accuracy = _hand(trial.params["lr"], 15)
        assert trial.objective == (loss if objective == "final-loss" else -accuracy)
    best = min(trials, key=lambda t: (t.objective, t.number))
    assert tuning.best["Adam"]["lr"] == best.params["lr"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"model": MODEL, "tune": {"objective": "final-gap"}},
            "tune.objective: a model race has no known minimum, so 'final-gap' cannot be "
            "measured; use 'final-loss' or 'test-accuracy'",
        ),
        (
            {"model": {**MODEL, "test": 0}, "tune": {"objective": "test-accuracy"}},
            "tune.objective: test-accuracy needs held-out classes",
        ),
        (
            {"function": "rosenbrock", "tune": {"objective": "test-accuracy"}},
            "tune.objective: test-accuracy measures a model race; rosenbrock is a function",
        ),
    ],
)
def test_an_objective_the_race_cannot_measure_is_one_line(
    fields: dict[str, Any], message: str
) -> None:
    race = optrace.Race(epochs=3, racers=[{"optimizer": "Adam"}], **fields)
    with pytest.raises(ConfigError) as raised:
        race.tune(trials=2)
    assert str(raised.value).startswith(message), str(raised.value)


def test_a_gallery_row_may_be_a_model(tmp_path: Path, invoke: Any) -> None:
    config = tmp_path / "gallery.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "functions": ["booth"],
                "models": {"iris-mlp": MODEL},
                "optimizers": [{"optimizer": "Adam", "lr": 0.05}],
                "epochs": 12,
                "animation": {"size": [240, 240]},
            }
        )
    )
    result = invoke("gallery", config, "--out", tmp_path / "site", "--workers", "1")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "site" / "summary.csv").open()))
    assert [(r["function"], r["status"]) for r in rows] == [("booth", "ok"), ("iris-mlp", "ok")]
    loss, _ = _hand(0.05, 12)
    assert math.isclose(float(rows[1]["final_loss"]), loss, rel_tol=0, abs_tol=0)
    assert (tmp_path / "site" / "iris-mlp" / "Adam.png").is_file()
