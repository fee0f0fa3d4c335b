"""Same config and seed, same bytes: two fresh processes write identical files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import yaml


def test_two_runs_write_the_same_bytes(tmp_path: Path) -> None:
    config = tmp_path / "race.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "function": "peaks-slice",
                "starts": {"random": 12},
                "seed": 11,
                "epochs": 30,
                "racers": [
                    {"optimizer": "Adam", "lr": 0.1},
                    {"optimizer": "LBFGS", "lr": 0.2},
                    {"optimizer": "SGD", "lr": 0.05, "momentum": 0.9},
                ],
                "animation": {"size": [240, 180], "interval": 80},
            }
        )
    )
    runs = []
    for name in ("first", "second"):
        out = tmp_path / name
        out.mkdir()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "optrace",
                "run",
                str(config),
                "--gif",
                str(out / "r.gif"),
                "--mp4",
                str(out / "r.mp4"),
                "--traces",
                str(out / "t.csv"),
                "--html",
                str(out / "p.html"),
                "--still",
                str(out / "s.png"),
            ],
            capture_output=True,
            check=True,
        )
        subprocess.run(
            [sys.executable, "-m", "optrace", "run", str(config), "--traces", str(out / "t.json")],
            capture_output=True,
            check=True,
        )
        runs.append((out, done.stdout))
    (first, summary_1), (second, summary_2) = runs
    assert summary_1 == summary_2 and summary_1
    for name in ("r.gif", "t.csv", "t.json", "p.html", "s.png"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    frames_1 = iio.imread(first / "r.mp4", plugin="FFMPEG")
    frames_2 = iio.imread(second / "r.mp4", plugin="FFMPEG")
    assert frames_1.shape[0] == 31 and np.array_equal(frames_1, frames_2)
