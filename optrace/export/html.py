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
from optrace.export.frames import new_figure, scale_figure
from optrace.render.picture import RacerPicture, b64, combinations, describe
from optrace.render.scene import RaceScene
from optrace.results.trace import RaceResult, Sweep, Trace

#: Bumped when the data the page reads changes shape.
FORMAT = 2


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
    width, height = (int(v) for v in canvas.get_width_height())
    scale = options.scale
    if scale == 1:
        background = _png(np.asarray(canvas.buffer_rgba()))
    picture = describe(scene, canvas.get_renderer(), height)
    racers = [
        _racer(trace, look, scene, result.sweep_of(trace.label))
        for trace, look in zip(result.traces, picture.racers, strict=True)
    ]
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
        "epochs": result.epochs,
        "axis": result.axis,
        "frames": [int(e) for e in scene.frame_epochs],
        "interval": timing.interval,
        "loop": timing.loop,
        "background": "data:image/png;base64," + base64.b64encode(background).decode("ascii"),
        "dims": picture.dims,
        "domain": list(result.domain),
        "ydomain": None if result.ydomain is None else list(result.ydomain),
        "bounds": picture.bounds,
        "axes": picture.axes,
        "trail": picture.trail,
        "trailWidth": picture.trail_width,
        "counter": picture.counter,
        "covers": picture.covers,
        "notes": {**picture.notes, "changes": picture.changes},
        "panel": picture.panel,
        "racers": racers,
    }


def _racer(
    trace: Trace, look: RacerPicture, scene: RaceScene, sweep: Sweep | None
) -> dict[str, Any]:
    """One racer as the page reads it: its look, its per-epoch arrays (base64), and
    with a sweep its keys, values and every other combination's arrays."""
    band = look.band
    racer = {
        "label": trace.label,
        "optimizer": trace.optimizer,
        "marker": look.marker,
        "ghost": look.ghost,
        "edge": look.edge,
        "colour": look.colour,
        "legend": look.legend,
        "panelLine": look.panel_line,
        "accuracyLine": look.accuracy_line,
        "band": None if band is None else {"colour": band["colour"]},
        **_arrays(
            trace, look.heights, look.panel, None if band is None else (band["lo"], band["hi"])
        ),
        "sweep": None,
    }
    if sweep is not None:
        # The combination as written is the racer's own trace, sent once.
        others = [(i, t) for i, t in enumerate(sweep.traces) if i != sweep.written]
        drawn = combinations(scene, [t for _, t in others])
        arrays: list[dict[str, Any] | None] = [None] * len(sweep.traces)
        for (i, t), d in zip(others, drawn, strict=True):
            q = d.quartiles
            arrays[i] = _arrays(
                t,
                d.heights,
                d.panel,
                None if q is None else (b64(q[0], np.float64), b64(q[1], np.float64)),
            )
        racer["sweep"] = {
            "keys": list(sweep.keys),
            "values": [[_plain(v) for v in values] for values in sweep.values],
            "written": sweep.written,
            "combinations": arrays,
        }
    return racer


def _arrays(
    trace: Trace,
    heights: np.ndarray | None,
    panel: np.ndarray | None,
    band: tuple[str, str] | None,
) -> dict[str, Any]:
    """A trace's per-epoch arrays as the page reads them (base64 float64), with its
    drawn heights, its loss panel values and its band's quartiles (already base64)."""
    return {
        "starts": int(trace.x.shape[0]),
        "last": [int(v) for v in trace.last_drawn],
        "x": b64(trace.x, np.float64),
        "y": None if trace.y is None else b64(trace.y, np.float64),
        "loss": b64(trace.loss, np.float64),
        "z": None if heights is None else b64(heights, np.float64),
        "lr": None if trace.lr is None else b64(trace.lr, np.float64),
        "lrConst": _lr_constant(trace.hyperparameters),
        "panel": None if panel is None else b64(panel, np.float64),
        "accuracy": None
        if trace.test_accuracy is None
        else b64(trace.test_accuracy[0], np.float64),
        "bandLo": None if band is None else band[0],
        "bandHi": None if band is None else band[1],
    }


def _plain(value: Any) -> Any:
    """A swept value as JSON holds it (a numpy scalar as the Python one)."""
    return value.item() if isinstance(value, np.generic) else value


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
    payload = _json_for_script(data)
    # A page holds one player: its id comes from its data, so the same race writes
    # the same file. A fragment may share a page with another showing the same race.
    ident = "optrace-" + (
        hashlib.sha256(payload.encode()).hexdigest()[:12] if page else uuid.uuid4().hex[:12]
    )
    script = _asset("player.js")
    style = _asset("player.css")
    start = f'optraceMount(document.getElementById("{ident}"), {payload});'
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


def _lr_constant(hyperparameters: Any) -> float | None:
    value = hyperparameters.get("lr")
    return float(value) if isinstance(value, int | float) else None
