"""Atomic output: write beside the target, rename into place only when complete.

Every file optrace writes goes one way: the outputs are checked by name
(:func:`check_names`), opened as atomic files before any work (:func:`opened`),
written, and committed together when the work is done; on any failure none of
them appears and old files stay as they were.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from optrace._core.errors import OutputError, UsageError


class AtomicFile:
    """A temporary file in the target's folder, renamed over the target by :meth:`commit`.

    Opening it checks that the target can be written at all, so a run fails
    before any work when its output cannot land.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        if target.is_dir():
            raise OutputError(f"cannot write '{target}': it is a folder")
        folder = target.parent
        if not folder.is_dir():
            raise OutputError(f"cannot write '{target}': folder '{folder}' does not exist")
        try:
            fd, name = tempfile.mkstemp(
                dir=folder, prefix=f".{target.name}.", suffix=f".part{target.suffix}"
            )
        except OSError as exc:
            raise OutputError(f"cannot write '{target}': {exc.strerror}") from None
        os.close(fd)
        self.path = Path(name)
        self.done = False

    def commit(self) -> None:
        """Move the finished file into place (mode as for a new file)."""
        umask = os.umask(0)
        os.umask(umask)
        try:
            os.chmod(self.path, 0o666 & ~umask)
            os.replace(self.path, self.target)
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot write '{self.target}': {exc.strerror}") from None
        self.done = True

    def discard(self) -> None:
        """Remove the temporary file; the target, if any, stays as it was."""
        if not self.done:
            self.path.unlink(missing_ok=True)
            self.done = True


def check_distinct(paths: list[Path]) -> None:
    """Refuse two outputs that name the same file."""
    resolved = [p.resolve() for p in paths]
    if len(set(resolved)) != len(resolved):
        raise UsageError("two outputs name the same file; give each its own path")


@dataclass(frozen=True)
class Output:
    """One file to write: its kind (which writer makes it) and its path.

    ``flag`` is how the caller names it in messages (the command line's ``--gif``);
    by default a message names its path.
    """

    kind: str
    path: Path
    flag: str = ""

    @property
    def name(self) -> str:
        """How messages name this output: its flag, else its path."""
        return self.flag or f"'{self.path}'"


def check_names(
    outputs: Sequence[Output],
    suffixes: Mapping[str, tuple[str, ...]],
    named: Mapping[str, str],
) -> None:
    """Refuse an output whose suffix is not one of its kind's, and two outputs with one path.

    Args:
        outputs: The outputs asked for.
        suffixes: Each kind's suffixes, lower case.
        named: How a message names each kind's file (``"a GIF"``).

    Examples:
        >>> gif = Output("gif", Path("x.png"), "--gif")
        >>> check_names([gif], {"gif": (".gif",)}, {"gif": "a GIF"})
        Traceback (most recent call last):
        ...
        optrace._core.errors.UsageError: --gif x.png: a GIF's name ends in .gif
    """
    for out in outputs:
        # Even a fixed-format kind (a GIF) refuses another suffix: a GIF named x.png
        # opens as nothing, and a name with none was more likely a slip than a wish.
        *others, last = suffixes[out.kind]
        if out.path.suffix.lower() not in (*others, last):
            want = f"{', '.join(others)} or {last}" if others else last
            where = f"{out.flag} {out.path}" if out.flag else f"'{out.path}'"
            raise UsageError(f"{where}: {named[out.kind]}'s name ends in {want}")
    check_distinct([out.path for out in outputs])


@contextmanager
def opened(outputs: Sequence[Output]) -> Iterator[dict[Output, AtomicFile]]:
    """Open every output as an atomic file, and commit them all when the block ends
    without an error; otherwise none of them appears, and old files stay as they were.

    Examples:
        >>> folder = Path(tempfile.mkdtemp())
        >>> with opened([Output("text", folder / "a.txt")]) as files:
        ...     for file in files.values():
        ...         _ = file.path.write_text("done")
        >>> (folder / "a.txt").read_text()
        'done'
    """
    files: dict[Output, AtomicFile] = {}
    try:
        for out in outputs:
            files[out] = AtomicFile(out.path)
        yield files
        for file in files.values():
            file.commit()
    finally:
        for file in files.values():
            file.discard()
