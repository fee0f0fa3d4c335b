"""The command line: help, version, listing, validation, the run summary."""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from optrace import __version__
from optrace.engine.loop import run
from optrace.engine.plan import prepare
from optrace.results.summary import summarize
from optrace.spec.loading import parse_config
from tests.conftest import ROOT, peaks_slice


def imported_after(*argv: str) -> list[str]:
    """Which heavy modules a CLI call imports, from a fresh interpreter."""
    code = (
        "import json, sys\n"
        f"sys.argv = ['optrace', *{list(argv)!r}]\n"
        "from optrace.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'matplotlib', 'matplotlib.pyplot', 'PIL', 'imageio')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_help_and_version_import_neither_torch_nor_matplotlib() -> None:
    assert imported_after("--help") == []
    assert imported_after("--version") == []
    assert imported_after("run", "--help") == []


def test_version(invoke: Any) -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout == f"optrace {__version__}\n"


def test_python_dash_m_lists_the_commands() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "optrace", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("run", "validate", "list-optimizers"):
        assert f"  {command} " in done.stdout


def test_list_optimizers_json_has_every_torch_optimizer_with_defaults(invoke: Any) -> None:
    result = invoke("list-optimizers", "--json")
    assert result.exit_code == 0
    entries = {e["name"]: e for e in json.loads(result.stdout)}
    from optrace.optim.classes import torch_optimizers

    assert set(entries) == set(torch_optimizers())
    assert entries["Adam"]["defaults"]["lr"] == 0.001
    assert entries["Adam"]["defaults"]["betas"] == [0.9, 0.999]
    assert entries["SGD"]["can_race"] is True and entries["SGD"]["reason"] is None
    assert entries["SparseAdam"]["can_race"] is False
    assert "dense gradients" in entries["SparseAdam"]["reason"]


def test_list_optimizers_text(invoke: Any) -> None:
    result = invoke("list-optimizers")
    assert result.exit_code == 0
    lines = {
        line.split()[0]: line for line in result.stdout.splitlines() if line and line[0] != "("
    }
    assert "lr=0.001 momentum=0 dampening=0 weight_decay=0 nesterov=false" in lines["SGD"]
    assert "foreach" not in lines["SGD"]
    assert "cannot race: Muon only supports 2D parameters" in lines["Muon"]


def test_validate_says_ok_and_runs_nothing(
    invoke: Any, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    config = write_config(small_config)
    result = invoke("validate", config)
    assert result.exit_code == 0
    assert result.stdout == (
        f"ok: {config}: 2 racers (SGD, Adam) on peaks-slice, 6 epochs from x = -0.3\n"
    )


def test_run_without_outputs_prints_the_summary_and_writes_nothing(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    config = write_config(small_config)
    result = invoke("run", config)
    assert result.exit_code == 0
    assert result.stderr == ""  # no progress bar off a terminal
    lines = result.stdout.splitlines()
    assert lines[0].split() == (
        [
            "racer",
            "final",
            "x",
            "final",
            "loss",
            "best",
            "loss",
            "best",
            "epoch",
            "reached",
            "to",
            "min",
            "evals",
        ]
    )
    # The finish line computed here from a plain torch loop and a dense grid,
    # not from optrace's own summary.
    grid = torch.linspace(-5, 5, 2_000_001, dtype=torch.float64)
    values = peaks_slice(grid)
    f_star = float(values.min())
    inner = (values[1:-1] < values[:-2]) & (values[1:-1] < values[2:])
    minima = grid[1:-1][inner].tolist()
    for line, (name, hyper) in zip(
        lines[1:], [("SGD", {"lr": 0.05}), ("Adam", {"lr": 0.1})], strict=True
    ):
        x = torch.tensor([-0.3], dtype=torch.float64, requires_grad=True)
        opt = getattr(torch.optim, name)([x], **hyper)
        xs, losses = [-0.3], [peaks_slice(x).item()]
        for _ in range(6):
            opt.zero_grad()
            peaks_slice(x).backward()
            opt.step()
            xs.append(x.item())
            losses.append(peaks_slice(x).item())
        best = min(range(7), key=lambda e: losses[e])
        hits = [e for e, v in enumerate(losses) if v <= f_star + 1e-3]
        distance = min(abs(xs[-1] - m) for m in minima)
        cells = line.split()
        assert cells[:6] == [
            name,
            f"{xs[-1]:.6g}",
            f"{losses[-1]:.6g}",
            f"{losses[best]:.6g}",
            str(best),
            str(hits[0]) if hits else "never",
        ]
        # three significant digits, as printed
        assert float(cells[6]) == pytest.approx(distance, rel=5.1e-3, abs=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.yaml"]


def test_summary_best_epoch_is_where_the_loss_was_lowest() -> None:
    config = {
        "function": "peaks-slice",
        "start": 1.2,
        "epochs": 150,
        "racers": [{"optimizer": "SGD", "lr": 0.01, "momentum": 0.99}],
    }
    race = run(prepare(parse_config(config)))
    trace = race.traces[0]
    s = summarize(trace, race)
    assert s.best_loss == trace.loss[0].min() < s.final_loss
    assert trace.loss[0, s.best_epoch] == s.best_loss and s.final_x == trace.x[0, -1]
    # It stays in the basin of the local minimum near 0.44, never the global one.
    assert s.reached_at is None and s.nearest_minimum == pytest.approx(0.437830, abs=1e-6)
    assert s.distance == abs(s.final_x - s.nearest_minimum)


def test_finish_line_epoch_is_the_first_within_the_tolerance() -> None:
    config = {
        "function": "quartic",
        "epochs": 80,
        "tolerance": 0.01,
        "racers": [{"optimizer": "SGD", "lr": 0.02, "momentum": 0.9}],
    }
    race = run(prepare(parse_config(config)))
    s = summarize(race.traces[0], race)
    lowest = race.minima[0][1]
    losses = race.traces[0].loss[0]
    assert s.reached_at is not None
    assert losses[s.reached_at] <= lowest + 0.01 < losses[: s.reached_at].min()
    assert s.nearest_minimum == race.minima[0][0]


def test_summary_json_per_racer_and_start(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    del small_config["start"]
    small_config["starts"] = [-0.3, 1.5]
    out = tmp_path / "s.json"
    result = invoke("run", write_config(small_config), "--summary", out)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(out.read_text())
    traced = invoke("run", write_config(small_config), "--traces", tmp_path / "t.csv")
    assert traced.exit_code == 0
    with open(tmp_path / "t.csv") as fh:
        rows = list(csv.DictReader(fh))
    grid = torch.linspace(-5, 5, 2_000_001, dtype=torch.float64)
    f_star = float(peaks_slice(grid).min())
    assert doc["lowest_minimum"]["f"] == pytest.approx(f_star, abs=1e-9)
    for racer in doc["racers"]:
        # Per start, from the traces CSV: the final place and the epoch within tolerance.
        per_start = [
            [(float(r["x"]), float(r["loss"])) for r in rows
             if r["racer"] == racer["label"] and r["start"] == str(i)]
            for i in range(2)
        ]  # fmt: skip
        finals = [points[-1] for points in per_start]
        assert [s["final_x"] for s in racer["starts"]] == [x for x, _ in finals]
        best = min(range(2), key=lambda i: finals[i][1])
        assert racer["best_start"] == best and racer["final_x"] == finals[best][0]
        for i, points in enumerate(per_start):
            hits = [e for e, (_, v) in enumerate(points) if v <= f_star + 1e-3]
            assert racer["starts"][i]["reached_at"] == (hits[0] if hits else None)
    bad = invoke("run", write_config(small_config), "--summary", tmp_path / "s.txt")
    assert bad.exit_code == 2
    assert bad.stderr == f"Error: --summary {tmp_path / 's.txt'}: a summary's name ends in .json\n"
    same = invoke(
        "run", write_config(small_config), "--summary", out, "--traces", tmp_path / "s.json"
    )
    assert same.exit_code == 2
    assert same.stderr == "Error: two outputs name the same file; give each its own path\n"


def test_divergence_is_reported_and_the_run_succeeds(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    small_config["racers"].append({"optimizer": "SGD", "lr": 1e300, "label": "wild"})
    gif = tmp_path / "a.gif"
    wild_loss = run(prepare(parse_config(small_config))).traces[-1].loss[0, 0]
    result = invoke(
        "run", write_config(small_config), "--gif", gif, "--traces", tmp_path / "t.json"
    )
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == (
        "warning: racer 'wild' diverged at epoch 1 (x or loss not finite); it stops at epoch 0"
    )
    # The step that diverged used one gradient.
    assert re.search(r" never +0\.738 +1  diverged at epoch 1$", result.stdout.splitlines()[-1])
    doc = json.loads((tmp_path / "t.json").read_text())
    wild = doc["racers"][-1]
    assert wild["hyperparameters"] == {"lr": 1e300}
    assert wild["starts"] == [
        {
            "start": 0,
            "diverged_at": 1,
            "left_domain_at": None,
            "evaluations": [0],
            "x": [-0.3],
            "loss": [wild_loss],
        }
    ]
    assert gif.exists()


def test_traces_json_round_trips_exactly(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    out = tmp_path / "t.json"
    assert invoke("run", write_config(small_config), "--traces", out).exit_code == 0
    doc = json.loads(out.read_text())
    traces = run(prepare(parse_config(small_config))).traces
    assert [r["label"] for r in doc["racers"]] == ["SGD", "Adam"]
    for racer, trace in zip(doc["racers"], traces, strict=True):
        (only,) = racer["starts"]
        assert only["x"] == trace.x[0].tolist() and only["loss"] == trace.loss[0].tolist()
        assert only["diverged_at"] is None and only["start"] == 0
    assert doc["epochs"] == 6
    assert torch.get_default_dtype() == torch.float32


def test_relative_dotted_path_is_found_next_to_the_config(invoke: Any, tmp_path: Path) -> None:
    result = invoke("validate", ROOT / "configs" / "own-optimizer.yaml")
    assert result.exit_code == 0, result.stderr
    assert "SignSGD (ours)" in result.stdout


def run_on_a_terminal(*args: str | Path, cwd: Path) -> tuple[int, bytes, bytes]:
    """``optrace ARGS`` in a fresh process whose stderr is a pseudo-terminal (100
    columns) and whose stdout is a pipe: its exit code, stdout and what the terminal got."""
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100", "LINES": "30"}
    main, side = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "optrace", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=side,
        cwd=cwd,
        env=env,
    ) as started:
        os.close(side)
        screen = b""
        while True:  # read as it writes, so that a full terminal never blocks it
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the process closed its end
                break
            if not chunk:
                break
            screen += chunk
        out = started.stdout.read() if started.stdout else b""
        code = started.wait(timeout=300)
    os.close(main)
    return code, out, screen


def test_the_progress_bars_show_on_a_terminal_and_end_full(
    tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    """Off a terminal there is no bar (the stderr of test_run_without_outputs_...)."""
    gif = tmp_path / "a.gif"
    code, out, screen = run_on_a_terminal(
        "run", write_config(small_config), "--gif", gif, cwd=tmp_path
    )
    assert code == 0, screen
    assert gif.stat().st_size > 0
    # Each redraw clears the line; the last drawing of each bar shows it full.
    drawn = screen.split(b"\r\x1b[2K")
    for label in (b"racing", b"rendering"):
        last = [d for d in drawn if d.startswith(label + b" ")][-1]
        assert b"100%" in last, screen
    assert screen.endswith(f"wrote {gif}\r\n".encode()), screen[-200:]
    assert b"racing" not in out and b"rendering" not in out
