"""Racers that leave the plotted domain: drawn at the edge, reported, and --strict fails."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from optrace.engine.loop import run
from optrace.engine.plan import prepare
from optrace.render.scene import RaceScene
from optrace.spec.loading import parse_config

RUNAWAY = {
    "function": "peaks-slice",
    "domain": [-3, 3],
    "start": -0.9,
    "epochs": 8,
    "racers": [
        {"optimizer": "Adam", "lr": 1.5, "label": "runaway"},
        {"optimizer": "Adam", "lr": 0.1},
    ],
    "animation": {"size": [160, 120]},
}


def test_a_racer_outside_the_domain_is_drawn_hollow_at_the_edge() -> None:
    result = run(prepare(parse_config(RUNAWAY)))
    runaway = result.traces[0]
    left = runaway.left_domain_at(result.domain)[0]
    assert left is not None and runaway.x[0, left] < -3 <= runaway.x[0, left - 1]
    scene = RaceScene(Figure(), result)
    scene.update(left - 1)
    assert scene.markers[0].get_xdata().tolist() == [runaway.x[0, left - 1]]
    assert not scene.edges[0].get_visible()
    scene.update(left)
    assert scene.markers[0].get_xdata().tolist() == []
    assert scene.edges[0].get_xdata().tolist() == [-3.0]
    assert scene.edges[0].get_markerfacecolor() == "none"
    assert scene.notes.get_text() == "<- runaway is outside the domain"


def test_strict_exits_3_after_writing_and_says_why(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = write_config(RUNAWAY)
    gif, trace_file = tmp_path / "a.gif", tmp_path / "t.json"
    plain = invoke("run", config, "--gif", gif)
    assert plain.exit_code == 0
    strict = invoke("run", config, "--gif", gif, "--traces", trace_file, "--strict")
    assert strict.exit_code == 3
    lines = strict.stderr.splitlines()
    assert lines[0] == (
        "warning: racer 'runaway' left the domain [-3.0, 3.0] at epoch 2; it is drawn at the edge"
    )
    assert lines[-1] == "Error: --strict: 'runaway' left the domain at epoch 2"
    assert strict.stdout.splitlines()[1].endswith("left the domain at epoch 2")
    assert gif.exists()
    doc = json.loads(trace_file.read_text())
    assert [r["starts"][0]["left_domain_at"] for r in doc["racers"]] == [2, None]


def test_strict_passes_a_clean_race(
    invoke: Any, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    result = invoke("run", write_config(small_config), "--strict")
    assert result.exit_code == 0 and result.stderr == ""


def test_strict_fails_on_divergence(
    invoke: Any, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    small_config["racers"].append({"optimizer": "SGD", "lr": 1e300, "label": "wild"})
    result = invoke("run", write_config(small_config), "--strict")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[-1] == "Error: --strict: 'wild' diverged at epoch 1"
