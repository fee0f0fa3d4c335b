"""The race drawn on a matplotlib Figure: static artists once, moving ones per frame.

One :class:`RaceScene` serves both the live window (FuncAnimation with blitting)
and the file export (blitting on the Agg canvas). It does no file I/O and never
imports pyplot. The picture is one of :data:`~optrace.render.views.VIEWS`
(a curve, a contour, a surface), chosen once; the frame around it (counter,
notes, legend, loss panel) is the same for every view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from optrace.render.cover import Cover
from optrace.render.fit import lay_out
from optrace.render.frame import Frame
from optrace.render.loss_panel import LossPanel
from optrace.render.options import SceneOptions
from optrace.render.racers import Positions, RacerArtists, add_racer, move_trail
from optrace.render.shown import FrameShown
from optrace.render.theme import THEMES, dress
from optrace.render.views import View, view_for
from optrace.render.views.base import TRAIL_Z, set_coords
from optrace.results.trace import RaceResult

#: Racers with more starts than this are a swarm: small markers without a
#: white outline, and faint whole paths in a still.
SWARM = 1


class RaceScene:
    """Static and moving artists of a race; :meth:`update` moves the racers.

    A 1-D race moves markers along the curve ``f(x)``; a 2-D race moves them
    over a filled contour of ``f(x, y)`` (log-scaled where it spans decades),
    or over its surface in 3-D, with the known minima marked.

    Args:
        figure: The figure to draw on (Agg for files, QtAgg for the window).
        result: The race.
        frame_epochs: The epoch shown in each frame; default one frame per epoch.
        options: Panels, trails and view.
    """

    def __init__(
        self,
        figure: Figure,
        result: RaceResult,
        frame_epochs: Sequence[int] | np.ndarray | None = None,
        options: SceneOptions | None = None,
    ) -> None:
        options = options or SceneOptions()
        self.figure, self.result = figure, result
        self.trail = options.trail
        self.theme = THEMES[options.theme]
        self.font_scale = options.font_scale
        self.frame_epochs = (
            np.arange(result.epochs + 1) if frame_epochs is None else np.asarray(frame_epochs)
        )
        self.swarm = max(t.x.shape[0] for t in result.traces) > SWARM
        grid = figure.add_gridspec(2, 1, height_ratios=(2.2, 1.0)) if options.loss_panel else None
        self.view: View = view_for(result, options, self.theme)
        self.axes: Any = self.view.add_axes(figure, grid[0] if grid is not None else 111)
        # The bounds of each drawn coordinate: where a racer outside is drawn.
        self.bounds = self.view.draw(figure, self.axes)
        self.positions = Positions(result, self.view)
        self.axes.set_title(self.view.title(result.title))
        self.racers: list[RacerArtists] = [
            add_racer(self.view, self.axes, trace, self.theme, self.swarm, coords, self.trail)
            for trace, coords in zip(result.traces, self.positions.coords, strict=True)
        ]
        self.frame = Frame(
            figure,
            self.axes,
            self.view,
            self.theme,
            self.font_scale,
            result.epochs,
            self.swarm,
            result.axis,
        )
        panel = figure.add_subplot(grid[1]) if grid is not None else None
        self.frame.add_panel(panel, result, self.markers)
        self.update(0)  # every artist placed before the layout is measured
        dress(figure, self.theme, self.font_scale)
        # Every distinct note of the race, before wrapping: measured at every layout.
        notes = {self.positions.note(epoch) for epoch in range(result.epochs + 1)}
        self.frame.raw_notes = notes - {""}
        lay_out(self.frame, options.legend, self._path_points)
        self.update(0)

    def _path_points(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        return self.view.path_points(self.axes, self.positions.coords)

    @property
    def three_d(self) -> bool:
        """Whether the race is drawn on a 3-D surface."""
        return self.view.three_d

    @property
    def markers(self) -> list[Line2D]:
        """Each racer's markers."""
        return [racer.marker for racer in self.racers]

    @property
    def ghosts(self) -> list[Line2D]:
        """Each racer's diverged starts' last places."""
        return [racer.ghost for racer in self.racers]

    @property
    def edges(self) -> list[Line2D]:
        """Each racer's starts outside the domain, at its edge."""
        return [racer.edge for racer in self.racers]

    @property
    def trails(self) -> list[Any]:
        """Each racer's fading trail (none without ``options.trail``)."""
        return [racer.trail for racer in self.racers if racer.trail is not None]

    @property
    def panel(self) -> LossPanel | None:
        """The loss panel, if the options ask for one."""
        return self.frame.panel

    @property
    def legend(self) -> Any:
        """The legend, if any."""
        return self.frame.legend

    @property
    def cover(self) -> Cover:
        """Puts the opaque boxes back over a swarm."""
        return self.frame.cover

    @property
    def counter(self) -> Any:
        """The epoch counter's number."""
        return self.frame.counter

    @property
    def counter_box(self) -> Any:
        """The epoch counter's static text and box."""
        return self.frame.counter_box

    @property
    def notes(self) -> Any:
        """The notes' text."""
        return self.frame.notes

    @property
    def coordinates(self) -> list[tuple[np.ndarray, ...]]:
        """Per racer, the drawn coordinates of every start and epoch: ``(x, loss)``
        in 1-D, ``(x, y)`` over a contour, ``(x, y, height)`` on a surface."""
        return self.positions.coords

    @property
    def n_frames(self) -> int:
        """How many frames the animation has."""
        return len(self.frame_epochs)

    @property
    def moving(self) -> list[Artist]:
        """The artists :meth:`update` changes, in drawing order."""
        panel = self.panel.moving if self.panel is not None else []
        under = self.view.notes_under_racers
        return [
            *([self.notes] if under else []),
            *self.trails,
            *self.ghosts,
            *self.edges,
            *self.markers,
            *([self.cover] if self.swarm else []),
            self.counter,
            *([] if under else [self.notes]),
            *panel,
        ]

    def set_animated(self, animated: bool) -> None:
        """Mark the moving artists so that a full draw leaves them out (for blitting)."""
        for artist in self.moving:
            artist.set_animated(animated)

    def note_text(self, epoch: int) -> str:
        """The notes shown at ``epoch``: who diverged, who is outside the domain
        (wrapped to the axes' width once the layout has measured it)."""
        return self.frame.wrap_note(self.positions.note(epoch))

    def shown(self, frame: int) -> FrameShown:
        """What ``frame`` shows, as data."""
        epoch = int(self.frame_epochs[frame])
        racers = tuple(self.positions.shown(i, epoch, self.bounds) for i in range(len(self.racers)))
        # Every epoch up to this one, not only the frames' (as the player and the
        # still draw it): the panel's lines are the true curves whatever the frame count.
        panel = np.arange(epoch + 1) if self.panel is not None else None
        notes = self.note_text(epoch)
        return FrameShown(frame, epoch, str(epoch), notes, racers, self.trail, panel)

    def show(self, shown: FrameShown) -> list[Artist]:
        """Set every moving artist as ``shown`` says; return them."""
        for racer, places, coords in zip(
            self.racers, shown.racers, self.positions.coords, strict=True
        ):
            set_coords(racer.marker, list(places.markers))
            set_coords(racer.ghost, list(places.ghosts))
            racer.ghost.set_visible(places.diverged)
            set_coords(racer.edge, list(places.edges))
            racer.edge.set_visible(places.outside)
            if racer.trail is not None:
                move_trail(racer.trail, coords, shown.epoch, shown.trail)
        self.counter.set_text(shown.counter)
        self.notes.set_text(shown.notes)
        self.notes.set_visible(bool(shown.notes))
        if self.panel is not None and shown.panel is not None:
            self.panel.update(shown.panel)
        return self.moving

    def update(self, frame: int) -> list[Artist]:
        """Move every racer to its place at ``frame``; return the moving artists."""
        return self.show(self.shown(frame))

    def draw_paths(self, epoch: int) -> None:
        """Draw each racer's whole path from the start to ``epoch`` (for a still):
        one static line per racer, every start's path broken from the next by NaN."""
        for marker, coords in zip(self.markers, self.coordinates, strict=True):
            upto = [c[:, : epoch + 1] for c in coords]
            starts = upto[0].shape[0]
            gap = np.full((starts, 1), np.nan)
            flat = [np.concatenate([c, gap], axis=1).ravel() for c in upto]
            # Many paths overlap: each fainter, so that where they gather shows.
            alpha = 0.8 if starts == 1 else max(0.04, min(0.45, 12 / starts))
            self.axes.plot(
                *flat,
                color=marker.get_color(),
                linewidth=1.5 if starts == 1 else 0.8,
                alpha=alpha,
                zorder=TRAIL_Z,
            )
