"""What gradient noise costs a swarm: the same race with and without noise, side by side.

Run as ``python benchmarks/bench_noise.py`` (``--quick`` for a small round). It
races Adam over N random starts (one tensor) for E epochs, alternating the
noiseless and the noisy race, and prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any


def bench(starts: int, epochs: int, rounds: int) -> dict[str, Any]:
    import torch

    from optrace.engine.race import race_one
    from optrace.engine.starts import draw_starts
    from optrace.optim.noise import NoiseSpec
    from optrace.optim.optimizers import resolve
    from optrace.problems.functions import build_function

    objective = build_function("peaks-slice", {})
    points = draw_starts({"random": starts}, objective.domain, seed=0)
    spec = resolve(
        "Adam",
        {"lr": 0.1},
        "racers[0]",
        objective.fn,
        torch.tensor([points[0]], dtype=torch.float64),
    )
    noise = NoiseSpec(0.5, False, 0, tuple((i, 0) for i in range(starts)))
    plain_s, noisy_s = [], []
    for _ in range(rounds):
        began = time.perf_counter()
        race_one(spec, objective.fn, points, epochs)
        plain_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        race_one(spec, objective.fn, points, epochs, noise=noise)
        noisy_s.append(time.perf_counter() - began)
    plain, noisy = statistics.median(plain_s), statistics.median(noisy_s)
    return {
        "starts": starts,
        "epochs": epochs,
        "plain_s": plain,
        "noisy_s": noisy,
        "ratio": noisy / plain,
        "noise_us_per_start_epoch": (noisy - plain) / (starts * epochs) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small round")
    args = parser.parse_args()
    r = bench(100, 100, 1) if args.quick else bench(1000, 1000, 3)
    print(
        f"Adam swarm, {r['starts']} starts x {r['epochs']} epochs: without noise "
        f"{r['plain_s']:.3f} s, with noise {r['noisy_s']:.3f} s ({r['ratio']:.2f}x; "
        f"{r['noise_us_per_start_epoch']:.2f} us per start and epoch)"
    )


if __name__ == "__main__":
    main()
