"""Gallery cells: one race per optimizer and function, run anywhere, returned as bytes.

A cell runs in a worker process (local or on a Dask cluster) and returns its
summary row and the bytes of its files; only the client writes the site, so a
gallery gives the same files wherever its cells ran.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from optrace import __version__
from optrace._core.errors import ConfigError, OptraceError, UsageError
from optrace._core.keys import did_you_mean
from optrace.api import Race
from optrace.optim.catalog import catalog
from optrace.optim.classes import resolve_class
from optrace.problems.functions import FUNCTIONS
from optrace.spec.gallery import GalleryConfig
from optrace.spec.model import RacerConfig

#: Each output kind's file suffix in a cell's folder.
SUFFIX = {"still": ".png", "gif": ".gif", "html": ".html", "csv": ".csv"}


@dataclass(frozen=True)
class Cell:
    """One optimizer on one function.

    Attributes:
        optimizer: The racer's name in the gallery (its label, else its optimizer).
        function: The built-in function's name.
        config: The race, as a config mapping.
        outputs: The kinds of file it writes.
        base_dir: Where dotted optimizer paths are looked for first.
        key: A digest of everything its files depend on (for incremental runs).
    """

    optimizer: str
    function: str
    config: dict[str, Any]
    outputs: tuple[str, ...]
    base_dir: str | None = None
    key: str = ""

    @property
    def stem(self) -> str:
        """``function/optimizer``, safe as a relative path."""
        return f"{safe(self.function)}/{safe(self.optimizer)}"


@dataclass
class CellResult:
    """What a cell gives back: its summary row and its files' bytes by suffix."""

    cell: Cell
    row: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    reason: str | None = None

    @property
    def status(self) -> str:
        """ok, diverged, escaped or failed."""
        return str(self.row["status"])


def safe(name: str) -> str:
    """A name as a file name: letters, digits, ``.``, ``_`` and ``-`` kept.

    Examples:
        >>> safe("SGD lr=0.1"), safe("pkg.My/Opt")
        ('SGD_lr=0.1', 'pkg.My_Opt')
    """
    return re.sub(r"[^A-Za-z0-9._=-]", "_", name).strip(".") or "_"


def function_names(config: GalleryConfig) -> list[str]:
    """The gallery's functions, groups expanded, each checked against the registry."""
    if isinstance(config.functions, str):
        dims = {"all-1d": (1,), "all-2d": (2,), "all": (1, 2)}[config.functions]
        return [n for n, spec in FUNCTIONS.items() if (1 if spec.ydomain is None else 2) in dims]
    for i, name in enumerate(config.functions):
        if name not in FUNCTIONS:
            hint = did_you_mean(name, list(FUNCTIONS))
            raise ConfigError(f"functions[{i}]", f"unknown function '{name}'{hint}")
    return list(config.functions)


def row_names(config: GalleryConfig) -> list[str]:
    """The gallery's rows: its functions, then its models by name (each name once)."""
    functions = function_names(config)
    for name in config.models:
        if name in functions:
            raise ConfigError(f"models.{name}", f"'{name}' is already a function of the gallery")
    return [*functions, *config.models]


def racers_of(config: GalleryConfig) -> list[tuple[str, dict[str, Any]]]:
    """Each racer of the gallery as ``(name, racer mapping)``: for ``torch.optim``,
    every optimizer that can race, at its defaults."""
    if isinstance(config.optimizers, str):
        package = config.optimizers
        try:
            entries = catalog(None if package == "torch.optim" else package)
        except ConfigError as exc:
            raise ConfigError("optimizers", exc.message) from None
        prefix = "" if package == "torch.optim" else f"{package}."
        return [
            (e.name, {"optimizer": prefix + e.name, **e.needs})
            for e in entries
            if e.cannot_race is None
        ]
    return [(_name(r), _racer(r)) for r in config.optimizers]


def _name(racer: RacerConfig) -> str:
    if racer.label is not None:
        return racer.label
    return racer.optimizer if isinstance(racer.optimizer, str) else racer.optimizer.__name__


def _racer(racer: RacerConfig) -> dict[str, Any]:
    entry = {k: v for k, v in racer.model_dump().items() if v is not None and k != "label"}
    return {**entry, **racer.hyperparameters}


def plan_cells(config: GalleryConfig, base_dir: Path | None = None) -> list[Cell]:
    """Every cell of the gallery, optimizer by optimizer, each with its key."""
    if config.tune is not None:
        try:
            import optuna  # noqa: F401  (the tune extra, needed only when a gallery tunes)
        except ModuleNotFoundError:
            raise UsageError("tune: tuning needs Optuna: pip install 'optrace[tune]'") from None
    functions = function_names(config)
    animation = config.animation.model_dump(exclude_defaults=True)
    animation.setdefault("size", list(config.animation.size))
    if "legend" not in config.animation.model_fields_set:
        # A cell holds one racer and the index names it; at 320 px a legend
        # would only cover the epoch counter.
        animation["legend"] = False
    cells = []
    rows: list[tuple[str, dict[str, Any]]] = [(f, {"function": f}) for f in functions]
    rows += [
        (name, {"model": block.model_dump(exclude_unset=True)})
        for name, block in config.models.items()
    ]
    for name, racer in racers_of(config):
        source = _source(racer, base_dir)
        for function, problem in rows:
            race: dict[str, Any] = {
                "title": f"{name} on {function}",
                **problem,
                **config.length,
                "seed": config.seed,
                "tolerance": config.tolerance,
                "racers": [{**racer, "label": name}],
                "animation": animation,
            }
            if config.starts is not None and "function" in problem:
                race["starts"] = config.starts
            if config.tune is not None:
                race["tune"] = config.tune.model_dump(mode="json", exclude_unset=True)
            cell = Cell(name, function, race, tuple(config.outputs), _folder(base_dir))
            cells.append(_keyed(cell, source))
    return cells


def _folder(base_dir: Path | None) -> str | None:
    return None if base_dir is None else str(base_dir)


def _source(racer: dict[str, Any], base_dir: Path | None) -> str:
    """A digest of the file that defines the racer's optimizer, so that editing it
    recomputes that optimizer's cells."""
    try:
        cls = resolve_class(racer["optimizer"], "optimizer", base_dir)
        path = inspect.getsourcefile(cls)
        data = Path(path).read_bytes() if path else b""
    except (OptraceError, OSError, TypeError):
        data = b"unresolved"
    return hashlib.sha256(data).hexdigest()


def _keyed(cell: Cell, source: str) -> Cell:
    doc = {
        "config": cell.config,
        "outputs": cell.outputs,
        "optrace": __version__,
        "torch": torch.__version__,
        "source": source,
    }
    if "tune" in cell.config:
        import optuna

        doc["optuna"] = optuna.__version__
    key = hashlib.sha256(json.dumps(doc, sort_keys=True, default=repr).encode()).hexdigest()
    return Cell(cell.optimizer, cell.function, cell.config, cell.outputs, cell.base_dir, key)


def run_cell(cell: Cell) -> CellResult:
    """Race one cell (tuned first, if the gallery tunes) and render its files; any
    failure becomes a ``failed`` row with its one-line reason, never an exception."""
    began = time.perf_counter()
    row: dict[str, Any] = {"optimizer": cell.optimizer, "function": cell.function}
    try:
        race = Race.from_dict(cell.config, base_dir=cell.base_dir)
        if "tune" in cell.config:
            # A worker process of the gallery's: Optuna would log every trial.
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            race = race.tune().race
        with tempfile.TemporaryDirectory() as folder:
            paths = [Path(folder) / f"cell{SUFFIX[kind]}" for kind in cell.outputs]
            run = race.run(save=paths)
            files = {p.suffix: p.read_bytes() for p in paths}
        summary = run.summary()[0]
        (used,) = run.hyperparameters().values()
    except OptraceError as exc:
        return _failed(cell, row, str(exc), began)
    except Exception as exc:  # an optimizer of any package may raise anything
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return _failed(cell, row, f"{type(exc).__name__}: {text}".rstrip(": "), began)
    lowest = run.result.minima[0].value if run.result.minima else None
    best = min(float(v) for v in run.result.traces[0].loss.ravel() if math.isfinite(v))
    status = "diverged" if summary["diverged"] else "escaped" if summary["left_domain"] else "ok"
    row.update(
        hyperparameters=json.dumps(used, sort_keys=True, allow_nan=False),
        final_loss=summary["final_loss"],
        final_gap=None if lowest is None else summary["final_loss"] - lowest,
        best_gap=None if lowest is None else best - lowest,
        reached_at=summary["reached_at"],
        evaluations=summary["evaluations"],
        reached_at_evaluations=summary["reached_at_evaluations"],
        diverged=bool(summary["diverged"]),
        escaped=bool(summary["left_domain"]),
        status=status,
        seconds=round(time.perf_counter() - began, 3),
    )
    return CellResult(cell, row, files)


def _failed(cell: Cell, row: dict[str, Any], reason: str, began: float) -> CellResult:
    reason = " ".join(reason.split())
    row.update(
        hyperparameters="",
        final_loss=None,
        final_gap=None,
        best_gap=None,
        reached_at=None,
        evaluations=None,
        reached_at_evaluations=None,
        diverged=False,
        escaped=False,
        status="failed",
        seconds=round(time.perf_counter() - began, 3),
    )
    return CellResult(cell, row, {}, reason)
