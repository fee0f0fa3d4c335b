"""The GIF palette's table gives the nearest palette entry, as a search of the whole
palette does, and the seed GIF is byte for byte the one in docs/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optrace.export.gif import Palette, colour_keys
from tests.conftest import ROOT


def nearest(palette: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Brute force: each key against every entry, the first (lowest) index on a tie."""
    rgb = np.stack([keys & 255, (keys >> 8) & 255, (keys >> 16) & 255], axis=-1).astype(np.int64)
    out = np.empty(keys.shape, np.uint8)
    flat, rows = rgb.reshape(-1, 3), out.reshape(-1)
    for at in range(0, len(flat), 4096):
        distance = ((flat[at : at + 4096, None, :] - palette[None].astype(np.int64)) ** 2).sum(2)
        rows[at : at + 4096] = distance.argmin(axis=1)
    return out


def frame_of(keys: np.ndarray) -> np.ndarray:
    rgba = np.empty((*keys.shape, 4), np.uint8)
    for channel in range(3):
        rgba[..., channel] = (keys >> (8 * channel)) & 255
    rgba[..., 3] = 255
    return rgba


def plot_like_first_frame(rng: np.random.Generator) -> np.ndarray:
    """A first frame with a few hundred colours, clustered as a plot's are: a
    ramp of blends between some base colours, greys, and white most of all."""
    base = rng.integers(0, 256, (6, 3))
    t = rng.random((600, 1))
    a, b = base[rng.integers(0, 6, 600)], base[rng.integers(0, 6, 600)]
    colours = np.clip(np.round(a * t + b * (1 - t)), 0, 255).astype(np.uint32)
    keys = colours[:, 0] | colours[:, 1] << 8 | colours[:, 2] << 16
    frame = np.full((120, 160), 0xFFFFFF, np.uint32)
    frame.reshape(-1)[rng.choice(frame.size, 8000, replace=False)] = rng.choice(keys, 8000)
    return frame


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_palette_indices_are_the_nearest_entry_on_random_frames(seed: int) -> None:
    rng = np.random.default_rng(seed)
    first = plot_like_first_frame(rng)
    palette = Palette(colour_keys(frame_of(first)), 255)
    assert len(palette.rgb) == 255
    assert np.array_equal(palette.indices(first), nearest(palette.rgb, first))
    # Random colours anywhere in the cube, then blends near the palette's own
    # (where the entries are dense and the table's cubes are contested), and
    # the same frame again once its cubes are filled.
    anywhere = rng.integers(0, 1 << 24, (120, 160)).astype(np.uint32)
    entry = palette.rgb[rng.integers(0, 255, (120, 160))]
    jitter = np.clip(entry + rng.integers(-6, 7, entry.shape), 0, 255).astype(np.uint32)
    close = jitter[..., 0] | jitter[..., 1] << 8 | jitter[..., 2] << 16
    for keys in (anywhere, close, anywhere[:50, :50], close):
        assert np.array_equal(palette.indices(keys), nearest(palette.rgb, keys))


def test_a_palette_of_a_few_colours_maps_ties_to_the_lowest_index() -> None:
    # Black first (the commoner), then white: mid grey 127 is nearer black,
    # and (0, 255, 0)-like colours tie only where the distances are equal.
    first = np.array([[0x000000] * 3 + [0xFFFFFF] * 2 + [0x0000FF]], np.uint32)
    palette = Palette(colour_keys(frame_of(first)), 255)
    keys = np.arange(0, 1 << 24, 977, dtype=np.uint32)
    assert np.array_equal(palette.indices(keys), nearest(palette.rgb, keys))


def test_the_seed_gif_is_byte_for_byte_docs_seed_gif(invoke: Any, tmp_path: Path) -> None:
    gif = tmp_path / "seed.gif"
    result = invoke("run", ROOT / "configs" / "seed.yaml", "--gif", gif)
    assert result.exit_code == 0, result.stderr
    assert gif.read_bytes() == (ROOT / "docs" / "seed.gif").read_bytes()
