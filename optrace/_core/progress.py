"""A progress bar on stderr when it is a terminal; nothing otherwise (CI logs)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None] | None]:
    """Yield a callable that advances a bar of ``total`` steps, or None off a terminal."""
    if not sys.stderr.isatty() or total < 1:
        yield None
        return
    # rich is imported only when a bar is drawn: it costs start-up time otherwise.
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
