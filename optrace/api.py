"""The Python API: describe a race, run it, look at it, save it.

A :class:`Race` is a checked config (from YAML, a dict or keywords), a
:class:`RaceRun` its result. Everything optrace does goes through these two:
the command line is one client of them, a notebook another.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optrace._core.errors import ConfigError, UsageError
from optrace._core.frames import frame_epochs
from optrace._core.progress import progress_bar
from optrace.spec.loading import load_config, parse_config
from optrace.spec.model import RaceConfig

if TYPE_CHECKING:
    import numpy as np

    from optrace.engine.plan import RacePlan
    from optrace.export.outputs import Drawing, Output
    from optrace.results.trace import RaceResult, Trace

Progress = Callable[[int], None]


class Racer:
    """One racer: an optimizer and its hyperparameters, as a config's racer entry.

    Args:
        optimizer: A ``torch.optim`` name (``"Adam"``), a dotted path
            (``"mymodule.MyAdam"``) or an Optimizer subclass itself.
        label: The name in the legend (default: the optimizer's name).
        style: A matplotlib format string such as ``"ro"``.
        schedule: A learning-rate schedule, ``{"name": "StepLR", "step_size": 10}``.
        **hyperparameters: Constructor keywords of the optimizer.

    Examples:
        >>> Racer("SGD", lr=0.01, momentum=0.9, label="momentum").as_dict()
        {'optimizer': 'SGD', 'label': 'momentum', 'lr': 0.01, 'momentum': 0.9}
    """

    def __init__(
        self,
        optimizer: str | type,
        *,
        label: str | None = None,
        style: str | None = None,
        schedule: Mapping[str, Any] | None = None,
        **hyperparameters: Any,
    ) -> None:
        self.optimizer = optimizer
        self.label = label
        self.style = style
        self.schedule = dict(schedule) if schedule is not None else None
        self.hyperparameters = hyperparameters

    def as_dict(self) -> dict[str, Any]:
        """The racer as a config writes it (reserved keys first, then hyperparameters)."""
        entry: dict[str, Any] = {"optimizer": self.optimizer}
        for key in ("label", "style", "schedule"):
            value = getattr(self, key)
            if value is not None:
                entry[key] = value
        return {**entry, **self.hyperparameters}

    def __repr__(self) -> str:
        name = self.optimizer if isinstance(self.optimizer, str) else self.optimizer.__name__
        keys = "".join(f", {k}={v!r}" for k, v in self.as_dict().items() if k != "optimizer")
        return f"Racer({name!r}{keys})"


class Race:
    """A race, checked like a config file: the function, the starts, the racers.

    ``Race(...)`` takes the YAML's fields as keywords. ``function`` may be a
    built-in name, an expression in x (and y), or a Python callable on torch
    tensors (``f(x)`` or ``f(x, y)``, with a ``domain``); each racer a dict
    shaped like the YAML or a :class:`Racer`.

    Args:
        base_dir: Where dotted optimizer paths are looked for first (a config
            file's folder); default: the current folder.
        **fields: title, function, domain, start, starts, seed, epochs,
            tolerance, noise, repeats, racers, animation.

    Raises:
        ConfigError: The first problem, naming its key and the fix.

    Examples:
        >>> race = Race(function="quartic", start=2.0, epochs=20,
        ...             racers=[Racer("SGD", lr=0.01), {"optimizer": "Adam", "lr": 0.1}])
        >>> run = race.run()
        >>> sorted(run.traces)
        ['Adam', 'SGD']
        >>> run.traces["SGD"].x.shape
        (21,)
    """

    def __init__(self, *, base_dir: str | os.PathLike[str] | None = None, **fields: Any) -> None:
        data = dict(fields)
        if isinstance(data.get("function"), str):
            data["function"] = _function_of(data["function"])
        if "racers" in data and isinstance(data["racers"], (list, tuple)):
            data["racers"] = [r.as_dict() if isinstance(r, Racer) else r for r in data["racers"]]
        for key in ("domain", "start"):
            if isinstance(data.get(key), tuple):
                data[key] = _lists(data[key])
        self.config = parse_config(data)
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.source: str | None = None

    @classmethod
    def from_config(
        cls,
        config: RaceConfig,
        base_dir: str | os.PathLike[str] | None = None,
        source: str | None = None,
    ) -> Race:
        """A race from an already validated config (``source`` names it in errors)."""
        race = cls.__new__(cls)
        race.config = config
        race.base_dir = Path(base_dir) if base_dir is not None else None
        race.source = source
        return race

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> Race:
        """Read a config file: the same checks and messages as ``optrace run``.

        Examples:
            >>> Race.from_yaml("configs/seed.yaml").config.epochs
            100
        """
        file = Path(path)
        return cls.from_config(load_config(file), file.parent, str(file))

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], base_dir: str | os.PathLike[str] | None = None
    ) -> Race:
        """A race from a mapping shaped like the YAML (as ``yaml.safe_load`` gives).

        Examples:
            >>> race = Race.from_dict({"function": "rosenbrock", "epochs": 10,
            ...                        "racers": [{"optimizer": "Adam", "lr": 0.05}]})
            >>> race.config.function.name
            'rosenbrock'
        """
        return cls.from_config(parse_config(dict(data)), base_dir)

    def plan(self, limits: bool = True) -> RacePlan:
        """Resolve the function, the starts and every racer against torch (each
        optimizer built and stepped once on a throwaway copy).

        Args:
            limits: Refuse a race or animation too large for this machine.

        Raises:
            ConfigError: The first problem, naming its key (and the file).
        """
        key = bool(limits)
        cached = self._plans.get(key)
        if cached is None:
            from optrace.engine.plan import prepare

            try:
                cached = prepare(self.config, self.base_dir, limits)
            except ConfigError as exc:
                raise (exc.in_file(self.source) if self.source else exc) from None
            self._plans[key] = cached
        return cached

    @cached_property
    def _plans(self) -> dict[bool, RacePlan]:
        return {}

    def check(self, limits: bool = True) -> None:
        """Check everything a run would check, without running the race."""
        self.plan(limits)

    def run(self, progress: bool | Progress = False, limits: bool = True) -> RaceRun:
        """Run every racer from every start.

        Args:
            progress: ``True`` for a progress bar on stderr, or a callable that
                hears of each racer-epoch.
            limits: Refuse a race too large for this machine.

        Returns:
            The :class:`RaceRun`: traces, summary, and ways to show and save it.
        """
        from optrace.engine.loop import run as run_plan

        plan = self.plan(limits)
        if progress is True:
            total = len(plan.racers) * len(plan.starts) * plan.repeats * plan.epochs
            with progress_bar("racing", total) as advance:
                return RaceRun(self, run_plan(plan, advance))
        return RaceRun(self, run_plan(plan, progress or None))

    def tune(
        self,
        trials: int | None = None,
        storage: str | None = None,
        study: str = "optrace",
        workers: int = 1,
        limits: bool = True,
    ) -> Tuning:
        """Tune every racer with the same budget (``optrace tune``; the ``tune`` extra).

        Args:
            trials: Trials per racer, instead of the config's ``tune.trials``.
            storage: An Optuna storage: ``sqlite:///FILE``, ``journal:FILE`` or a database URL.
            study: The study's name in the storage.
            workers: Local processes sharing a journal storage.
            limits: Refuse a race too large for this machine.

        Returns:
            The :class:`Tuning`: the tuned race, and per racer its best values and trials.
        """
        from optrace.tune.tuner import tune_config

        tuned = tune_config(
            self.config,
            self.base_dir,
            trials=trials,
            storage=storage,
            study=study,
            workers=workers,
            limits=limits,
        )
        return Tuning(tuned, Race.from_config(tuned.config, self.base_dir, self.source))

    def __repr__(self) -> str:
        c = self.config
        what = c.function.name or c.function.expr or "a callable"
        return f"<optrace.Race {c.title!r}: {len(c.racers)} racers on {what}, {c.epochs} epochs>"


class Tuning:
    """What :meth:`Race.tune` gives: the tuned race, ready to run, and per tuned
    racer its best values and every trial."""

    def __init__(self, tuned: Any, race: Race) -> None:
        self._tuned = tuned
        self.race = race

    @property
    def best(self) -> dict[str, dict[str, Any]]:
        """Per tuned racer's label, the best trial's values."""
        best: dict[str, dict[str, Any]] = self._tuned.best
        return best

    @property
    def trials(self) -> dict[str, Any]:
        """Per tuned racer's label, every finished trial (number, params, objective, state)."""
        trials: dict[str, Any] = self._tuned.trials
        return trials

    def report(self) -> dict[str, Any]:
        """The report, as ``optrace tune --report`` writes it."""
        report: dict[str, Any] = self._tuned.report()
        return report


class RaceRun:
    """A finished race: its traces and summary, shown inline or saved to files."""

    def __init__(self, race: Race, result: RaceResult) -> None:
        self.race = race
        self.result = result
        self._html: str | None = None

    @cached_property
    def traces(self) -> dict[str, Trace]:
        """Per label, the racer's :class:`Trace`: numpy arrays ``x`` (``y`` in 2-D),
        ``loss`` and, with a schedule, ``lr``, one value per epoch (``epoch``);
        a swarm adds a leading axis of starts."""
        out = {}
        for trace in self.result.traces:
            if trace.x.shape[0] == 1:
                trace = replace(
                    trace,
                    x=trace.x[0],
                    loss=trace.loss[0],
                    lr=None if trace.lr is None else trace.lr[0],
                    y=None if trace.y is None else trace.y[0],
                )
            out[trace.label] = trace
        return out

    def summary(self) -> list[dict[str, Any]]:
        """Per racer, the fields of ``--summary`` JSON: final place and loss, best
        loss and epoch, the epoch within tolerance of the lowest minimum, ..."""
        from optrace.results.report import summary_json

        racers: list[dict[str, Any]] = summary_json(self.result)["racers"]
        return racers

    def table(self) -> str:
        """The summary as the command line prints it."""
        from optrace.results.report import summary_table

        return summary_table(self.result)

    def warnings(self) -> list[str]:
        """One line per racer that diverged or left the plotted domain."""
        from optrace.results.report import warnings

        return warnings(self.result)

    def strict_failures(self) -> list[str]:
        """The racers that diverged or left the domain (what ``--strict`` fails on)."""
        from optrace.results.report import strict_failures

        return strict_failures(self.result)

    def frame_epochs(self, frames: int | None = None) -> np.ndarray:
        """The epochs the animation shows: ``frames`` of them evenly spaced, or as
        the config's ``animation`` says."""
        animation = self.race.config.animation
        return frame_epochs(self.result.epochs, frames or animation.frame_count(self.result.epochs))

    def drawing(self) -> Drawing:
        """Size, timing and scene options from the config's ``animation``."""
        from optrace.export.outputs import Drawing
        from optrace.render.options import SceneOptions

        animation = self.race.config.animation
        return Drawing(
            size=animation.size,
            interval=animation.interval,
            loop=animation.loop,
            options=SceneOptions.of(animation, self.result.dims),
        )

    def write(
        self,
        outputs: Sequence[Output],
        files: Mapping[Output, Any],
        frames: int | None = None,
        epoch: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        """Write ``outputs`` into their opened atomic ``files`` (see
        :func:`optrace.export.outputs.opened`) and commit them all."""
        from optrace.export.outputs import write_outputs

        write_outputs(
            self.result,
            {out: files[out] for out in outputs},
            self.drawing(),
            self.frame_epochs(frames),
            epoch=self._epoch(epoch),
            progress=progress,
        )

    def save(
        self,
        *paths: str | os.PathLike[str],
        epoch: int | None = None,
        frames: int | None = None,
        progress: bool = False,
    ) -> list[Path]:
        """Write the race to files, chosen by suffix: ``.gif`` ``.mp4`` (rendered
        once for all of them), ``.png`` ``.svg`` ``.pdf`` (a still), ``.html``
        (the player), ``.csv`` ``.json`` (the traces). Each file appears whole or not at all.

        A still's name whose stem is ``basins`` or ends in ``-basins`` or ``_basins``
        (``basins.png``, ``himmelblau_basins.svg``) asks for a swarm's basins map
        instead: one panel per racer, each start coloured by the known minimum it
        reached. A race with one start has none, and is refused.

        Args:
            *paths: One or more files.
            epoch: The epoch a still shows (default: the last).
            frames: Show this many evenly spaced epochs in an animation.
            progress: A progress bar on stderr while rendering.

        Returns:
            The paths written.

        Examples:
            >>> run = Race(function="quartic", starts={"grid": 8}, epochs=20,
            ...            racers=[Racer("SGD", lr=0.01)]).run()
            >>> import tempfile, pathlib
            >>> folder = pathlib.Path(tempfile.mkdtemp())
            >>> [p.name for p in run.save(folder / "race.png", folder / "race-basins.png")]
            ['race.png', 'race-basins.png']
        """
        from optrace.export.outputs import Output, check_basins, check_outputs, kind_of, opened

        if not paths:
            raise UsageError("save: give at least one path, e.g. run.save('race.gif')")
        outputs = [Output(kind_of(Path(p)), Path(p)) for p in paths]
        animation = self.race.config.animation
        check_outputs(outputs, animation.size, animation.scale)
        first = self.result.traces[0]
        check_basins(outputs, first.x.shape[0] // first.repeats)
        self._epoch(epoch)
        with opened(outputs) as files:
            if progress:
                with progress_bar("rendering", len(self.frame_epochs(frames))) as advance:
                    self.write(outputs, files, frames, epoch, advance)
            else:
                self.write(outputs, files, frames, epoch)
        return [out.path for out in outputs]

    def _epoch(self, epoch: int | None) -> int | None:
        if epoch is not None and not 0 <= epoch <= self.result.epochs:
            raise UsageError(
                f"epoch: {epoch} is not an epoch of this race (0 to {self.result.epochs})"
            )
        return epoch

    def show(
        self, frames: int | None = None, stop_requested: Callable[[], bool] | None = None
    ) -> None:
        """Play the race in a Qt window; return when it is closed (needs a display
        and the ``qt`` extra).

        Args:
            frames: Show this many evenly spaced epochs (default: as the config says).
            stop_requested: Asked every 50 ms while the window is open; when it says
                True the window closes (the command line wires SIGINT and SIGTERM to it).
        """
        from optrace.export.window import check_display, show

        check_display()
        show(self.result, self.drawing(), self.frame_epochs(frames), stop_requested=stop_requested)

    def _repr_html_(self) -> str:
        """The race as its HTML player, for Jupyter: scoped, so that several players
        on one page do not interfere; rendered once and cached."""
        if self._html is None:
            from optrace.export.html import player_html

            self._html = player_html(self.result, self.drawing(), self.frame_epochs(), page=False)
        return self._html

    def __repr__(self) -> str:
        labels = ", ".join(t.label for t in self.result.traces)
        return f"<optrace.RaceRun {self.result.title!r}: {labels}; {self.result.epochs} epochs>"


def _function_of(text: str) -> Any:
    """A word (``rosenbrock``) is a built-in function's name; anything else (``x**2``,
    ``sin(x) + y``) is an expression."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", text) and text not in ("x", "y"):
        return text
    return {"expr": text}


def _lists(value: Any) -> Any:
    return [_lists(v) for v in value] if isinstance(value, (tuple, list)) else value
