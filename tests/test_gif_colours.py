"""Every racer's colour in every frame of the GIF: the GIF decoded by Pillow frame by
frame against the frames the renderer drew and against the MP4, for a swarm whose
first frame hides one racer's markers under the other's and for a noisy race whose
repeats fan out from one start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image, ImageSequence

from optrace.engine.loop import run
from optrace.engine.plan import prepare
from optrace.engine.styles import split_style
from optrace.export.frames import render
from optrace.export.gif import GifSink
from optrace.export.mp4 import Mp4Sink
from optrace.render.options import SceneOptions
from optrace.spec.loading import parse_config
from tests.conftest import ROOT

#: basins.yaml in small: SGD's red markers (alpha 0.6) start under Adam's.
BASINS: dict[str, Any] = {
    "function": "himmelblau",
    "starts": {"grid": 12},
    "epochs": 10,
    "racers": [
        {"optimizer": "SGD", "lr": 0.01, "style": "r."},
        {"optimizer": "Adam", "lr": 0.2, "style": "#0072B2o"},
    ],
    "animation": {"size": [400, 300], "trail": 6},
}
#: noisy-saddle.yaml in small: the red racer's repeats leave the black one's start.
NOISY: dict[str, Any] = {
    "function": "saddle",
    "start": [1.5, 0.0],
    "epochs": 15,
    "seed": 3,
    "noise": {"std": 0.3},
    "repeats": 8,
    "racers": [
        {"optimizer": "SGD", "lr": 0.05, "label": "plain", "noise": {"std": 0.0}, "style": "ks"},
        {"optimizer": "SGD", "lr": 0.05, "label": "noisy", "style": "ro"},
    ],
    "animation": {"size": [400, 300], "trail": 15, "loss_panel": True},
}


class Keep:
    """A sink that keeps every frame's red, green and blue."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def append(self, frame: np.ndarray) -> None:
        self.frames.append(frame[..., :3].copy())

    def close(self) -> None:
        pass


def rendered(
    config: dict[str, Any], folder: Path, mp4: bool = False
) -> tuple[list[np.ndarray], list[np.ndarray], list[tuple[float, float, float]]]:
    """The frames as drawn, the GIF's frames as Pillow decodes them, and each racer's
    colour; the MP4 of the same frames is written to ``folder / "race.mp4"`` if asked."""
    loaded = parse_config(config)
    result = run(prepare(loaded, ROOT))
    options = SceneOptions.of(loaded.animation, result.dims)
    keep, gif = Keep(), GifSink(folder / "race.gif", 100)
    sinks: list[Any] = [gif, keep]
    if mp4:
        sinks.append(Mp4Sink(folder / "race.mp4", 100))
    render(result, tuple(loaded.animation.size), sinks, options=options)  # type: ignore[arg-type]
    for sink in sinks:
        sink.close()
    with Image.open(folder / "race.gif") as image:
        decoded = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(image)]
    # Each style here names its colour first: a hex colour or one letter.
    colours = [to_rgb(split_style(trace.style)[0] or trace.style[0]) for trace in result.traces]
    return keep.frames, decoded, colours  # type: ignore[return-value]


def near(frame: np.ndarray, colour: tuple[float, float, float], within: int = 80) -> int:
    """Pixels within ``within`` (of red, green and blue, out of 255) of ``colour``."""
    target = np.round(np.array(colour) * 255).astype(np.int16)
    return int((np.abs(frame.astype(np.int16) - target).max(axis=-1) <= within).sum())


def error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pixel, the largest of the red, green and blue differences."""
    return np.abs(a.astype(np.int16) - b).max(axis=-1)  # type: ignore[no-any-return]


@pytest.mark.parametrize("config", [BASINS, NOISY], ids=["swarm", "noisy"])
def test_every_racer_keeps_its_colour_in_every_gif_frame(
    config: dict[str, Any], tmp_path: Path
) -> None:
    drawn, decoded, colours = rendered(config, tmp_path)
    assert len(decoded) == len(drawn)
    for index, (want, got) in enumerate(zip(drawn, decoded, strict=True)):
        for colour in colours:
            # The GIF's pixels near the colour are the frame's, give or take a
            # small error: between those within 80 - 12 and within 80 + 12.
            count = near(got, colour)
            assert near(want, colour, 68) * 0.97 - 3 <= count, (index, colour)
            assert count <= near(want, colour, 92) * 1.03 + 3, (index, colour)
        # Where the frame shows a racer's colour the GIF shows it too, closely (a
        # frame of over 255 colours is quantized: its edges' blends move most).
        racer = np.zeros(want.shape[:2], bool)
        for colour in colours:
            target = np.round(np.array(colour) * 255).astype(np.int16)
            racer |= np.abs(want.astype(np.int16) - target).max(axis=-1) <= 80
        wrong = error(got, want)
        assert wrong[racer].max(initial=0) <= 56, index
        assert wrong.mean() <= 2.5, index
        assert np.percentile(wrong, 99.9) <= 40, index


def test_the_swarm_gif_shows_the_red_the_mp4_shows(tmp_path: Path) -> None:
    drawn, decoded, _ = rendered(BASINS, tmp_path, mp4=True)
    movie = iio.imread(tmp_path / "race.mp4", plugin="FFMPEG")
    assert len(movie) == len(decoded)

    def red(frame: np.ndarray, slack: int = 0) -> int:
        """The issue's count of red pixels, its bounds moved out by ``slack``."""
        r, g, b = (frame[..., c].astype(int) for c in range(3))
        return int(((r > 150 - slack) & (g < 100 + slack) & (b < 100 + slack)).sum())

    middle = len(decoded) // 2
    assert red(drawn[middle]) > 100  # the race shows SGD's red markers at all
    assert 0.8 * red(movie[middle]) <= red(decoded[middle]) <= 1.25 * red(movie[middle])
    for want, got in zip(drawn, decoded, strict=True):
        assert red(want, -12) * 0.97 - 3 <= red(got) <= red(want, 12) * 1.03 + 3
