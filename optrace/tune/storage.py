"""Optuna storages by URL, and the trial queue that keeps every racer's budget exact.

The first process to create a racer's study queues exactly ``trials`` waiting
trials. Every process (this one, ``--workers`` on one journal file, workers on
other machines through one database) claims queued trials one at a time, which
the storage makes atomic, so a trial number is run once and a study never holds
more than ``trials`` finished trials with a number below the budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optrace._core.errors import OutputError, UsageError
from optrace.optim.probe import first_line

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage


def open_storage(url: str | None) -> BaseStorage:
    """``None`` (in memory), ``sqlite:///FILE``, ``journal:FILE`` or an RDB URL.

    Raises:
        UsageError: The URL names no kind of storage optrace knows.
        OutputError: The storage cannot be reached or created.
    """
    import optuna

    if url is None:
        return optuna.storages.InMemoryStorage()
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url.removeprefix("journal:"))
        if not url.removeprefix("journal:"):
            raise UsageError(
                "storage: give a file after 'journal:', e.g. journal:study.log", parameter="storage"
            )
        if not path.parent.is_dir():
            raise OutputError(
                f"storage: cannot open '{url}': folder '{path.parent}' does not exist",
                parameter="storage",
            )
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        except OSError as exc:
            raise OutputError(
                f"storage: cannot open '{url}': {exc.strerror}", parameter="storage"
            ) from None
    if "://" not in url:
        raise UsageError(
            f"storage: '{url}' is not a storage URL; give sqlite:///FILE, journal:FILE "
            "or a database URL such as postgresql://host/db",
            parameter="storage",
        )
    if url.startswith("sqlite:///"):
        folder = Path(url.removeprefix("sqlite:///")).parent
        if not folder.is_dir():
            raise OutputError(
                f"storage: cannot open '{url}': folder '{folder}' does not exist",
                parameter="storage",
            )
    try:
        return optuna.storages.RDBStorage(url)
    except Exception as exc:
        raise OutputError(
            f"storage: cannot open '{url}': {first_line(exc)}", parameter="storage"
        ) from None


def open_study(
    storage: BaseStorage,
    name: str,
    seed: int,
    budget: int,
    first: Mapping[str, Any] | None = None,
) -> tuple[optuna.Study, int]:
    """The study ``name`` with TPE seeded by ``seed``, its queue topped up to ``budget``
    trials; and its id in the storage.

    Args:
        first: The values trial 0 tries (each racer's values as written), queued
            when the study holds no trial yet; by default TPE samples it too.
    """
    import optuna

    sampler = optuna.samplers.TPESampler(seed=seed)
    try:
        study = optuna.create_study(
            storage=storage, study_name=name, sampler=sampler, direction="minimize"
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(storage=storage, study_name=name, sampler=sampler)
    held = len(study.get_trials(deepcopy=False))
    for number in range(held, budget):
        study.enqueue_trial(dict(first) if number == 0 and first is not None else {})
    return study, storage.get_study_id_from_name(name)


def claim(
    study: optuna.Study, storage: BaseStorage, study_id: int, budget: int
) -> optuna.trial.Trial | None:
    """The next queued trial below the budget, now RUNNING in this process; None when
    there is none left."""
    import optuna
    from optuna.trial import TrialState

    for waiting in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
        if waiting.number >= budget:
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, waiting.number)
        try:
            if not storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                continue  # another process took it first
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        return optuna.trial.Trial(study, trial_id)
    return None


def finished(storage: BaseStorage, name: str, budget: int) -> int:
    """How many trials of study ``name`` below the budget have finished (0 if none
    is stored yet)."""
    import optuna

    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return 0
    done = storage.get_all_trials(
        study_id,
        deepcopy=False,
        states=(
            optuna.trial.TrialState.COMPLETE,
            optuna.trial.TrialState.FAIL,
            optuna.trial.TrialState.PRUNED,
        ),
    )
    return sum(t.number < budget for t in done)
