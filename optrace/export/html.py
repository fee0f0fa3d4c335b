"""The HTML player: one self-contained page that plays, steps and scrubs a race.

matplotlib draws the static parts of the scene once (the same figure the GIF
is drawn on, with the moving artists left out), and the page embeds that as
one PNG. The page's own script (``player.js``, plain JavaScript) draws the
moving parts on a canvas over it, in the figure's pixel coordinates, with each
axes' data-to-pixel mapping handed over here: markers, trails, the epoch
counter, the notes and the loss panel's lines. Every epoch is in the page, as
exact float64 values, so the scrubber reaches each one and the read-outs are
the trace's own numbers. Where scripts do not run, the markup shows the
race's still instead, as an ``<img>`` the script removes when it mounts.

Nothing in the page is fetched: a Content-Security-Policy forbids every
request and lets only the page's own script (by its hash) run; every string
from the config reaches the page as JSON data read with ``textContent``, never
as markup.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import uuid
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import IO, Any

import numpy as np

from optrace._core.errors import OutputError
from optrace.export.drawing import Drawing
from optrace.export.frames import DPI, new_figure, scale_figure
from optrace.render.scene import RaceScene
from optrace.results.trace import RaceResult

#: Bumped when the data the page reads changes shape.
FORMAT = 1


def player_data(
    result: RaceResult,
    drawing: Drawing,
    frame_epochs: Sequence[int] | np.ndarray | None = None,
) -> dict[str, Any]:
    """Everything the page needs to draw the race, as JSON-ready data.

    Args:
        result: The race.
        drawing: As for the GIF: the figure's ``(width, height)`` in pixels,
            milliseconds per GIF frame, whether playing loops, and the options.
        frame_epochs: The epochs the GIF of the same race shows; playing at 1x
            takes as long as that GIF (every epoch is in the page regardless).

    Returns:
        A mapping: the background as a PNG data URL, each axes' mapping, and
        per racer its glyphs, legend box and per-epoch arrays (base64).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    size, options, timing = drawing.size, drawing.options, drawing.timing
    figure = new_figure(size)
    canvas: Any = FigureCanvasAgg(figure)
    scene = RaceScene(figure, result, frame_epochs, options)
    scene.set_animated(True)
    canvas.draw()
    renderer = canvas.get_renderer()
    width, height = (int(v) for v in canvas.get_width_height())
    scale = options.scale
    if scale == 1:
        background = _png(np.asarray(canvas.buffer_rgba()))

    ax = scene.axes
    limits = [ax.get_xlim(), ax.get_ylim()]
    if scene.three_d:
        limits.append(ax.get_zlim())
    axes = [_mapping(ax, height, scene.three_d)]
    panel: dict[str, Any] | None = None
    if scene.panel is not None:
        axes.append(_mapping(scene.panel.ax, height, False))
        cursor = scene.panel.cursor
        panel = {
            "width": _px(scene.panel.lines[0].get_linewidth()),
            "cursor": _rgba(cursor.get_color(), cursor.get_alpha()),
            "cursorWidth": _px(cursor.get_linewidth()),
        }

    legend = ax.get_legend()
    boxes = _legend_boxes(legend, renderer, height, len(result.traces))
    racers = []
    for i, trace in enumerate(result.traces):
        coords = scene.coordinates[i]
        racer: dict[str, Any] = {
            "label": trace.label,
            "optimizer": trace.optimizer,
            "starts": int(trace.x.shape[0]),
            "last": [int(v) for v in trace.last_epoch],
            "marker": _glyph(scene.markers[i]),
            "ghost": _glyph(scene.ghosts[i]),
            "edge": _glyph(scene.edges[i]),
            "colour": _rgba(scene.markers[i].get_color(), scene.markers[i].get_alpha()),
            "legend": boxes[i],
            "x": _b64(trace.x, np.float64),
            "y": None if trace.y is None else _b64(trace.y, np.float64),
            "loss": _b64(trace.loss, np.float64),
            "z": _b64(coords[2], np.float64) if scene.three_d else None,
            "lr": None if trace.lr is None else _b64(trace.lr, np.float64),
            "lrConst": _lr_constant(trace.hyperparameters),
            "panel": None if scene.panel is None else _b64(scene.panel.values[i], np.float64),
            "panelLine": None if scene.panel is None else _panel_line(scene.panel.lines[i]),
            "band": None if scene.panel is None else _band(scene.panel, i),
        }
        racers.append(racer)

    covers = [
        [float(box.x0), height - float(box.y1), float(box.x1), height - float(box.y0)]
        for box in scene.cover.rectangles(renderer)
        if scene.cover in scene.moving
    ]
    epochs = result.epochs
    changes: list[list[Any]] = []
    layouts: dict[str, dict[str, Any] | None] = {}
    for epoch in range(epochs + 1):
        text = scene.note_text(epoch)
        if not changes or changes[-1][1] != text:
            if text not in layouts:
                layouts[text] = _lines(scene.notes, renderer, height, text)
            changes.append([epoch, text, layouts[text]])

    if scale != 1:
        # The page lays everything out in the figure's pixels at scale 1; the
        # background alone has scale times the pixels, for high-density screens.
        scale_figure(figure, size, scale)
        canvas.draw()
        background = _png(np.asarray(canvas.buffer_rgba()))

    return {
        "format": FORMAT,
        "title": result.title,
        "function": result.function,
        "width": width,
        "height": height,
        "epochs": epochs,
        "frames": [int(e) for e in scene.frame_epochs],
        "interval": timing.interval,
        "loop": timing.loop,
        "background": "data:image/png;base64," + base64.b64encode(background).decode("ascii"),
        "dims": 3 if scene.three_d else result.dims,
        "domain": list(result.domain),
        "ydomain": None if result.ydomain is None else list(result.ydomain),
        "bounds": [[float(lo), float(hi)] for lo, hi in limits],
        "axes": axes,
        "trail": scene.trail,
        "trailWidth": _px(scene.trails[0].get_linewidths()[0]) if scene.trails else 0,
        "counter": _text_place(scene.counter, renderer, height, str(epochs)),
        "covers": covers,
        "notes": {
            **_text_place(scene.notes, renderer, height, "x"),
            "changes": changes,
        },
        "panel": panel,
        "racers": racers,
    }


def player_html(
    result: RaceResult,
    drawing: Drawing,
    frame_epochs: Sequence[int] | np.ndarray | None = None,
    page: bool = True,
) -> str:
    """The player as HTML: a whole page, or a fragment to embed (a notebook cell).

    Args:
        result: The race.
        drawing: As for the GIF: the figure's ``(width, height)`` in pixels,
            milliseconds per GIF frame (playing at 1x takes as long as the GIF),
            whether playing starts over at the end, and panels, trails and view.
        frame_epochs: The epochs the GIF shows (default every epoch).
        page: A whole document with a Content-Security-Policy (True), or a
            ``<div>`` with its own style and script that several of can share
            one page, each scoped to itself (False).

    Returns:
        The HTML text.

    Examples:
        In a notebook, ``RaceRun._repr_html_`` returns
        ``player_html(result, Drawing((640, 480)), page=False)``.
    """
    data = player_data(result, drawing, frame_epochs)
    ident = "optrace-" + uuid.uuid4().hex[:12]
    script = _asset("player.js")
    style = _asset("player.css")
    start = f'optraceMount(document.getElementById("{ident}"), {_json_for_script(data)});'
    # The still of the whole race, for where scripts do not run (a notebook on
    # GitHub, nbviewer, an untrusted one); the script removes it as it mounts.
    still = (
        f'<img class="optrace-still" src="{_still_url(result, drawing)}"'
        f' width="{data["width"]}" height="{data["height"]}"'
        f' alt="{html.escape(result.title)}">'
    )
    body = (
        f'<div class="optrace-player" id="{ident}" tabindex="-1">{still}</div>\n'
        f"<script>{start}</script>\n"
    )
    if not page:
        return f"<style>{style}</style>\n<script>{script}</script>\n{body}"
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_hash(script)} {_hash(start)}",
            f"style-src {_hash(style)}",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(result.title)}</title>\n"
        f"<style>{style}</style>\n<script>{script}</script>\n</head>\n<body>\n"
        f"{body}</body>\n</html>\n"
    )


def write_player(
    result: RaceResult,
    path_or_file: Path | IO[str],
    drawing: Drawing,
    frame_epochs: Sequence[int] | np.ndarray | None = None,
) -> None:
    """Write the player page to a path or an open text file.

    Args:
        result: The race.
        path_or_file: Where to write (UTF-8); for an atomic write pass an
            :class:`~optrace._core.atomic.AtomicFile`'s ``path``.
        drawing: Size, timing and options, as for the GIF.
        frame_epochs: The epochs the GIF shows (default every epoch).

    Raises:
        OutputError: The file could not be written.
    """
    text = player_html(result, drawing, frame_epochs, page=True)
    if not isinstance(path_or_file, Path):
        path_or_file.write(text)
        return
    try:
        path_or_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"writing the player failed: {exc.strerror}") from exc


def _still_url(result: RaceResult, drawing: Drawing) -> str:
    """The race's still at its last epoch as a PNG data URL, with the palette of
    the player's background (a few times smaller than the still's own PNG).

    Args:
        result: The race.
        drawing: The figure's ``(width, height)`` in pixels (times ``options.scale``),
            and panels and view, as for the still.

    Returns:
        ``data:image/png;base64,...``
    """
    from PIL import Image

    from optrace.export.still import write_still

    drawn = io.BytesIO()
    write_still(result, drawn, drawing, result.epochs)
    drawn.seek(0)
    with Image.open(drawn) as image:
        rgba = np.asarray(image.convert("RGBA"))
    return "data:image/png;base64," + base64.b64encode(_png(rgba)).decode("ascii")


def _asset(name: str) -> str:
    return (resources.files("optrace.export") / name).read_text(encoding="utf-8")


def _hash(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


def _json_for_script(data: Any) -> str:
    """JSON that cannot end the ``<script>`` it sits in: every ``<``, ``>`` and ``&``
    (and the two line separators JavaScript once refused) as a ``\\u`` escape."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def _png(rgba: np.ndarray) -> bytes:
    """The background as an indexed PNG with the GIF's palette rule: the 255
    commonest colours exactly, any other its nearest."""
    from PIL import Image

    from optrace.export.gif import Palette, colour_keys

    keys = colour_keys(rgba)
    palette = Palette(keys, 255)
    image = Image.fromarray(palette.indices(keys), mode="P")
    image.putpalette(palette.rgb.astype(np.uint8).tobytes())
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _b64(values: np.ndarray, dtype: type) -> str:
    """A 2-D (or 1-D) array as base64 of its little-endian bytes, row after row."""
    array = np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<"))
    return base64.b64encode(array.tobytes()).decode("ascii")


def _px(points: float) -> float:
    return float(points) * DPI / 72


def _rgba(colour: Any, alpha: float | None = None) -> list[float]:
    from matplotlib.colors import to_rgba

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
    from matplotlib.markers import MarkerStyle
    from matplotlib.transforms import Affine2D

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


def _band(panel: Any, i: int) -> dict[str, Any] | None:
    """Racer ``i``'s interquartile band on the loss panel: its colour and its first
    and third quartile at each epoch (a racer of one run has none)."""
    band, quartiles = panel.bands[i], panel.quartiles[i]
    if band is None or quartiles is None:
        return None
    return {
        "colour": _rgba(band.get_facecolor()[0]),
        "lo": _b64(quartiles[0], np.float64),
        "hi": _b64(quartiles[1], np.float64),
    }


def _snaps(segments: list[tuple[int, list[float]]]) -> bool:
    """Whether Agg snaps this path: straight segments only, each horizontal or vertical."""
    from matplotlib.path import Path as MplPath

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
    from matplotlib.transforms import Bbox

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


def _lr_constant(hyperparameters: Any) -> float | None:
    value = hyperparameters.get("lr")
    return float(value) if isinstance(value, int | float) else None
