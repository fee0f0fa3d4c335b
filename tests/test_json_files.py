"""Every JSON file optrace writes follows one convention: strict JSON, a number that
is not finite (or that never came) written null, a field beside it saying why."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("optuna")

#: Text that stands in for a number that is not finite.
NOT_NUMBERS = {"inf", "-inf", "+inf", "infinity", "-infinity", "nan", "-nan"}


def refuse(constant: str) -> Any:
    raise AssertionError(f"not JSON: {constant}")


def strict(path: Path) -> Any:
    """The file parsed by a parser that refuses Infinity, -Infinity and NaN."""
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def leaves(doc: Any, at: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from leaves(v, f"{at}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from leaves(v, f"{at}[{i}]")
    else:
        yield at, doc


def check(path: Path) -> Any:
    doc = strict(path)
    for at, value in leaves(doc):
        assert not (isinstance(value, str) and value.strip().lower() in NOT_NUMBERS), (path, at)
        assert not (isinstance(value, float) and not math.isfinite(value)), (path, at)
    return doc


#: SGD at lr 0.1 flies out of Rosenbrock's valley within a few epochs, from every start.
DIVERGING = {"optimizer": "SGD", "lr": 0.1}


def test_every_json_file_of_a_race_and_a_tuning_with_a_diverging_racer_is_strict(
    write_config: Callable[..., Path], invoke: Any, tmp_path: Path
) -> None:
    config = write_config(
        {
            "function": "rosenbrock",
            "starts": {"random": 4},
            "epochs": 12,
            "tune": {
                "trials": 3,
                "rerun": 2,
                "starts": {"random": 2},
                "space": {"lr": {"low": 0.05, "high": 1.0, "log": True}},
            },
            "racers": [
                DIVERGING,
                {"optimizer": "Adam", "lr": 0.01, "schedule": {"name": "StepLR", "step_size": 4}},
            ],
        }
    )
    run = invoke("run", config, "--summary", tmp_path / "s.json", "--traces", tmp_path / "t.json")
    assert run.exit_code == 0, run.stderr
    summary = check(tmp_path / "s.json")
    sgd = summary["racers"][0]
    assert sgd["diverged"] == 4 and sgd["reached_at"] is None
    # Every run diverged: the spread of its final loss is infinite, written null.
    assert sgd["spread"]["final_loss"] == {"median": None, "q1": None, "q3": None, "iqr": None}
    check(tmp_path / "t.json")

    tune = invoke("tune", config, "--report", tmp_path / "r.json", "--out", tmp_path / "u.yaml")
    assert tune.exit_code == 0, tune.stderr
    report = check(tmp_path / "r.json")
    sgd = report["racers"][0]
    # Every SGD trial diverges: each objective is null, and says why beside it.
    assert {(t["objective"], t["diverged"]) for t in sgd["trials"]} == {(None, True)}
    assert sgd["rerun"]["objectives"] == [None, None] and sgd["rerun"]["diverged"] == 2
    assert sgd["rerun"]["median"] is None


def test_every_json_file_of_a_gallery_with_a_diverging_cell_is_strict(
    invoke: Any, tmp_path: Path
) -> None:
    gallery = tmp_path / "gallery.yaml"
    gallery.write_text(
        yaml.safe_dump(
            {
                "functions": ["rosenbrock"],
                "optimizers": [DIVERGING],
                "epochs": 8,
                "animation": {"size": [160, 160]},
                "outputs": ["still"],
            }
        )
    )
    done = invoke("gallery", gallery, "--out", tmp_path / "site", "--workers", "1")
    assert done.exit_code == 0, done.stderr
    records = sorted((tmp_path / "site").rglob("*.json"))
    assert records
    rows = [check(path)["row"] for path in records]
    assert [r["status"] for r in rows] == ["diverged"] and rows[0]["diverged"] is True
