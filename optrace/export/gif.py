"""The GIF sink: the race's palette where it holds a frame's colours, a frame's own
palette where it does not, and only changed rectangles stored."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import numpy as np


class GifSink:
    """A GIF written frame by frame with Pillow's GIF encoder.

    The GIF's global palette is chosen from the first frame (:class:`Palette`:
    its commonest colours, and octree entries for its rarer ones); an entry maps
    to itself, any other colour to its nearest entry. The first frame, and any
    later frame whose changed pixels that palette holds within :attr:`TOLERANCE`,
    is stored with it. A later frame it does not hold (a racer's colour blended
    over a background the first frame did not show it on, a swarm's markers once
    they part) carries a local colour table of its own changed pixels: those
    colours exactly when there are at most 255 of them, else the 127 commonest
    of them and 128 from Pillow's octree quantization of the others
    (:func:`_local_table`). So every frame's colours are right whatever the
    first frame shows, and a frame the global palette holds costs no table.
    The transparent index is 255 with the global palette and the last entry of
    a local table: each later frame stores only the rectangle that changed,
    with the unchanged pixels in it transparent, which LZW compresses to almost
    nothing.
    """

    TRANSPARENT = 255
    #: The largest error (of red, green or blue, out of 255) that a frame's
    #: changed pixels may take from the global palette before the frame gets its
    #: own table.
    TOLERANCE = 8
    #: A frame with more changed pixels than this that the global palette's
    #: table has not placed yet gets its own table without placing them: so many
    #: new colours (a swarm's) are cheaper to quantize than to place, and the
    #: global palette would seldom hold them.
    UNPLACED = 4096
    #: Entries of a frame's own table, when its changed pixels hold more than
    #: 255 colours, left to the octree; the others are its commonest colours.
    SPARE = 128

    def __init__(self, path: Path, interval: int, loop: bool = True) -> None:
        self.path = path
        self.interval = interval
        self.loop = loop
        self._file: IO[bytes] | None = None
        self._palette: Palette | None = None
        self._keys: np.ndarray | None = None

    def append(self, frame: np.ndarray) -> None:
        keys = colour_keys(frame)
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
        new, table = self._indices(keys[y0:y1, x0:x1][box])
        transparent = self.TRANSPARENT if table is None else len(table) - 1
        stored = np.full(box.shape, transparent, np.uint8)
        stored[box] = new
        self._write(stored, (x0, y0), table)
        self._keys[y0:y1, x0:x1] = keys[y0:y1, x0:x1]

    def _start(self, keys: np.ndarray) -> None:
        from PIL import GifImagePlugin, Image

        self._palette = Palette(keys, self.TRANSPARENT)
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

    def _indices(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Indices of a later frame's changed pixels, and the frame's own table
        (``None`` where the global palette holds them within :attr:`TOLERANCE`).

        Args:
            keys: The pixels' colour keys, ``(n,)``.
        """
        assert self._palette is not None
        palette, rgb = self._palette, _channels(keys)
        if palette.unplaced(keys) <= self.UNPLACED:
            found = palette.indices(keys)
            if np.abs(palette.rgb[found] - rgb).max() <= self.TOLERANCE:
                return found, None
        return _local_table(rgb, self.TRANSPARENT, self.SPARE)

    def _write(
        self,
        indices: np.ndarray,
        offset: tuple[int, int],
        table: np.ndarray | None = None,
        transparent: bool = True,
    ) -> None:
        """Write one image; ``table``, a local colour table whose last entry is
        the transparent one, or ``None`` for the global palette."""
        from PIL import GifImagePlugin, Image

        params: dict[str, Any] = {"duration": self.interval, "disposal": 1}
        if transparent:
            params["transparency"] = self.TRANSPARENT if table is None else len(table) - 1
        image = Image.frombytes("P", (indices.shape[1], indices.shape[0]), indices.tobytes())
        if table is not None:
            image.putpalette(table.tobytes())
            params["include_color_table"] = True
        data = GifImagePlugin.getdata(image, offset=offset, **params)
        assert self._file is not None
        self._file.write(b"".join(data))

    def close(self) -> None:
        if self._file is not None:
            self._file.write(b";")
            self._file.close()


def _local_table(rgb: np.ndarray, size: int, spare: int) -> tuple[np.ndarray, np.ndarray]:
    """A frame's own colour table for pixels ``rgb`` (``(n, 3)``, 0 to 255) and their
    indices into it: their colours exactly if there are at most ``size``; else their
    ``size - spare`` commonest exactly (flat fills: markers, contour bands) and
    ``spare`` more by Pillow's octree quantization (no dithering) of the other
    pixels (edges' and trails' blends), which takes a swarm's frame milliseconds.

    Returns:
        The ``(n,)`` uint8 indices and the table: ``(2**k, 3)`` uint8, the
        smallest power of two (at least 2) with room for the colours and one
        more entry, the last, left for the transparent index.
    """
    from PIL import Image

    keys = _keys_of(rgb)
    colours, counts = np.unique(keys, return_counts=True)
    if len(colours) > size:
        colours = np.sort(colours[np.argsort(-counts, kind="stable")[: size - spare]])
    indices = np.minimum(np.searchsorted(colours, keys), len(colours) - 1)
    chosen = _rgb_of(colours)
    rest = colours[indices] != keys
    if rest.any():
        others = np.ascontiguousarray(rgb[rest], dtype=np.uint8)
        image = Image.frombytes("RGB", (len(others), 1), others.tobytes())
        quantized = image.quantize(spare, Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        extra = np.array(quantized.getpalette() or [], np.uint8).reshape(-1, 3)[:spare]
        indices[rest] = len(chosen) + np.asarray(quantized, np.int64).reshape(-1)
        chosen = np.concatenate([chosen, extra])
    table = np.zeros((max(2, 1 << len(chosen).bit_length()), 3), np.uint8)
    table[: len(chosen)] = chosen
    return indices.astype(np.uint8), table


def _keys_of(rgb: np.ndarray) -> np.ndarray:
    """Keys ``r << 16 | g << 8 | b`` of ``(n, 3)`` colours, which sort as the rows do."""
    wide = rgb.astype(np.uint32)
    keys: np.ndarray = wide[:, 0] << 16 | wide[:, 1] << 8 | wide[:, 2]
    return keys


def _rgb_of(keys: np.ndarray) -> np.ndarray:
    """``(n, 3)`` uint8 colours of keys ``r << 16 | g << 8 | b``."""
    return np.stack([keys >> 16, (keys >> 8) & 255, keys & 255], axis=1).astype(np.uint8)


def colour_keys(frame: np.ndarray) -> np.ndarray:
    """``(h, w)`` uint32 keys ``r | g << 8 | b << 16`` of an RGBA frame (alpha dropped)."""
    rgba = np.ascontiguousarray(frame)
    keys: np.ndarray = rgba.view("<u4")[..., 0] & 0xFFFFFF
    return keys


class Palette:
    """The race's palette and a table from every colour key to its palette index.

    The palette is the first frame's colours if it has at most 255; else its 191
    commonest and :attr:`SPARE` more from Pillow's octree quantization of the
    pixels of its other colours (a legend's rare marker, antialiased edges), less
    repeats. Those entries map to themselves; any other colour maps to its
    nearest entry (squared RGB distance, the lowest index on a tie), exactly as a
    search of the whole palette would. The table covers all
    2**24 colours; filling all of it up front costs over a minute in numpy, so it
    is filled as colours appear: a colour alone at first, and a whole cube of
    8 x 8 x 8 colours once :attr:`BUSY` of its colours have appeared (a dense
    swarm's frames touch a few thousand cubes, mostly in its first frames). A
    cube on the near side of every bisector between its centre's nearest entry
    and the others takes that entry as a block; otherwise its eight halves are
    tried against just the entries whose bisectors cross it, down to single
    colours. Once a race's cubes are filled, a frame's lookup is one gather
    however many colours changed.
    """

    #: Of a frame of more colours than the palette holds, entries chosen by
    #: octree quantization of the pixels of all but its commonest colours.
    SPARE = 64
    #: The side of the cubes filled at once, in colour levels.
    CUBE = 8
    #: A cube is filled whole once this many of its colours have appeared; until
    #: then each colour that appears is looked up alone.
    BUSY = 8
    #: Palette distances computed at once (bounds the temporaries to a few MB).
    BATCH = 1 << 18

    def __init__(self, keys: np.ndarray, size: int) -> None:
        top = _entries(keys, size, self.SPARE)
        self.rgb = _channels(top)
        self._square = (self.rgb**2).sum(axis=1)
        self._unknown = size
        self._lut = np.full(1 << 24, size, np.uint8)
        self._lut[top] = np.arange(len(top), dtype=np.uint8)
        self._seen = np.zeros((256 // self.CUBE) ** 3, np.int32)
        self._offsets: dict[int, np.ndarray] = {}
        side = self.CUBE
        while side >= 1:
            r, g, b = np.meshgrid(*[np.arange(side, dtype=np.int64)] * 3, indexing="ij")
            self._offsets[side] = (r | g << 8 | b << 16).reshape(-1)
            side //= 2

    def unplaced(self, keys: np.ndarray) -> int:
        """How many of ``keys`` the table holds no index for yet (what
        :meth:`indices` would have to place)."""
        return int(np.count_nonzero(self._lut[keys] == self._unknown))

    def indices(self, keys: np.ndarray) -> np.ndarray:
        """Palette indices of ``keys``: exact where the colour is in the palette, else nearest.

        Args:
            keys: Colour keys ``r | g << 8 | b << 16``, any shape.

        Returns:
            uint8 indices of the same shape.
        """
        found: np.ndarray = self._lut[keys]
        missing = found == self._unknown
        if missing.any():
            new = np.unique(keys[missing]).astype(np.int64)
            level = (0xFF // self.CUBE) * self.CUBE
            cube = new & (level | level << 8 | level << 16)
            cubes, seen = np.unique(cube, return_counts=True)
            packed = _pack(cubes, self.CUBE)
            self._seen[packed] += seen.astype(np.int32)
            busy = self._seen[packed] >= self.BUSY
            if busy.any():
                rows = np.broadcast_to(np.arange(len(self.rgb)), (int(busy.sum()), len(self.rgb)))
                self._settle(cubes[busy], self.CUBE, rows)
            lone = new[~np.isin(cube, cubes[busy])]
            if lone.size:  # a few colours in a quiet cube: each against the whole palette
                rows = np.broadcast_to(np.arange(len(self.rgb)), (len(lone), len(self.rgb)))
                self._settle(lone, 1, rows)
            found = self._lut[keys]
        return found

    def _settle(self, corners: np.ndarray, side: int, entries: np.ndarray) -> None:
        """Fill the table for the cubes of ``side`` at ``corners``, each row of
        ``entries`` holding the palette indices that can be nearest in that cube,
        ascending (any repeats after their first appearance)."""
        for at in range(0, len(corners), max(1, self.BATCH // entries.shape[1])):
            chunk = slice(at, at + max(1, self.BATCH // entries.shape[1]))
            self._settle_some(corners[chunk], side, entries[chunk])

    def _settle_some(self, corners: np.ndarray, side: int, entries: np.ndarray) -> None:
        rgb, square, rows = self.rgb, self._square, np.arange(len(corners))
        lo = _channels(corners)
        if side == 1:  # argmin's first minimum is the lowest index
            distance = ((lo[:, None, :] - rgb[entries]) ** 2).sum(axis=2)
            self._lut[corners] = entries[rows, distance.argmin(axis=1)]
            return
        hi = lo + side - 1
        # The entry nearest the cube's centre (twice its coordinates, to stay integral).
        near = entries[
            rows, (((lo + hi)[:, None, :] - 2 * rgb[entries]) ** 2).sum(axis=2).argmin(axis=1)
        ]
        # Entry q is at least as near as p at x iff 2 x.(p-q) + |q|^2 - |p|^2 <= 0;
        # over the cube the left side is least at one corner.
        diff = rgb[near][:, None, :] - rgb[entries]
        corner = np.where(diff > 0, lo[:, None, :], hi[:, None, :])
        margin = 2 * (corner * diff).sum(axis=2) + square[entries] - square[near][:, None]
        rival = margin <= 0
        alone = ~(rival & (entries != near[:, None])).any(axis=1)
        self._lut[corners[alone][:, None] + self._offsets[side][None]] = near[alone, None]
        contested = np.flatnonzero(~alone)
        if contested.size == 0:
            return
        # The rivals of each contested cube, still ascending, padded with its first.
        rival, entries = rival[contested], entries[contested]
        count = rival.sum(axis=1)
        by_count = np.argsort(count, kind="stable")
        rival, entries, count = rival[by_count], entries[by_count], count[by_count]
        order = np.argsort(~rival, axis=1, kind="stable")
        kept = np.take_along_axis(entries, order, axis=1)
        corners = corners[contested][by_count]
        half = side // 2
        for group in np.array_split(np.arange(len(count)), max(1, len(count) // 64)):
            width = int(count[group[-1]])
            sub = kept[group, :width].copy()
            pad = np.arange(width)[None] >= count[group, None]
            sub[pad] = np.broadcast_to(sub[:, :1], sub.shape)[pad]
            children = (corners[group][:, None] + self._offsets[2][None] * half).reshape(-1)
            self._settle(children, half, np.repeat(sub, 8, axis=0))


def _entries(keys: np.ndarray, size: int, spare: int) -> np.ndarray:
    """The palette's colour keys for a frame's ``keys``: all its colours if at most
    ``size``, else its ``size - spare`` commonest (a vivid colour counting for up to
    nine times as many pixels) and up to ``spare`` more by
    octree quantization of the pixels of its other colours."""
    colours, counts = np.unique(keys, return_counts=True)
    # A racer's saturated colour is rare beside the background's greys and the
    # colour map's, and matters most: vivid colours count for more.
    rgb = _channels(colours)
    vivid = rgb.max(axis=1) - rgb.min(axis=1)
    order = np.argsort(-(counts * (1 + vivid / 32)), kind="stable")
    top: np.ndarray = colours[order[: size if len(colours) <= size else size - spare]]
    if len(top) < len(colours):
        rest = order[len(top) :]
        top = np.concatenate([top, _octree(np.repeat(colours[rest], counts[rest]), top, spare)])
    return top


def _octree(keys: np.ndarray, taken: np.ndarray, size: int) -> np.ndarray:
    """Up to ``size`` colour keys for pixels ``keys`` by Pillow's octree
    quantization, less any already in ``taken``, in the order chosen."""
    from PIL import Image

    rgb = np.ascontiguousarray(_channels(keys).astype(np.uint8))
    image = Image.frombytes("RGB", (len(rgb), 1), rgb.tobytes())
    quantized = image.quantize(size, Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    chosen = np.array(quantized.getpalette() or [], np.int64).reshape(-1, 3)
    found = chosen[:, 0] | chosen[:, 1] << 8 | chosen[:, 2] << 16
    _, first = np.unique(found, return_index=True)
    found = found[np.sort(first)]
    kept: np.ndarray = found[~np.isin(found, taken)].astype(keys.dtype)
    return kept


def _channels(keys: np.ndarray) -> np.ndarray:
    """``(n, 3)`` int32 red, green, blue of colour keys."""
    rgb: np.ndarray = np.stack([keys & 255, (keys >> 8) & 255, (keys >> 16) & 255], axis=1)
    return rgb.astype(np.int32)


def _pack(corners: np.ndarray, cube: int) -> np.ndarray:
    """The number of each cube of side ``cube`` (a power of two) from its corner key."""
    rgb = _channels(corners) // cube
    side = 256 // cube
    packed: np.ndarray = rgb[:, 0] + side * (rgb[:, 1] + side * rgb[:, 2])
    return packed
