"""``optrace tune``: the same budget for every racer, scored like a plain torch loop,
reproducible, resumable, and shared by worker processes on one real Optuna storage."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

pytest.importorskip("optuna", reason="tuning needs the 'tune' extra (optuna)")

import optuna
import torch

import optrace
from optrace.spec.loading import load_config, parse_config
from optrace.tune import tune_config
from optrace.tune.outputs import report_json, table, tuned_yaml
from tests.conftest import ROOT

STARTS = [[-1.2, 1.0], [0.5, -0.5], [1.5, 2.0]]


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    """(1 - x)^2 + 100 (y - x^2)^2, written out here; its minimum is 0 at (1, 1)."""
    x, y = p[..., 0], p[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def plain_losses(cls: type[torch.optim.Optimizer], hyper: dict[str, Any], epochs: int) -> list:
    """Every start raced on its own by a hand-written torch loop: its losses per epoch."""
    runs = []
    for start in STARTS:
        p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        opt = cls([p], **hyper)
        losses = [rosenbrock(p).item()]
        for _ in range(epochs):
            opt.zero_grad()
            rosenbrock(p).backward()
            opt.step()
            losses.append(rosenbrock(p).item())
        runs.append(losses)
    return runs


def small(**tune: Any) -> dict[str, Any]:
    return {
        "function": "rosenbrock",
        "start": [-1.2, 1.0],
        "epochs": 20,
        "tune": {"trials": 4, "starts": STARTS, **tune},
        "racers": [
            {
                "optimizer": "SGD",
                "lr": 0.001,
                "momentum": 0.5,
                "tune": {
                    "space": {
                        "lr": {"low": 1.0e-5, "high": 1.0e-3, "log": True},
                        "momentum": {"low": 0.0, "high": 0.95},
                    }
                },
            },
            {"optimizer": "Adam", "lr": 0.05},
            {"optimizer": "RMSprop", "lr": 0.01, "tune": False},
        ],
    }


@pytest.mark.parametrize("objective", ["final-gap", "mean-log-gap", "epochs-to-tolerance"])
def test_the_best_trial_scores_what_a_plain_torch_loop_scores(objective: str) -> None:
    tuning = tune_config(parse_config(small(objective=objective, trials=5)))
    assert [r.label for r in tuning.racers] == ["SGD", "Adam"]
    for racer, cls in zip(tuning.racers, (torch.optim.SGD, torch.optim.Adam), strict=True):
        hyper = (
            {"momentum": 0.5, **racer.best_params} if cls is torch.optim.SGD else racer.best_params
        )
        runs = plain_losses(cls, hyper, 20)
        if objective == "final-gap":
            per_start = [run[-1] - 0.0 for run in runs]
        elif objective == "mean-log-gap":
            # numpy's log10, as the objective takes it (math.log10 can differ in the last bit).
            per_start = [
                math.fsum(float(np.log10(max(v, 0.0) + 1e-12)) for v in run[1:]) / 20
                for run in runs
            ]
        else:
            per_start = [next((e for e, v in enumerate(run) if v <= 1e-3), 21) for run in runs]
        assert racer.best_objective == math.fsum(per_start) / len(per_start)
        assert racer.best_objective == min(t.objective for t in racer.trials)
        baseline = plain_losses(
            cls, {"lr": 0.001, "momentum": 0.5} if racer.label == "SGD" else {"lr": 0.05}, 20
        )
        if objective == "final-gap":
            assert racer.baseline_objective == math.fsum(r[-1] for r in baseline) / 3
    # The tuned config races the best values, as written; the untuned racer is as it was.
    racers = tuning.config.racers
    assert racers[0].hyperparameters == {
        "lr": tuning.best["SGD"]["lr"],
        "momentum": tuning.best["SGD"]["momentum"],
    }
    assert racers[2].hyperparameters == {"lr": 0.01}
    assert load_config_text(tuned_yaml(tuning)).racers == racers


def load_config_text(text: str) -> Any:
    return parse_config(yaml.safe_load(text))


def test_a_racer_that_diverges_or_leaves_the_domain_scores_worst() -> None:
    tuning = tune_config(
        parse_config(
            {
                **small(),
                "racers": [{"optimizer": "SGD", "lr": 0.001}],
                "tune": {
                    "trials": 6,
                    "starts": STARTS,
                    "space": {"lr": {"low": 0.01, "high": 10, "log": True}},
                },
            }
        )
    )
    (racer,) = tuning.racers
    assert len(racer.trials) == 6
    for trial in racer.trials:
        # Plain SGD with lr >= 0.01 flies out of Rosenbrock's valley: a hand-written loop
        # with the trial's lr reaches a loss that is not a number within the 20 epochs.
        runs = plain_losses(torch.optim.SGD, trial.params, 20)
        assert not all(math.isfinite(v) for run in runs for v in run), trial.params
        assert trial.objective == math.inf and trial.state == "COMPLETE"
    assert racer.best_objective == math.inf
    report = json.loads(json.dumps(tuning.report()))
    assert {(t["objective"], t["diverged"]) for t in report["racers"][0]["trials"]} == {
        (None, True)
    }
    worst = report["settings"]["worst"]
    assert "diverges" in worst and "scores inf, the worst" in worst
    # lr 0.001 lies below the space: it is not a trial, and the comment says so.
    assert report["racers"][0]["baseline"]["in_space"] is False
    assert "  # final-gap inf (worst) (as written, outside the space: " in tuned_yaml(tuning)


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optrace", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def without_timings(report: dict[str, Any]) -> dict[str, Any]:
    for racer in report["racers"]:
        for trial in racer["trials"]:
            assert trial.pop("seconds") >= 0
    return report


def test_two_fresh_processes_write_the_same_tuned_config(tmp_path: Path) -> None:
    config = tmp_path / "race.yaml"
    config.write_text(yaml.safe_dump(small()))
    outs = []
    for name in ("a", "b"):
        done = run_cli(
            "tune",
            config,
            "--out",
            tmp_path / f"{name}.yaml",
            "--report",
            tmp_path / f"{name}.json",
        )
        assert done.returncode == 0, done.stderr
        outs.append(
            (
                (tmp_path / f"{name}.yaml").read_bytes(),
                json.loads((tmp_path / f"{name}.json").read_text()),
                done.stdout,
            )
        )
    (yaml_a, report_a, table_a), (yaml_b, report_b, table_b) = outs
    assert yaml_a == yaml_b and table_a == table_b
    assert without_timings(report_a) == without_timings(report_b)
    assert set(report_a) == {"settings", "racers"}
    for racer in report_a["racers"]:
        assert set(racer) == {
            "label",
            "optimizer",
            "space",
            "best",
            "baseline",
            "kept_as_written",
            "trials",
        }
        assert [t["number"] for t in racer["trials"]] == [0, 1, 2, 3]
        assert {t["state"] for t in racer["trials"]} == {"COMPLETE"}
    assert table_a.splitlines()[0].split() == [
        "racer",
        "tuned",
        "values",
        "final-gap",
        "as",
        "written",
        "trials",
        "chosen",
    ]
    # The tuned file races as written.
    done = run_cli("validate", tmp_path / "a.yaml")
    assert done.returncode == 0, done.stderr


def finished(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(storage=storage, study_name=name)
    return [t for t in study.get_trials() if t.state.is_finished()]


def test_an_interrupted_study_resumes_on_sqlite_and_never_exceeds_its_budget(
    tmp_path: Path,
) -> None:
    config = tmp_path / "slow.yaml"
    # No trial diverges in this space, so none is cut short: each takes about half a
    # second, and the interruption lands with trials still to run.
    space = {"lr": {"low": 1e-4, "high": 1e-3, "log": True}}
    doc = {
        **small(),
        "epochs": 1000,
        "tune": {"trials": 8, "starts": {"random": 16}, "space": space},
    }
    doc["racers"] = [{"optimizer": "Adam", "lr": 0.05}]
    config.write_text(yaml.safe_dump(doc))
    url = f"sqlite:///{tmp_path / 'study.db'}"
    name = "slow:racers[0]:Adam"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "optrace",
            "tune",
            str(config),
            "--storage",
            url,
            "--out",
            str(tmp_path / "t.yaml"),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            if len(finished(url, name)) >= 2:
                break
        except KeyError:
            continue  # not created yet
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "Error: interrupted; no output was written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.yaml", "study.db"]
    stopped = finished(url, name)
    states = [t.state.name for t in stopped]
    assert 2 <= len(states) < 8 and states.count("FAIL") <= 1  # the one running, if any
    # The interrupted trial is not the trial's fault: it is lost, and run again.
    interrupted = [t for t in stopped if t.state.name == "FAIL"]
    assert all("optrace:lost" in t.system_attrs for t in interrupted)
    for _ in range(2):  # resume, then once more: nothing is left to run
        done = run_cli("tune", config, "--storage", url, "--report", tmp_path / "r.json")
        assert done.returncode == 0, done.stderr
        report = json.loads((tmp_path / "r.json").read_text())
        trials = report["racers"][0]["trials"]
        assert len(trials) == 8 and {t["state"] for t in trials} == {"COMPLETE"}
        numbers = [t["number"] for t in trials]
        assert not {t.number for t in interrupted} & set(numbers)
        assert len(set(numbers)) == 8
        counted = [t for t in finished(url, name) if t.state.name == "COMPLETE"]
        assert len(counted) == 8
    for lost in interrupted:  # its retry raced the values it was running
        assert {"lr": lost.params["lr"]} in [t["params"] for t in trials]
    # A larger budget goes on from there; a study name of its own starts afresh.
    doc["tune"]["trials"] = 10
    config.write_text(yaml.safe_dump(doc))
    done = run_cli("tune", config, "--storage", url)
    assert done.returncode == 0, done.stderr
    assert len([t for t in finished(url, name) if t.state.name == "COMPLETE"]) == 10


def test_two_worker_processes_share_one_journal_and_the_budget(tmp_path: Path) -> None:
    config = tmp_path / "race.yaml"
    doc = {**small(), "epochs": 150, "tune": {"trials": 10, "starts": {"random": 8}}}
    config.write_text(yaml.safe_dump(doc))
    journal = tmp_path / "study.log"
    done = run_cli(
        "tune",
        config,
        "--storage",
        f"journal:{journal}",
        "--workers",
        "2",
        "--study",
        "shared",
        "--report",
        tmp_path / "r.json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["settings"]["workers"] == 2 and "may vary" in report["settings"]["order"]
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(journal)))
    for racer in report["racers"]:
        numbers = [t["number"] for t in racer["trials"]]
        assert numbers == list(range(10))
        study = optuna.load_study(
            storage=storage,
            study_name=f"shared:racers[{0 if racer['label'] == 'SGD' else 1}]:{racer['label']}",
        )
        stored = [t.number for t in study.get_trials() if t.state.is_finished()]
        assert sorted(stored) == list(range(10))  # no duplicate, none beyond the budget


def test_worker_processes_report_each_finished_trial_to_the_progress_bar(
    tmp_path: Path,
) -> None:
    """With --workers the parent reads the finished trials from the shared storage:
    the bar hears of every trial once, and of none that was already stored."""
    heard: list[int] = []
    url = f"journal:{tmp_path / 'study.log'}"
    config = parse_config({**small(), "tune": {"trials": 6, "starts": STARTS}})
    tune_config(config, storage=url, workers=2, progress=heard.append)
    assert sum(heard) == 2 * 6 and all(n > 0 for n in heard)
    more = parse_config({**small(), "tune": {"trials": 9, "starts": STARTS}})
    heard.clear()
    tune_config(more, storage=url, workers=2, progress=heard.append)
    assert sum(heard) == 2 * 3


def himmelblau(p: torch.Tensor) -> torch.Tensor:
    """(x^2 + y - 11)^2 + (x + y^2 - 7)^2, written out here; its minima are 0."""
    x, y = p[..., 0], p[..., 1]
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def plain_final_gap(
    fn: Callable[[torch.Tensor], torch.Tensor],
    cls: type[torch.optim.Optimizer],
    hyper: dict[str, Any],
    starts: list[list[float]],
    epochs: int,
    box: tuple[tuple[float, float], tuple[float, float]],
) -> float:
    """The final-gap objective by a hand-written torch loop (every start a row of one
    tensor, which an element-wise optimizer moves independently): inf if any start's
    loss stops being a number or its place leaves ``box``."""
    p = torch.tensor(starts, dtype=torch.float64, requires_grad=True)
    low = torch.tensor([box[0][0], box[1][0]], dtype=torch.float64)
    high = torch.tensor([box[0][1], box[1][1]], dtype=torch.float64)
    opt = cls([p], **hyper)
    for _ in range(epochs):
        opt.zero_grad()
        fn(p).sum().backward()
        opt.step()
        with torch.no_grad():
            losses = fn(p)
            if not (torch.isfinite(losses).all() and ((p >= low) & (p <= high)).all()):
                return math.inf
    return math.fsum(losses.tolist()) / len(starts)


TORCH = {
    "SGD": torch.optim.SGD,
    "Adam": torch.optim.Adam,
    "Adagrad": torch.optim.Adagrad,
    "Adadelta": torch.optim.Adadelta,
    "RMSprop": torch.optim.RMSprop,
}


@pytest.mark.parametrize(
    ("function", "fn", "box"),
    [
        ("rosenbrock", rosenbrock, ((-2.0, 2.0), (-1.0, 3.0))),
        ("himmelblau", himmelblau, ((-5.0, 5.0), (-5.0, 5.0))),
    ],
)
def test_tuned_racers_are_no_worse_than_the_configs_own_values(
    function: str, fn: Callable[[torch.Tensor], torch.Tensor], box: Any, tmp_path: Path
) -> None:
    # configs/fair-rosenbrock.yaml at its own horizon and starts: its hand-picked SGD
    # and Adagrad lie in thin bands that a few sampled trials miss.
    config = load_config(ROOT / "configs" / "fair-rosenbrock.yaml")
    assert [r.optimizer for r in config.racers] == list(TORCH)
    config = config.model_copy(
        update={"function": config.function.model_copy(update={"name": function})}
    )
    url = f"sqlite:///{tmp_path / 'study.db'}"
    tuning = tune_config(config, trials=5, storage=url, study="fair")
    starts = [list(p) for p in tuning.settings["points"]]
    assert len(starts) == 8 and tuning.settings["epochs"] == 200
    by_label = {r.label: r for r in tuning.racers}
    for i, (written, tuned) in enumerate(zip(config.racers, tuning.config.racers, strict=True)):
        label = tuning.labels[i]
        # Trial 0 raced the values as written, as the storage holds it.
        stored = optuna.load_study(storage=url, study_name=f"fair:racers[{i}]:{label}")
        first = next(t for t in stored.get_trials() if t.number == 0)
        assert first.params == {"lr": written.hyperparameters["lr"]}
        assert len(by_label[label].trials) == 5
        cls = TORCH[written.optimizer]
        as_written = plain_final_gap(fn, cls, written.hyperparameters, starts, 200, box)
        chosen = plain_final_gap(fn, cls, tuned.hyperparameters, starts, 200, box)
        assert first.value == as_written == by_label[label].baseline_objective, label
        assert chosen <= as_written, label
        if by_label[label].kept_as_written:
            assert tuned == written
    kept = [r for r in tuning.racers if r.kept_as_written]
    assert "Adagrad" in [r.label for r in kept]  # the case that was handed back worse
    text = tuned_yaml(tuning)
    for racer in kept:
        assert (
            f"  # final-gap {racer.baseline_objective:.6g} as written, kept: no trial beat it "
            "(trial 0 of 5 trials over lr log-uniform [0.0001, 100])\n"
            f"  - {{optimizer: {racer.optimizer}, lr: "
        ) in text


ISSUE = {
    "function": "rosenbrock",
    "start": [-1.2, 1.0],
    "epochs": 20,
    # 7 trials: with the seed 0, none of slots 1 to 6 beats the values as written
    # (a plain loop checks each below); slot 7's lr, 0.00014, would.
    "tune": {"trials": 7, "space": {"lr": {"low": 1.0e-4, "high": 0.1, "log": True}}},
    "racers": [{"optimizer": "SGD", "lr": 1.0e-4, "momentum": 0.9}],
}


def test_when_no_trial_beats_the_values_as_written_the_tuned_config_keeps_them(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    tuning = tune_config(parse_config(ISSUE), storage=url, study="issue")
    (racer,) = tuning.racers
    starts = [list(p) for p in tuning.settings["points"]]
    box = ((-2.0, 2.0), (-1.0, 3.0))
    stored = sorted(
        optuna.load_study(storage=url, study_name="issue:racers[0]:SGD").get_trials(),
        key=lambda t: t.number,
    )
    assert [t.number for t in stored] == list(range(7))
    assert stored[0].params == {"lr": 1.0e-4}
    as_written = plain_final_gap(
        rosenbrock, torch.optim.SGD, {"lr": 1.0e-4, "momentum": 0.9}, starts, 20, box
    )
    assert math.isfinite(as_written) and stored[0].value == as_written
    lost = 0
    for t in stored[1:]:
        # No other trial beats it in a hand-written loop either; most diverge.
        lr = t.params["lr"]
        assert 1.0e-4 < lr <= 0.1
        gap = plain_final_gap(
            rosenbrock, torch.optim.SGD, {"lr": lr, "momentum": 0.9}, starts, 20, box
        )
        assert gap == t.value and gap >= as_written, lr
        lost += gap == math.inf
    assert lost >= 5
    assert racer.kept_as_written and racer.in_space
    assert racer.best_params == {"lr": 1.0e-4} and racer.best_objective == as_written
    assert tuning.config.racers[0].hyperparameters == {"lr": 1.0e-4, "momentum": 0.9}
    text = tuned_yaml(tuning)
    assert load_config_text(text).racers == tuning.config.racers
    assert (
        f"  # final-gap {as_written:.6g} as written, kept: no trial beat it (trial 0 of 7 "
        "trials over lr log-uniform [0.0001, 0.1])\n  - {optimizer: SGD, lr: 0.0001, "
        "momentum: 0.9}\n"
    ) in text
    report = json.loads(report_json(tuning))["racers"][0]
    assert report["kept_as_written"] is True
    assert report["baseline"] == {
        "params": {"lr": 1.0e-4},
        "objective": as_written,
        "diverged": False,
        "in_space": True,
        "trial": 0,
    }
    assert report["best"] == {"params": {"lr": 1.0e-4}, "objective": as_written, "diverged": False}
    assert table(tuning).splitlines()[1].endswith("  as written (no trial beat it)")


def test_values_as_written_outside_the_space_are_not_a_trial_and_the_report_says_so(
    tmp_path: Path,
) -> None:
    doc = {**ISSUE, "racers": [{"optimizer": "SGD", "lr": 0.5, "momentum": 0.9}]}
    url = f"sqlite:///{tmp_path / 'study.db'}"
    tuning = tune_config(parse_config(doc), trials=3, storage=url, study="out")
    (racer,) = tuning.racers
    stored = optuna.load_study(storage=url, study_name="out:racers[0]:SGD").get_trials()
    assert all(t.params["lr"] <= 0.1 for t in stored) and len(stored) == 3
    assert not racer.in_space and not racer.kept_as_written
    report = json.loads(report_json(tuning))["racers"][0]
    assert report["baseline"]["in_space"] is False and report["baseline"]["trial"] is None
    assert "(as written, outside the space: " in tuned_yaml(tuning)
    assert "(as written outside the space)" in table(tuning)


@pytest.mark.parametrize(
    ("space", "value", "inside"),
    [
        ({"low": 1e-4, "high": 0.1, "log": True}, 1e-4, True),
        ({"low": 1e-4, "high": 0.1, "log": True}, 0.1, True),
        ({"low": 1e-4, "high": 0.1, "log": True}, 0.5, False),
        ({"low": 1e-4, "high": 0.1, "log": True}, 0.0, False),
        ({"low": 1e-4, "high": 0.1, "log": True}, 20, False),
        ({"low": 1, "high": 100, "log": True}, 20, True),
        ({"low": 0.0, "high": 0.9, "step": 0.3}, 0.6, True),
        ({"low": 0.0, "high": 0.9, "step": 0.3}, 0.45, False),
        # Optuna trims high to the last step below it: 0.0, 0.4, 0.8.
        ({"low": 0.0, "high": 1.0, "step": 0.4}, 1.0, False),
        ({"choices": [False, True]}, False, True),
        ({"choices": [0, 1]}, False, False),
        ({"choices": [1, 2]}, 3, False),
        ({"choices": ["a", "b"]}, "b", True),
        ({"low": 0.0, "high": 1.0}, None, False),
    ],
)
@pytest.mark.filterwarnings("ignore:The distribution is specified by")
def test_values_are_inside_a_space_when_optuna_suggests_them_unchanged(
    space: dict[str, Any], value: Any, inside: bool
) -> None:
    from optrace.spec.tune import SearchRange
    from optrace.tune.space import Param

    param = Param("k", SearchRange(**space), value)
    assert param.contains(value) is inside
    # Optuna, given the value as trial 0, suggests it unchanged (with no warning that
    # it is out of range) exactly when it is inside.
    study = optuna.create_study()
    study.enqueue_trial({"k": value})
    missing = object()
    with warnings.catch_warnings(record=True) as heard:
        warnings.simplefilter("always")
        try:
            trial = study.ask()
            param.suggest(trial)
            study.tell(trial, 0.0)
            got = study.trials[0].params["k"]  # as the storage records it
        except (ValueError, TypeError):
            got = missing
    if "choices" in space:
        unchanged = got is not missing and type(got) is type(value) and got == value
    else:
        unchanged = got is not missing and not heard and float(got) == float(value)
    assert unchanged is inside


BAD: list[tuple[dict[str, Any], str, int]] = [
    (
        {"tune": {"space": {"momentun": {"low": 0.0, "high": 0.9}}}},
        "Error: race.yaml: tune.space.momentun: SGD (racers[0]) has no hyperparameter "
        "'momentun' (did you mean 'momentum'?); it takes: lr, momentum, dampening, "
        "weight_decay, nesterov, maximize, foreach, differentiable, fused, or give "
        "racers[0] its own tune: {space: ...}",
        2,
    ),
    (
        {"tune": {"space": {"lr": {"low": 0.1, "high": 0.1}}}},
        "Error: race.yaml: tune.space.lr.high: must be above low, got low=0.1 and high=0.1",
        2,
    ),
    (
        {"tune": {"space": {"lr": {"low": 0.0, "high": 1.0, "log": True}}}},
        "Error: race.yaml: tune.space.lr.low: 'log: true' needs low > 0, got 0; use e.g. 1.0e-5",
        2,
    ),
    ({"tune": {"trials": 0}}, "Error: race.yaml: tune.trials: must be at least 1, got 0", 2),
    (
        {"function": "saddle", "tune": {"objective": "best-gap"}},
        "Error: race.yaml: tune.objective: saddle has no known minimum f*, so 'best-gap' "
        "cannot be measured; use 'final-loss'",
        2,
    ),
    (
        {"tune": {"space": {"lr": {"low": -1.0, "high": 0.1}}}},
        "Error: race.yaml: tune.space.lr: SGD rejects lr=-1.0: Invalid learning rate: -1.0",
        2,
    ),
    (
        {"tune": {"space": {"nesterov": {"low": 0, "high": 1}}}},
        "Error: race.yaml: tune.space.nesterov: nesterov is not a real number: give it "
        "choices, e.g. choices: [false, true]",
        2,
    ),
]


@pytest.mark.parametrize(("change", "line", "code"), BAD, ids=[b[1].split(": ")[2] for b in BAD])
def test_a_bad_tune_block_is_one_line_and_leaves_no_file(
    change: dict[str, Any],
    line: str,
    code: int,
    write_config: Callable[..., Path],
    invoke: Any,
    tmp_path: Path,
) -> None:
    doc = {
        "function": "rosenbrock",
        "epochs": 5,
        "racers": [{"optimizer": "SGD", "lr": 0.01}],
        **change,
    }
    config = write_config(doc)
    result = invoke(
        "tune",
        config,
        "--out",
        tmp_path / "t.yaml",
        "--report",
        tmp_path / "t.json",
        "--plot",
        tmp_path / "t.png",
        "--storage",
        f"sqlite:///{tmp_path / 's.db'}",
    )
    assert result.exit_code == code
    assert result.stderr.replace(str(tmp_path) + "/", "").splitlines() == [line]
    assert [p.name for p in tmp_path.iterdir()] == ["race.yaml"]


def test_an_unreachable_storage_is_one_line_exit_1_and_leaves_no_file(
    write_config: Callable[..., Path], invoke: Any, tmp_path: Path
) -> None:
    config = write_config(
        {"function": "rosenbrock", "epochs": 5, "racers": [{"optimizer": "SGD", "lr": 0.01}]}
    )
    for url, why in (
        (f"sqlite:///{tmp_path / 'no' / 's.db'}", f"folder '{tmp_path / 'no'}' does not exist"),
        (f"journal:{tmp_path / 'no' / 's.log'}", f"folder '{tmp_path / 'no'}' does not exist"),
    ):
        result = invoke("tune", config, "--out", tmp_path / "t.yaml", "--storage", url)
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [f"Error: --storage: cannot open '{url}': {why}"]
    result = invoke("tune", config, "--storage", "postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("Error: --storage: cannot open 'postgresql://")
    assert [p.name for p in tmp_path.iterdir()] == ["race.yaml"]


def test_workers_need_a_shared_storage(write_config: Callable[..., Path], invoke: Any) -> None:
    config = write_config(
        {"function": "rosenbrock", "epochs": 5, "racers": [{"optimizer": "SGD", "lr": 0.01}]}
    )
    result = invoke("tune", config, "--workers", "2")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: --workers: more than one needs a storage the processes can share: "
        "journal:FILE (or a database server URL)"
    ]


def test_import_optrace_tune_imports_no_optuna() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import optrace.tune, sys; print('optuna' in sys.modules)"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    assert done.stdout.strip() == "False"


def test_a_racer_raced_start_by_start_that_leaves_the_domain_scores_worst_too() -> None:
    """Adafactor races each start on its own: leaving the domain at the first start
    is the worst, and a value that stays inside scores what a plain loop scores."""
    starts = [[1.8802120072262123, 1.8312794575991518], [0.5, -0.5]]
    space = {"lr": {"choices": [2.8765041432546945, 0.05]}}
    doc = {
        "function": "rosenbrock",
        "epochs": 10,
        "tune": {"trials": 4, "starts": starts, "space": space},
        "racers": [{"optimizer": "Adafactor"}],
    }
    (racer,) = tune_config(parse_config(doc)).racers
    by_lr = {t.params["lr"]: t.objective for t in racer.trials}
    assert set(by_lr) == {2.8765041432546945, 0.05}
    assert by_lr[2.8765041432546945] == math.inf  # y passes 3, the top of the domain
    finals = []
    for start in starts:
        p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adafactor([p], lr=0.05)
        for _ in range(10):
            opt.zero_grad()
            rosenbrock(p).backward()
            opt.step()
            assert -2 <= p[0].item() <= 2 and -1 <= p[1].item() <= 3
        finals.append(rosenbrock(p).item())
    assert by_lr[0.05] == math.fsum(finals) / 2 == racer.best_objective


def test_race_tune_from_the_api_gives_a_race_that_runs() -> None:
    import optrace

    race = optrace.Race(
        function="rosenbrock",
        epochs=20,
        tune={"trials": 3, "starts": {"random": 2}},
        racers=[{"optimizer": "Adam", "lr": 0.001}],
    )
    tuned = race.tune()
    assert isinstance(tuned, optrace.Tuning) and isinstance(tuned.race, optrace.Race)
    (lr,) = [tuned.best["Adam"]["lr"]]
    assert tuned.race.config.racers[0].hyperparameters["lr"] == lr
    assert len(tuned.trials["Adam"]) == 3
    assert list(tuned.race.run().traces) == ["Adam"]


def test_tune_refuses_an_output_of_the_wrong_kind_before_any_trial(
    write_config: Callable[..., Path], invoke: Any, tmp_path: Path
) -> None:
    config = write_config(
        {"function": "rosenbrock", "epochs": 5, "racers": [{"optimizer": "SGD", "lr": 0.01}]}
    )
    result = invoke("tune", config, "--out", tmp_path / "tuned.txt", "--storage", "bad")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: --out {tmp_path / 'tuned.txt'}: a tuned config's name ends in .yaml or .yml"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.yaml"]


def test_the_library_names_its_own_parameters_not_flags() -> None:
    race = optrace.Race(function="rosenbrock", epochs=3, racers=[{"optimizer": "SGD"}])
    with pytest.raises(optrace.UsageError) as caught:
        race.tune(trials=2, workers=0)
    assert str(caught.value) == "workers must be at least 1, got 0"
    with pytest.raises(optrace.UsageError) as caught:
        race.tune(trials=2, storage="nowhere")
    assert str(caught.value).startswith("storage: 'nowhere' is not a storage URL")


def test_a_tuning_saves_a_config_that_races_its_best_values(tmp_path: Path) -> None:
    race = optrace.Race(function="rosenbrock", epochs=10, racers=[{"optimizer": "SGD", "lr": 1e-4}])
    tuning = race.tune(trials=3)
    tuned, report = tuning.save(tmp_path / "tuned.yaml", tmp_path / "report.json")
    again = optrace.Race.from_yaml(tuned)
    assert again.config.racers[0].hyperparameters == tuning.best["SGD"]
    assert json.loads(report.read_text())["racers"][0]["best"]["params"] == tuning.best["SGD"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "tuned.yaml"]


def test_tuning_probes_once_and_its_tuned_race_races_as_a_fresh_plan_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from optrace.engine import plan as planning

    racers = [{"optimizer": "SGD", "lr": 1e-3}, {"optimizer": "SGD", "lr": 1e-4, "momentum": 0.5}]
    race = optrace.Race(
        function="rosenbrock", start=[-1.2, 1.0], epochs=12, racers=racers,
        tune={"trials": 3, "starts": {"random": 2}},
    )  # fmt: skip
    probed: list[object] = []
    resolve = planning._optimizers
    monkeypatch.setattr(planning, "_optimizers", lambda *a: probed.append(a) or resolve(*a))
    tuning = race.tune()
    assert len(probed) == 1  # the race's optimizers, probed once for the race and its tuning
    planned: list[object] = []
    real = planning.prepare
    monkeypatch.setattr(planning, "prepare", lambda *a, **k: planned.append(a) or real(*a, **k))
    ran = tuning.race.run()
    assert planned == []  # the tuning made the tuned race's plan
    fresh = optrace.Race.from_config(tuning.race.config).run()
    assert planned  # and a race from the same config plans it
    assert [t.label for t in ran.result.traces] == [t.label for t in fresh.result.traces]
    for mine, theirs in zip(ran.result.traces, fresh.result.traces, strict=True):
        for part in ("x", "y", "loss"):
            assert np.array_equal(getattr(mine, part), getattr(theirs, part), equal_nan=True)


def test_workers_refuse_in_one_line_a_race_defined_in_a_notebook(tmp_path: Path) -> None:
    race = optrace.Race(
        function=lambda x: (x**2 - 1) ** 2, domain=(-2, 2), start=1.5, epochs=5,
        racers=[{"optimizer": "SGD", "lr": 0.01}],
    )  # fmt: skip
    with pytest.raises(optrace.UsageError) as caught:
        race.tune(trials=2, storage=f"journal:{tmp_path / 'j.log'}", workers=2)
    message = str(caught.value)
    assert message.startswith("workers: more than one needs a race that can be sent")
    assert message.endswith("define its function and optimizers in a module, or use one worker")
    assert "\n" not in message


def test_rerun_races_the_chosen_values_again_with_fresh_seeds(tmp_path: Path) -> None:
    doc = {
        "function": "rosenbrock",
        "epochs": 15,
        "seed": 7,
        "noise": {"std": 0.5},
        "tune": {
            "trials": 3,
            "rerun": 3,
            "starts": {"random": 3},
            "space": {"lr": {"low": 1.0e-4, "high": 1.0e-2, "log": True}},
        },
        "racers": [{"optimizer": "Adam", "lr": 0.005}],
    }
    tuning = tune_config(parse_config(doc))
    (racer,) = tuning.racers
    assert racer.rerun is not None
    report = json.loads(report_json(tuning))["racers"][0]["rerun"]
    assert report["seeds"] == [8, 9, 10]
    # Each rerun is the race itself, run through the API with that seed: its random
    # starts and its noise drawn from it, scored as final-gap (f* = 0).
    expected = []
    for seed in report["seeds"]:
        race = optrace.Race.from_dict(
            {
                **{k: v for k, v in doc.items() if k != "tune"},
                "seed": seed,
                "starts": {"random": 3},
                "racers": [{"optimizer": "Adam", **racer.best_params}],
            }
        )
        (trace,) = race.run().result.traces
        assert all(d is None for d in trace.diverged_at)
        finals = trace.loss[np.arange(3), trace.last_epoch].tolist()
        expected.append(math.fsum(finals) / 3)
    assert report["objectives"] == expected and len(set(expected)) == 3
    q1, median, q3 = np.percentile(expected, [25, 50, 75]).tolist()
    assert report["median"] == pytest.approx(median, rel=1e-12)
    assert [report["q1"], report["q3"]] == pytest.approx([q1, q3], rel=1e-12)
    assert report["iqr"] == pytest.approx(q3 - q1, rel=1e-12) and report["diverged"] == 0
    header, row = table(tuning).splitlines()
    assert header.endswith("rerun final-gap median [q1, q3]")
    assert row.endswith(f"{median:.6g} [{q1:.6g}, {q3:.6g}]")
    assert json.loads(report_json(tuning))["settings"]["rerun"]["times"] == 3
