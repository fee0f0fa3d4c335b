"""Swarms at scale: the way before (matplotlib-stroked trails, the palette searched
per new colour) against today's (rasterised trails, the cube-filled colour table),
side by side in one process, and the scale curve.

    python benchmarks/bench_swarm.py [--frames 100] [--rounds 1] [--json out.json] [--quick]

1. rastrigin, ``starts: {grid: 60}`` (3,600 starts), Adam and SGD with momentum,
   200 epochs, 100 frames, ``trail: 20``, 640x480: render + GIF, before and today,
   alternating; the frames' difference (mean and 99.9th percentile of the
   per-pixel error, out of 255) and the palette lookup's time per frame.
2. The seed race and configs/rosenbrock.yaml, render + GIF, before and today
   (neither is a swarm: only the palette differs), and whether the GIFs are
   byte-identical.
3. The scale curve: starts 9, 100, 400, 3,600 and 10,000 (grids 3 to 100) with
   the race's time and today's render time per frame.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def swarm_config(grid: int, frames: int) -> dict[str, Any]:
    return {
        "title": f"{grid * grid} starts",
        "function": "rastrigin",
        "starts": {"grid": grid},
        "epochs": 200,
        "racers": [
            {"optimizer": "Adam", "lr": 0.05},
            {"optimizer": "SGD", "lr": 0.002, "momentum": 0.9},
        ],
        "animation": {"frames": frames, "trail": 20},
    }


class Timed:
    """Wraps a palette class so that its lookups are timed, and (:meth:`timed`) any
    other function, such as the building of a frame's own colour table."""

    def __init__(self, cls: Any) -> None:
        self.cls, self.seconds = cls, 0.0

    def timed(self, fn: Any) -> Any:
        def call(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args)
            finally:
                self.seconds += time.perf_counter() - start

        return call

    def __call__(self, *args: Any) -> Any:
        palette, timer = self.cls(*args), self
        lookup = palette.indices

        def indices(keys: np.ndarray) -> np.ndarray:
            start = time.perf_counter()
            try:
                return lookup(keys)  # type: ignore[no-any-return]
            finally:
                timer.seconds += time.perf_counter() - start

        palette.indices = indices
        palette.unplaced = timer.timed(palette.unplaced)
        return palette


@contextlib.contextmanager
def way(before: bool) -> Iterator[Timed]:
    """The drawing and palette of before (``before``) or of today, and the palette's timer."""
    import palette_before

    from optrace.export import gif
    from optrace.render.views import ContourView

    saved = gif.Palette, ContourView.RASTER_TRAILS_FROM, gif._local_table
    timer = Timed(palette_before.Palette if before else saved[0])
    gif.Palette = timer  # type: ignore[assignment, misc]
    gif._local_table = timer.timed(saved[2])
    if before:
        ContourView.RASTER_TRAILS_FROM = sys.maxsize
    try:
        yield timer
    finally:
        gif.Palette, ContourView.RASTER_TRAILS_FROM, gif._local_table = saved  # type: ignore[misc]


def prepared(config: dict[str, Any] | Path) -> tuple[Any, Any, Any, tuple[int, int]]:
    from optrace._core.frames import frame_epochs
    from optrace.engine.loop import run
    from optrace.engine.plan import prepare
    from optrace.render.options import SceneOptions
    from optrace.spec.loading import load_config, parse_config

    loaded = load_config(config) if isinstance(config, Path) else parse_config(config)
    result = run(prepare(loaded, ROOT / "configs"))
    shown = frame_epochs(result.epochs, loaded.animation.frame_count(loaded.epochs))
    options = SceneOptions.of(loaded.animation, result.dims)
    return result, shown, options, tuple(loaded.animation.size)  # type: ignore[return-value]


class Keep:
    """Keeps every frame (to compare the two ways)."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def append(self, frame: np.ndarray) -> None:
        self.frames.append(frame.copy())

    def close(self) -> None:
        pass


def export(race: tuple[Any, ...], gif_path: Path, keep: Keep | None = None) -> float:
    """Seconds to render ``race`` and write it as a GIF."""
    from optrace.export.frames import render
    from optrace.export.gif import GifSink

    result, shown, options, size = race
    start = time.perf_counter()
    sink = GifSink(gif_path, 100)
    render(result, size, [sink, *([keep] if keep else [])], shown, options=options)
    sink.close()
    return time.perf_counter() - start


def before_and_today(
    race: tuple[Any, ...], folder: Path, rounds: int, compare: bool
) -> dict[str, Any]:
    """Render + GIF the old way and today's, alternating; medians and the difference."""
    times: dict[bool, list[float]] = {True: [], False: []}
    palette: dict[bool, list[float]] = {True: [], False: []}
    kept: dict[bool, Keep] = {}
    frames = len(race[1])
    for _ in range(rounds):
        for before in (True, False):
            keep = Keep() if compare and before not in kept else None
            with way(before) as timer:
                times[before].append(export(race, folder / f"{before}.gif", keep))
            palette[before].append(timer.seconds / frames)
            if keep is not None:
                kept[before] = keep
    report: dict[str, Any] = {
        "frames": frames,
        "before_s": statistics.median(times[True]),
        "today_s": statistics.median(times[False]),
        "before_palette_ms": 1000 * statistics.median(palette[True]),
        "today_palette_ms": 1000 * statistics.median(palette[False]),
        "identical_gif": (folder / "True.gif").read_bytes() == (folder / "False.gif").read_bytes(),
    }
    report["speedup"] = report["before_s"] / report["today_s"]
    if compare:
        error = np.concatenate(
            [
                np.abs(a[..., :3].astype(np.int16) - b[..., :3]).max(axis=-1).reshape(-1)
                for a, b in zip(kept[True].frames, kept[False].frames, strict=True)
            ]
        )
        report["error_mean"] = float(error.mean())
        report["error_p999"] = float(np.percentile(error, 99.9))
    return report


def scale_curve(grids: list[int], frames: int, folder: Path) -> list[dict[str, Any]]:
    """Race time and today's render time per frame for each grid of starts."""
    from optrace.engine.loop import run
    from optrace.engine.plan import prepare
    from optrace.spec.loading import parse_config

    rows = []
    for grid in grids:
        config = swarm_config(grid, frames)
        plan = prepare(parse_config(config))
        start = time.perf_counter()
        run(plan)
        race_s = time.perf_counter() - start
        race = prepared(config)
        with way(before=False) as timer:
            render_s = export(race, folder / "curve.gif")
        rows.append(
            {
                "starts": grid * grid,
                "race_s": race_s,
                "render_ms_per_frame": 1000 * render_s / len(race[1]),
                "palette_ms_per_frame": 1000 * timer.seconds / len(race[1]),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100, help="frames of each swarm race")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the 3,600-start race")
    parser.add_argument("--seed-rounds", type=int, default=3, help="rounds of seed, rosenbrock")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--quick", action="store_true", help="small and short (a smoke test)")
    args = parser.parse_args()
    grids = [3, 10, 20, 60, 100]
    big = 60
    if args.quick:
        args.frames, args.rounds, args.seed_rounds, grids, big = 8, 1, 1, [3, 10], 10
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.quick:  # a smoke test runs each export once
            export(prepared(ROOT / "configs" / "seed.yaml"), folder / "warm-up.gif")
        swarm = before_and_today(
            prepared(swarm_config(big, args.frames)), folder, args.rounds, True
        )
        report["swarm"] = {"starts": big * big, **swarm}
        print(
            f"{big * big} starts, {swarm['frames']} frames, render + GIF: "
            f"before {swarm['before_s']:.2f} s, today {swarm['today_s']:.2f} s, "
            f"speed-up {swarm['speedup']:.1f}x; palette {swarm['before_palette_ms']:.1f} -> "
            f"{swarm['today_palette_ms']:.1f} ms/frame; frames differ by "
            f"{swarm['error_mean']:.3f}/255 on average, {swarm['error_p999']:.0f}/255 at p99.9"
        )
        for name in ("seed", "rosenbrock"):
            one = before_and_today(
                prepared(ROOT / "configs" / f"{name}.yaml"), folder, args.seed_rounds, False
            )
            report[name] = one
            print(
                f"{name}: before {one['before_s']:.3f} s, today {one['today_s']:.3f} s "
                f"(ratio {one['speedup']:.2f}), GIF identical: {one['identical_gif']}"
            )
        report["curve"] = scale_curve(grids, args.frames, folder)
        for row in report["curve"]:
            print(
                f"{row['starts']:>6} starts: race {row['race_s']:.2f} s, render "
                f"{row['render_ms_per_frame']:.1f} ms/frame "
                f"(palette {row['palette_ms_per_frame']:.2f})"
            )
        first, third = report["curve"][0], report["curve"][min(3, len(grids) - 1)]
        report["curve_ratio"] = third["render_ms_per_frame"] / first["render_ms_per_frame"]
        print(f"render per frame, {third['starts']} starts against 9: {report['curve_ratio']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
