"""A run killed mid-export leaves the old file as it was and no partial file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml


@pytest.mark.parametrize(
    "signum, code, message",
    [
        (signal.SIGTERM, 143, "Error: terminated; no output was written\n"),
        (signal.SIGINT, 130, "Error: interrupted; no output was written\n"),
    ],
    ids=["SIGTERM", "SIGINT"],
)
def test_signal_mid_export_keeps_the_old_files(
    tmp_path: Path, signum: int, code: int, message: str
) -> None:
    config = tmp_path / "long.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "function": "peaks-slice",
                "start": 1.0,
                "epochs": 6000,
                "racers": [{"optimizer": "Adam", "lr": 0.01}],
                "animation": {"size": [320, 240]},
            }
        )
    )
    gif, mp4, csv = tmp_path / "race.gif", tmp_path / "race.mp4", tmp_path / "race.csv"
    for old in (gif, mp4, csv):
        old.write_bytes(b"the old file")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "optrace",
            "run",
            str(config),
            "--gif",
            str(gif),
            "--mp4",
            str(mp4),
            "--traces",
            str(csv),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job ignores SIGINT, and Python keeps an inherited
        # "ignore": give the run the default, as in a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            parts = list(tmp_path.glob(".race.gif.*.part.gif"))
            if parts and parts[0].stat().st_size > 10_000:  # frames are streaming in
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be stopped"
        os.kill(proc.pid, signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert err == message
    assert out == ""
    for old in (gif, mp4, csv):
        assert old.read_bytes() == b"the old file"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "long.yaml",
        "race.csv",
        "race.gif",
        "race.mp4",
    ]
