"""Every example in configs/ renders; the commands of the README and docs/ work as written."""

from __future__ import annotations

import ast
import math
import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
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
    frames = loaded.animation.frame_count(loaded.steps)
    with Image.open(gif) as im:
        assert im.n_frames == frames
        assert im.size == loaded.animation.pixels
        assert im.info["duration"] == loaded.animation.interval
    width, height = loaded.animation.pixels
    assert iio.imread(mp4, plugin="FFMPEG").shape == (frames, height, width, 3)
    rows = csv.read_text().splitlines()
    runs = len(plan.starts) * plan.repeats
    swept = [k for r in loaded.racers for k in r.swept]
    if swept:
        # Every combination's rows, each told apart by its swept values.
        combinations = {tuple(r.split(",")[: 1 + len(swept)]) for r in rows[1:]}
        assert len(combinations) == sum(
            math.prod(map(len, r.swept.values())) for r in loaded.racers
        )
    elif loaded.budget is None:
        assert len(rows) == 1 + len(loaded.racers) * runs * (loaded.steps + 1)
    else:
        # Each racer's rows end at the step that used up the budget, not before.
        for racer in {r.split(",")[0] for r in rows[1:]}:
            used = [int(r.split(",")[2]) for r in rows[1:] if r.split(",")[0] == racer]
            assert used[-1] >= loaded.steps > used[-2], racer
    place = "x" if plan.objective is not None and plan.objective.ydomain is None else "x,y"
    model = ""
    if plan.model is not None:
        # A model race's plane coordinates, then how faithful the plane is and the test split.
        place, model = "x,y", ",plane_loss,off_plane,test_loss,test_accuracy"
    swarm = "racer,start" if runs > 1 else "racer"
    swarm += ",repeat" if plan.repeats > 1 else ""
    keys = "".join(f",{k}" for k in dict.fromkeys(swept))
    assert rows[0] == (
        f"{swarm.replace('racer', 'racer' + keys)},epoch,evaluations,{place},loss{model}"
    )


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


#: The README and every page of docs/: each one's commands and examples are run.
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def documented_commands() -> list[str]:
    """Every command line of the documents' shell blocks, once each, in order."""
    lines = [
        line.strip()
        for doc in DOCUMENTS
        for block in re.findall(r"```(?:sh|bash|console)\n(.*?)```", doc.read_text(), flags=re.S)
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    return list(dict.fromkeys(lines))


#: What a running make tells the makes it starts.
MAKES_OWN = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")


def make_plan(target: str, venv: Path) -> list[str]:
    """What ``make TARGET`` runs on a machine with no virtual environment yet, as a
    top-level make would (the suite itself may run under ``make test``)."""
    env = {k: v for k, v in os.environ.items() if k not in MAKES_OWN}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", target, f"VENV={venv}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


#: A set-up step: a virtual environment, an install into it, the Debian packages.
SETUP = re.compile(r" -m venv |/pip install |install-system-deps|^touch ")


def fresh_machine_targets() -> list[str]:
    text = (ROOT / "README.md").read_text()
    fresh = text.split("## On a fresh machine", 1)[1].split("\n## ", 1)[0]
    blocks = [b.strip() for b in re.findall(r"```sh\n(.*?)```", fresh, flags=re.S)]
    assert all(re.fullmatch(r"make [\w-]+", b) for b in blocks), blocks
    return [b.split()[1] for b in blocks]


def test_the_readmes_two_fresh_machine_commands_set_up_all_that_any_target_does(
    tmp_path: Path,
) -> None:
    fresh = fresh_machine_targets()
    assert fresh == ["demo", "test"]
    venv = tmp_path / ".venv"  # none yet: each plan must make it before it uses it
    targets = re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M)
    plans = {t: make_plan(t, venv) for t in targets}
    for target in fresh:
        steps = plans[target]
        made = steps.index(f"python3 -m venv {venv}")
        assert not any(str(venv) in s for s in steps[:made]), steps
        assert any(f"{venv}/bin/pip install" in s for s in steps), steps
    # No other target needs a set-up step that the two do not take.
    done = {s for t in fresh for s in plans[t] if SETUP.search(s)}
    for target, steps in plans.items():
        assert {s for s in steps if SETUP.search(s)} <= done, target
    # demo is the package alone; test adds the Debian packages, Qt and the test tools.
    assert f"{venv}/bin/pip install --quiet -c constraints.txt -e ." in plans["demo"]
    assert "bash scripts/install-system-deps.sh" in plans["test"]
    assert any(s.endswith("-e '.[qt,test]'") for s in plans["test"])


def test_make_demo_draws_the_readmes_first_picture(tmp_path: Path) -> None:
    """The demo's own command, run with this environment's optrace, writes the seed
    race's GIF, byte for byte the one the README shows."""
    venv = tmp_path / ".venv"
    steps = [s for s in make_plan("demo", venv) if not SETUP.search(s)]
    assert len(steps) == 1 and steps[0].startswith(f"{venv}/bin/optrace ")
    here = Path(sys.executable).parent  # the installed console script of this environment
    work = tmp_path / "clone"
    work.mkdir()
    (work / "configs").symlink_to(ROOT / "configs")
    done = subprocess.run(
        shlex.split(steps[0].replace(f"{venv}/bin/", f"{here}/")),
        cwd=work,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    readme = (ROOT / "README.md").read_text()
    first = re.search(r"!\[[^]]*\]\(([^)]+)\)", readme)
    assert first is not None and first.group(1) == "docs/seed.gif"
    (written,) = [p for p in work.iterdir() if p.suffix == ".gif"]
    assert written.name == "seed.gif"
    assert written.read_bytes() == (ROOT / first.group(1)).read_bytes()


def test_make_test_lints_type_checks_and_runs_the_whole_suite(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    steps = [s.removeprefix(f"{venv}/bin/") for s in make_plan("test", venv) if not SETUP.search(s)]
    linted = "optrace tests benchmarks"
    # Every folder of Python is linted, but configs/: its one optimizer is the example
    # a user writes next to a config.
    folders = {p.parent.name for p in ROOT.glob("*/*.py")} - {"configs"}
    assert sorted(folders) == sorted(linted.split())
    assert steps == [
        f"ruff check {linted}",
        f"ruff format --check {linted}",
        "mypy",
        "python -m pytest --durations=15",  # no selection: every test of pyproject's testpaths
    ]


def test_the_test_set_up_installs_everything_the_tests_import(tmp_path: Path) -> None:
    """Every third-party module that a test imports comes with the package and the
    extras that ``make test`` installs, or with their own requirements."""
    venv = tmp_path / ".venv"
    (pip,) = [s for s in make_plan("test", venv) if f"{venv}/bin/pip install" in s]
    extras = re.fullmatch(r".* -e '\.\[([\w,]+)\]'", pip)
    assert extras is not None, pip
    wanted = [
        Requirement(r)
        for r in metadata.requires("optrace") or []
        if any(Requirement(r).marker is None or Requirement(r).marker.evaluate({"extra": e})
               for e in extras.group(1).split(","))
    ]  # fmt: skip
    installed: set[str] = set()
    queue = [Requirement(r.name) for r in wanted]  # their markers are evaluated above
    while queue:
        req = queue.pop()
        name = canonicalize_name(req.name)
        if name in installed or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        installed.add(name)
        queue += [Requirement(r) for r in metadata.requires(req.name) or []]
    providers = metadata.packages_distributions()
    imported = set()
    for path in (ROOT / "tests").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
            elif (  # pytest.importorskip("name"): a test the suite would skip unseen
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", None) == "importorskip"
                and isinstance(node.args[0], ast.Constant)
            ):
                imported.add(str(node.args[0].value).split(".")[0])
    third_party = {m for m in imported if m in providers and m not in ("optrace", "tests")}
    assert {"distributed", "nbclient", "pytorch_optimizer", "selenium"} <= third_party
    for module in sorted(third_party):
        assert {canonicalize_name(d) for d in providers[module]} & installed, module


#: Commands whose documented lines their own test module runs (they need a cluster or a
#: browser, or take long): the subcommand -> the module.
RUN_ELSEWHERE = {"gallery": "tests/test_gallery.py"}
WRITTEN = re.compile(r"\.(gif|mp4|csv|json|png|svg|pdf|html|yaml|db|log)$|/$")


def test_every_optrace_command_in_the_readme_and_docs_runs(
    invoke: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    commands = [
        c
        for c in documented_commands()
        if c.startswith("optrace ") and c.split()[1] not in RUN_ELSEWHERE
    ]
    assert len(commands) >= 4
    for line in commands:
        command, _, comment = line.partition("#")
        expected = int(m.group(1)) if (m := re.match(r"\s*exits (\d+)", comment)) else 0
        args = command.split()[1:]
        # Files and folders the commands write go to a temporary folder.
        args = [
            str(tmp_path / Path(a).name)
            if WRITTEN.search(a) and not a.startswith("configs/")
            else a
            for a in args
        ]
        result = invoke(*args)
        assert result.exit_code == expected, (command, result.stderr)
