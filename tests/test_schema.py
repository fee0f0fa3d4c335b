"""The JSON Schema: current, valid, and true to every example config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.conftest import CONFIGS, ROOT

SCHEMA_FILE = ROOT / "optrace.schema.json"


def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_committed_schema_is_what_optrace_schema_prints(invoke: Any) -> None:
    result = invoke("schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads(SCHEMA_FILE.read_text())
    assert result.stdout == SCHEMA_FILE.read_text()


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_example_config_matches_the_schema(config: Path) -> None:
    errors = list(validator().iter_errors(yaml.safe_load(config.read_text())))
    assert errors == []
    assert config.read_text().startswith("# yaml-language-server: $schema=../optrace.schema.json\n")


@pytest.mark.parametrize(
    "bad",
    [
        {"function": "peaks-slice", "epochs": 3, "racers": [{"optimizer": "SGD"}], "epoch": 1},
        {"function": "peaks-slice", "epochs": 0, "racers": [{"optimizer": "SGD"}]},
        {"function": "peaks-slice", "epochs": 3, "racers": []},
        {"function": 3, "epochs": 3, "racers": [{"optimizer": "SGD"}]},
        {"function": "peaks-slice", "epochs": 3, "racers": [{"label": "no optimizer"}]},
        {
            "function": "peaks-slice",
            "epochs": 3,
            "racers": [{"optimizer": "SGD"}],
            "starts": {"grid": 0},
        },
        {
            "function": "peaks-slice",
            "epochs": 3,
            "racers": [{"optimizer": "SGD"}],
            "animation": {"interval": 10, "fps": 30},
        },
    ],
)
def test_schema_rejects_what_optrace_rejects(
    bad: dict[str, Any], invoke: Any, tmp_path: Path
) -> None:
    assert list(validator().iter_errors(bad))
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    assert invoke("validate", path).exit_code == 2
