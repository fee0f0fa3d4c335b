"""optrace tune against the peers' way of tuning, side by side in one process.

    python benchmarks/bench_tune.py [--trials 40] [--starts 8] [--epochs 200] [--json out.json]

Tune lr (log-uniform over [1e-4, 10], final-gap) of all 13 raceable torch.optim
optimizers on Rosenbrock: ``trials`` trials each, every trial scored over the same
``starts`` random starts of ``epochs`` epochs.

- ours: :func:`optrace.tune.tune_config` (what ``optrace tune`` runs): each trial
  races its starts as one swarm tensor where the optimizer acts element by element;
- theirs: the loop the optimizer galleries write: an Optuna study per optimizer,
  the same TPESampler and seed, and every start raced on its own, in a plain torch
  loop, for every trial.

Prints both times, the ratio and whether every optimizer got the same tuned lr
(and objective, to the bit). Then the whole command, ``optrace tune``, in a fresh
process. The target: at least 4x, the same values, and the command under a minute
at the full size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OPTIMIZERS = [
    "ASGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LBFGS",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SGD",
]


def config(trials: int, starts: int, epochs: int) -> dict[str, Any]:
    return {
        "title": "all 13 on Rosenbrock, tuned alike",
        "function": "rosenbrock",
        "epochs": epochs,
        "tune": {"trials": trials, "starts": {"random": starts}, "objective": "final-gap"},
        "racers": [{"optimizer": name} for name in OPTIMIZERS],
    }


def theirs(
    doc: dict[str, Any], points: list[Any], box: list[Any]
) -> dict[str, tuple[float, float]]:
    """The peers' loop: per optimizer a study; per trial, every start on its own."""
    import optuna
    import torch

    def rosenbrock(p: torch.Tensor) -> torch.Tensor:
        return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2

    (xlo, xhi), (ylo, yhi) = box
    epochs, trials = doc["epochs"], doc["tune"]["trials"]
    found = {}
    for name in OPTIMIZERS:
        cls = getattr(torch.optim, name)

        def objective(trial: optuna.Trial, cls: Any = cls, name: str = name) -> float:
            lr = trial.suggest_float("lr", 1e-4, 10, log=True)
            finals = []
            for start in points:
                p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
                opt = cls([p], lr=lr)
                loss = rosenbrock(p)
                for _ in range(epochs):

                    def closure(p: torch.Tensor = p, opt: Any = opt) -> torch.Tensor:
                        opt.zero_grad()
                        value = rosenbrock(p)
                        value.backward()
                        return value

                    if name == "LBFGS":
                        opt.step(closure)
                    else:
                        opt.zero_grad()
                        loss.backward()
                        opt.step()
                    loss = rosenbrock(p)
                    x, y = p.tolist()
                    if not (math.isfinite(loss.item()) and xlo <= x <= xhi and ylo <= y <= yhi):
                        return math.inf  # diverged or left the domain: the worst
                finals.append(loss.item())
            return math.fsum(finals) / len(finals)

        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
        study.optimize(objective, n_trials=trials)
        found[name] = (study.best_params["lr"], study.best_value)
    return found


def ours(doc: dict[str, Any]) -> tuple[dict[str, tuple[float, float]], Any]:
    from optrace.spec.loading import parse_config
    from optrace.tune import tune_config

    tuning = tune_config(parse_config(doc))
    return {r.label: (r.best_params["lr"], r.best_objective) for r in tuning.racers}, tuning


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--starts", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    doc = config(args.trials, args.starts, args.epochs)
    began = time.perf_counter()
    our_values, tuning = ours(doc)
    our_seconds = time.perf_counter() - began
    points = tuning.settings["points"]
    from optrace.problems.functions import build_function

    rosen = build_function("rosenbrock", {})
    box = [rosen.domain, rosen.ydomain]
    began = time.perf_counter()
    their_values = theirs(doc, points, box)
    their_seconds = time.perf_counter() - began
    same = {name: our_values[name] == their_values[name] for name in OPTIMIZERS}

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "all13.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        began = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "optrace",
                "tune",
                str(path),
                "--out",
                str(Path(folder) / "t.yaml"),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        command_seconds = time.perf_counter() - began

    size = f"13 optimizers x {args.trials} trials x {args.starts} starts x {args.epochs} epochs"
    print(size)
    print(f"theirs (every start on its own): {their_seconds:8.2f} s")
    ratio = their_seconds / our_seconds
    print(f"ours (one swarm per trial):      {our_seconds:8.2f} s   {ratio:.1f}x")
    print(f"optrace tune, the whole command: {command_seconds:8.2f} s (a fresh process)")
    print("same tuned lr and objective: " + ("all 13" if all(same.values()) else str(same)))
    for name in OPTIMIZERS:
        lr, value = our_values[name]
        print(f"  {name:10s} lr={lr:.4g}  final-gap={value:.4g}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "size": size,
                    "theirs_seconds": their_seconds,
                    "ours_seconds": our_seconds,
                    "ratio": their_seconds / our_seconds,
                    "command_seconds": command_seconds,
                    "same": same,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
