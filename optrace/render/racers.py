"""A racer's artists (marker, ghost, edge, trail) and where its starts are at an epoch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from optrace.engine.styles import split_style
from optrace.render.shown import RacerShown
from optrace.render.theme import Theme
from optrace.render.trails import RasterTrail
from optrace.render.views.base import View
from optrace.results.trace import RaceResult, Trace

#: Ghosts (a diverged start's last place) lie beneath the markers.
GHOST_Z, MARKER_Z = 6.0, 6.5


@dataclass(frozen=True)
class RacerArtists:
    """What draws one racer: its starts' markers, the ghosts of those that
    diverged, hollow markers at the edge for those outside the domain, and its
    fading trail (None without one)."""

    marker: Line2D
    ghost: Line2D
    edge: Line2D
    trail: Any


@dataclass(frozen=True)
class Place:
    """A racer at an epoch: each start's drawn coordinates (its last finite ones
    once it diverged), which are still alive, and which are outside the domain."""

    now: list[np.ndarray]
    alive: np.ndarray
    out: np.ndarray


def add_racer(
    view: View,
    ax: Axes,
    trace: Trace,
    theme: Theme,
    swarm: bool,
    coords: tuple[np.ndarray, ...],
    trail: int,
) -> RacerArtists:
    """Add one racer's (empty) artists to the race's axes.

    Args:
        view: The kind of picture.
        ax: The race's axes.
        trace: The racer.
        theme: The look (a dark theme lightens the racers' colours).
        swarm: Whether any racer has many starts: small markers, no outline.
        coords: The racer's drawn coordinates.
        trail: How many epochs its trail lasts (0: none).

    Returns:
        The racer's artists.
    """
    size, alpha = (5.0, 0.6) if swarm else (10.0, 1.0)
    # Over a contour a single racer is outlined in white; a swarm's outlines
    # would be most of what it draws.
    outline: dict[str, Any] = {"markeredgecolor": "white"} if view.outlined and not swarm else {}
    hexcolour, fmt = split_style(trace.style)
    (marker,) = view.plot(
        ax,
        fmt,
        **({"color": hexcolour} if hexcolour is not None else {}),
        markersize=size,
        alpha=alpha,
        linestyle="none",
        label=trace.label,
        zorder=MARKER_Z,
        **outline,
    )
    if theme.dark:
        marker.set_color(theme.racer_colour(marker.get_color()))
    colour = marker.get_color()
    (ghost,) = view.plot(
        ax,
        linestyle="none",
        marker="x",
        markersize=size,
        markeredgewidth=2,
        color=colour,
        alpha=0.7,
        zorder=GHOST_Z,
    )
    # A racer outside the domain: hollow, at the edge it crossed.
    (edge,) = view.plot(
        ax,
        linestyle="none",
        marker=marker.get_marker(),
        markersize=size,
        markeredgewidth=2,
        markerfacecolor="none",
        markeredgecolor=colour,
        clip_on=False,
        zorder=MARKER_Z,
    )
    strip = view.trail(ax, colour, coords, trail) if trail else None
    return RacerArtists(marker, ghost, edge, strip)


class Positions:
    """Where every racer's starts are drawn at each epoch, and the race's notes.

    Args:
        result: The race.
        view: The kind of picture (its coordinates, its arrows out of the domain).
    """

    def __init__(self, result: RaceResult, view: View) -> None:
        self.result = result
        self.view = view
        self.last = [trace.last_drawn for trace in result.traces]
        self.outside = [t.outside(result.domain, result.ydomain) for t in result.traces]
        #: Per racer, the drawn coordinates of every start and epoch.
        self.coords = [view.coordinates(t) for t in result.traces]

    def at(self, i: int, epoch: int) -> Place:
        """Racer ``i`` at ``epoch``."""
        last, outside, coords = self.last[i], self.outside[i], self.coords[i]
        at = np.minimum(epoch, last)
        rows = np.arange(len(last))
        now = [c[rows, at] for c in coords]
        alive = last >= epoch
        return Place(now, alive, alive & outside[rows, at])

    def shown(self, i: int, epoch: int, bounds: Sequence[tuple[float, float]]) -> RacerShown:
        """Racer ``i`` as frame of ``epoch`` shows it; one outside is drawn at the
        ``bounds`` of each coordinate."""
        place = self.at(i, epoch)
        now, alive, out = place.now, place.alive, place.out
        inside = alive & ~out
        clipped = [np.clip(c[out], low, high) for c, (low, high) in zip(now, bounds, strict=True)]
        markers = tuple(c[inside] for c in now)
        return RacerShown(markers, tuple(c[~alive] for c in now), tuple(clipped))

    def note(self, epoch: int) -> str:
        """Who has diverged by ``epoch``, who is outside the domain, and the view's
        own notes (see :meth:`View.notes`), unwrapped."""
        notes: list[str] = []
        for i, trace in enumerate(self.result.traces):
            place = self.at(i, epoch)
            now, alive, out = place.now, place.alive, place.out
            if len(alive) == 1 and not alive[0]:
                notes.append(
                    f"x {trace.label} diverged at {self.result.axis} {int(self.last[i][0]) + 1}"
                )
            elif not alive.all():
                notes.append(f"x {int((~alive).sum())} of {trace.label} diverged")
            side = self.view.side
            if len(alive) == 1 and out[0]:
                notes.append(f"{side(now, out)} {trace.label} is outside the domain")
            elif out.any():
                notes.append(
                    f"{side(now, out)} {int(out.sum())} of {trace.label} outside the domain"
                )
        notes.extend(self.view.notes(epoch))
        return "\n".join(notes)


def move_trail(trail: Any, coords: tuple[np.ndarray, ...], epoch: int, length: int) -> None:
    """The path over the last ``length`` epochs, each step fainter with age.

    The steps of one age, from every start, make one path broken by NaN
    (one colour, one draw), so a swarm's trail costs ``length`` draws, not
    ``length`` times its starts.
    """
    if isinstance(trail, RasterTrail):
        trail.show(epoch)
        return
    first = max(0, epoch - length)
    path = np.stack([c[:, first : epoch + 1] for c in coords], axis=-1)
    gap = np.full_like(path[:, 1:], np.nan)
    steps = np.stack([path[:, :-1], path[:, 1:], gap], axis=2)  # start, age, 3, axes
    by_age = steps.transpose(1, 0, 2, 3).reshape(steps.shape[1], 3 * len(path), len(coords))
    age = epoch - np.arange(first + 1, epoch + 1)
    colours = np.tile(trail.base_colour, (len(age), 1))
    colours[:, 3] *= 0.85 * (1 - age / length)
    trail.set_segments(list(by_age))
    trail.set_color(colours)
    trail.set_visible(len(by_age) > 0)
