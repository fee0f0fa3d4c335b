"""What a model race's grid costs: optrace's plane losses against a plain loop.

Run as ``python benchmarks/bench_landscape.py`` (``--quick`` for a small round,
``--json PATH`` to keep the numbers). Side by side in one run:

- the digits grid: a 41 x 41 plane of the full-batch training loss of an MLP of
  digits' shape (64-32-10, tanh, float64, scikit-learn's 1,797 digits, or as many
  Gaussian inputs without scikit-learn), by ``plane_losses`` against a loop that
  calls ``torch.func.functional_call`` at each point in turn, alternating; every
  loss checked within 1e-5 relative. Target: at least 2x faster. Beside it, what
  bounds it: the time of the grid's tanh alone (one per hidden unit, example and
  point), and the loop and the grid again on one thread.
- the large grid: a 784-128-10 MLP (a user's own: float32, torch's default) on
  10,000 examples, the default 41 x 41 grid over all of them, a few points checked
  against the loop. Target: under a minute.
- the whole command: ``optrace run configs/digits.yaml --gif`` against ``optrace run
  configs/rosenbrock.yaml --gif``, fresh processes, alternating (not in ``--quick``).
  Target: within 2x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optrace.engine import landscape
from optrace.problems.networks import LOSSES, build_mlp

CROSS_ENTROPY = LOSSES["cross_entropy"]


def digits() -> tuple[torch.Tensor, torch.Tensor, str]:
    """Digits, standardised; Gaussian inputs of its shape without scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        g = torch.Generator().manual_seed(0)
        X = torch.randn(1797, 64, generator=g, dtype=torch.float64)
        return X, torch.randint(0, 10, (1797,), generator=g), "Gaussian inputs"
    data = load_digits()
    X = torch.tensor(data.data, dtype=torch.float64)
    X = (X - X.mean(0)) / X.std(0).clamp_min(1e-8)
    return X, torch.tensor(data.target), "scikit-learn's digits"


def plane(net: torch.nn.Module, grid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The initial weights, filter-normalised random directions, and the grid's points."""
    params = list(net.parameters())
    axis = np.linspace(-1.0, 1.0, grid)
    a, b = np.meshgrid(axis, axis)
    points = np.stack([a.ravel(), b.ravel()], axis=1)
    return landscape.flatten(params), landscape.random_directions(params, 0), points


def worst(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(ours - reference) / np.abs(reference)))


def digits_grid(grid: int, rounds: int) -> dict[str, Any]:
    X, y, source = digits()
    net = build_mlp(64, [32], 10, "tanh", 0, torch.float64)
    origin, directions, points = plane(net, grid)
    args = (net, CROSS_ENTROPY, X, y, origin, directions, points)
    landscape.plane_losses(*args)  # warm up
    serial_s, ours_s, difference = [], [], 0.0
    for _ in range(rounds):
        began = time.perf_counter()
        reference = landscape.plane_losses_serial(*args)
        serial_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        ours = landscape.plane_losses(*args)
        ours_s.append(time.perf_counter() - began)
        difference = max(difference, worst(ours, reference))
    # The same on one thread: less at the mercy of other work on the machine.
    threads = torch.get_num_threads()
    one_serial_s, one_thread_s = [], []
    try:
        torch.set_num_threads(1)
        for _ in range(rounds):
            began = time.perf_counter()
            landscape.plane_losses_serial(*args)
            one_serial_s.append(time.perf_counter() - began)
            began = time.perf_counter()
            landscape.plane_losses(*args)
            one_thread_s.append(time.perf_counter() - began)
    finally:
        torch.set_num_threads(threads)
    # What bounds it: the grid's tanh alone, in chunks of the size the grid uses.
    per_point = len(X) * 32
    chunk = max(1, landscape.CHUNK_BYTES // (per_point * 8))
    hidden = torch.randn(chunk, len(X), 32, dtype=torch.float64)
    tanh_s = []
    for _ in range(rounds):
        began = time.perf_counter()
        for _ in range(0, len(points), chunk):
            torch.tanh_(hidden)
        tanh_s.append(time.perf_counter() - began)
    serial, fast = statistics.median(serial_s), statistics.median(ours_s)
    return {
        "data": source,
        "grid": grid,
        "examples": len(X),
        "threads": threads,
        "serial_s": serial,
        "ours_s": fast,
        "speed_up": serial / fast,
        "max_relative_difference": difference,
        "one_thread_serial_s": statistics.median(one_serial_s),
        "one_thread_s": statistics.median(one_thread_s),
        "one_thread_speed_up": statistics.median(one_serial_s) / statistics.median(one_thread_s),
        "tanh_s": statistics.median(tanh_s),
        "tanh_share": statistics.median(tanh_s) / fast,
    }


def large_grid(examples: int, grid: int, checked: int = 3) -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(examples, 784, generator=g)
    y = torch.randint(0, 10, (examples,), generator=g)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.Tanh(), torch.nn.Linear(128, 10))
    origin, directions, points = plane(net, grid)
    began = time.perf_counter()
    ours = landscape.plane_losses(net, CROSS_ENTROPY, X, y, origin, directions, points)
    seconds = time.perf_counter() - began
    some = np.linspace(0, len(points) - 1, checked).astype(int)
    reference = landscape.plane_losses_serial(
        net, CROSS_ENTROPY, X, y, origin, directions, points[some]
    )
    return {
        "net": "784-128-10 tanh, float32",
        "examples": examples,
        "grid": grid,
        "seconds": seconds,
        "checked_points": checked,
        "max_relative_difference": worst(ours[some], reference),
    }


ROOT = Path(__file__).resolve().parent.parent


def commands(rounds: int) -> dict[str, Any]:
    """The digits race's whole command against Rosenbrock's, fresh processes, alternating."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times: dict[str, list[float]] = {"digits": [], "rosenbrock": []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(rounds):
            for name in times:
                began = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "optrace",
                        "run",
                        f"configs/{name}.yaml",
                        "--gif",
                        f"{folder}/{name}.gif",
                    ],
                    check=True,
                    capture_output=True,
                    env=env,
                    cwd=ROOT,
                )
                times[name].append(time.perf_counter() - began)
    digits_s, rosenbrock_s = (statistics.median(times[n]) for n in times)
    return {"digits_s": digits_s, "rosenbrock_s": rosenbrock_s, "ratio": digits_s / rosenbrock_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small round")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    small = digits_grid(21, 1) if args.quick else digits_grid(41, 5)
    print(
        f"digits grid {small['grid']} x {small['grid']} (64-32-10 tanh, float64, "
        f"{small['examples']} examples, {small['data']}): loop of functional_call "
        f"{small['serial_s']:.3f} s, plane_losses {small['ours_s']:.3f} s: "
        f"{small['speed_up']:.2f}x speed-up (target >= 2x); largest relative difference "
        f"{small['max_relative_difference']:.1e} (target <= 1e-5)"
    )
    print(
        f"  what bounds it: its tanh alone {small['tanh_s']:.3f} s "
        f"({100 * small['tanh_share']:.0f}% of the grid); on one thread instead of "
        f"{small['threads']}: loop {small['one_thread_serial_s']:.3f} s, plane_losses "
        f"{small['one_thread_s']:.3f} s: {small['one_thread_speed_up']:.2f}x"
    )
    big = large_grid(2000, 11) if args.quick else large_grid(10_000, 41)
    print(
        f"large grid {big['grid']} x {big['grid']} ({big['net']}, {big['examples']} examples): "
        f"{big['seconds']:.1f} s (target < 60 s); {big['checked_points']} points against the "
        f"loop: largest relative difference {big['max_relative_difference']:.1e}"
    )
    whole = None
    if not args.quick:
        whole = commands(3)
        print(
            f"optrace run configs/digits.yaml --gif: {whole['digits_s']:.2f} s; "
            f"configs/rosenbrock.yaml --gif: {whole['rosenbrock_s']:.2f} s: "
            f"{whole['ratio']:.2f}x (target <= 2x)"
        )
    if args.json is not None:
        report = {"digits": small, "large": big, "commands": whole}
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
