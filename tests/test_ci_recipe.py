"""The CI recipe in docs/ runs as written, and shell completion completes."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT


def test_ci_recipe_commands_run_and_leave_the_artifacts(
    invoke: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = yaml.safe_load((ROOT / "docs" / "ci-example.yml").read_text())
    config = workflow["env"]["CONFIG"]
    steps = workflow["jobs"]["race"]["steps"]
    commands = [
        line.strip()
        for step in steps
        for line in step.get("run", "").splitlines()
        if line.strip().startswith("optrace ")
    ]
    assert len(commands) == 2
    uploaded = steps[-1]["with"]["path"].split()
    monkeypatch.chdir(tmp_path)
    for command in commands:
        args = [a if a != "$CONFIG" else str(ROOT / config) for a in shlex.split(command)[1:]]
        result = invoke(*args)
        assert result.exit_code == 0, (command, result.stderr)
    assert sorted(uploaded) == sorted(p.name for p in tmp_path.iterdir())


def test_shell_completion_completes_commands() -> None:
    env = {
        **os.environ,
        "_OPTRACE_COMPLETE": "complete_bash",
        "COMP_WORDS": "optrace list-o",
        "COMP_CWORD": "1",
    }
    script = Path(sys.executable).with_name("optrace")  # the installed console script
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["list-optimizers"]
