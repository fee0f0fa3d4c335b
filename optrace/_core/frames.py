"""Which epochs an animation shows: the one place that decides it."""

from __future__ import annotations

import numpy as np


def frame_count(
    epochs: int, frames: int | None = None, duration: float | None = None, interval: int = 200
) -> int:
    """Frames to show of a race of ``epochs``: every epoch unless ``frames`` (or as
    many as fit in ``duration`` seconds at ``interval`` ms each) asks for fewer.

    Examples:
        >>> frame_count(100), frame_count(100, frames=20)
        (101, 20)
        >>> frame_count(100, duration=2, interval=100)
        20
    """
    wanted = frames
    if duration is not None:
        wanted = max(2, round(duration * 1000 / interval))
    return epochs + 1 if wanted is None else min(wanted, epochs + 1)


def frame_epochs(epochs: int, frames: int) -> np.ndarray:
    """``frames`` evenly spaced epochs from 0 to ``epochs``, both ends included."""
    if frames >= epochs + 1:
        return np.arange(epochs + 1)
    return np.unique(np.round(np.linspace(0, epochs, frames)).astype(int))
