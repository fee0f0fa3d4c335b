"""The frame's layout: the title wrapped, the notes wrapped to the axes, the legend
clear of the counter and the notes, and every text shrunk where the figure is too
small for its type."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox, offset_copy

from optrace.render.frame import Frame
from optrace.render.layout import (
    CORNERS,
    MARGIN,
    SLACK,
    SMALLEST_TYPE,
    centred_room,
    fit_title,
    inside,
    overlaps,
    place_legend,
    renderer_of,
    widened,
    widest_line,
)
from optrace.render.theme import set_tick_sizes, tick_sizes

#: A legend goes under the axes only if it takes at most this share of the height.
LEGEND_BELOW_AT_MOST = 0.3
#: The least share of the figure's width (and height, less with the loss panel)
#: that the race's axes keep; smaller, and every text shrinks.
LEAST_AXES = 0.33
#: Pixels below the title within which another axes' top may put a label into it.
NEAR_TITLE = 40


def lay_out(frame: Frame, legend: bool, points: Any) -> None:
    """Fit every text of ``frame``. Where the type is too large for the figure
    (font_scale 2 at 320 px), every text shrinks a step and it is all laid out
    again, until it fits or the type is :data:`SMALLEST_TYPE` of its size.

    Args:
        frame: The frame, its artists placed at the first frame.
        legend: Whether the racers' names go in a legend.
        points: Gives the racers' and the minima's display points (see
            :meth:`optrace.render.views.base.View.path_points`).
    """
    figure = frame.figure
    renderer = renderer_of(figure)
    title = frame.axes.get_title()
    if _lay_out_once(frame, renderer, 1.0, legend, points):
        return
    texts = [(t, float(t.get_fontsize())) for t in figure.findobj(Text)]
    ticks = tick_sizes(figure)
    factor = 1.0
    while factor > SMALLEST_TYPE:
        factor = max(SMALLEST_TYPE, factor * 0.85)
        for text, size in texts:
            text.set_fontsize(size * factor)
        set_tick_sizes(ticks, factor)
        frame.retitle(title)
        if _lay_out_once(frame, renderer, factor, legend, points):
            return


def _place_texts(frame: Frame, renderer: Any) -> None:
    """The counter and the notes keep their boxes' pads, and a little more, inside
    the axes' corner at any type size; the notes wrap to the axes' width."""
    ax, figure = frame.axes, frame.figure
    size = float(frame.counter_box.get_fontsize())
    inset = 0.4 * size + 2
    width = len(str(frame.epochs))
    corner = offset_copy(ax.transAxes, figure, x=inset, y=-inset, units="points")
    frame.counter_box.set_transform(corner)
    end = offset_copy(
        ax.transAxes,
        figure,
        x=inset + frame.number_end(width) * 0.6 * size,
        y=-inset,
        units="points",
    )
    frame.counter.set_transform(end)
    if frame.view.boxed_notes:
        under = offset_copy(ax.transAxes, figure, x=inset, y=inset, units="points")
    else:
        under = offset_copy(ax.transAxes, figure, x=inset, y=-inset - 1.6 * size, units="points")
    frame.notes.set_transform(under)
    home = ax.get_window_extent(renderer)
    frame.note_width = SLACK * home.width - 2 * MARGIN
    frame.wrapped = {}


def _lay_out_once(frame: Frame, renderer: Any, factor: float, legend: bool, points: Any) -> bool:
    """One layout with every text at ``factor`` of its size; whether it all fits."""
    ax, figure = frame.axes, frame.figure
    if frame.legend is not None:
        frame.legend.remove()
        frame.legend = None
    frame.room = (0.0, 0.0, 1.0, 1.0)
    fit_title(ax.title, SLACK * figure.bbox.width - 2 * MARGIN, renderer)
    fitted = _tight(frame)
    # Centred over the axes, which the colour bar pushes left: wrap to the room there.
    room = centred_room(ax.title.get_window_extent(renderer), figure)
    if widest_line(ax.title, renderer) > SLACK * room:
        fit_title(ax.title, SLACK * room, renderer)
        fitted = _tight(frame)
    fitted = _clear_title(frame, renderer) and fitted
    _place_texts(frame, renderer)
    counter = frame.counter_box.get_window_extent(renderer)
    avoid = [counter]
    notes = frame.notes_extent(renderer)
    if notes is not None:
        avoid.append(notes)
    if legend:
        frame.legend = frame.make_legend(ax.legend, factor)
        corners = CORNERS[frame.view.corners]
        racers, marks = points()
        free = place_legend(frame.legend, ax, avoid, corners, renderer, racers, marks)
        if not free and _legend_below(frame, renderer, factor):
            # The axes shrank to make room below them: the title is placed again.
            fitted = _tight(frame) and _clear_title(frame, renderer) and fitted
        elif not free:
            # No room below either: the corner that hides least, if the type
            # can shrink no further.
            place_legend(frame.legend, ax, [], corners, renderer, racers, marks)
            fitted = False
    # Measured again: a legend moved under the axes has shrunk them.
    # Text drawn at a larger scale is a little wider: each is checked as wide as that.
    home = ax.get_window_extent(renderer)
    counter = widened(frame.counter_box.get_window_extent(renderer), 0.0)
    notes = frame.notes_extent(renderer)
    notes = None if notes is None else widened(notes, 0.0)
    return (
        fitted
        and inside(counter, home)
        and (notes is None or (inside(notes, home) and not overlaps(notes, counter)))
        and inside(widened(ax.title.get_window_extent(renderer), 0.5), figure.bbox)
        and _roomy(frame, renderer)
    )


def _roomy(frame: Frame, renderer: Any) -> bool:
    """Whether the race's axes keep a fair share of the figure and no two axes'
    texts touch (a twin, at its axes' very place, is one with it)."""
    figure = frame.figure
    home = frame.axes.get_window_extent(renderer)
    if home.width < LEAST_AXES * figure.bbox.width:
        return False
    if home.height < LEAST_AXES * figure.bbox.height * (0.75 if frame.panel else 0.9):
        return False
    if len(figure.axes) == 1:
        return True
    boxes: dict[tuple[float, ...], Any] = {}
    for ax in figure.axes:
        place = tuple(np.round(ax.get_position().extents, 4))
        box = ax.get_tightbbox(renderer)
        if ax is frame.axes and not frame.view.three_d:  # its title is _clear_title's
            parts = [ax.xaxis.get_tightbbox(renderer), ax.yaxis.get_tightbbox(renderer)]
            box = Bbox.union([home, *(b for b in parts if b is not None)])
        if box is not None:
            boxes[place] = box if place not in boxes else Bbox.union([boxes[place], box])
    found = list(boxes.values())
    return not any(overlaps(a, b, -1.0) for i, a in enumerate(found) for b in found[i + 1 :])


def _tight(frame: Frame) -> bool:
    """The view's tight layout within the frame's room."""
    return frame.view.tight(frame.figure, frame.axes, frame.room)


def _clear_title(frame: Frame, renderer: Any) -> bool:
    """Raise the title above another axes' texts it would touch (the colour bar's
    top tick label); whether the layout still fitted."""
    ax, figure = frame.axes, frame.figure
    fitted = True
    pad = float(matplotlib.rcParams["axes.titlepad"])
    for _ in range(3):
        title = ax.title.get_window_extent(renderer)
        rise = max(
            (
                box.y1 - title.y0 + 2 * MARGIN
                for other in figure.axes
                # Only an axes whose top nears the title can reach it (the colour bar).
                if other is not ax and other.bbox.y1 > title.y0 - NEAR_TITLE
                if (box := other.get_tightbbox(renderer)) is not None
                if overlaps(box, title)
            ),
            default=0.0,
        )
        if rise <= 0:
            break
        pad += rise * 72 / figure.dpi
        frame.retitle(ax.title.get_text(), pad)
        fitted = _tight(frame)
    return fitted


def _legend_below(frame: Frame, renderer: Any, factor: float) -> bool:
    """Move a legend with no free corner under the axes, in as many columns as fit,
    and say so; False (and nothing moved) where it would take too much of the
    figure's height."""
    figure: Figure = frame.figure
    assert frame.legend is not None
    count = len(frame.legend.get_texts())
    for ncol in range(count, 0, -1):
        legend = frame.make_legend(figure.legend, factor, loc="lower center", ncols=ncol)
        extent = legend.get_window_extent(renderer)
        legend.remove()
        if extent.width <= figure.bbox.width - 2 * MARGIN or ncol == 1:
            break
    share = (extent.height + MARGIN) / figure.bbox.height
    if share > LEGEND_BELOW_AT_MOST:
        return False
    frame.legend.remove()
    frame.legend = frame.make_legend(figure.legend, factor, loc="lower center", ncols=ncol)
    frame.room = (0.0, share, 1.0, 1.0)
    return True
