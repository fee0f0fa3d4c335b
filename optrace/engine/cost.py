"""What a race will cost, estimated before it runs, so that an absurd config is
refused up front instead of exhausting memory or running for days."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from optrace._core.errors import ConfigError

#: Seconds per optimizer step on one parameter tensor when nothing better is
#: known, and per extra element of a shared tensor (measured by
#: benchmarks/bench_export.py on the project's 2-core machines: about 450 us and
#: 0.5 us). A race's own step time comes from its probe step.
STEP_SECONDS = 450e-6
ELEMENT_SECONDS = 0.5e-6
#: Seconds of gradient noise per start and epoch (benchmarks/bench_noise.py: about
#: 0.5 us, each start's generator drawing 64 epochs at once).
NOISE_SECONDS = 0.5e-6
#: Seconds the probe step of one racer may take before the config is refused.
PROBE_SECONDS = 10.0
#: Seconds to draw and encode one frame, per pixel (about 3 ms for 640x480).
PIXEL_SECONDS = 1e-8
#: Bytes per recorded value (float64): each epoch of one start records its
#: place (one value per axis) and its loss. FRAME_BYTES: per pixel of the frame
#: buffers held while exporting (RGBA canvas, background, colour keys).
VALUE_BYTES = 8
FRAME_BYTES = 16

MEMORY_LIMIT = 4 * 2**30
TIME_LIMIT = 2 * 3600.0


@dataclass(frozen=True)
class Cost:
    """Estimated memory (bytes) and time (seconds) of a race and its animation."""

    memory: float
    seconds: float


def _bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _duration(s: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if s >= size:
            return f"{s / size:.1f} {unit}"
    return f"{s:.1f} seconds"


def _trace_memory(racers: int, starts: int, epochs: int, dims: int) -> float:
    return float(racers) * starts * (epochs + 1) * (dims + 1) * VALUE_BYTES


def _racers(n: int) -> str:
    return f"{n} racer" if n == 1 else f"{n} racers"


def _refuse(path: str, what: str, cost: Cost) -> ConfigError:
    return ConfigError(
        path,
        f"{what} would need about {_bytes(cost.memory)} and {_duration(cost.seconds)}; the "
        f"limits are {_bytes(MEMORY_LIMIT)} and {_duration(TIME_LIMIT)}: make it smaller, or "
        "race with limits=False",
    )


def check_traces(racers: int, starts: int, epochs: int, dims: int = 1) -> None:
    """Refuse a race whose traces alone would not fit (checked before any start is drawn)."""
    memory = _trace_memory(racers, starts, epochs, dims)
    if memory > MEMORY_LIMIT:
        seconds = float(racers) * epochs * (STEP_SECONDS + starts * ELEMENT_SECONDS)
        path = "starts" if starts > epochs else "epochs"
        what = f"this race ({_racers(racers)} x {starts} starts x {epochs + 1} epochs of traces)"
        raise _refuse(path, what, Cost(memory, seconds))


def check_race(
    racers: list[tuple[bool, float]],
    starts: int,
    epochs: int,
    dims: int = 1,
    noisy: Sequence[bool] = (),
) -> None:
    """Refuse a race that would run too long. ``racers`` holds, per racer, whether
    its starts race as one tensor and how long its probe step took; ``noisy``,
    per racer, whether its gradients get noise (each start draws its own)."""
    seconds = 0.0
    for i, (one_tensor, measured) in enumerate(racers):
        step = max(measured, STEP_SECONDS)
        if one_tensor or starts == 1:
            seconds += epochs * (step + starts * ELEMENT_SECONDS)
        else:
            seconds += epochs * starts * step
        if i < len(noisy) and noisy[i]:
            seconds += epochs * starts * NOISE_SECONDS
    if seconds > TIME_LIMIT:
        memory = _trace_memory(len(racers), starts, epochs, dims)
        path = "starts" if starts > epochs else "epochs"
        what = f"this race ({_racers(len(racers))} x {starts} starts x {epochs} epochs)"
        raise _refuse(path, what, Cost(memory, seconds))


def check_animation(frames: int, size: tuple[int, int]) -> None:
    """Refuse an animation whose frames would not fit or would take too long to draw."""
    pixels = float(size[0]) * size[1]
    cost = Cost(memory=pixels * FRAME_BYTES, seconds=frames * pixels * PIXEL_SECONDS)
    if cost.memory > MEMORY_LIMIT or cost.seconds > TIME_LIMIT:
        path = "animation.size" if cost.memory > MEMORY_LIMIT else "animation.frames"
        what = f"the animation ({frames} frames of {size[0]}x{size[1]})"
        raise _refuse(path, what, cost)
