"""What a frame of the race shows, as data: the public description that every
output reads (the GIF and MP4 through :meth:`RaceScene.update`, the window, the
player), rather than the scene's artists."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RacerShown:
    """One racer in a frame, each as drawn coordinates (two arrays, or three on
    a surface): the starts still racing inside the domain, the last places of
    those that diverged, and those outside, at the edge they crossed."""

    markers: tuple[np.ndarray, ...]
    ghosts: tuple[np.ndarray, ...]
    edges: tuple[np.ndarray, ...]

    @property
    def diverged(self) -> bool:
        """Whether any of its starts has diverged."""
        return len(self.ghosts[0]) > 0

    @property
    def outside(self) -> bool:
        """Whether any of its starts is outside the domain."""
        return len(self.edges[0]) > 0


@dataclass(frozen=True)
class FrameShown:
    """One frame of the race.

    Attributes:
        frame: Its number, from 0.
        epoch: The epoch it shows.
        counter: The epoch counter's number.
        notes: Who diverged, who is outside the domain (wrapped, "" for none).
        racers: Each racer's places.
        trail: How many epochs each racer's fading trail reaches back (0: none).
        panel: The epochs the loss panel draws its lines through: every one up to
            ``epoch`` (None: no panel).
    """

    frame: int
    epoch: int
    counter: str
    notes: str
    racers: tuple[RacerShown, ...]
    trail: int
    panel: np.ndarray | None
