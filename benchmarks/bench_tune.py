"""optrace tune against the peers' way of tuning, side by side in one process.

    python benchmarks/bench_tune.py [--trials 40] [--starts 8] [--epochs 200] [--json out.json]

Tune lr (log-uniform over [1e-4, 10], final-gap) of all 13 raceable torch.optim
optimizers on Rosenbrock: ``trials`` trials each, every trial scored over the same
``starts`` random starts of ``epochs`` epochs.

- ours: :func:`optrace.tune.tune_config` (what ``optrace tune`` runs): each trial
  races its starts as one swarm tensor where the optimizer acts element by element;
- theirs: the loop the optimizer galleries write: an Optuna study per optimizer,
  the same TPESampler seeded per trial, its default lr queued as trial 0 (as optrace
  queues the values as written), and every start raced on its own, in a plain torch
  loop, for every trial.

One optimizer at a time, ours then theirs, so that the load of a shared machine
drifts alike for both. Prints each time, the ratios (all 13; the 11 that race as
one swarm, since LBFGS and Adafactor race start by start both ways) and whether
every optimizer got the same tuned lr and objective, to the bit. Then the whole
command, ``optrace tune``, in a fresh process. The target: at least 4x, the same
values, and the command under a minute at the full size.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
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
    name: str, doc: dict[str, Any], points: list[Any], box: list[Any]
) -> tuple[float, float]:
    """The peers' loop for one optimizer: a study; per trial, every start on its own."""
    import optuna
    import torch

    def rosenbrock(p: torch.Tensor) -> torch.Tensor:
        return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2

    (xlo, xhi), (ylo, yhi) = box
    epochs, trials = doc["epochs"], doc["tune"]["trials"]
    cls = getattr(torch.optim, name)

    def objective(trial: optuna.Trial) -> float:
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

    from optrace.tune.storage import sampler_for

    # The protocol optrace keeps: the values as written (here the default lr) are
    # trial 0 when inside the space, so the best is never worse than them; trial k
    # draws its values with TPE seeded by the seed and k.
    study = optuna.create_study(sampler=sampler_for(0, 0))
    written = inspect.signature(cls).parameters["lr"].default
    if 1e-4 <= written <= 10:
        study.enqueue_trial({"lr": written})

    def reseed(study: optuna.Study, trial: Any) -> None:
        study.sampler = sampler_for(0, trial.number + 1)

    study.optimize(objective, n_trials=trials, callbacks=[reseed])
    return study.best_params["lr"], study.best_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--starts", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--no-command", action="store_true", help="Skip the whole command.")
    parser.add_argument("--only", nargs="+", choices=OPTIMIZERS, help="Time only these optimizers.")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import optuna

    from optrace.optim.optimizers import ELEMENTWISE_NAMES
    from optrace.problems.functions import build_function
    from optrace.spec.loading import parse_config
    from optrace.tune.tuner import prepare_tuning, run_tuning

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    doc = config(args.trials, args.starts, args.epochs)
    if args.only is not None:
        doc["racers"] = [r for r in doc["racers"] if r["optimizer"] in args.only]
    began = time.perf_counter()
    plan = prepare_tuning(parse_config(doc))
    setup = time.perf_counter() - began
    points = [list(p) for p in plan.tuning.starts]
    rosen = build_function("rosenbrock", {})
    box = [rosen.domain, rosen.ydomain]
    rows = []
    chosen = plan.targets
    for target in chosen:  # one optimizer at a time, both ways, so load drifts alike
        began = time.perf_counter()
        (tuned,) = run_tuning(replace(plan, targets=(target,))).racers
        ours = time.perf_counter() - began
        began = time.perf_counter()
        their_lr, their_value = theirs(target.label, doc, points, box)
        their_seconds = time.perf_counter() - began
        same = (tuned.best_params["lr"], tuned.best_objective) == (their_lr, their_value)
        rows.append((target.label, ours, their_seconds, same, tuned.best_params["lr"]))
        print(
            f"  {target.label:10s} ours {ours:7.2f} s  theirs {their_seconds:7.2f} s  "
            f"{their_seconds / ours:5.1f}x  lr={tuned.best_params['lr']:.4g}  "
            f"{'same' if same else 'DIFFERENT'}",
            flush=True,
        )
    ours_total = setup + sum(r[1] for r in rows)
    theirs_total = sum(r[2] for r in rows)
    swarmed = [r for r in rows if r[0] in ELEMENTWISE_NAMES]
    ours_swarmed = sum(r[1] for r in swarmed)
    theirs_swarmed = sum(r[2] for r in swarmed)
    command = None
    if not args.no_command:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "all13.yaml"
            path.write_text(yaml.safe_dump(doc, sort_keys=False))
            began = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "optrace", "tune", str(path), "--out", f"{folder}/t.yaml"],
                check=True,
                capture_output=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            command = time.perf_counter() - began
    size = f"{len(chosen)} optimizers x {args.trials} trials x {args.starts} starts"
    size += f" x {args.epochs} epochs"
    print(size)
    print(
        f"all {len(rows)}: ours {ours_total:.2f} s (setup {setup:.2f} s), "
        f"theirs {theirs_total:.2f} s: "
        f"{theirs_total / ours_total:.1f}x"
    )
    print(
        f"the {len(swarmed)} that race as one swarm: ours {ours_swarmed:.2f} s, theirs "
        f"{theirs_swarmed:.2f} s: {theirs_swarmed / ours_swarmed:.1f}x"
    )
    if command is not None:
        print(f"optrace tune, the whole command (a fresh process): {command:.2f} s")
    print(
        "same tuned lr and objective: " + (f"all {len(rows)}" if all(r[3] for r in rows) else "NO")
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "size": size,
                    "setup_seconds": setup,
                    "rows": [
                        {"optimizer": r[0], "ours": r[1], "theirs": r[2], "same": r[3], "lr": r[4]}
                        for r in rows
                    ],
                    "ours_seconds": ours_total,
                    "theirs_seconds": theirs_total,
                    "command_seconds": command,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
