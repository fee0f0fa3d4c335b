"""The GIF sink: one exact palette for the whole race, only changed rectangles stored."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import numpy as np


class GifSink:
    """A GIF written frame by frame with Pillow's GIF encoder.

    One palette serves the whole race, so colours never flicker: the 255
    commonest colours of the first frame, which shows every racer's colour in
    the legend. Those map to themselves exactly (a plot has few colours);
    any other colour maps to its nearest entry. Index 255 is transparent:
    each later frame stores only the rectangle that changed, with the
    unchanged pixels in it transparent, which LZW compresses to almost nothing.
    """

    TRANSPARENT = 255

    def __init__(self, path: Path, interval: int, loop: bool = True) -> None:
        self.path = path
        self.interval = interval
        self.loop = loop
        self._file: IO[bytes] | None = None
        self._palette: _Palette | None = None
        self._keys: np.ndarray | None = None

    def append(self, frame: np.ndarray) -> None:
        keys = _colour_keys(frame)
        if self._palette is None or self._keys is None:
            self._start(keys)
            return
        changed = keys != self._keys
        rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
        if rows.size == 0:  # an unchanged frame still takes its time slot
            self._write(np.full((1, 1), self.TRANSPARENT, np.uint8), (0, 0))
            return
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        box = changed[y0:y1, x0:x1]
        new = self._palette.indices(keys[y0:y1, x0:x1][box])
        stored = np.full(box.shape, self.TRANSPARENT, np.uint8)
        stored[box] = new
        self._write(stored, (x0, y0))
        self._keys[y0:y1, x0:x1] = keys[y0:y1, x0:x1]

    def _start(self, keys: np.ndarray) -> None:
        from PIL import GifImagePlugin, Image

        self._palette = _Palette(keys, self.TRANSPARENT)
        canvas = Image.new("P", (keys.shape[1], keys.shape[0]))
        canvas.putpalette(self._palette.rgb.astype(np.uint8).tobytes())
        info: dict[str, Any] = {"duration": self.interval, "transparency": self.TRANSPARENT}
        if self.loop:
            info["loop"] = 0
        header, _ = GifImagePlugin.getheader(canvas, info=info)
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._file.write(b"".join(header))
        self._keys = keys.copy()
        self._write(self._palette.indices(keys), (0, 0), transparent=False)

    def _write(
        self, indices: np.ndarray, offset: tuple[int, int], transparent: bool = True
    ) -> None:
        from PIL import GifImagePlugin, Image

        params: dict[str, Any] = {"duration": self.interval, "disposal": 1}
        if transparent:
            params["transparency"] = self.TRANSPARENT
        data = GifImagePlugin.getdata(Image.fromarray(indices), offset=offset, **params)
        assert self._file is not None
        self._file.write(b"".join(data))

    def close(self) -> None:
        if self._file is not None:
            self._file.write(b";")
            self._file.close()


def _colour_keys(frame: np.ndarray) -> np.ndarray:
    """``(h, w)`` uint32 keys ``r | g << 8 | b << 16`` of an RGBA frame (alpha dropped)."""
    rgba = np.ascontiguousarray(frame)
    keys: np.ndarray = rgba.view("<u4")[..., 0] & 0xFFFFFF
    return keys


class _Palette:
    """The race's palette: a lookup table from colour key to index, filled as colours appear."""

    def __init__(self, keys: np.ndarray, size: int) -> None:
        colours, counts = np.unique(keys, return_counts=True)
        top = colours[np.argsort(-counts, kind="stable")[:size]]
        self.rgb = np.stack([top & 255, (top >> 8) & 255, (top >> 16) & 255], axis=1)
        self.rgb = self.rgb.astype(np.int32)
        self._unknown = size
        self._lut = np.full(1 << 24, size, np.uint8)
        self._lut[top] = np.arange(len(top), dtype=np.uint8)

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
