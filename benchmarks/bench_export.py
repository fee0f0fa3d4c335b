"""optrace against the seed's way, side by side in one process, as ratios.

    python benchmarks/bench_export.py [--rounds 5] [--whole-rounds 3] [--json out.json]

1. Render and save the seed race to GIF: the seed's FuncAnimation + PillowWriter
   against optrace's blitted, streamed export, on the same traces, frames and size,
   alternating for several rounds; medians, the ratio, and both GIF sizes.
2. The whole command: ``python benchmarks/seed_way.py`` against ``optrace run
   configs/seed.yaml --gif``, each a fresh process, alternating.
3. Peak memory (max RSS) of a fresh process exporting 100 and 2,000 frames, and
   how much the export itself added.
4. Swarm: Adam, 1,000 starts x 1,000 epochs as one tensor against separate runs
   (a sample of separate runs, scaled); Adafactor, which falls back to separate
   runs, likewise. The traces are compared for equality.
5. Start-up: ``optrace --help``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def side_by_side(
    theirs: Callable[[], Any], ours: Callable[[], Any], rounds: int, warm_up: bool = True
) -> tuple[float, float]:
    """Median seconds of each, run alternately after one warm-up round each (none
    with ``warm_up`` false: a smoke test runs each once)."""
    if warm_up:
        theirs(), ours()  # warm up imports and caches
    their_times, our_times = [], []
    for _ in range(rounds):
        their_times.append(timed(theirs))
        our_times.append(timed(ours))
    return statistics.median(their_times), statistics.median(our_times)


def seed_result() -> Any:
    from optrace.engine.loop import run
    from optrace.engine.plan import prepare
    from optrace.spec.loading import load_config

    return run(prepare(load_config(ROOT / "configs" / "seed.yaml")))


def bench_render(rounds: int, folder: Path, warm_up: bool = True) -> dict[str, Any]:
    import seed_way

    from optrace.export.frames import render
    from optrace.export.gif import GifSink

    result = seed_result()
    data = [
        (list(zip(t.x[0].tolist(), t.loss[0].tolist(), strict=True)), t.style, t.label)
        for t in result.traces
    ]
    theirs_path, ours_path = folder / "pillowwriter.gif", folder / "optrace.gif"

    def theirs() -> None:
        seed_way.render(data, str(theirs_path), interval=500)

    def ours() -> None:
        sink = GifSink(ours_path, 500)
        render(result, (640, 480), [sink])
        sink.close()

    seed_s, our_s = side_by_side(theirs, ours, rounds, warm_up)
    return {
        "frames": result.epochs + 1,
        "seed_s": seed_s,
        "optrace_s": our_s,
        "speedup": seed_s / our_s,
        "seed_gif_bytes": theirs_path.stat().st_size,
        "optrace_gif_bytes": ours_path.stat().st_size,
        "size_ratio": ours_path.stat().st_size / theirs_path.stat().st_size,
        "gif_error": gif_error(result, ours_path),
    }


def bench_2d(rounds: int, folder: Path, frames: int, warm_up: bool = True) -> dict[str, Any]:
    """configs/rosenbrock.yaml (contours, trails, loss panel): matplotlib's own
    FuncAnimation + PillowWriter on the same scene, against optrace's export."""
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from optrace._core.frames import frame_epochs
    from optrace.engine.loop import run
    from optrace.engine.plan import prepare
    from optrace.export.frames import DPI, render
    from optrace.export.gif import GifSink
    from optrace.render.options import SceneOptions
    from optrace.render.scene import RaceScene
    from optrace.spec.loading import load_config

    config = load_config(ROOT / "configs" / "rosenbrock.yaml")
    result = run(prepare(config))
    shown = frame_epochs(result.epochs, frames)
    options = SceneOptions.of(config.animation, result.dims)
    width, height = config.animation.size
    theirs_path, ours_path = folder / "2d-pillowwriter.gif", folder / "2d-optrace.gif"

    def theirs() -> None:
        figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
        FigureCanvasAgg(figure)
        scene = RaceScene(figure, result, shown, options)
        animation = FuncAnimation(figure, scene.update, frames=scene.n_frames, blit=False)
        animation.save(str(theirs_path), writer=PillowWriter(fps=1000 / 60), dpi=DPI)

    def ours() -> None:
        sink = GifSink(ours_path, 60)
        render(result, (width, height), [sink], shown, options=options)
        sink.close()

    their_s, our_s = side_by_side(theirs, ours, rounds, warm_up)
    return {
        "frames": len(shown),
        "rounds": rounds,
        "size": [width, height],
        "matplotlib_s": their_s,
        "optrace_s": our_s,
        "speedup": their_s / our_s,
        "matplotlib_gif_bytes": theirs_path.stat().st_size,
        "optrace_gif_bytes": ours_path.stat().st_size,
    }


def gif_error(result: Any, path: Path) -> dict[str, float]:
    """How far the decoded GIF is from the rendered frames (0-255 per channel)."""
    from PIL import Image, ImageSequence

    from optrace.export.frames import render

    class Keep:
        def __init__(self) -> None:
            self.frames: list[np.ndarray] = []

        def append(self, frame: np.ndarray) -> None:
            self.frames.append(frame[..., :3].copy())

        def close(self) -> None:
            pass

    keep = Keep()
    render(result, (640, 480), [keep])
    errors = []
    with Image.open(path) as im:
        for decoded, want in zip(ImageSequence.Iterator(im), keep.frames, strict=True):
            got = np.asarray(decoded.convert("RGB"), dtype=np.int16)
            errors.append(np.abs(got - want.astype(np.int16)))
    stacked = np.stack(errors)
    return {
        "mean": float(stacked.mean()),
        "exact_pixels": float((stacked.max(axis=-1) == 0).mean()),
        "p999": float(np.percentile(stacked, 99.9)),
    }


def bench_whole(rounds: int, folder: Path) -> dict[str, Any]:
    seed_cmd = [sys.executable, str(ROOT / "benchmarks" / "seed_way.py"), str(folder / "a.gif")]
    our_cmd = [
        sys.executable,
        "-m",
        "optrace",
        "run",
        str(ROOT / "configs" / "seed.yaml"),
        "--gif",
        str(folder / "b.gif"),
    ]

    def once(cmd: list[str]) -> float:
        return timed(lambda: subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT))

    seed_times, our_times = [], []
    for _ in range(rounds):
        seed_times.append(once(seed_cmd))
        our_times.append(once(our_cmd))
    floor_cmd = [sys.executable, "-c", TORCH_FLOOR]
    floor_s = statistics.median(once(floor_cmd) for _ in range(rounds))
    seed_s, our_s = statistics.median(seed_times), statistics.median(our_times)
    return {
        "seed_s": seed_s,
        "optrace_s": our_s,
        "speedup": seed_s / our_s,
        "torch_floor_s": floor_s,
        "best_possible_speedup": seed_s / floor_s,
    }


# What any torch race pays before its first step: importing torch, and the first
# Optimizer, whose add_param_group imports torch._dynamo.
TORCH_FLOOR = (
    "import torch; x = torch.zeros(1, dtype=torch.float64, requires_grad=True); "
    "torch.optim.SGD([x], lr=0.1)"
)


MEMORY_PROBE = """
import json, os, resource, sys
from pathlib import Path
from optrace.spec.loading import load_config
from optrace.engine.plan import prepare
from optrace.engine.loop import run
from optrace.export.gif import GifSink
from optrace.export.frames import render

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


class Sampler:
    # Reads the resident set after every frame (the GIF sink has taken it by then).
    peak = 0

    def append(self, frame):
        self.peak = max(self.peak, rss())

    def close(self):
        pass


frames = int(sys.argv[1])
config = load_config(Path(sys.argv[2]))
config = config.model_copy(update={"epochs": frames - 1})
result = run(prepare(config))
before = rss()
sink, sampler = GifSink(Path(sys.argv[3]), 500), Sampler()
render(result, (640, 480), [sink, sampler])
sink.close()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"before": before, "during_export": sampler.peak, "peak": peak}))
"""


def bench_memory(folder: Path, sizes: tuple[int, int] = (100, 2000)) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for frames in sizes:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                MEMORY_PROBE,
                str(frames),
                str(ROOT / "configs" / "seed.yaml"),
                str(folder / f"m{frames}.gif"),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        probe = json.loads(done.stdout.strip().splitlines()[-1])
        out[str(frames)] = {
            "peak_mib": probe["peak"] / 2**20,
            "export_peak_mib": probe["during_export"] / 2**20,
            "export_added_mib": (probe["during_export"] - probe["before"]) / 2**20,
        }
    small, large = (str(n) for n in sizes)
    out["sizes"] = [small, large]
    out["peak_ratio"] = out[large]["peak_mib"] / out[small]["peak_mib"]
    out["export_peak_ratio"] = out[large]["export_peak_mib"] / out[small]["export_peak_mib"]
    return out


def bench_swarm(name: str, starts: int, epochs: int, sample: int) -> dict[str, Any]:
    import torch

    from optrace.engine.race import race_one
    from optrace.engine.starts import draw_starts
    from optrace.optim.optimizers import resolve
    from optrace.problems.functions import build_function

    objective = build_function("peaks-slice", {})
    points = draw_starts({"random": starts}, objective.domain, seed=0)
    spec = resolve(
        name, {}, "racers[0]", objective.fn, torch.tensor([points[0]], dtype=torch.float64)
    )
    swarm_x: list[np.ndarray] = []
    swarm_s = timed(lambda: swarm_x.append(race_one(spec, objective.fn, points, epochs)[0]))
    separate: list[np.ndarray] = []
    sample_s = timed(
        lambda: separate.extend(
            race_one(spec, objective.fn, [p], epochs)[0] for p in points[:sample]
        )
    )
    separate_s = sample_s * starts / sample
    identical = all(
        np.array_equal(swarm_x[0][i], row[0], equal_nan=True) for i, row in enumerate(separate)
    )
    steps = starts * epochs
    return {
        "optimizer": name,
        "starts": starts,
        "epochs": epochs,
        "one_tensor": spec.elementwise,
        "swarm_s": swarm_s,
        "separate_s_scaled": separate_s,
        "separate_sample": sample,
        "speedup": separate_s / swarm_s,
        "swarm_us_per_step": swarm_s / steps * 1e6,
        "separate_us_per_step": separate_s / steps * 1e6,
        "identical": identical,
    }


def bench_startup(rounds: int = 5) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "optrace", "--help"]
    times = [
        timed(lambda: subprocess.run(cmd, check=True, capture_output=True)) for _ in range(rounds)
    ]
    return {"help_s": statistics.median(times), "rounds": rounds}


def print_report(report: dict[str, Any], rounds: int, whole_rounds: int) -> None:
    r, w, m, st = report["render"], report["whole"], report["memory"], report["startup"]
    e, d = r["gif_error"], report["render_2d"]
    lines = [
        f"render + save the seed race to GIF ({r['frames']} frames, 640x480), median of {rounds}:",
        f"  FuncAnimation + PillowWriter  {r['seed_s']:7.3f} s  {r['seed_gif_bytes']:>9,} bytes",
        f"  optrace export                {r['optrace_s']:7.3f} s  "
        f"{r['optrace_gif_bytes']:>9,} bytes",
        f"  speed-up {r['speedup']:.1f}x, size ratio {r['size_ratio']:.2f}",
        f"  optrace GIF vs rendered frames: mean error {e['mean']:.3f}/255, "
        f"{e['exact_pixels']:.2%} of pixels exact, 99.9th percentile {e['p999']:.0f}/255",
        f"render + save configs/rosenbrock.yaml to GIF ({d['frames']} frames, "
        f"{d['size'][0]}x{d['size'][1]}, contours, trails, loss panel), median of {d['rounds']}:",
        f"  FuncAnimation + PillowWriter  {d['matplotlib_s']:7.3f} s  "
        f"{d['matplotlib_gif_bytes']:>9,} bytes",
        f"  optrace export                {d['optrace_s']:7.3f} s  "
        f"{d['optrace_gif_bytes']:>9,} bytes",
        f"  speed-up {d['speedup']:.1f}x",
        f"whole command, a fresh process each, median of {whole_rounds}:",
        f"  python benchmarks/seed_way.py       {w['seed_s']:7.3f} s",
        f"  optrace run configs/seed.yaml --gif {w['optrace_s']:7.3f} s",
        f"  speed-up {w['speedup']:.1f}x",
        f"  torch import + first optimizer alone {w['torch_floor_s']:.3f} s: "
        f"no torch race beats {w['best_possible_speedup']:.1f}x here",
        "memory of a fresh process exporting the seed race (RSS sampled every frame):",
    ]
    small, large = m["sizes"]
    for n in (small, large):
        lines.append(
            f"  {n:>5} frames: process peak {m[n]['peak_mib']:6.1f} MiB, during export "
            f"{m[n]['export_peak_mib']:6.1f} MiB (+{m[n]['export_added_mib']:.1f} over the race)"
        )
    lines.append(
        f"  {large}/{small}: process peak {m['peak_ratio']:.3f}, "
        f"during export {m['export_peak_ratio']:.3f}"
    )
    for sw in report["swarm"]:
        how = "one tensor" if sw["one_tensor"] else "start by start"
        lines += [
            f"swarm {sw['optimizer']}, {sw['starts']} starts x {sw['epochs']} epochs ({how}):",
            f"  swarm {sw['swarm_s']:.3f} s ({sw['swarm_us_per_step']:.2f} us per racer-step)",
            f"  separate runs {sw['separate_s_scaled']:.2f} s ({sw['separate_us_per_step']:.1f} us "
            f"per racer-step; {sw['separate_sample']} timed, scaled)",
            f"  speed-up {sw['speedup']:.1f}x, traces identical: {sw['identical']}",
        ]
    lines.append(f"start-up: optrace --help {st['help_s']:.3f} s (median of {st['rounds']})")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the render comparison")
    parser.add_argument("--whole-rounds", type=int, default=3, help="rounds of whole commands")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument(
        "--quick", action="store_true", help="one small round of each (a smoke test)"
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds = args.whole_rounds = 1
    scale = 10 if args.quick else 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        report = {
            "render": bench_render(args.rounds, folder, warm_up=not args.quick),
            "render_2d": bench_2d(
                min(args.rounds, 3), folder, 16 if args.quick else 151, warm_up=not args.quick
            ),
            "whole": bench_whole(args.whole_rounds, folder),
            "memory": bench_memory(folder, (20, 200) if args.quick else (100, 2000)),
            "swarm": [
                bench_swarm("Adam", 1000 // scale, 1000 // scale, sample=20 // scale),
                bench_swarm("Adafactor", 200 // scale, 300 // scale, sample=20 // scale),
            ],
            "startup": bench_startup(1 if args.quick else 5),
        }
    print_report(report, args.rounds, args.whole_rounds)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
