"""Shared fixtures: tiny configs in tmp_path and a CLI runner that keeps stderr apart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from optrace.cli import app

ROOT = Path(__file__).resolve().parent.parent
#: The race configs; configs/gallery*.yaml are gallery configs (tests/test_gallery.py).
CONFIGS = sorted(p for p in (ROOT / "configs").glob("*.yaml") if not p.stem.startswith("gallery"))


def peaks_slice(x: Any, y: float = -0.5) -> Any:
    """The published peaks formula, written out here independently of optrace."""
    import torch

    return (
        3 * (1 - x) ** 2 * torch.exp(-(x**2) - (y + 1) ** 2)
        - 10 * (x / 5 - x**3 - y**5) * torch.exp(-(x**2) - y**2)
        - 1 / 3 * torch.exp(-((x + 1) ** 2) - y**2)
    )


@pytest.fixture
def small_config() -> dict[str, Any]:
    return {
        "function": "peaks-slice",
        "start": -0.3,
        "epochs": 6,
        "racers": [{"optimizer": "SGD", "lr": 0.05}, {"optimizer": "Adam", "lr": 0.1}],
        "animation": {"interval": 150, "size": [160, 120]},
    }


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config (a mapping, dumped as YAML, or raw text) and return its path."""

    def write(content: dict[str, Any] | str, name: str = "race.yaml") -> Path:
        path = tmp_path / name
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def invoke() -> Callable[..., Result]:
    runner = CliRunner()

    def call(*args: str | Path) -> Result:
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return call


#: Scripts the tests run as programs; never imported while collecting.
collect_ignore = ["scripts"]

#: Modules whose tests share one costly set-up (a browser, a gallery built once and a
#: Dask cluster, a Jupyter kernel, an X server, a PostgreSQL server): each runs whole
#: on one xdist worker, so that its module-scoped fixtures start once; every other
#: test goes wherever a worker is free.
ONE_WORKER = {
    "test_gallery",
    "test_landscape_pictures",
    "test_notebook",
    "test_player",
    "test_player_sweep",
    "test_tune_killed",
    "test_window",
}


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, when it is installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` with ONE_WORKER as the groups. xdist's own loadgroup reads
    xdist_group marks through a node id that pytest 9 no longer lets it rename, and
    would spread these modules over both workers."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class OneWorkerModules(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if Path(module).stem in ONE_WORKER else super()._split_scope(nodeid)

    return OneWorkerModules(config, log)
