"""The files a run writes: checked before the race, opened atomically, written from one
render, and committed together (or none of them).

Each output has a kind: ``gif`` and ``mp4`` (animations, streamed from one
render), ``still`` (``.png``, ``.svg``, ``.pdf``), ``html`` (the player), ``traces`` (``.csv`` or
``.json``) and ``summary`` (``.json``). :func:`kind_of` chooses one by suffix.
``basins`` (``.png``, ``.svg``, ``.pdf``) is a swarm's basins map, chosen by a
still's name: ``basins.png``, ``race-basins.svg``, ``race_basins.pdf``; ``sweep``
likewise is the sweep map of the racers with a ``sweep:`` (``sweep.png``,
``race-sweep.svg``, ``race_sweep.pdf``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from optrace._core.atomic import AtomicFile, Output, check_names
from optrace._core.errors import OutputError, UsageError
from optrace.export.drawing import Drawing
from optrace.results.trace import RaceResult

#: Suffixes by kind, in the order :func:`kind_of` tries them.
SUFFIXES: dict[str, tuple[str, ...]] = {
    "gif": (".gif",),
    "mp4": (".mp4",),
    "still": (".png", ".svg", ".pdf"),
    "html": (".html", ".htm"),
    "traces": (".csv", ".json"),
    "summary": (".json",),
    "basins": (".png", ".svg", ".pdf"),
    "sweep": (".png", ".svg", ".pdf"),
}
#: The kinds drawn as an animation, rendered once into every file asked for.
ANIMATIONS = ("gif", "mp4")
#: The kinds a path's suffix chooses, in order (``.json`` is the traces).
BY_SUFFIX = ("gif", "mp4", "still", "html", "traces")


def kind_of(path: Path) -> str:
    """The kind of output a path's suffix asks for (``.json`` means traces).

    Examples:
        >>> kind_of(Path("race.gif")), kind_of(Path("race.PNG")), kind_of(Path("t.json"))
        ('gif', 'still', 'traces')
        >>> kind_of(Path("basins.png")), kind_of(Path("race-sweep.svg"))
        ('basins', 'sweep')
    """
    suffix = path.suffix.lower()
    for kind in BY_SUFFIX:
        if suffix in SUFFIXES[kind]:
            if kind == "still" and is_basins_name(path):
                return "basins"
            return "sweep" if kind == "still" and is_sweep_name(path) else kind
    known = " ".join(s for kind in BY_SUFFIX for s in SUFFIXES[kind])
    raise UsageError(f"'{path}': unknown format '{suffix or path.name}'; known: {known}")


def is_basins_name(path: Path) -> bool:
    """Whether a still's name asks for the basins map: its stem is ``basins`` or
    ends in ``-basins`` or ``_basins`` (in any case).

    Examples:
        >>> [is_basins_name(Path(p)) for p in ("basins.png", "a-basins.svg", "mybasins.png")]
        [True, True, False]
    """
    stem = path.stem.lower()
    return stem == "basins" or stem.endswith(("-basins", "_basins"))


def is_sweep_name(path: Path) -> bool:
    """Whether a still's name asks for the sweep map: its stem is ``sweep`` or
    ends in ``-sweep`` or ``_sweep`` (in any case).

    Examples:
        >>> [is_sweep_name(Path(p)) for p in ("sweep.png", "a_Sweep.pdf", "nosweep.png")]
        [True, True, False]
    """
    stem = path.stem.lower()
    return stem == "sweep" or stem.endswith(("-sweep", "_sweep"))


def check_sweep(outputs: Sequence[Output], swept: int) -> None:
    """Refuse a sweep map of a race in which no racer has a sweep, before it runs.

    Args:
        outputs: The outputs asked for.
        swept: How many racers have a ``sweep:``.

    Raises:
        UsageError: A sweep output, and no racer with a sweep.
    """
    for out in outputs:
        if out.kind == "sweep" and swept < 1:
            raise UsageError(
                f"{out.flag or repr(str(out.path))}: a sweep map needs a racer with a sweep "
                "(sweep: {lr: [...]})"
            )


def check_basins(outputs: Sequence[Output], starts: int) -> None:
    """Refuse a basins map of a race that is not a swarm, before it runs.

    Args:
        outputs: The outputs asked for.
        starts: How many starts the race has (repeats aside).

    Raises:
        UsageError: A basins output, and one start.
    """
    for out in outputs:
        if out.kind == "basins" and starts < 2:
            raise UsageError(
                f"{out.flag or repr(str(out.path))}: a basins map needs a swarm "
                "(starts: a list, {grid: N} or {random: N})"
            )


#: How a message names each kind's file, for the refusal of a wrong suffix.
NAMED = {
    "gif": "a GIF",
    "mp4": "an MP4",
    "still": "a still",
    "html": "a player",
    "traces": "a traces file",
    "summary": "a summary",
    "basins": "a basins map",
    "sweep": "a sweep map",
}


def check_outputs(outputs: Sequence[Output], size: tuple[int, int], scale: float = 1.0) -> None:
    """Refuse outputs that cannot be written as asked, before anything runs: a path
    whose suffix is not one of its kind's (``--gif x.png``, ``--gif race``), two
    outputs with one path, an MP4 of a size H.264 cannot encode.

    Examples:
        >>> check_outputs([Output("gif", Path("x.png"), "--gif")], (64, 48))
        Traceback (most recent call last):
        ...
        optrace._core.errors.UsageError: --gif x.png: a GIF's name ends in .gif
    """
    check_names(outputs, SUFFIXES, NAMED)
    if any(out.kind == "mp4" for out in outputs):
        from optrace.export.mp4 import check_mp4_size

        check_mp4_size(size, scale)


def write_outputs(
    result: RaceResult,
    files: dict[Output, AtomicFile],
    drawing: Drawing,
    frame_epochs: np.ndarray,
    epoch: int | None = None,
    progress: Callable[[int], None] | None = None,
    pictured: RaceResult | None = None,
) -> None:
    """Write every output of ``files`` (opened by :func:`~optrace._core.atomic.opened`,
    which commits them together).

    Args:
        result: The race.
        files: The outputs and their atomic files.
        drawing: Size, timing and scene options.
        frame_epochs: The epochs the animation shows.
        epoch: The epoch a still shows (default: the last).
        progress: Hears of each animation frame drawn.
        pictured: The race as the pictures show it (``result`` laid out along its
            evaluations, see :func:`optrace.results.axis.by_evaluations`); the traces
            and the summary are written from ``result``.
    """
    traced, result = result, pictured or result
    from optrace.results.files import write_traces
    from optrace.results.report import write_summary

    animations: dict[str, AtomicFile] = {}
    for out, file in files.items():
        if out.kind == "traces":
            write_traces(traced, file)
        elif out.kind == "summary":
            write_summary(traced, file)
        elif out.kind == "html":
            from optrace.export.html import write_player

            write_player(result, file.path, drawing, frame_epochs)
        elif out.kind == "still":
            from optrace.export.still import write_still

            shown = result.epochs if epoch is None else epoch
            try:
                write_still(result, file.path, drawing, shown, out.path.suffix.lower())
            except (OSError, RuntimeError, ValueError) as exc:
                raise OutputError(f"writing the still {out.name} failed: {exc}") from exc
        elif out.kind == "basins":
            from optrace.export.basins import write_basins

            try:
                write_basins(result, file.path, drawing, out.path.suffix.lower())
            except (OSError, RuntimeError, ValueError) as exc:
                raise OutputError(f"writing the basins map {out.name} failed: {exc}") from exc
        elif out.kind == "sweep":
            from optrace.export.sweep_map import write_sweep_map

            try:
                # Final losses do not depend on the axis the pictures count along.
                write_sweep_map(traced, file.path, drawing, out.path.suffix.lower())
            except (OSError, RuntimeError, ValueError) as exc:
                raise OutputError(f"writing the sweep map {out.name} failed: {exc}") from exc
        else:
            animations[out.kind] = file
    if animations:
        from optrace.export.frames import export

        export(result, animations, drawing, frame_epochs, progress)
