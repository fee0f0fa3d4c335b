"""The scene as a public description for outputs that draw it themselves (the
HTML player): each axes' data-to-pixel mapping, each racer's glyphs and legend
entry, the texts' places, and the notes' layout at every epoch, all in figure
pixels with y down (the mplexporter model: read the figure once, describe it
as data)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.markers import MarkerStyle
from matplotlib.path import Path as MplPath
from matplotlib.transforms import Affine2D, Bbox

from optrace.render.loss_panel import panel_rows
from optrace.render.options import DPI
from optrace.render.scene import RaceScene
from optrace.results.trace import Trace


@dataclass(frozen=True)
class RacerPicture:
    """How one racer is drawn: its marker, ghost and edge glyphs, its colour, its
    legend entry's box (None: none), its drawn heights on a surface (None in 2-D),
    and on the loss panel its values, its line's look and its band (each None
    without a panel; the band None for a racer of one run); a model race's test
    accuracy line on the panel's accuracy axis (None: none)."""

    marker: dict[str, Any]
    ghost: dict[str, Any]
    edge: dict[str, Any]
    colour: list[float]
    legend: list[float] | None
    heights: np.ndarray | None
    panel: np.ndarray | None
    panel_line: dict[str, Any] | None
    band: dict[str, Any] | None
    accuracy_line: dict[str, Any] | None = None


@dataclass(frozen=True)
class Combination:
    """What the page draws of one combination of a racer's sweep beside its trace,
    in the racer's look: its drawn heights on a surface (None in 2-D), and on the
    loss panel its values and its band's quartiles (None without a panel, or for
    one run)."""

    heights: np.ndarray | None
    panel: np.ndarray | None
    quartiles: np.ndarray | None


@dataclass(frozen=True)
class Picture:
    """What the scene draws, in figure pixels (y down), for a page to redraw.

    Attributes:
        dims: 1, 2, or 3 on a surface.
        bounds: The race's axes' limits, per coordinate.
        axes: Each axes' mapping: the race's, then the loss panel's, then its test
            accuracy's (a model race's with a test split).
        panel: The panel lines' width and the cursor's colour and width (None: no panel).
        racers: Each racer's look.
        covers: The opaque boxes put back over a swarm (``[x0, y0, x1, y1]``).
        trail: How many epochs a trail reaches back; ``trail_width`` its width.
        counter: The counter's place; ``notes`` the notes' place, and whether
            they lie beneath the racers (``under``).
        changes: ``[epoch, text, layout]`` at each epoch where the notes change.
    """

    dims: int
    bounds: list[list[float]]
    axes: list[dict[str, Any]]
    panel: dict[str, Any] | None
    racers: tuple[RacerPicture, ...]
    covers: list[list[float]]
    trail: int
    trail_width: float
    counter: dict[str, Any]
    notes: dict[str, Any]
    changes: list[list[Any]]


def describe(scene: RaceScene, renderer: Any, height: int) -> Picture:
    """Describe ``scene``, drawn by ``renderer`` on a canvas ``height`` pixels high.

    Args:
        scene: The scene, laid out and drawn once.
        renderer: The canvas' renderer.
        height: The canvas' height in pixels (the page's y runs down).

    Returns:
        The description.
    """
    ax, panel, three_d = scene.axes, scene.panel, scene.three_d
    limits = [ax.get_xlim(), ax.get_ylim(), *([ax.get_zlim()] if three_d else [])]
    axes = [_mapping(ax, height, three_d)]
    looks: dict[str, Any] | None = None
    if panel is not None:
        axes.append(_mapping(panel.ax, height, False))
        if panel.accuracy_ax is not None:
            axes.append(_mapping(panel.accuracy_ax, height, False))
        looks = {
            "width": _px(panel.lines[0].get_linewidth()),
            "cursor": _rgba(panel.cursor.get_color(), panel.cursor.get_alpha()),
            "cursorWidth": _px(panel.cursor.get_linewidth()),
        }
    boxes = _legend_boxes(ax.get_legend(), renderer, height, len(scene.racers))
    racers = tuple(
        RacerPicture(
            marker=_glyph(racer.marker),
            ghost=_glyph(racer.ghost),
            edge=_glyph(racer.edge),
            colour=_rgba(racer.marker.get_color(), racer.marker.get_alpha()),
            legend=boxes[i],
            heights=scene.coordinates[i][2] if three_d else None,
            panel=None if panel is None else panel.values[i],
            panel_line=None if panel is None else _panel_line(panel.lines[i]),
            band=None if panel is None else _band(panel, i),
            accuracy_line=_accuracy_line(panel, i),
        )
        for i, racer in enumerate(scene.racers)
    )
    covers = [
        [float(box.x0), height - float(box.y1), float(box.x1), height - float(box.y0)]
        for box in scene.cover.rectangles(renderer)
        if scene.cover in scene.moving
    ]
    epochs = scene.result.epochs
    return Picture(
        dims=3 if three_d else scene.result.dims,
        bounds=[[float(lo), float(hi)] for lo, hi in limits],
        axes=axes,
        panel=looks,
        racers=racers,
        covers=covers,
        trail=scene.trail,
        trail_width=_px(scene.trails[0].get_linewidths()[0]) if scene.trails else 0,
        counter=_text_place(scene.counter, renderer, height, str(epochs)),
        notes={
            **_text_place(scene.notes, renderer, height, "x"),
            "under": scene.view.notes_under_racers,
        },
        changes=_note_changes(scene, renderer, height),
    )


def combinations(scene: RaceScene, traces: Sequence[Trace]) -> list[Combination]:
    """What the page draws of each of ``traces`` (a sweep's combinations) in ``scene``.

    Args:
        scene: The race's scene.
        traces: Each combination's trace.

    Returns:
        One :class:`Combination` per trace, in order.
    """
    result, panel = scene.result, scene.panel
    best = result.minima[0][1] if result.minima else None
    drawn = []
    for trace in traces:
        rows = panel_rows(trace, best) if panel is not None else None
        drawn.append(
            Combination(
                heights=scene.view.coordinates(trace)[2] if scene.three_d else None,
                panel=None if rows is None else rows[0],
                quartiles=None if rows is None or len(rows) == 1 else rows[1:],
            )
        )
    return drawn


def _note_changes(scene: RaceScene, renderer: Any, height: int) -> list[list[Any]]:
    """``[epoch, text, layout]`` at each epoch where the notes change (the layout
    measured once per distinct text)."""
    changes: list[list[Any]] = []
    layouts: dict[str, dict[str, Any] | None] = {}
    for epoch in range(scene.result.epochs + 1):
        text = scene.note_text(epoch)
        if not changes or changes[-1][1] != text:
            if text not in layouts:
                layouts[text] = _lines(scene.notes, renderer, height, text)
            changes.append([epoch, text, layouts[text]])
    return changes


def b64(values: np.ndarray, dtype: type) -> str:
    """A 2-D (or 1-D) array as base64 of its little-endian bytes, row after row."""
    array = np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<"))
    return base64.b64encode(array.tobytes()).decode("ascii")


def _px(points: float) -> float:
    return float(points) * DPI / 72


def _rgba(colour: Any, alpha: float | None = None) -> list[float]:
    return [round(float(c), 4) for c in to_rgba(colour, alpha)]


def _mapping(ax: Any, height: int, three_d: bool) -> dict[str, Any]:
    """An axes' data-to-pixel mapping, in figure pixels with y down.

    2-D: each coordinate through its scale (``linear`` or ``log``, base 10),
    then an affine map. 3-D: the axes' projection matrix, then the affine map.
    """
    affine = (ax.transLimits + ax.transAxes).get_matrix()
    flip = [
        [float(affine[0, 0]), float(affine[0, 1]), float(affine[0, 2])],
        [-float(affine[1, 0]), -float(affine[1, 1]), height - float(affine[1, 2])],
    ]
    x0, y0, x1, y1 = ax.bbox.extents
    box = [float(x0), height - float(y1), float(x1), height - float(y0)]
    if three_d:
        return {"kind": "3d", "M": ax.M.tolist(), "affine": flip, "box": box}
    return {
        "kind": "2d",
        "xscale": "log" if ax.get_xscale() == "log" else "linear",
        "yscale": "log" if ax.get_yscale() == "log" else "linear",
        "affine": flip,
        "box": box,
    }


def _glyph(line: Any) -> dict[str, Any]:
    """A marker as the page draws it: its path in pixels around the centre (y
    down, as matplotlib's Agg renders it), fill and stroke."""
    style = MarkerStyle(line.get_marker(), line.get_fillstyle())
    scale = _px(line.get_markersize())
    transform = style.get_transform() + Affine2D().scale(scale, -scale)
    segments = [
        (int(code), [float(v) for v in vertices])
        for vertices, code in style.get_path().iter_segments(transform, simplify=False, curves=True)
    ]
    width = _px(line.get_markeredgewidth())
    if _snaps(segments):
        # As Agg snaps a path of only horizontal and vertical lines: each vertex
        # to a pixel corner, or to a pixel centre under an odd stroke width.
        half = 0.5 if round(width) % 2 else 0.0
        segments = [
            (code, [float(np.floor(v + 0.5)) + half for v in vertices])
            for code, vertices in segments
        ]
    path = [[code, *(round(v, 3) for v in vertices)] for code, vertices in segments]
    alpha = line.get_alpha()
    face = line.get_markerfacecolor()
    filled = style.is_filled() and not (isinstance(face, str) and face == "none")
    return {
        "path": path,
        "fill": _rgba(face, alpha) if filled else None,
        "stroke": _rgba(line.get_markeredgecolor(), alpha),
        "width": width,
        "join": str(style.get_joinstyle()),
        "cap": str(style.get_capstyle()),
    }


def _panel_line(line: Any) -> dict[str, Any]:
    """A loss line's look as Agg strokes it: its dash pattern in pixels (None when
    solid; matplotlib has already scaled it by the line's width), the cap and join
    of a dashed or a solid line, and the marker at its head."""
    offset, pattern = line._dash_pattern  # matplotlib's scaled dashes, in points
    dashed = line.is_dashed()
    cap = line.get_dash_capstyle() if dashed else line.get_solid_capstyle()
    join = line.get_dash_joinstyle() if dashed else line.get_solid_joinstyle()
    return {
        "dash": None if pattern is None else [_px(v) for v in pattern],
        "offset": _px(offset),
        "cap": str(cap),
        "join": str(join),
        "head": _glyph(line),
    }


def _accuracy_line(panel: Any, i: int) -> dict[str, Any] | None:
    """Racer ``i``'s test accuracy line on the loss panel, as :func:`_panel_line`
    describes a line, with its width and colour (None: none)."""
    line = None if panel is None else panel.accuracy_lines[i]
    if line is None:
        return None
    return {
        **_panel_line(line),
        "width": _px(line.get_linewidth()),
        "colour": _rgba(line.get_color(), line.get_alpha()),
    }


def _band(panel: Any, i: int) -> dict[str, Any] | None:
    """Racer ``i``'s interquartile band on the loss panel: its colour and its first
    and third quartile at each epoch (a racer of one run has none)."""
    band, quartiles = panel.bands[i], panel.quartiles[i]
    if band is None or quartiles is None:
        return None
    return {
        "colour": _rgba(band.get_facecolor()[0]),
        "lo": b64(quartiles[0], np.float64),
        "hi": b64(quartiles[1], np.float64),
    }


def _snaps(segments: list[tuple[int, list[float]]]) -> bool:
    """Whether Agg snaps this path: straight segments only, each horizontal or vertical."""
    last: list[float] | None = None
    for code, vertices in segments:
        if code not in (MplPath.MOVETO, MplPath.LINETO, MplPath.CLOSEPOLY):
            return False
        diagonal = (
            last is not None
            and abs(vertices[0] - last[0]) >= 1e-4
            and abs(vertices[1] - last[1]) >= 1e-4
        )
        if code == MplPath.LINETO and diagonal:
            return False
        if code != MplPath.CLOSEPOLY:
            last = vertices
    return True


def _legend_boxes(legend: Any, renderer: Any, height: int, count: int) -> list[list[float] | None]:
    """Per racer, its legend entry (handle and label) in figure pixels, y down."""
    if legend is None:
        return [None] * count
    boxes: list[list[float] | None] = []
    handles, texts = legend.legend_handles, legend.get_texts()
    for i in range(count):
        if i >= len(handles) or i >= len(texts):
            boxes.append(None)
            continue
        both = Bbox.union(
            [handles[i].get_window_extent(renderer), texts[i].get_window_extent(renderer)]
        )
        boxes.append(
            [
                float(both.x0) - 2,
                height - float(both.y1) - 1,
                float(both.x1) + 2,
                height - float(both.y0) + 1,
            ]
        )
    return boxes


def _text_place(text: Any, renderer: Any, height: int, sample: str) -> dict[str, Any]:
    """Where a text artist sits, so the page writes it where matplotlib would.

    Returns its anchor (figure pixels, y down), alignment, font size, family,
    colour, the baseline of one line of ``sample`` below the anchor, the box
    behind it, if any, and the box it is clipped to.
    """
    prop = text.get_fontproperties()
    saved, visible = text.get_text(), text.get_visible()
    text.set_visible(True)
    text.set_text(sample)
    # matplotlib's own line layout (private, but the one Text.draw uses): the
    # offset of each line's baseline from the anchor.
    _, one, _ = text._get_layout(renderer)
    text.set_text(saved)
    text.set_visible(visible)
    x, y = text.get_transform().transform(text.get_unitless_position())
    patch = text.get_bbox_patch()
    size = _px(prop.get_size_in_points())
    box = None
    if patch is not None:
        # matplotlib keeps a text box's pad as a fraction of the font size.
        box = {
            "colour": _rgba(patch.get_facecolor()),
            "pad": float(patch.get_boxstyle().pad) * size,
        }
    clip = text.get_clip_box() if text.get_clip_on() else None
    return {
        "x": float(x),
        "y": height - float(y),
        "ha": text.get_horizontalalignment(),
        "size": size,
        "family": "monospace" if "monospace" in prop.get_family() else "sans-serif",
        "colour": _rgba(text.get_color(), text.get_alpha()),
        "one": -_baseline(one[0]),
        "box": box,
        "clip": None
        if clip is None
        else [float(clip.x0), height - float(clip.y1), float(clip.x1), height - float(clip.y0)],
    }


def _lines(text: Any, renderer: Any, height: int, content: str) -> dict[str, Any] | None:
    """Where matplotlib puts each line of ``content`` in ``text``: baselines below
    the anchor, widths, and the whole text's box (figure pixels, y down). A
    line's height depends on its letters, so each distinct note is laid out."""
    if not content:
        return None
    saved, visible = text.get_text(), text.get_visible()
    text.set_visible(True)
    text.set_text(content)
    _, info, _ = text._get_layout(renderer)
    extent = text.get_window_extent(renderer)
    text.set_text(saved)
    text.set_visible(visible)
    return {
        "baselines": [-_baseline(line) for line in info],
        "widths": [float(line[1][0]) for line in info],
        "extent": [
            float(extent.x0),
            height - float(extent.y1),
            float(extent.x1),
            height - float(extent.y0),
        ],
    }


def _baseline(line: Any) -> float:
    """A line's baseline above the anchor, from a ``_get_layout`` entry:
    ``(text, metrics, (x, y))``, or ``(text, metrics, x, y)`` before matplotlib 3.10."""
    return float(line[2][1] if len(line) == 3 else line[3])
