"""Every example in configs/ renders, and the README's commands work as written."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import pytest
from PIL import Image

from optrace.engine.plan import prepare
from optrace.spec.loading import load_config
from tests.conftest import CONFIGS, ROOT


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_example_config_renders_to_gif_mp4_and_traces(
    config: Path, invoke: Any, tmp_path: Path
) -> None:
    gif, mp4, csv = tmp_path / "race.gif", tmp_path / "race.mp4", tmp_path / "race.csv"
    result = invoke("run", config, "--gif", gif, "--mp4", mp4, "--traces", csv)
    assert result.exit_code == 0, result.stderr
    loaded = load_config(config)
    plan = prepare(loaded, config.parent)
    frames = loaded.animation.frame_count(loaded.epochs)
    with Image.open(gif) as im:
        assert im.n_frames == frames
        assert im.size == loaded.animation.size
        assert im.info["duration"] == loaded.animation.interval
    width, height = loaded.animation.size
    assert iio.imread(mp4, plugin="FFMPEG").shape == (frames, height, width, 3)
    rows = csv.read_text().splitlines()
    assert len(rows) == 1 + len(loaded.racers) * len(plan.starts) * (loaded.epochs + 1)
    place = "x" if plan.objective.ydomain is None else "x,y"
    swarm = "racer,start" if len(plan.starts) > 1 else "racer"
    assert rows[0] == f"{swarm},epoch,{place},loss"


def test_seed_config_is_the_seed_race() -> None:
    config = load_config(ROOT / "configs" / "seed.yaml")
    racers = {r.optimizer: r.hyperparameters for r in config.racers}
    assert racers == {
        "SGD": {"lr": 0.01, "momentum": 0.9},
        "Adam": {"lr": 0.1},
        "Adagrad": {"lr": 0.1},
        "Adadelta": {"lr": 2},
        "RMSprop": {"lr": 0.1, "alpha": 0.9},
    }
    assert config.epochs == 100 and config.animation.interval == 500
    assert config.function.name == "peaks-slice"


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash|console)\n(.*?)```", text, flags=re.S)
    return [
        line.strip()
        for b in blocks
        for line in b.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_readme_has_exactly_the_two_fresh_machine_commands() -> None:
    text = (ROOT / "README.md").read_text()
    fresh = text.split("## On a fresh machine", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", fresh, flags=re.S)
    assert [c.strip() for c in commands] == ["make demo", "make test"]


def test_make_demo_renders_the_seed_config_with_the_installed_cli() -> None:
    plan = subprocess.run(
        ["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert ".venv/bin/optrace run configs/seed.yaml --gif seed.gif" in plan
    assert "pip install" in plan or "optrace run" in plan


def test_every_optrace_command_in_the_readme_runs(
    invoke: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    commands = [c for c in readme_commands() if c.startswith("optrace ")]
    assert len(commands) >= 4
    for line in commands:
        command, _, comment = line.partition("#")
        expected = int(m.group(1)) if (m := re.match(r"\s*exits (\d+)", comment)) else 0
        args = command.split()[1:]
        args = [
            str(tmp_path / Path(a).name) if re.search(r"\.(gif|mp4|csv|json|html)$", a) else a
            for a in args
        ]
        result = invoke(*args)
        assert result.exit_code == expected, (command, result.stderr)
