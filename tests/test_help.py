"""Every command's help is whole and true: its sentence is listed in full, and its
example runs and does what the sentence says."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from optrace.cli import app
from tests.conftest import ROOT

COMMANDS = {c.name or c.callback.__name__: c.callback for c in app.registered_commands}


def _example(name: str) -> list[str]:
    """The command's example, from its docstring (``Example: optrace ...``)."""
    doc = COMMANDS[name].__doc__ or ""
    lines = [line.strip() for line in doc.splitlines() if line.strip().startswith("Example:")]
    assert len(lines) == 1, f"{name}: its help gives no example"
    words = shlex.split(lines[0].removeprefix("Example:"))
    assert words[0] == "optrace" and words[1] == name
    return words[2:]


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_top_level_help_lists_every_command_with_its_whole_sentence() -> None:
    shown = _words(CliRunner().invoke(app, ["--help"]).stdout.partition("Commands:")[2])
    assert "..." not in shown
    for name, callback in COMMANDS.items():
        first = _words((callback.__doc__ or "").strip().split("\n\n")[0])
        assert first.endswith("."), name
        assert f"{name} {first}" in shown


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_commands_help_shows_its_example(name: str) -> None:
    shown = _words(CliRunner().invoke(app, [name, "--help"]).stdout)
    assert _words("Example: optrace " + shlex.join([name, *_example(name)])) in shown


@pytest.fixture
def project(tmp_path: Path, monkeypatch: Any) -> Path:
    """A folder like the project's, with its configs, as the examples' working folder."""
    (tmp_path / "configs").mkdir()
    for config in (ROOT / "configs").iterdir():
        (tmp_path / "configs" / config.name).symlink_to(config)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(name: str) -> Any:
    result = CliRunner().invoke(app, [name, *_example(name)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result


def test_run_example_writes_the_gif_and_the_summary(project: Path) -> None:
    _run("run")
    assert (project / "seed.gif").read_bytes()[:6] == b"GIF89a"
    summary = json.loads((project / "summary.json").read_text())
    assert [r["label"] for r in summary["racers"]] == [
        "SGD",
        "Adam",
        "Adagrad",
        "Adadelta",
        "RMSprop",
    ]


def test_tune_example_tunes_by_the_configs_block_and_writes_the_config_and_report(
    project: Path,
) -> None:
    _run("tune")
    block = yaml.safe_load((ROOT / "configs" / "fair-rosenbrock.yaml").read_text())["tune"]
    report = json.loads((project / "report.json").read_text())
    assert report["settings"]["trials"] == block["trials"]
    assert [len(r["trials"]) for r in report["racers"]] == [block["trials"]] * 5
    tuned = yaml.safe_load((project / "tuned.yaml").read_text())
    assert [r["lr"] for r in tuned["racers"]] == [
        r["best"]["params"]["lr"] for r in report["racers"]
    ]


def test_validate_example_checks_without_writing(project: Path) -> None:
    result = _run("validate")
    assert result.stdout.startswith("ok: configs/seed.yaml: 5 racers")
    assert sorted(p.name for p in project.iterdir()) == ["configs"]


def test_list_functions_example_lists_every_function_with_its_minima(project: Path) -> None:
    from optrace.problems.functions import FUNCTIONS

    listed = json.loads(_run("list-functions").stdout)
    assert [f["name"] for f in listed] == list(FUNCTIONS)
    assert all({"formula", "domain", "minima"} <= set(f) for f in listed)


def test_init_example_writes_a_config_that_validates(project: Path) -> None:
    _run("init")
    check = CliRunner().invoke(app, ["validate", "race.yaml"])
    assert check.exit_code == 0 and check.stdout.startswith("ok: race.yaml")


def test_schema_example_prints_the_gallery_schema(project: Path) -> None:
    schema = json.loads(_run("schema").stdout)
    assert {"functions", "optimizers"} <= set(schema["properties"])


def test_list_optimizers_example_lists_the_packages_optimizers(project: Path) -> None:
    pytest.importorskip("pytorch_optimizer")
    import pytorch_optimizer

    shown = _run("list-optimizers").stdout
    assert "AdaBelief" in shown and hasattr(pytorch_optimizer, "AdaBelief")
    assert re.match(r"\d+ of \d+ race", shown.splitlines()[-1]), shown.splitlines()[-1]


def test_gallery_example_writes_a_site(project: Path) -> None:
    # configs/gallery.yaml races 52 cells (tests/test_gallery.py renders it): here the
    # example's command runs as written on a gallery of one cell in its place.
    gallery = project / "configs" / "gallery.yaml"
    gallery.unlink()
    small = {"functions": ["rosenbrock"], "optimizers": [{"optimizer": "SGD", "lr": 1e-3}]}
    gallery.write_text(yaml.safe_dump({**small, "epochs": 5, "outputs": ["still"]}))
    _run("gallery")
    site = project / "site"
    assert (site / "index.html").is_file() and (site / "summary.csv").is_file()
    assert len(list(site.glob("*.png"))) >= 1
    assert os.path.getsize(site / "contact.png") > 0
