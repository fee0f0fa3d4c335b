"""Tuning: every racer gets the same budget of Optuna trials over the same starts.

A trial races its racer from every tuning start at once with the engine's own
race (:func:`optrace.engine.loop.race_one`; one swarm tensor for an optimizer that
acts element by element) and scores the losses (:mod:`optrace.tune.objectives`).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from optrace._core.errors import ConfigError, OptraceError, UsageError
from optrace._core.jsonable import jsonable
from optrace.engine.labels import default_labels
from optrace.engine.plan import RacePlan, RacerPlan, bowl, prepare
from optrace.engine.race import race_one
from optrace.optim.noise import NoiseSpec
from optrace.optim.probe import first_line
from optrace.problems.objective import DTYPE
from optrace.results.axis import steps_within
from optrace.results.summary import Quartiles, quartiles
from optrace.spec.model import RaceConfig, RacerConfig
from optrace.spec.sweep import sweep_with
from optrace.spec.tune import MODEL_OBJECTIVES, RacerTune, TuneConfig
from optrace.tune.objectives import NEEDS_MINIMUM, score
from optrace.tune.space import Param, resolve_space
from optrace.tune.storage import (
    POLL,
    claim,
    counted,
    finished,
    heartbeat,
    live,
    open_storage,
    open_study,
    retire_lost,
    slot,
)

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage

#: How the report states the scoring of a racer that diverges or leaves the domain.
WORST = (
    "a trial whose racer diverges or leaves the domain at any start scores inf, the worst "
    "possible; a trial whose optimizer raises is FAIL"
)


#: How the report states what each racer's trial 0 is.
FIRST = (
    "trial 0 of each racer races its values as written when they lie inside its space "
    "(baseline.in_space); otherwise every trial is sampled"
)
#: How the report states which values each racer keeps.
CHOSEN = (
    "the lowest objective; a racer keeps its values as written (kept_as_written) when "
    "they lie inside its space and no trial beats them, a tie going to them"
)
#: How the report states the seeds of the reruns.
SEEDS = "seed + 1, ..., seed + rerun: the random tuning starts and the noise drawn afresh"


@dataclass(frozen=True)
class Target:
    """One racer to tune: where it is, how it races, and what is searched."""

    index: int
    label: str
    racer: RacerPlan
    params: tuple[Param, ...]

    def values(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Every searched keyword: ``params`` where given, else the racer's own value."""
        return {p.name: params.get(p.name, p.baseline) for p in self.params}

    @property
    def written(self) -> dict[str, Any] | None:
        """The racer's own values of the searched keywords when every one lies inside
        its range (so that they can be trial 0), else None."""
        own = self.values({})
        return own if all(p.contains(own[p.name]) for p in self.params) else None


def _tuning_config(config: RaceConfig, settings: TuneConfig, seed: int) -> RaceConfig:
    """The race that scores a trial: the tuning's starts and horizon (the race's own
    length, epochs or a budget of evaluations, unless tune.epochs says), drawn from
    ``seed``."""
    length = {} if settings.epochs is None else {"epochs": settings.epochs, "budget": None}
    # A model race starts from its initial weights: the seed draws those.
    starts = {} if config.model is not None else {"starts": settings.starts}
    return config.model_copy(update={**starts, "seed": seed, **length})


@dataclass(frozen=True)
class TuningPlan:
    """A config made ready to tune: the race plan, the tuning plan and the targets."""

    config: RaceConfig
    settings: TuneConfig
    race: RacePlan
    tuning: RacePlan
    fstar: float | None
    targets: tuple[Target, ...]
    folder: Path | None = None
    limits: bool = True

    def evaluate(self, target: Target, params: Mapping[str, Any]) -> float:
        """The objective of ``target`` raced with ``params`` over the tuning starts.

        The race stops at the first epoch at which any start diverged or left the
        domain: the trial then scores the worst, ``inf``, whatever the rest would do.
        A racer with gradient noise is raced with it, drawn from the plan's seed.
        """
        spec = target.racer.optimizer
        spec = replace(spec, hyperparameters={**spec.hyperparameters, **params})
        plan = self.tuning
        if plan.model is not None:
            return self._evaluate_model(replace(target.racer, optimizer=spec))
        box = (
            [plan.domain] if plan.function.ydomain is None else [plan.domain, plan.function.ydomain]
        )
        low = np.array([b[0] for b in box])
        high = np.array([b[1] for b in box])

        def worst(places: np.ndarray, losses: np.ndarray) -> bool:
            with np.errstate(invalid="ignore"):
                inside = (places >= low) & (places <= high)
            return not (inside.all() and np.isfinite(losses).all())

        noise = target.racer.noise
        ran = race_one(
            spec,
            plan.function.fn,
            plan.starts,
            plan.epochs,
            None,
            target.racer.schedule,
            plan.seed,
            # The racer's gradient noise, drawn as a race of these starts draws it.
            None
            if noise is None or noise.std == 0
            else NoiseSpec(
                noise.std, noise.relative, plan.seed, tuple((i, 0) for i in range(len(plan.starts)))
            ),
            stop_when=worst,
            budget=plan.evaluations,
        )
        loss = ran.loss
        if plan.evaluations is not None and not ran.stopped:
            # Scored along the work done: one loss per evaluation, each where the racer
            # stood after its last step within it (epochs-to-tolerance counts evaluations).
            assert ran.evaluations is not None and ran.steps is not None
            # Through the last step of every start, which may pass the budget.
            k = np.arange(max(plan.evaluations, int(ran.evaluations.max())) + 1)
            rows = np.arange(len(loss))[:, None]
            loss = loss[rows, steps_within(ran.evaluations, ran.steps, k)]
        return score(self.settings.objective, loss, self.fstar, plan.tolerance, ran.stopped)

    def _evaluate_model(self, racer: RacerPlan) -> float:
        """A model race's trial: ``racer`` trained once from the initial weights,
        scored by its final training loss, or minus its final test accuracy; ``inf``
        where it diverged."""
        from optrace.engine.model_race import race_model

        plan = self.tuning
        assert plan.model is not None
        ran = race_model(racer, plan.model, plan.epochs, plan.seed, budget=plan.evaluations)
        last = ran.steps
        if not np.isfinite(ran.loss[last]) or ran.failure is not None:
            return math.inf
        if self.settings.objective == "test-accuracy":
            assert ran.test_accuracy is not None
            return -float(ran.test_accuracy[last])
        return float(ran.loss[last])

    def reseeded(self, seed: int) -> TuningPlan:
        """This tuning with ``seed`` in place of the race's: its random tuning starts
        and its gradient noise drawn afresh, its function and racers as they are."""
        config = _tuning_config(self.config, self.settings, seed)
        return replace(self, tuning=prepare(config, self.folder, self.limits, like=self.race))

    def rerun(self, target: Target, params: Mapping[str, Any]) -> Rerun:
        """``target`` raced with ``params`` once per rerun seed (``seed + 1``, ...,
        ``seed + rerun``), each scored as a trial is."""
        seeds = tuple(self.config.seed + k for k in range(1, self.settings.rerun + 1))
        objectives = tuple(self.reseeded(seed).evaluate(target, params) for seed in seeds)
        return Rerun(seeds, objectives)


@dataclass(frozen=True)
class Rerun:
    """A racer's chosen values raced again with fresh seeds: how lucky was its trial?

    Attributes:
        seeds: The seed of each rerun.
        objectives: The objective of each, ``inf`` where it diverged.
    """

    seeds: tuple[int, ...]
    objectives: tuple[float, ...]

    @property
    def spread(self) -> Quartiles:
        """The median and quartiles of the objectives (None where infinite)."""
        return quartiles(np.array(self.objectives, dtype=float))

    def json(self) -> dict[str, Any]:
        """``{"seeds", "objectives", "diverged", "median", "q1", "q3", "iqr"}``: the
        quartiles as the summary's spread writes them."""
        q = self.spread
        return {
            "seeds": list(self.seeds),
            "objectives": jsonable(list(self.objectives)),
            "diverged": sum(not math.isfinite(v) for v in self.objectives),
            "median": q.median,
            "q1": q.q1,
            "q3": q.q3,
            "iqr": q.iqr,
        }


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial: its Optuna number, values, objective, state and duration."""

    number: int
    params: dict[str, Any]
    objective: float | None
    state: str
    seconds: float | None


@dataclass(frozen=True)
class TunedRacer:
    """One racer's tuning: the chosen values, the config's own values, and every trial.

    Attributes:
        best_params: The values chosen: the best trial's, or the config's own when
            ``kept_as_written``.
        in_space: The config's own values lie inside the space, and so were trial 0.
        baseline_trial: The trial that raced the config's own values (0), or None
            (outside the space, or a study begun without them).
        kept_as_written: No trial beat the config's own values (a tie goes to them),
            or none finished: the tuned config keeps them.
        rerun: The chosen values raced again with fresh seeds (``tune.rerun``).
    """

    index: int
    label: str
    optimizer: str
    space: dict[str, dict[str, Any]]
    best_params: dict[str, Any]
    best_objective: float
    baseline_params: dict[str, Any]
    baseline_objective: float
    trials: tuple[TrialRecord, ...]
    in_space: bool = False
    baseline_trial: int | None = None
    kept_as_written: bool = False
    rerun: Rerun | None = None

    def json(self) -> dict[str, Any]:
        """This racer as the report writes it: an objective of inf is null, with
        ``diverged: true`` beside it (the racer diverged or left the domain)."""
        return {
            "label": self.label,
            "optimizer": self.optimizer,
            "space": self.space,
            "best": {"params": _json(self.best_params), **_scored(self.best_objective)},
            "baseline": {
                "params": _json(self.baseline_params),
                **_scored(self.baseline_objective),
                "in_space": self.in_space,
                "trial": self.baseline_trial,
            },
            "kept_as_written": self.kept_as_written,
            **({} if self.rerun is None else {"rerun": self.rerun.json()}),
            "trials": [
                {
                    "number": t.number,
                    "params": _json(t.params),
                    **_scored(t.objective),
                    "state": t.state,
                    "seconds": t.seconds,
                }
                for t in self.trials
            ],
        }


def _scored(objective: float | None) -> dict[str, Any]:
    """``{"objective", "diverged"}``: null and true for inf; null and false for a
    trial that failed, which has no objective."""
    diverged = objective is not None and not math.isfinite(objective)
    return {"objective": jsonable(objective), "diverged": diverged}


@dataclass(frozen=True)
class TuningResult:
    """The outcome of :func:`tune_config`.

    Attributes:
        source: The config as given.
        config: The same config with every tuned racer's best values set.
        settings: How it was tuned, as the report states it.
        racers: The tuned racers, in config order.
        labels: Every racer's label, in config order (untuned ones too).
        plan: The plan of ``config``, made from the source's plan without resolving
            and probing its optimizers again (``limits`` says with which limits).
    """

    source: RaceConfig
    config: RaceConfig
    settings: dict[str, Any]
    racers: tuple[TunedRacer, ...]
    labels: tuple[str, ...] = field(default=())
    plan: RacePlan | None = None
    limits: bool = True

    @property
    def best(self) -> dict[str, dict[str, Any]]:
        """Per tuned racer's label, the best trial's values."""
        return {r.label: r.best_params for r in self.racers}

    @property
    def trials(self) -> dict[str, tuple[TrialRecord, ...]]:
        """Per tuned racer's label, every finished trial."""
        return {r.label: r.trials for r in self.racers}

    def report(self) -> dict[str, Any]:
        """``{"settings": {...}, "racers": [...]}``, as ``--report`` writes it."""
        return {"settings": self.settings, "racers": [r.json() for r in self.racers]}


def _json(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: jsonable(v) for k, v in params.items()}


def prepare_tuning(
    config: RaceConfig,
    folder: Path | None = None,
    trials: int | None = None,
    limits: bool = True,
    race: RacePlan | None = None,
) -> TuningPlan:
    """Check everything a tuning run needs before any trial runs.

    Args:
        config: A validated config; without a ``tune:`` block the defaults apply.
        folder: The config file's folder (for dotted optimizer paths).
        trials: Trials per racer, instead of ``tune.trials``.
        limits: Refuse a race too large for this machine (see optrace.engine.cost).
        race: The plan of ``config`` with these limits, if already made.

    Raises:
        ConfigError: At the key path of the first problem.
    """
    settings = config.tune or TuneConfig()
    if trials is not None:
        if trials < 1:
            raise UsageError(f"trials must be at least 1, got {trials}", parameter="trials")
        settings = settings.model_copy(update={"trials": trials})
    race = prepare(config, folder, limits) if race is None else race
    tuning_config = _tuning_config(config, settings, config.seed)
    try:
        tuning = prepare(tuning_config, folder, limits, like=race)
    except ConfigError as exc:
        if exc.path.startswith(("starts", "epochs")):
            raise ConfigError(f"tune.{exc.path}", exc.message) from None
        raise
    if tuning.model is not None:
        return _model_tuning(config, settings, race, tuning, folder, limits)
    if settings.objective == "test-accuracy":
        raise ConfigError(
            "tune.objective",
            f"test-accuracy measures a model race; {tuning.function.name} is a function: use "
            "'final-gap' or 'final-loss'",
        )
    fstar = tuning.function.minima[0].value if tuning.function.minima else None
    if fstar is None and settings.objective in NEEDS_MINIMUM:
        raise ConfigError(
            "tune.objective",
            f"{tuning.function.name} has no known minimum f*, so '{settings.objective}' "
            "cannot be measured; use 'final-loss'",
        )
    first = tuning.starts[0]
    start = torch.tensor(first if isinstance(first, tuple) else [first], dtype=DTYPE)
    targets = []
    for i, (racer, planned) in enumerate(zip(config.racers, tuning.racers, strict=True)):
        if racer.tune is False:
            continue
        own = isinstance(racer.tune, RacerTune)
        space = racer.tune.space if isinstance(racer.tune, RacerTune) else settings.space
        path = f"racers[{i}].tune.space" if own else "tune.space"
        params = resolve_space(
            space, planned.optimizer, path, f"racers[{i}]", tuning.function.fn, start
        )
        targets.append(Target(i, race.racers[i].label, planned, params))
    return TuningPlan(config, settings, race, tuning, fstar, tuple(targets), folder, limits)


def _model_tuning(
    config: RaceConfig,
    settings: TuneConfig,
    race: RacePlan,
    tuning: RacePlan,
    folder: Path | None,
    limits: bool,
) -> TuningPlan:
    """The tuning of a model race: its objective one a model can measure, each
    racer's space checked against its optimizer's constructor."""
    assert tuning.model is not None
    if settings.objective not in MODEL_OBJECTIVES:
        raise ConfigError(
            "tune.objective",
            f"a model race has no known minimum, so '{settings.objective}' cannot be "
            f"measured; use {' or '.join(repr(o) for o in MODEL_OBJECTIVES)}",
        )
    if settings.objective == "test-accuracy" and (
        tuning.model.X_test is None or tuning.model.classes is None
    ):
        raise ConfigError(
            "tune.objective",
            "test-accuracy needs held-out classes: give the model a test split "
            "(model: {test: 0.2}) of a classification, or use 'final-loss'",
        )
    start = torch.tensor([1.0, 1.0], dtype=DTYPE)
    targets = []
    for i, (racer, planned) in enumerate(zip(config.racers, tuning.racers, strict=True)):
        if racer.tune is False:
            continue
        own = isinstance(racer.tune, RacerTune)
        space = racer.tune.space if isinstance(racer.tune, RacerTune) else settings.space
        path = f"racers[{i}].tune.space" if own else "tune.space"
        # The bounds are probed on a small function: they are constructor keywords.
        params = resolve_space(space, planned.optimizer, path, f"racers[{i}]", bowl, start)
        targets.append(Target(i, race.racers[i].label, planned, params))
    return TuningPlan(config, settings, race, tuning, None, tuple(targets), folder, limits)


def study_name(prefix: str, target: Target) -> str:
    """The Optuna study of one racer: ``PREFIX:racers[INDEX]:LABEL``."""
    return f"{prefix}:racers[{target.index}]:{target.label}"


def work(
    plan: TuningPlan,
    storage: BaseStorage,
    study: str,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Run queued trials of every racer until every slot of every budget is filled.

    While trials that other processes run are unfinished, this process waits and looks
    again: one of them may be lost (its process killed) and queued again. A trial that
    raises is told FAIL. Ctrl-C or SIGTERM (any BaseException) tells the running
    trial FAIL too, then goes on up, so completed trials stay stored.
    """
    budget, seed = plan.settings.trials, plan.config.seed
    studies = []
    for target in plan.targets:
        name = study_name(study, target)
        opened, study_id = open_study(storage, name, seed, budget)
        studies.append((target, opened, study_id, name))
    while True:
        for target, opened, study_id, _ in studies:
            written = target.written
            while trial := claim(opened, storage, study_id, budget, seed=seed, written=written):
                value: float | None
                try:
                    with heartbeat(storage, trial._trial_id):
                        value = plan.evaluate(
                            target, {p.name: p.suggest(trial) for p in target.params}
                        )
                except Exception as exc:
                    said = first_line(exc)
                    print(
                        f"warning: racer '{target.label}': a trial failed: {said}", file=sys.stderr
                    )
                    value = None
                except BaseException:
                    # Interrupted (Ctrl-C, SIGTERM): not the trial's fault, so it is
                    # queued again with its values, as a killed process's trial is.
                    retire_lost(storage, trial._trial_id, "its process was interrupted")
                    raise
                if _tell(opened, trial, value) and progress is not None:
                    progress(1)
        # Done once every slot is filled; until then a peer's trial may be lost and
        # queued again, or a slot be between a lost trial and its retry.
        if all(finished(storage, name, budget) >= budget for *_, name in studies):
            return
        time.sleep(POLL)


def _tell(study: optuna.Study, trial: optuna.trial.Trial, value: float | None) -> bool:
    """Tell ``trial`` its ``value`` (None: FAIL); False when a peer took it for lost
    meanwhile (its retry counts instead)."""
    import optuna
    from optuna.trial import TrialState

    state = TrialState.FAIL if value is None else None  # None: Optuna checks the value
    try:
        told = study.tell(trial, value, state=state, skip_if_finished=True)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    return live(told)


def tune_config(
    config: RaceConfig,
    folder: Path | None = None,
    trials: int | None = None,
    storage: str | None = None,
    study: str = "optrace",
    workers: int = 1,
    limits: bool = True,
    progress: Callable[[int], None] | None = None,
) -> TuningResult:
    """Tune every racer of ``config`` with the same budget, and return the tuned config.

    Args:
        config: A validated config; its ``tune:`` block (or the defaults) says how.
        folder: The config file's folder (for dotted optimizer paths).
        trials: Trials per racer, instead of ``tune.trials``.
        storage: An Optuna storage URL (``sqlite:///FILE``, ``journal:FILE``, an RDB
            URL), or None for memory. A stored study goes on where it stopped.
        study: The prefix of the studies' names (one study per racer).
        workers: Processes that run trials; more than 1 needs a journal or database
            storage, and the order of trials (and so the result) may then vary.
        limits: Refuse a race too large for this machine.
        progress: Hears of each finished trial.

    Returns:
        A :class:`TuningResult`.

    Raises:
        ConfigError: The config or its tune block is invalid (nothing has run).
        OutputError: The storage cannot be reached.
    """
    plan = prepare_tuning(config, folder, trials, limits)
    return run_tuning(plan, storage, study, workers, progress)


def run_tuning(
    plan: TuningPlan,
    storage: str | None = None,
    study: str = "optrace",
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> TuningResult:
    """Run a prepared tuning (see :func:`tune_config` for the arguments)."""
    if workers < 1:
        raise UsageError(f"workers must be at least 1, got {workers}", parameter="workers")
    if workers > 1 and (storage is None or storage.startswith("sqlite:")):
        raise UsageError(
            "workers: more than one needs a storage the processes can share: "
            "journal:FILE (or a database server URL)",
            parameter="workers",
        )
    opened = open_storage(storage)
    if workers == 1:
        work(plan, opened, study, progress)
    else:
        for target in plan.targets:  # queue every budget before any worker starts
            open_study(opened, study_name(study, target), plan.config.seed, plan.settings.trials)
        assert storage is not None
        _run_workers(plan, storage, study, workers, opened, progress)
    return _collect(plan, opened, study, storage, workers)


def _job(plan: TuningPlan, storage: str, study: str) -> bytes:
    """What a worker process reads on stdin: a line of JSON naming the config's folder
    (where its own optimizers' modules are imported from), then the plan, pickled,
    so that the worker neither plans nor probes again."""
    try:
        pickled = pickle.dumps({"plan": plan, "storage": storage, "study": study})
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        raise UsageError(
            "workers: more than one needs a race that can be sent to other processes; "
            f"this one cannot ({exc}): define its function and optimizers in a module, "
            "or use one worker",
            parameter="workers",
        ) from None
    folder = None if plan.folder is None else str(plan.folder)
    return json.dumps({"folder": folder}).encode() + b"\n" + pickled


def _run_workers(
    plan: TuningPlan,
    storage: str,
    study: str,
    workers: int,
    opened: BaseStorage,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Start ``workers`` processes on one shared storage and wait for them all;
    ``progress`` hears of the trials they finish, read from the storage."""
    payload = _job(plan, storage, study)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(workers):
            process = subprocess.Popen(
                [sys.executable, "-m", "optrace.tune.worker"],
                stdin=subprocess.PIPE,
                env=os.environ.copy(),
            )
            assert process.stdin is not None
            process.stdin.write(payload)
            process.stdin.close()
            processes.append(process)
        names = [study_name(study, target) for target in plan.targets]

        def count() -> int:
            return sum(finished(opened, name, plan.settings.trials) for name in names)

        told = count()
        while any(p.poll() is None for p in processes):
            time.sleep(0.25)
            if progress is not None and (now := count()) > told:
                progress(now - told)
                told = now
        codes = [p.wait() for p in processes]
        failed = [c for c in codes if c > 0]
        if failed:
            raise OptraceError(
                f"a tuning worker failed (exit code {failed[0]}); see its message above"
            )
        if any(c < 0 for c in codes):
            # Killed by a signal (the OOM killer, kill -9): what it left, its running
            # trial queued again at once, is run here, as the other workers would have.
            work(plan, opened, study)
        if progress is not None and (now := count()) > told:
            progress(now - told)
    finally:
        for p in processes:
            if p.poll() is None:
                p.terminate()
        for p in processes:
            p.wait()


def _collect(
    plan: TuningPlan, storage: BaseStorage, study: str, url: str | None, workers: int
) -> TuningResult:
    """The finished trials of every racer, its best and its baseline, and the tuned config."""
    import optuna

    budget = plan.settings.trials
    tuned = []
    racers = list(plan.config.racers)
    for target in plan.targets:
        loaded = optuna.load_study(storage=storage, study_name=study_name(study, target))
        records = []
        slots = {}
        for t in counted(loaded.get_trials(deepcopy=False), budget):
            slots[slot(t)] = t.number
            records.append(
                TrialRecord(
                    number=t.number,
                    params=target.values(t.params),
                    objective=t.value if t.state == optuna.trial.TrialState.COMPLETE else None,
                    state=t.state.name,
                    seconds=None if t.duration is None else t.duration.total_seconds(),
                )
            )
        records_by = {r.number: r for r in records}
        baseline = target.values({})
        in_space = target.written is not None
        scored = {r.number: r.objective for r in records if r.objective is not None}
        # Slot 0 (trial 0, or its retry) raced the values as written, unless the
        # study was begun otherwise.
        first = slots.get(0)
        baseline_trial = (
            first if in_space and first in scored and records_by[first].params == baseline else None
        )
        if baseline_trial is not None:
            baseline_objective = scored[baseline_trial]
        else:
            baseline_objective = plan.evaluate(target, {})
        number = min(scored, key=lambda n: (scored[n], n)) if scored else None
        kept = number is None or (in_space and scored[number] >= baseline_objective)
        if kept or number is None:
            best_params, best_objective = baseline, baseline_objective
        else:
            best_params, best_objective = records_by[number].params, scored[number]
        rerun = plan.rerun(target, best_params) if plan.settings.rerun else None
        tuned.append(
            TunedRacer(
                index=target.index,
                label=target.label,
                optimizer=target.racer.optimizer.name,
                space={p.name: p.range.model_dump(exclude_defaults=True) for p in target.params},
                best_params=best_params,
                best_objective=best_objective,
                baseline_params=baseline,
                baseline_objective=baseline_objective,
                trials=tuple(records),
                in_space=in_space,
                baseline_trial=baseline_trial,
                kept_as_written=kept,
                rerun=rerun,
            )
        )
        if not kept:
            racer = dict(racers[target.index])
            if racer.get("sweep") is not None:
                racer["sweep"] = sweep_with(racer["sweep"], best_params)
            racers[target.index] = RacerConfig.model_validate({**racer, **best_params})
    tuned_config = plan.config.model_copy(update={"racers": racers})
    chosen = {r.index: r.best_params for r in tuned if not r.kept_as_written}
    return TuningResult(
        source=plan.config,
        config=tuned_config,
        settings=_settings(plan, url, study, workers, racers),
        racers=tuple(tuned),
        labels=tuple(r.label for r in plan.race.racers),
        plan=_tuned_plan(plan.race, chosen, tuned_config),
        limits=plan.limits,
    )


def _settings(
    plan: TuningPlan, url: str | None, study: str, workers: int, racers: list[RacerConfig]
) -> dict[str, Any]:
    """How the racers were tuned, as the report states it."""
    settings = plan.settings
    return {
        "trials": settings.trials,
        "first": FIRST,
        "chosen": CHOSEN,
        "rerun": {"times": settings.rerun, "seeds": SEEDS} if settings.rerun else None,
        "objective": settings.objective,
        "starts": settings.starts
        if isinstance(settings.starts, dict)
        else jsonable(settings.starts),
        "points": [jsonable(s) for s in plan.tuning.starts],
        "epochs": plan.tuning.epochs,
        "budget": None
        if plan.tuning.evaluations is None
        else {"evaluations": plan.tuning.evaluations},
        "seed": plan.config.seed,
        "tolerance": plan.tuning.tolerance,
        "minimum": plan.fstar,
        "function": (
            plan.tuning.model.description
            if plan.tuning.model is not None
            else plan.tuning.function.name
        ),
        "sampler": f"TPESampler(seed={plan.config.seed}), one study per racer",
        "worst": WORST,
        "storage": url,
        "study": study,
        "workers": workers,
        "order": "sequential: the same config gives the same trials"
        if workers == 1
        else f"{workers} workers: the order of trials, and so the result, may vary",
        "untuned": [plan.race.racers[i].label for i, r in enumerate(racers) if r.tune is False],
    }


def _tuned_plan(
    race: RacePlan, best: Mapping[int, Mapping[str, Any]], config: RaceConfig
) -> RacePlan:
    """The race's plan with each tuned racer's best values, as its trials raced them
    (:meth:`TuningPlan.evaluate`); labels made afresh, since they may name values."""
    racers = list(race.racers)
    for index, params in best.items():
        spec, sweep = racers[index].optimizer, racers[index].sweep
        merged = {**spec.hyperparameters, **params}
        racers[index] = replace(
            racers[index],
            optimizer=replace(spec, hyperparameters=merged),
            # A swept key that was tuned keeps its sweep, the tuned value among its values.
            sweep=None if sweep is None else sweep.around(params),
        )
    labels = default_labels(
        [r.optimizer for r in racers],
        [r.label for r in config.racers],
        [r.schedule for r in racers],
    )
    return replace(
        race,
        racers=tuple(replace(r, label=label) for r, label in zip(racers, labels, strict=True)),
    )
