"""What a sweep costs: its combinations batched against the same races one by one.

Run as ``python benchmarks/bench_sweep.py`` (``--quick`` for a small round,
``--json PATH`` to keep the numbers). Two measurements, side by side in one run:

- the race: a 5 x 4 sweep of SGD with momentum (lr x momentum) on Rosenbrock,
  300 epochs, raced as optrace races it (one optimizer with a parameter group per
  combination) against 20 separate races of the same racer, alternating, with every
  trace checked equal to the bit. Target: at most a quarter of the time.
- the command: ``optrace run configs/momentum-sweep.yaml --html`` against the same
  config without its sweep, each in a fresh process, alternating. Target: within 1.5x.
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
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "momentum-sweep.yaml"


def race(epochs: int, rounds: int) -> dict[str, Any]:
    import numpy as np

    import optrace
    from optrace.engine.race import race_one
    from optrace.engine.sweep import race_sweep

    doc = {
        "function": "rosenbrock",
        "start": [-1.2, 1.0],
        "epochs": epochs,
        "racers": [
            {
                "optimizer": "SGD",
                "lr": 0.001,
                "momentum": 0.9,
                "sweep": {
                    "lr": [0.0001, 0.0003, 0.001, 0.002, 0.003],
                    "momentum": [0.0, 0.5, 0.9, 0.99],
                },
            }
        ],
    }
    plan = optrace.Race.from_dict(doc).plan()
    (racer,) = plan.racers
    assert racer.sweep is not None
    fn, starts, spec = plan.objective.fn, plan.starts, racer.optimizer
    combinations = racer.sweep.combinations
    batched_s, separate_s = [], []
    exact = True
    for _ in range(rounds):
        began = time.perf_counter()
        together = race_sweep(spec, fn, starts, epochs, racer.sweep)
        batched_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        alone = [
            race_one(
                replace(spec, hyperparameters={**spec.hyperparameters, **c}), fn, starts, epochs
            )
            for c in combinations
        ]
        separate_s.append(time.perf_counter() - began)
        for a, b in zip(together, alone, strict=True):
            exact &= np.array_equal(a.x, b.x, equal_nan=True) and np.array_equal(
                a.loss, b.loss, equal_nan=True
            )
    batched, separate = statistics.median(batched_s), statistics.median(separate_s)
    return {
        "combinations": len(combinations),
        "epochs": epochs,
        "batched_s": batched,
        "separate_s": separate,
        "share": batched / separate,
        "exact": bool(exact),
    }


def command(rounds: int) -> dict[str, Any]:
    """The whole command with and without the sweep, fresh processes, alternating."""
    doc = yaml.safe_load(CONFIG.read_text())
    plain = {**doc, "racers": [{k: v for k, v in r.items() if k != "sweep"} for r in doc["racers"]]}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as folder:
        unswept = Path(folder) / "plain.yaml"
        unswept.write_text(yaml.safe_dump(plain, sort_keys=False))
        times: dict[str, list[float]] = {"sweep": [], "plain": []}
        for _ in range(rounds):
            for name, path in (("sweep", CONFIG), ("plain", unswept)):
                began = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "optrace",
                        "run",
                        str(path),
                        "--html",
                        f"{folder}/{name}.html",
                    ],
                    check=True,
                    capture_output=True,
                    env=env,
                )
                times[name].append(time.perf_counter() - began)
        sizes = {n: (Path(folder) / f"{n}.html").stat().st_size for n in times}
    sweep, plain_s = statistics.median(times["sweep"]), statistics.median(times["plain"])
    return {
        "sweep_s": sweep,
        "plain_s": plain_s,
        "ratio": sweep / plain_s,
        "sweep_html_bytes": sizes["sweep"],
        "plain_html_bytes": sizes["plain"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small round")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    raced = race(60, 1) if args.quick else race(300, 5)
    print(
        f"{raced['combinations']} combinations x {raced['epochs']} epochs: batched "
        f"{raced['batched_s']:.3f} s, one by one {raced['separate_s']:.3f} s: "
        f"{raced['share']:.2f} of the time (target <= 0.25); every trace exact: {raced['exact']}"
    )
    ran = command(1 if args.quick else 3)
    print(
        f"optrace run {CONFIG.name} --html: {ran['sweep_s']:.2f} s with the sweep, "
        f"{ran['plain_s']:.2f} s without: {ran['ratio']:.2f}x (target <= 1.5x); "
        f"the page {ran['sweep_html_bytes'] / 1e6:.2f} MB "
        f"({ran['plain_html_bytes'] / 1e6:.2f} MB without)"
    )
    if args.json is not None:
        args.json.write_text(json.dumps({"race": raced, "command": ran}, indent=1) + "\n")


if __name__ == "__main__":
    main()
