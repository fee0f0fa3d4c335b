"""The JSON Schema: current, valid, and true to every example config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from optrace import ConfigError
from optrace.spec.gallery import parse_gallery
from optrace.spec.loading import parse_config
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


GALLERY_FILE = ROOT / "optrace.gallery.schema.json"
GALLERY_CONFIGS = sorted((ROOT / "configs").glob("gallery*.yaml"))


def gallery_validator() -> Draft202012Validator:
    schema = json.loads(GALLERY_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_committed_gallery_schema_is_what_optrace_schema_gallery_prints(invoke: Any) -> None:
    result = invoke("schema", "--gallery")
    assert result.exit_code == 0
    assert result.stdout == GALLERY_FILE.read_text()
    assert json.loads(result.stdout)["title"] == "optrace gallery config"


def test_every_yaml_of_configs_is_a_race_or_a_gallery_and_checked_as_one() -> None:
    """What each file of configs/ is comes from its own loader, not from a list: a race
    config is one the race loader takes and the gallery's refuses, and the other way
    round; the race ones are CONFIGS and the gallery ones GALLERY_CONFIGS."""
    races, galleries = [], []
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        kinds = []
        for kind, parse in (("race", parse_config), ("gallery", parse_gallery)):
            try:
                parse(document)
            except ConfigError:
                continue
            kinds.append(kind)
        assert len(kinds) == 1, (path.name, kinds)
        (races if kinds == ["race"] else galleries).append(path)
    assert races == CONFIGS and galleries == GALLERY_CONFIGS
    assert galleries, "a gallery config to check against the gallery schema"


@pytest.mark.parametrize("config", GALLERY_CONFIGS, ids=[c.stem for c in GALLERY_CONFIGS])
def test_every_gallery_config_matches_the_gallery_schema(config: Path) -> None:
    errors = list(gallery_validator().iter_errors(yaml.safe_load(config.read_text())))
    assert errors == []
    header = "# yaml-language-server: $schema=../optrace.gallery.schema.json\n"
    assert config.read_text().startswith(header)


GALLERY = {"functions": ["rosenbrock"], "optimizers": "torch.optim", "epochs": 5}


@pytest.mark.parametrize(
    "bad",
    [
        {**GALLERY, "epoch": 5},
        {**GALLERY, "epochs": 0},
        {**GALLERY, "functions": []},
        {**GALLERY, "functions": "all-3d"},
        {**GALLERY, "optimizers": []},
        {**GALLERY, "outputs": ["gif"]},
        {**GALLERY, "outputs": ["still", "still"]},
        {**GALLERY, "starts": {"grid": 0}},
        {**GALLERY, "tune": {"trials": 0}},
        {**GALLERY, "tune": {"trail": 3}},
        {**GALLERY, "optimizers": [{"label": "no optimizer"}]},
    ],
)
def test_gallery_schema_rejects_what_optrace_gallery_rejects(
    bad: dict[str, Any], tmp_path: Path
) -> None:
    from optrace._core.errors import ConfigError
    from optrace.spec.gallery import parse_gallery

    assert list(gallery_validator().iter_errors(bad))
    with pytest.raises(ConfigError):
        parse_gallery(bad)


def test_gallery_schema_accepts_what_optrace_gallery_accepts() -> None:
    from optrace.spec.gallery import parse_gallery

    good = {
        **GALLERY,
        "functions": "all-2d",
        "optimizers": [{"optimizer": "SGD", "lr": 0.01, "momentum": 0.9}, {"optimizer": "Adam"}],
        "starts": [[0.5, 0.5], [-1.0, 1.0]],
        "tune": {"trials": 3, "space": {"lr": {"low": 0.001, "high": 1.0, "log": True}}},
        "outputs": ["gif", "still", "html"],
    }
    assert list(gallery_validator().iter_errors(good)) == []
    parse_gallery(good)
