"""The frame around every view: the epoch counter, the notes, the legend, the
opaque boxes' cover and the loss panel.

Moving artists sit above everything static, so drawing them over a cached
background gives the same pixels as a full redraw; a swarm's legend and
counter's box lie above its racers (their pixels put back by a Cover), and
the counter's number and the notes above those.
"""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.transforms import Bbox, offset_copy

from optrace.render.cover import Cover
from optrace.render.layout import renderer_of, wrap
from optrace.render.loss_panel import LossPanel
from optrace.render.theme import Theme, scaled_size
from optrace.render.views.base import View

LEGEND_Z, BOX_Z, TEXT_Z = 5.0, 7.0, 7.5
#: Notes beneath the racers lie above the legend and beneath the trails.
UNDER_Z = 5.2


class Frame:
    """The texts and boxes over a view, and the loss panel under it.

    Args:
        figure: The figure.
        ax: The race's axes.
        view: The kind of picture in the axes.
        theme: The look.
        font_scale: The factor of every text's size.
        epochs: The race's epochs (the counter's width).
        word: What the counter counts: ``epoch``, or ``evaluation``.
        swarm: Whether the racers pass beneath the legend and the counter's box.
    """

    def __init__(
        self,
        figure: Figure,
        ax: Axes,
        view: View,
        theme: Theme,
        font_scale: float,
        epochs: int,
        swarm: bool,
        word: str = "epoch",
    ) -> None:
        self.figure, self.axes, self.view = figure, ax, view
        self.theme, self.font_scale, self.epochs = theme, font_scale, epochs
        self.word = word
        # A swarm passes beneath the legend and the counter's box (a Cover puts their
        # pixels back over it); a few racers pass over them, always in sight.
        self.box_z = BOX_Z if swarm else LEGEND_Z
        self.panel: LossPanel | None = None
        self.legend: Any = None
        self.markers: list[Line2D] = []
        #: The room the layout keeps the axes in (figure fractions).
        self.room: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
        #: The width notes wrap to, once the layout has measured the axes.
        self.note_width: float | None = None
        self.wrapped: dict[str, str] = {}
        self.raw_notes: set[str] = set()
        self._add_counter()

    def number_end(self, width: int) -> int:
        """Where the counter's number ends, in characters from its left."""
        return len(self.word) + 1 + width

    def _add_counter(self) -> None:
        # Only the number is redrawn per frame; the word and "/ N" are static, on
        # an opaque box that the racers pass beneath. In a monospace font each
        # character advances 0.6 em, so the number ends where the blanks for it end.
        ax, figure, epochs, boxed = self.axes, self.figure, self.epochs, self.view.boxed_notes
        width = len(str(epochs))
        mono: dict[str, Any] = {"va": "top", "family": "monospace"}
        box = {"facecolor": self.theme.box, "alpha": 1.0, "edgecolor": "none", "pad": 2}
        text = self.view.text(ax)
        self.counter_box = text(
            0.0,
            1.0,
            f"{self.word} {' ' * width} / {epochs}",
            transform=ax.transAxes,
            zorder=self.box_z,
            bbox=box,
            **mono,
        )
        em = FontProperties(family="monospace").get_size_in_points() * self.font_scale
        end = offset_copy(ax.transAxes, figure, x=self.number_end(width) * 0.6 * em, units="points")
        self.counter = text(0.0, 1.0, "", transform=end, ha="right", zorder=TEXT_Z, **mono)
        # In 2-D the notes go to the bottom, away from the legend and the counter;
        # on a curve or a surface, under the counter.
        notes_box: dict[str, Any] = (
            {"bbox": {"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 2}}
            if boxed
            else {}
        )
        under = offset_copy(ax.transAxes, figure, y=-1.6 * em, units="points")
        self.notes = text(
            0.0,
            0.0 if boxed else 1.0,
            "",
            transform=ax.transAxes if boxed else under,
            va="bottom" if boxed else "top",
            fontsize="small",
            color="0.25",
            zorder=UNDER_Z if self.view.notes_under_racers else TEXT_Z,
            clip_on=True,  # wrapped to the axes' width; clipped only past its height
            **notes_box,
        )

    def add_panel(self, ax: Axes | None, result: Any, markers: list[Line2D]) -> None:
        """The loss panel on ``ax`` (None: no panel), and the cover of the opaque boxes."""
        self.markers = markers
        self.panel = LossPanel(ax, result, markers) if ax is not None else None
        self.cover = Cover(self.figure, self.opaque_boxes)
        self.cover.set_in_layout(False)
        self.axes.add_artist(self.cover)  # blitting in the window draws it through its axes

    def wrap_note(self, raw: str) -> str:
        """A note wrapped to the axes' width once the layout has measured it."""
        width = self.note_width
        if not raw or width is None:
            return raw
        wrapped = self.wrapped.get(raw)
        if wrapped is None:
            wrapped = wrap(self.notes, raw, width, renderer_of(self.figure))
            self.wrapped[raw] = wrapped
        return wrapped

    def notes_extent(self, renderer: Any) -> Any:
        """The box every note of the race lies in (display pixels), or None if none has notes."""
        texts = {self.wrap_note(raw) for raw in self.raw_notes}
        if not texts:
            return None
        saved, visible = self.notes.get_text(), self.notes.get_visible()
        self.notes.set_visible(True)  # an invisible text has no extent
        extents = []
        for content in texts:
            self.notes.set_text(content)
            extents.append(self.notes.get_window_extent(renderer))
        self.notes.set_text(saved)
        self.notes.set_visible(visible)
        return Bbox.union(extents)

    def make_legend(self, make: Any, factor: float, **where: Any) -> Any:
        """The legend, opaque and edgeless (a box of whole pixels that the Cover puts
        back), at ``factor`` of its type size; on the loss panel's figure each entry
        shows its line's pattern as well."""
        handles = self.panel.legend_handles() if self.panel is not None else self.markers
        handles = [*handles, *self.view.legend_extras()]
        size = FontProperties(
            size=scaled_size(self.view.legend_size, self.font_scale)
        ).get_size_in_points()
        legend = make(
            handles=handles,
            **({"loc": "upper right"} | where),
            numpoints=1,
            fontsize=size * factor,
            title_fontsize=size * factor,
            **self.theme.legend_kwargs(),
            framealpha=1.0,
            fancybox=False,
            edgecolor="none",
        )
        legend.set_zorder(self.box_z)
        return legend

    def opaque_boxes(self, renderer: Any) -> list[Any]:
        """The counter's box and the legend's, in display pixels."""
        boxes = [self.counter_box.get_bbox_patch().get_window_extent(renderer)]
        if self.legend is not None:
            boxes.append(self.legend.legendPatch.get_window_extent(renderer))
        return boxes

    def retitle(self, text: str, pad: float | None = None) -> None:
        """Set the title's text and pad, keeping its size and colour (``set_title``
        would reset them to the defaults)."""
        title = self.axes.title
        self.axes.set_title(text, pad=pad, fontsize=title.get_fontsize(), color=title.get_color())
