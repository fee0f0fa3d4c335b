"""Making a gallery: plan the cells, reuse the unchanged ones, run the rest in worker
processes (or on a Dask cluster), and write the site as results come back."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from optrace._core.atomic import Output, opened
from optrace._core.errors import ConfigError, OutputError, UsageError
from optrace._core.jsonable import jsonable
from optrace._core.progress import progress_bar
from optrace.gallery.cells import Cell, CellResult, plan_cells, row_names, run_cell
from optrace.gallery.site import contact_png, index_html, summary_csv
from optrace.spec.gallery import GalleryConfig, load_gallery


@dataclass
class GalleryReport:
    """What a gallery run did: every cell's result, and how many were reused."""

    results: list[CellResult] = field(default_factory=list)
    computed: list[CellResult] = field(default_factory=list)
    reused: int = 0
    stopped: bool = False

    def count(self, status: str) -> int:
        """Cells computed in this run with ``status`` (escaped counts as diverged)."""
        if status == "diverged":
            return sum(r.status in ("diverged", "escaped") for r in self.computed)
        return sum(r.status == status for r in self.computed)

    def line(self) -> str:
        """``N cells: a ok, b diverged, c failed, d reused``."""
        return (
            f"{len(self.results)} cells: {self.count('ok')} ok, {self.count('diverged')} "
            f"diverged, {self.count('failed')} failed, {self.reused} reused"
        )

    @property
    def failures(self) -> list[str]:
        """Each cell that failed, diverged or escaped, for ``--strict``."""
        return [
            f"{r.cell.optimizer} on {r.cell.function} {r.status}"
            for r in self.results
            if r.status != "ok"
        ]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with opened([Output("site", path)]) as files:
            for file in files.values():
                file.path.write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write '{path}': {exc.strerror}") from None


def _record(site: Path, cell: Cell) -> Path:
    return site / f"{cell.stem}.json"


def _reused(site: Path, cell: Cell) -> CellResult | None:
    """The cell's result from an earlier run, when its inputs and files are unchanged."""
    try:
        doc = json.loads(_record(site, cell).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if doc.get("key") != cell.key:
        return None
    files: dict[str, bytes] = {}
    for suffix in doc.get("files", []):
        path = site / f"{cell.stem}{suffix}"
        if not path.is_file():
            return None
        if suffix == ".png":
            files[suffix] = path.read_bytes()
    return CellResult(cell, doc["row"], files, doc.get("reason"))


def _store(site: Path, result: CellResult) -> None:
    cell = result.cell
    for suffix, data in sorted(result.files.items()):
        _write(site / f"{cell.stem}{suffix}", data)
    doc = {
        "key": cell.key,
        "row": result.row,
        "reason": result.reason,
        "files": sorted(result.files),
    }
    text = json.dumps(jsonable(doc), indent=1, sort_keys=True, allow_nan=False)
    _write(_record(site, cell), (text + "\n").encode())


def _one_thread() -> None:
    torch.set_num_threads(1)


class _Local:
    """Cells on local worker processes (spawned: each pays its imports once)."""

    def __init__(self, workers: int) -> None:
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_one_thread,
        )

    def submit(self, cell: Cell) -> Future[CellResult]:
        return self.pool.submit(run_cell, cell)

    def completed(self, futures: list[Future[CellResult]]) -> Iterator[Future[CellResult]]:
        return as_completed(futures)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Dask:
    """Cells on an existing Dask distributed cluster."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise UsageError(
                "dask needs dask.distributed: pip install 'optrace[dask]'", parameter="dask"
            ) from None
        try:
            self.client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise OutputError(
                f"dask: cannot reach the scheduler at '{address}': {exc}", parameter="dask"
            ) from None

    def submit(self, cell: Cell) -> Any:
        return self.client.submit(run_cell, cell, pure=False)

    def completed(self, futures: list[Any]) -> Iterator[Any]:
        from distributed import as_completed as dask_completed

        return iter(dask_completed(futures))

    def close(self) -> None:
        self.client.close()


@contextmanager
def _executor(workers: int | None, dask: str | None) -> Iterator[Any]:
    runner: _Local | _Dask = _Dask(dask) if dask else _Local(workers or os.cpu_count() or 1)
    try:
        yield runner
    finally:
        runner.close()


def build_gallery(
    path: Path,
    site: Path,
    workers: int | None = None,
    dask: str | None = None,
    force: bool = False,
    fail_fast: bool = False,
    progress: bool = False,
) -> GalleryReport:
    """Read the gallery config at ``path``, check every cell, and make the site.

    Args:
        path: The gallery config (YAML); dotted optimizer paths are looked for
            first in its folder.
        site: The folder of the site (made if missing).
        workers, dask, force, fail_fast: As :func:`make_gallery` takes them.
        progress: A progress bar of the cells on stderr.

    Raises:
        ConfigError: The config or one of its cells, naming the file and the key.
    """
    config = load_gallery(path)
    try:
        cells = plan_cells(config, path.parent)
    except ConfigError as exc:
        raise exc.in_file(str(path)) from None
    with progress_bar("cells", len(cells)) if progress else nullcontext() as advance:
        return make_gallery(
            config, site, path.parent, cells, workers, dask, force, fail_fast, advance
        )


def make_gallery(
    config: GalleryConfig,
    site: Path,
    base_dir: Path | None = None,
    cells: list[Cell] | None = None,
    workers: int | None = None,
    dask: str | None = None,
    force: bool = False,
    fail_fast: bool = False,
    progress: Callable[[int], None] | None = None,
) -> GalleryReport:
    """Race every cell of ``config`` and write the site into ``site``.

    Args:
        config: The gallery.
        site: The folder of the site (made if missing).
        base_dir: Where dotted optimizer paths are looked for first.
        cells: The cells, if already planned (:func:`optrace.gallery.cells.plan_cells`).
        workers: Local worker processes (default: the number of cores).
        dask: The address of a Dask scheduler, instead of local workers.
        force: Recompute every cell, even unchanged ones.
        fail_fast: Stop at the first cell that fails.
        progress: Hears of each cell finished or reused.

    Returns:
        The report: each cell's result and the counts.
    """
    if site.exists() and not site.is_dir():
        raise OutputError(f"cannot write '{site}': it is not a folder")
    functions = row_names(config)
    cells = plan_cells(config, base_dir) if cells is None else cells
    site.mkdir(parents=True, exist_ok=True)
    done: dict[int, CellResult] = {}
    pending: list[int] = []
    for i, cell in enumerate(cells):
        old = None if force else _reused(site, cell)
        if old is None:
            pending.append(i)
        else:
            done[i] = old
            if progress is not None:
                progress(1)
    report = GalleryReport(reused=len(done))
    if pending:
        with _executor(workers, dask) as runner:
            futures = [runner.submit(cells[i]) for i in pending]
            place = {id(f): i for f, i in zip(futures, pending, strict=True)}
            for future in runner.completed(futures):
                result = future.result()
                _store(site, result)
                done[place[id(future)]] = result
                report.computed.append(result)
                if progress is not None:
                    progress(1)
                if fail_fast and result.status == "failed":
                    for other in futures:
                        other.cancel()
                    report.stopped = True
                    break
    report.results = [done[i] for i in sorted(done)]
    _write(site / "summary.csv", summary_csv(report.results))
    _write(site / "index.html", index_html(config.title, report.results, functions))
    _write(site / "contact.png", contact_png(config.title, report.results, functions))
    return report
