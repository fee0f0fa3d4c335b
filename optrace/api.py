"""The Python API: describe a race, run it, look at it, save it.

A :class:`Race` is a checked config (from YAML, a dict or keywords), a
:class:`RaceRun` its result. Everything optrace does goes through these two:
the command line is one client of them, a notebook another.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from optrace._core.atomic import AtomicFile, Output, check_names, opened
from optrace._core.errors import ConfigError, UsageError
from optrace._core.frames import frame_epochs
from optrace._core.progress import progress_bar
from optrace.engine import cost
from optrace.export import outputs as race_outputs
from optrace.export.drawing import Drawing
from optrace.export.outputs import ANIMATIONS, check_basins, check_outputs, check_sweep
from optrace.render.options import SceneOptions
from optrace.results import report
from optrace.results.axis import by_evaluations
from optrace.results.landscape import Landscape
from optrace.results.trace import RaceResult, Trace
from optrace.spec.loading import load_document, parse_config
from optrace.spec.model import RaceConfig

# The engine and tuning load torch: they are imported where a race is planned or
# tuned, so that ``import optrace`` and building a Racer stay light.
if TYPE_CHECKING:
    from optrace.engine.plan import RacePlan
    from optrace.tune.tuner import TrialRecord, TuningResult

Progress = Callable[[int], None]
#: A trace's arrays beside ``x`` and ``loss``, one value per epoch of each run.
ONE_PER_EPOCH = (
    "lr",
    "y",
    "evaluations",
    "plane_loss",
    "off_plane",
    "test_loss",
    "test_accuracy",
)
#: Files to write: paths (the kind chosen by suffix) or :class:`Output`\ s.
Files = Iterable[str | os.PathLike[str] | Output]


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
        self.config = parse_config(_fields(fields))
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.source: str | None = None
        self.document: Mapping[str, Any] | None = None

    @classmethod
    def from_config(
        cls,
        config: RaceConfig,
        base_dir: str | os.PathLike[str] | None = None,
        source: str | None = None,
        document: Mapping[str, Any] | None = None,
    ) -> Race:
        """A race from an already validated config (``source`` names it in errors;
        ``document`` is the YAML as read, so that a tuned config keeps its keys' order)."""
        race = cls.__new__(cls)
        race.config = config
        race.base_dir = Path(base_dir) if base_dir is not None else None
        race.source = source
        race.document = document
        return race

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> Race:
        """Read a config file: the same checks and messages as ``optrace run``.

        Examples:
            >>> Race.from_yaml("configs/seed.yaml").config.epochs
            100
        """
        file = Path(path)
        document, config = load_document(file)
        return cls.from_config(config, file.parent, str(file), document)

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
        optimizer built and stepped once on a throwaway copy); once per race.

        Args:
            limits: Refuse a race or animation too large for this machine.

        Raises:
            ConfigError: The first problem, naming its key (and the file).
        """
        from optrace.engine.plan import prepare  # torch (see the imports above)

        key = bool(limits)
        if key not in self._plans:
            with _in_file(self.source):
                self._plans[key] = prepare(self.config, self.base_dir, limits)
        return self._plans[key]

    @cached_property
    def _plans(self) -> dict[bool, RacePlan]:
        return {}

    def check(
        self,
        limits: bool = True,
        save: Files = (),
        frames: int | None = None,
        display: bool = False,
    ) -> None:
        """Check everything :meth:`run` would check with the same arguments, without
        running the race: raise its ConfigError or UsageError, or return."""
        outputs = _race_outputs(save)
        animation = self.config.animation
        check_outputs(outputs, animation.size, animation.scale)
        if display:
            # Qt (the qt extra) loads only when a window is asked for.
            from optrace.export.window import check_display

            check_display()
        plan = self.plan(limits)
        check_basins(outputs, len(plan.starts))
        check_sweep(outputs, sum(r.sweep is not None for r in self.config.racers))
        if frames is not None and limits:
            _check_frames(min(frames, plan.epochs + 1), animation.pixels)

    def run(
        self,
        progress: bool | Progress = False,
        limits: bool = True,
        save: Files = (),
        frames: int | None = None,
        display: bool = False,
    ) -> RaceRun:
        """Run every racer from every start; with ``save``, write files of the run.

        The files are checked and opened before the race starts, so a run whose
        outputs cannot land fails at once; they appear together when all are
        written, or none of them does.

        Args:
            progress: ``True`` for progress bars on stderr (racing, rendering), or a
                callable that hears of each racer-epoch.
            limits: Refuse a race too large for this machine.
            save: Files to write, chosen by suffix as :meth:`RaceRun.save` chooses.
            frames: Show this many evenly spaced epochs in an animation.
            display: Check first that a window can open (for :meth:`RaceRun.show`).

        Returns:
            The :class:`RaceRun`: traces, summary, and ways to show and save it.
        """
        from optrace.engine.loop import run as run_plan  # torch (see the imports above)

        outputs = _race_outputs(save)
        self.check(limits, outputs, frames, display)
        plan = self.plan(limits)
        with opened(outputs) as files:
            if progress is True:
                total = len(plan.racers) * len(plan.starts) * plan.repeats * plan.epochs
                with progress_bar("racing", total) as advance:
                    ran = RaceRun(self, run_plan(plan, advance), plan)
            else:
                ran = RaceRun(self, run_plan(plan, progress or None), plan)
            ran._write(files, frames, None, progress is True)
        return ran

    def tune(
        self,
        trials: int | None = None,
        storage: str | None = None,
        study: str | None = None,
        workers: int = 1,
        limits: bool = True,
        progress: bool | Progress = False,
        save: Files = (),
    ) -> Tuning:
        """Tune every racer with the same budget (``optrace tune``; the ``tune`` extra).

        Args:
            trials: Trials per racer, instead of the config's ``tune.trials``.
            storage: An Optuna storage: ``sqlite:///FILE``, ``journal:FILE`` or a
                database URL; a stored study goes on where it stopped.
            study: The studies' name in the storage (default: the config file's
                name, else ``optrace``).
            workers: Local processes sharing a journal or database storage.
            limits: Refuse a race too large for this machine.
            progress: ``True`` for a progress bar on stderr, or a callable that hears
                of each finished trial.
            save: Files to write, as :meth:`Tuning.save` chooses them; checked and
                opened before any trial runs.

        Returns:
            The :class:`Tuning`: the tuned race, and per racer its best values and trials.
        """
        return Tuning.of(self, trials, storage, study, workers, limits, progress, save)

    def __repr__(self) -> str:
        c = self.config
        what = _problem_name(c)
        return f"<optrace.Race {c.title!r}: {len(c.racers)} racers on {what}, {c.epochs} epochs>"


class Tuning:
    """What :meth:`Race.tune` gives: the tuned race, ready to run, and per tuned
    racer its best values and every trial.

    Attributes:
        race: The race with every tuned racer's best values set.
        source: The race as it was tuned.
        result: The tuning's record: settings, and per racer its trials, best and baseline.
    """

    def __init__(self, source: Race, result: TuningResult) -> None:
        self.source = source
        self.result = result
        self.race = Race.from_config(result.config, source.base_dir, source.source)
        if result.plan is not None:  # planned from the source's plan: no second probe
            self.race._plans[result.limits] = result.plan

    @classmethod
    def of(
        cls,
        race: Race,
        trials: int | None,
        storage: str | None,
        study: str | None,
        workers: int,
        limits: bool,
        progress: bool | Progress,
        save: Files,
    ) -> Tuning:
        """Tune ``race`` (see :meth:`Race.tune` for the arguments)."""
        from optrace.tune import outputs as tune_outputs  # torch (see the imports above)
        from optrace.tune.tuner import prepare_tuning, run_tuning

        outputs = _tune_outputs(save)
        try:
            import optuna  # noqa: F401  (the tune extra; loads only when tuning)
        except ModuleNotFoundError:
            raise UsageError("tuning needs Optuna: pip install 'optrace[tune]'") from None
        with _in_file(race.source):
            plan = prepare_tuning(race.config, race.base_dir, trials, limits, race.plan(limits))
        name = study or (Path(race.source).stem if race.source else "optrace")
        with opened(outputs) as files:
            if progress is True:
                with progress_bar("tuning", plan.settings.trials * len(plan.targets)) as advance:
                    result = run_tuning(plan, storage, name, workers, advance)
            else:
                result = run_tuning(plan, storage, name, workers, progress or None)
            tuning = cls(race, result)
            tune_outputs.write_outputs(result, files, race.document)
        return tuning

    @property
    def best(self) -> dict[str, dict[str, Any]]:
        """Per tuned racer's label, the best trial's values."""
        return self.result.best

    @property
    def trials(self) -> dict[str, tuple[TrialRecord, ...]]:
        """Per tuned racer's label, every finished trial (number, params, objective, state)."""
        return self.result.trials

    def report(self) -> dict[str, Any]:
        """The report: the settings and, per racer, its space, best, baseline and trials."""
        return self.result.report()

    def table(self) -> str:
        """Per racer its tuned values, their objective and the config's own, as the
        command line prints them."""
        from optrace.tune.outputs import table  # torch (see the imports above)

        return table(self.result)

    def save(self, *paths: str | os.PathLike[str]) -> list[Path]:
        """Write the tuning to files, chosen by suffix: ``.yaml`` ``.yml`` (the config
        with the tuned values), ``.json`` (the report), ``.png`` (each racer's objective
        against its lr). The files appear together, or none of them does.

        Returns:
            The paths written.
        """
        if not paths:
            raise UsageError("save: give at least one path, e.g. tuning.save('tuned.yaml')")
        from optrace.tune.outputs import write_outputs  # torch (see the imports above)

        outputs = _tune_outputs(paths)
        with opened(outputs) as files:
            write_outputs(self.result, files, self.source.document)
        return [out.path for out in outputs]

    def __repr__(self) -> str:
        best = "; ".join(f"{label} {values}" for label, values in self.best.items())
        return f"<optrace.Tuning of {len(self.best)} racers: {best}>"


class RaceRun:
    """A finished race: its traces and summary, shown inline or saved to files.

    Attributes:
        race: The race that ran.
        result: Its traces, per racer.
        plan: The plan it ran (every racer's resolved optimizer, its label and style).
    """

    def __init__(self, race: Race, result: RaceResult, plan: RacePlan) -> None:
        self.race = race
        self.result = result
        self.plan = plan
        self._html: str | None = None

    @cached_property
    def pictured(self) -> RaceResult:
        """The race as its pictures show it: along its epochs, or with ``animation:
        {axis: evaluations}`` along the gradient evaluations, one value per evaluation
        (see :func:`optrace.results.axis.by_evaluations`)."""
        if self.race.config.animation.axis == "evaluations":
            return by_evaluations(self.result)
        return self.result

    @cached_property
    def traces(self) -> dict[str, Trace]:
        """Per label, the racer's :class:`Trace`: numpy arrays ``x`` (``y`` in 2-D),
        ``loss``, ``evaluations`` (the gradients used by each epoch) and, with a
        schedule, ``lr``, one value per epoch (``epoch``); a swarm adds a leading
        axis of starts."""
        out = {}
        for trace in self.result.traces:
            if trace.x.shape[0] == 1:
                each: dict[str, Any] = {
                    key: None if getattr(trace, key) is None else getattr(trace, key)[0]
                    for key in ONE_PER_EPOCH
                }
                trace = replace(trace, x=trace.x[0], loss=trace.loss[0], **each)
            out[trace.label] = trace
        return out

    @property
    def landscape(self) -> Landscape | None:
        """A model race's plane (None for a function): ``origin`` (P,), ``directions``
        (2, P), ``explained`` (2,) for pca, the grid's axes ``alphas`` and ``betas``,
        and its training ``losses`` (len(betas), len(alphas))."""
        return self.result.landscape

    def summary(self) -> list[dict[str, Any]]:
        """Per racer, the fields of ``--summary`` JSON: final place and loss, best
        loss and epoch, the epoch within tolerance of the lowest minimum, ..."""
        racers: list[dict[str, Any]] = report.summary_json(self.result)["racers"]
        return racers

    def hyperparameters(self) -> dict[str, dict[str, Any]]:
        """Per label, the keywords its optimizer was built with: the constructor's
        defaults, then the racer's own values (torch's implementation switches such
        as ``foreach`` left out).

        Examples:
            >>> run = Race(function="quartic", epochs=2, racers=[Racer("SGD", lr=0.01)]).run()
            >>> run.hyperparameters()["SGD"]["lr"], run.hyperparameters()["SGD"]["momentum"]
            (0.01, 0)
        """
        from optrace.optim.hyperparameters import built_with  # torch (see the imports above)

        return {
            r.label: built_with(r.optimizer.cls, r.optimizer.hyperparameters)
            for r in self.plan.racers
        }

    def table(self) -> str:
        """The summary as the command line prints it."""
        return report.summary_table(self.result)

    def warnings(self) -> list[str]:
        """One line per racer that diverged or left the plotted domain."""
        return report.warnings(self.result)

    def strict_failures(self) -> list[str]:
        """The racers that diverged or left the domain (what ``--strict`` fails on)."""
        return report.strict_failures(self.result)

    def frame_epochs(self, frames: int | None = None) -> np.ndarray:
        """The epochs (or evaluations) the animation shows: ``frames`` of them evenly
        spaced, or as the config's ``animation`` says."""
        animation = self.race.config.animation
        last = self.pictured.epochs
        return frame_epochs(last, frames or animation.frame_count(last))

    def drawing(self) -> Drawing:
        """Size, timing and scene options from the config's ``animation``."""
        animation = self.race.config.animation
        return Drawing(
            size=animation.size,
            interval=animation.interval,
            loop=animation.loop,
            options=SceneOptions.of(animation, self.pictured.dims),
        )

    def save(
        self,
        *paths: str | os.PathLike[str] | Output,
        epoch: int | None = None,
        frames: int | None = None,
        progress: bool = False,
    ) -> list[Path]:
        """Write the race to files, chosen by suffix: ``.gif`` ``.mp4`` (rendered
        once for all of them), ``.png`` ``.svg`` ``.pdf`` (a still), ``.html``
        (the player), ``.csv`` ``.json`` (the traces). The files appear together
        when all are written, or none of them does.

        A still's name whose stem is ``basins`` or ends in ``-basins`` or ``_basins``
        (``basins.png``, ``himmelblau_basins.svg``) asks for a swarm's basins map
        instead: one panel per racer, each start coloured by the known minimum it
        reached. A race with one start has none, and is refused. Likewise a stem
        ``sweep``, ``*-sweep`` or ``*_sweep`` (``sweep.png``, ``lr_sweep.pdf``) asks
        for the sweep map: for each racer with a ``sweep:``, the final gap of every
        combination of its values (a heatmap; a curve for one key). A race without
        a sweep has none, and is refused.

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
        if not paths:
            raise UsageError("save: give at least one path, e.g. run.save('race.gif')")
        outputs = _race_outputs(paths)
        animation = self.race.config.animation
        check_outputs(outputs, animation.size, animation.scale)
        check_basins(outputs, len(self.plan.starts))
        check_sweep(outputs, len(self.result.sweeps))
        self._epoch(epoch)
        with opened(outputs) as files:
            self._write(files, frames, epoch, progress)
        return [out.path for out in outputs]

    def _write(
        self,
        files: Mapping[Output, AtomicFile],
        frames: int | None,
        epoch: int | None,
        progress: bool,
    ) -> None:
        """Write every output into its opened atomic file (committed by ``opened``);
        ``progress``: a bar on stderr while an animation renders."""
        if not files:
            return
        shown = self.frame_epochs(frames)
        animated = any(out.kind in ANIMATIONS for out in files)
        bar = progress_bar("rendering", len(shown)) if progress and animated else nullcontext()
        with bar as advance:
            race_outputs.write_outputs(
                self.result,
                dict(files),
                self.drawing(),
                shown,
                self._epoch(epoch),
                advance,
                self.pictured,
            )

    def _epoch(self, epoch: int | None) -> int | None:
        last, axis = self.pictured.epochs, self.pictured.axis
        if epoch is not None and not 0 <= epoch <= last:
            raise UsageError(
                f"epoch: {epoch} is not {'an' if axis[0] in 'aeiou' else 'a'} {axis} of this "
                f"race (0 to {last})",
                parameter="epoch",
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
        # Qt (the qt extra) loads only when a window is asked for.
        from optrace.export.window import check_display, show

        check_display()
        show(
            self.pictured, self.drawing(), self.frame_epochs(frames), stop_requested=stop_requested
        )

    def _repr_html_(self) -> str:
        """The race as its HTML player, for Jupyter: scoped, so that several players
        on one page do not interfere; rendered once and cached."""
        if self._html is None:
            # matplotlib loads only when a picture is drawn.
            from optrace.export.html import player_html

            self._html = player_html(self.pictured, self.drawing(), self.frame_epochs(), page=False)
        return self._html

    def __repr__(self) -> str:
        labels = ", ".join(t.label for t in self.result.traces)
        return f"<optrace.RaceRun {self.result.title!r}: {labels}; {self.result.epochs} epochs>"


@contextmanager
def _in_file(source: str | None) -> Iterator[None]:
    """A block whose ConfigErrors name the race's file, ``source``."""
    try:
        yield
    except ConfigError as exc:
        raise (exc.in_file(source) if source else exc) from None


def _check_frames(frames: int, pixels: tuple[int, int]) -> None:
    """Refuse a frame count whose animation would be too large (as ``frames``)."""
    try:
        cost.check_animation(frames, pixels)
    except ConfigError as exc:
        raise UsageError(f"frames: {exc.message}", parameter="frames") from None


def _race_outputs(files: Files) -> list[Output]:
    """Outputs of a race: each path's kind chosen by its suffix."""
    return _as_outputs(files, race_outputs.kind_of)


def _tune_outputs(files: Files) -> list[Output]:
    """Outputs of a tuning, checked by name: each path's kind chosen by its suffix."""
    from optrace.tune import outputs as tune_outputs  # torch (see the imports above)

    outputs = _as_outputs(files, tune_outputs.kind_of)
    check_names(outputs, tune_outputs.SUFFIXES, tune_outputs.NAMED)
    return outputs


def _as_outputs(files: Files, kind_of: Callable[[Path], str]) -> list[Output]:
    """Each file as an Output: given as one, or a path whose kind ``kind_of`` chooses."""
    return [f if isinstance(f, Output) else Output(kind_of(Path(f)), Path(f)) for f in files]


def _fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``Race(...)``'s keywords as the YAML holds them: a function's name or expression,
    racers as mappings, lists for tuples."""
    data = dict(fields)
    model = data.get("model")
    if model is not None and not isinstance(model, Mapping):
        # Your own module: its data, loss and the rest of the model block beside it.
        own = {"module": model}
        for key in ("data", "loss", "batch", "test", "target"):
            if key in data:
                own[key] = data.pop(key)
        if isinstance(own.get("data"), list):
            own["data"] = tuple(own["data"])
        data["model"] = own
    if isinstance(data.get("function"), str):
        data["function"] = _function_of(data["function"])
    if "racers" in data and isinstance(data["racers"], (list, tuple)):
        data["racers"] = [r.as_dict() if isinstance(r, Racer) else r for r in data["racers"]]
    for key in ("domain", "start"):
        if isinstance(data.get(key), tuple):
            data[key] = _lists(data[key])
    return data


def _problem_name(config: RaceConfig) -> str:
    """What a race races on, in a word or two."""
    if config.model is not None:
        data = config.model.data
        return (
            "your module"
            if config.model.own
            else f"a model on {data if isinstance(data, str) else data.get('csv')}"
        )
    function = config.function
    assert function is not None
    return function.name or function.expr or "a callable"


def _function_of(text: str) -> Any:
    """A word (``rosenbrock``) is a built-in function's name; anything else (``x**2``,
    ``sin(x) + y``) is an expression."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", text) and text not in ("x", "y"):
        return text
    return {"expr": text}


def _lists(value: Any) -> Any:
    return [_lists(v) for v in value] if isinstance(value, (tuple, list)) else value
