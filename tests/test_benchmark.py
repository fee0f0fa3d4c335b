"""The benchmark in the README runs (its quick mode) and reports every section."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT


def quick(script: str, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """Run ``benchmarks/SCRIPT --quick --json``: its report and what it printed."""
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(out.read_text()), done.stdout


def test_benchmark_quick_mode_reports_every_section(tmp_path: Path) -> None:
    report, stdout = quick("bench_export.py", tmp_path)
    assert set(report) == {"render", "render_2d", "whole", "memory", "swarm", "startup"}
    assert report["render_2d"]["frames"] == 16
    assert report["render"]["frames"] == 101
    assert report["render"]["optrace_gif_bytes"] < report["render"]["seed_gif_bytes"]
    assert all(s["identical"] for s in report["swarm"])
    assert [s["one_tensor"] for s in report["swarm"]] == [True, False]
    assert "speed-up" in stdout and "start-up" in stdout


def test_swarm_benchmark_quick_mode_compares_both_ways(tmp_path: Path) -> None:
    report, _ = quick("bench_swarm.py", tmp_path)
    assert set(report) == {"swarm", "seed", "rosenbrock", "curve", "curve_ratio"}
    assert report["seed"]["identical_gif"] and report["rosenbrock"]["identical_gif"]
    assert [row["starts"] for row in report["curve"]] == [9, 100]
    assert report["swarm"]["error_p999"] <= 24


def test_gallery_benchmark_quick_mode_reports_both_ratios(tmp_path: Path) -> None:
    report, stdout = quick("bench_gallery.py", tmp_path)
    assert report["cells"] >= 11 and report["epochs"] == 10
    assert report["same_contact_sheet"] is True
    assert report["cell_cost_ratio"] == report["per_cell_in_gallery"] / report["single_command"]
    assert report["speed_up_2_workers"] == report["wall_1_worker"] / report["wall_2_workers"]
    assert "package" not in report
    assert "speed-up" in stdout and "of a command" in stdout


def test_sweep_benchmark_quick_mode_times_both_ways_and_checks_every_trace(
    tmp_path: Path,
) -> None:
    report, stdout = quick("bench_sweep.py", tmp_path)
    raced, command = report["race"], report["command"]
    assert raced["combinations"] == 20 and raced["exact"] is True
    assert raced["share"] == raced["batched_s"] / raced["separate_s"]
    assert command["ratio"] == command["sweep_s"] / command["plain_s"]
    assert command["sweep_html_bytes"] > command["plain_html_bytes"] > 0
    assert "target <= 0.25" in stdout and "target <= 1.5x" in stdout


def test_landscape_benchmark_quick_mode_compares_the_grid_with_the_loop(tmp_path: Path) -> None:
    report, stdout = quick("bench_landscape.py", tmp_path)
    small, big = report["digits"], report["large"]
    assert small["grid"] == 21 and small["examples"] == 1797
    assert small["speed_up"] == small["serial_s"] / small["ours_s"]
    assert small["max_relative_difference"] <= 1e-5
    assert big["examples"] == 2000 and big["max_relative_difference"] <= 1e-5
    assert "target >= 2x" in stdout and "target < 60 s" in stdout
