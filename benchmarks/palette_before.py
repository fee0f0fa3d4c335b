"""The GIF palette lookup as it was before the colour table was filled by cubes:
each colour not yet seen searched against the whole palette. Kept for
benchmarks/bench_swarm.py, which runs it side by side with today's."""

from __future__ import annotations

import numpy as np


class Palette:
    """The race's palette: a lookup table from colour key to index, filled as colours appear."""

    def __init__(self, keys: np.ndarray, size: int) -> None:
        from optrace.export.gif import _entries

        top = _entries(keys, size, 64)  # today's entries: only the lookup differs
        self.rgb = np.stack([top & 255, (top >> 8) & 255, (top >> 16) & 255], axis=1)
        self.rgb = self.rgb.astype(np.int32)
        self._unknown = size
        self._lut = np.full(1 << 24, size, np.uint8)
        self._lut[top] = np.arange(len(top), dtype=np.uint8)

    def unplaced(self, keys: np.ndarray) -> int:
        """How many of ``keys`` the table holds no index for yet (the GIF sink asks)."""
        return int(np.count_nonzero(self._lut[keys] == self._unknown))

    def indices(self, keys: np.ndarray) -> np.ndarray:
        """Palette indices of ``keys``: exact where the colour is in the palette, else nearest."""
        found: np.ndarray = self._lut[keys]
        missing = found == self._unknown
        if missing.any():
            new = np.unique(keys[missing])
            rgb = np.stack([new & 255, (new >> 8) & 255, (new >> 16) & 255], axis=1)
            distance = ((rgb[:, None, :].astype(np.int32) - self.rgb[None]) ** 2).sum(axis=2)
            self._lut[new] = distance.argmin(axis=1).astype(np.uint8)
            found = self._lut[keys]
        return found
