"""Atomic output: write beside the target, rename into place only when complete."""

from __future__ import annotations

import os
import tempfile
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
