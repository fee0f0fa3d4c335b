"""The gallery's speed: torch.optim x all-2d, on 1 and 2 workers, against one command per cell.

    python benchmarks/bench_gallery.py [--epochs 200] [--commands 3] [--json out.json]
    python benchmarks/bench_gallery.py --quick   # one function, 10 epochs, no package

1. The torch.optim x all-2d gallery (every raceable torch.optim optimizer x the
   nine 2-D functions, stills and GIFs) made from scratch with ``--workers 1``
   and with ``--workers 2``: wall time, and the ratio.
2. The cost of a cell inside the gallery (1-worker wall time / cells) against
   ``optrace run CELL.yaml --still --gif`` of single cells, each its own
   process (a sample of ``--commands`` cells, the median): the ratio.
3. The gallery of a package (``--package``, default pytorch_optimizer) on
   rosenbrock and rastrigin, every optimizer of it that can race, with 2
   workers: wall time, and how many cells raced, failed and diverged.
   ``--package ''`` skips it.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def gallery_config(epochs: int, quick: bool) -> dict[str, Any]:
    return {
        "title": "torch.optim x all-2d",
        "functions": ["rosenbrock"] if quick else "all-2d",
        "optimizers": "torch.optim",
        "epochs": epochs,
        "animation": {"size": [320, 320], "trail": 20},
        "outputs": ["still", "gif"],
    }


def timed_command(args: list[str], cwd: Path) -> float:
    began = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--commands", type=int, default=3, help="single-cell commands timed")
    parser.add_argument("--package", default="pytorch_optimizer", help="the package gallery")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    parser.add_argument("--quick", action="store_true", help="a check that it runs, not numbers")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.commands, args.package = 10, 1, ""
    optrace = [sys.executable, "-m", "optrace"]
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        config = gallery_config(args.epochs, args.quick)
        (here / "gallery.yaml").write_text(yaml.safe_dump(config))
        walls = {}
        for workers in (1, 2):
            walls[workers] = timed_command(
                [*optrace, "gallery", "gallery.yaml", "--out", f"site{workers}",
                 "--workers", str(workers)],
                here,
            )  # fmt: skip
        rows = (here / "site1" / "summary.csv").read_text().splitlines()[1:]
        cells = len(rows)
        same = (here / "site1" / "contact.png").read_bytes() == (
            here / "site2" / "contact.png"
        ).read_bytes()
        picks = [rows[i * len(rows) // args.commands].split(",")[:2] for i in range(args.commands)]
        singles = []
        for optimizer, function in picks:
            race = {
                "title": f"{optimizer} on {function}",
                "function": function,
                "epochs": args.epochs,
                "racers": [{"optimizer": optimizer}],
                "animation": config["animation"],
            }
            (here / "cell.yaml").write_text(yaml.safe_dump(race))
            singles.append(
                timed_command(
                    [*optrace, "run", "cell.yaml", "--still", "c.png", "--gif", "c.gif"], here
                )
            )
        if args.package:
            package = {
                **config,
                "title": f"{args.package} on rosenbrock and rastrigin",
                "functions": ["rosenbrock", "rastrigin"],
                "optimizers": args.package,
            }
            (here / "package.yaml").write_text(yaml.safe_dump(package))
            package_wall = timed_command(
                [*optrace, "gallery", "package.yaml", "--out", "package", "--workers", "2"], here
            )
            with open(here / "package" / "summary.csv", newline="") as fh:
                statuses = [row["status"] for row in csv.DictReader(fh)]
    per_cell = walls[1] / cells
    single = statistics.median(singles)
    report = {
        "cells": cells,
        "epochs": args.epochs,
        "wall_1_worker": walls[1],
        "wall_2_workers": walls[2],
        "speed_up_2_workers": walls[1] / walls[2],
        "per_cell_in_gallery": per_cell,
        "single_command": single,
        "cell_cost_ratio": per_cell / single,
        "same_contact_sheet": same,
    }
    print(f"gallery: {cells} cells x {args.epochs} epochs, stills and GIFs")
    print(f"  1 worker  {walls[1]:7.1f} s")
    print(f"  2 workers {walls[2]:7.1f} s   speed-up {walls[1] / walls[2]:.2f}x")
    print(
        f"  per cell in the gallery {per_cell:.2f} s; one `optrace run` of a cell "
        f"{single:.2f} s (median of {len(singles)}): {per_cell / single:.2f} of a command"
    )
    print(f"  same contact sheet on 1 and 2 workers: {same}")
    if args.package:
        counts = {k: statuses.count(k) for k in ("ok", "diverged", "escaped", "failed")}
        report["package"] = {"name": args.package, "wall_2_workers": package_wall,
                             "cells": len(statuses), **counts}  # fmt: skip
        print(
            f"{args.package} x rosenbrock, rastrigin: {len(statuses)} cells in "
            f"{package_wall:.1f} s on 2 workers: {counts['ok']} ok, {counts['diverged']} "
            f"diverged, {counts['escaped']} escaped, {counts['failed']} failed"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
