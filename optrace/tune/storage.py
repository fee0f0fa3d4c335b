"""Optuna storages by URL, and the trial queue that keeps every racer's budget exact.

A racer's budget of ``trials`` is a row of slots, 0 to ``trials - 1``; a trial fills
the slot of its number, or the one its ``optrace:slot`` attribute names. The first
process to create a racer's study queues one waiting trial per slot. Every process
(this one, ``--workers`` on one journal file, workers on other machines through one
database) claims queued trials one at a time, which the storage makes atomic, and
runs a trial only while it is the lowest-numbered live trial of its slot, so a slot
is filled once and a study never holds more than ``trials`` counted trials.

A claimed trial names its process (host, pid and a random token) and carries a
heartbeat that a thread refreshes. A running trial whose process is gone (on this
host, seen at once; elsewhere, no heartbeat for :data:`GRACE` seconds) is lost:
it is marked FAIL with ``optrace:lost`` and its slot is queued again with its
values, so a killed worker costs its trial's time and nothing else.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optrace._core.errors import OutputError, UsageError
from optrace.optim.probe import first_line

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

#: Seconds between the heartbeats of a running trial.
HEARTBEAT = 10.0
#: Seconds without a heartbeat after which a running trial of another host is lost.
#: Hosts that share a study need clocks that agree to well within this.
GRACE = 60.0
#: Seconds a process waits before it looks again at trials that others run.
POLL = 0.5

#: The system attributes a trial carries (and Optuna's ``fixed_params``: its queued values).
SLOT = "optrace:slot"
OWNER = "optrace:owner"
BEAT = "optrace:heartbeat"
LOST = "optrace:lost"
VOID = "optrace:void"
FIXED = "fixed_params"
ERROR = "optrace:error"
#: Times a slot's trial may be lost before the slot is filled by a failed trial: values
#: that kill their process every time (out of memory, a crash in an extension) must not
#: stop every run of the study for good.
RETRIES = 3

#: Tries at creating a database's tables, which a peer may be creating at once.
_SCHEMA_TRIES = 6


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
        return _rdb_storage(url)
    except Exception as exc:
        raise OutputError(
            f"storage: cannot open '{url}': {first_line(exc)}", parameter="storage"
        ) from None


def _rdb_storage(url: str) -> BaseStorage:
    """Optuna's RDBStorage for ``url``. Machines started together create its tables at
    once, and all but one then fail on a name the other just took (PostgreSQL's
    ``pg_type_typname_nsp_index``): tried again, the tables are there."""
    import optuna
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(_SCHEMA_TRIES):
        try:
            return optuna.storages.RDBStorage(url)
        except (IntegrityError, ProgrammingError):
            if attempt == _SCHEMA_TRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def sampler_for(seed: int, place: int) -> optuna.samplers.TPESampler:
    """The sampler that draws slot ``place``'s values: TPE seeded by the race's seed and
    the slot, so that every racer's slot k draws alike, and processes that share a
    study (workers, a resumed run) do not draw the same values twice.

    Examples:
        >>> sampler_for(0, 1)._rng.rng.random() != sampler_for(0, 2)._rng.rng.random()
        True
    """
    import numpy as np
    import optuna

    drawn = np.random.SeedSequence([seed, place]).generate_state(1)[0]
    return optuna.samplers.TPESampler(seed=int(drawn))


def open_study(storage: BaseStorage, name: str, seed: int, budget: int) -> tuple[optuna.Study, int]:
    """The study ``name``, its queue topped up to ``budget`` trials; and its id in the
    storage. Each trial's values are drawn when it is claimed (:func:`claim`)."""
    import optuna

    sampler = sampler_for(seed, 0)
    try:
        study = optuna.create_study(
            storage=storage, study_name=name, sampler=sampler, direction="minimize"
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(storage=storage, study_name=name, sampler=sampler)
    held = len(study.get_trials(deepcopy=False))
    for _ in range(held, budget):
        study.enqueue_trial({})
    return study, storage.get_study_id_from_name(name)


def slot(trial: FrozenTrial) -> int:
    """The slot of the budget that ``trial`` fills: its ``optrace:slot``, else its number."""
    return int(trial.system_attrs.get(SLOT, trial.number))


def live(trial: FrozenTrial) -> bool:
    """Whether ``trial`` may fill its slot: neither surplus (``optrace:void``) nor a
    lost trial, which failed with its process and was queued again."""
    from optuna.trial import TrialState

    attrs = trial.system_attrs
    return VOID not in attrs and not (trial.state == TrialState.FAIL and LOST in attrs)


def counted(trials: Sequence[FrozenTrial], budget: int) -> list[FrozenTrial]:
    """The finished trials that fill the budget, one per slot, in slot order.

    Examples:
        >>> import optuna
        >>> study = optuna.create_study()
        >>> for value in (3.0, 2.0, 1.0):
        ...     study.add_trial(optuna.trial.create_trial(value=value))
        >>> [t.value for t in counted(study.trials, budget=2)]
        [3.0, 2.0]
    """
    by_slot = _by_slot(trials)
    chosen = []
    for place in range(budget):
        done = [t for t in by_slot.get(place, ()) if t.state.is_finished()]
        if done:
            chosen.append(done[0])
    return chosen


def _by_slot(trials: Sequence[FrozenTrial]) -> dict[int, list[FrozenTrial]]:
    """The live trials of each slot, lowest number first: the first is the one to run."""
    by_slot: dict[int, list[FrozenTrial]] = {}
    for t in sorted(trials, key=lambda t: t.number):
        if live(t):
            by_slot.setdefault(slot(t), []).append(t)
    return by_slot


def finished(storage: BaseStorage, name: str, budget: int) -> int:
    """How many slots of study ``name``'s budget a finished trial fills (0 if no such
    study is stored yet)."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return 0
    return len(counted(storage.get_all_trials(study_id, deepcopy=False), budget))


def running(storage: BaseStorage, study_id: int, budget: int) -> bool:
    """Whether a slot of the budget waits on a trial that is running (here or elsewhere),
    which may yet be lost and queued again."""
    from optuna.trial import TrialState

    by_slot = _by_slot(storage.get_all_trials(study_id, deepcopy=False))
    return any(
        ts[0].state == TrialState.RUNNING
        for place, ts in by_slot.items()
        if place < budget and not any(t.state.is_finished() for t in ts)
    )


def claim(
    study: optuna.Study,
    storage: BaseStorage,
    study_id: int,
    budget: int,
    grace: float = GRACE,
    seed: int = 0,
    written: Mapping[str, Any] | None = None,
) -> optuna.trial.Trial | None:
    """The next queued trial of an unfilled slot, now RUNNING in this process and named
    as its own; None when no slot has one.

    First the queue is put right: lost trials (see :func:`lost`) are marked FAIL and
    their slots queued again with their values, surplus waiting trials (a slot's
    second, or beyond the budget) are voided, and a slot with no live trial is queued.

    Args:
        study: The study, as :func:`open_study` returned it.
        storage: Its storage.
        study_id: Its id in the storage.
        budget: Trials in the budget (slots 0 to ``budget - 1``).
        grace: Seconds without a heartbeat after which a trial of another host is lost.
        seed: The race's seed: slot k's values are drawn by :func:`sampler_for`.
        written: The values slot 0 races (the racer's values as written), whoever
            queued it and however often it is run again.
    """
    import optuna
    from optuna.trial import TrialState

    while True:
        trials = storage.get_all_trials(study_id, deepcopy=False)
        if _tidy(study, storage, study_id, trials, budget, grace):
            continue  # the queue changed: look again
        by_slot = _by_slot(trials)
        for place in sorted(p for p in by_slot if p < budget):
            first = by_slot[place][0]
            if first.state != TrialState.WAITING:
                continue  # running or finished
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, first.number)
            try:
                if not storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                    continue  # another process took it first
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            try:
                storage.set_trial_system_attr(trial_id, OWNER, this_process())
                storage.set_trial_system_attr(trial_id, BEAT, time.time())
                if place == 0 and written is not None and not first.system_attrs.get(FIXED):
                    storage.set_trial_system_attr(trial_id, FIXED, dict(written))
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # a peer took it for lost in that moment
            # A peer that queued the same slot at the same moment runs the lower number.
            again = _by_slot(storage.get_all_trials(study_id, deepcopy=False)).get(place, [])
            if again and again[0].number != first.number:
                _retire(storage, trial_id, VOID, f"slot {place} is filled by another trial")
                break
            study.sampler = sampler_for(seed, place)
            return optuna.trial.Trial(study, trial_id)
        else:
            return None


def _tidy(
    study: optuna.Study,
    storage: BaseStorage,
    study_id: int,
    trials: Sequence[FrozenTrial],
    budget: int,
    grace: float,
) -> bool:
    """Put the queue right by one kind of change (see :func:`claim`); whether any was
    made."""
    import optuna
    from optuna.trial import TrialState

    changed = False
    now = time.time()
    for t in trials:
        if t.state == TrialState.RUNNING and (why := lost(t, now, grace)):
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
            changed |= _retire(storage, trial_id, LOST, why, claimed=True)
    if changed:
        return True
    by_slot = _by_slot(trials)
    for place, ts in by_slot.items():
        for i, t in enumerate(ts):
            if t.state == TrialState.WAITING and (place >= budget or i > 0):
                trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
                why = "beyond the budget" if place >= budget else f"slot {place} is queued twice"
                changed |= _retire(storage, trial_id, VOID, why)
    if changed:
        return True
    for place in range(budget):
        if place in by_slot:
            continue
        before = [t for t in trials if slot(t) == place and t.state == TrialState.FAIL]
        if sum(LOST in t.system_attrs for t in before) >= RETRIES:
            # Counted as failed, so that the study can finish.
            study.add_trial(
                optuna.trial.create_trial(
                    state=TrialState.FAIL,
                    system_attrs={SLOT: place, ERROR: f"its process was lost {RETRIES} times"},
                )
            )
            changed = True
            continue
        values: dict[str, Any] = {}
        if before:  # run again as it would have run: its values, or those it was queued with
            last = max(before, key=lambda t: t.number)
            values = {**last.system_attrs.get(FIXED, {}), **last.params}
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.WAITING,
                system_attrs={SLOT: place, FIXED: values},
            )
        )
        changed = True
    return changed


def retire_lost(storage: BaseStorage, trial_id: int, why: str) -> bool:
    """Mark this process's running trial lost (FAIL, queued again with its values by
    the next :func:`claim`), as a killed process's trial is; whether it was."""
    return _retire(storage, trial_id, LOST, why, claimed=True)


def _retire(
    storage: BaseStorage, trial_id: int, mark: str, why: str, claimed: bool = False
) -> bool:
    """Mark a trial ``mark`` (LOST or VOID) and FAIL, once, whatever peers do at the same
    moment; whether this process did it. A waiting trial is claimed first, so that no
    peer runs it meanwhile; a running one (``claimed``) has its owner's claim."""
    import optuna
    from optuna.trial import TrialState

    try:
        if not claimed and not storage.set_trial_state_values(trial_id, TrialState.RUNNING):
            return False
        storage.set_trial_system_attr(trial_id, mark, why)
        # A journal or a database server turns every FAIL after the first away.
        return storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False  # finished meanwhile (by its owner, or a peer retired it)


def lost(trial: FrozenTrial, now: float | None = None, grace: float = GRACE) -> str | None:
    """Why running ``trial``'s process is taken for gone, or None while it may be alive.

    Gone: a process of this host that has ended (or an earlier process with this one's
    pid), or no heartbeat for ``grace`` seconds. A trial claimed without naming its
    owner (by an older optrace) is timed from its start.
    """
    now = time.time() if now is None else now
    owner = trial.system_attrs.get(OWNER)
    me = this_process()
    if isinstance(owner, dict) and owner.get("host") == me["host"]:
        pid = int(owner.get("pid", -1))
        if (pid == me["pid"] and owner.get("token") != me["token"]) or not _alive(pid):
            return f"process {pid} that ran it has ended"
    beat = trial.system_attrs.get(BEAT)
    if not isinstance(beat, (int, float)):
        start = trial.datetime_start
        beat = None if start is None else start.timestamp()
    if beat is not None and now - float(beat) > grace:
        return f"no heartbeat for {now - float(beat):.0f} s (grace period {grace:g} s)"
    return None


@contextmanager
def heartbeat(storage: BaseStorage, trial_id: int, interval: float = HEARTBEAT) -> Iterator[None]:
    """Refresh the heartbeat of running trial ``trial_id`` every ``interval`` seconds
    from a thread, while the block runs.

    Examples:
        >>> import optuna
        >>> storage = optuna.storages.InMemoryStorage()
        >>> study, study_id = open_study(storage, "s", seed=0, budget=1)
        >>> trial = claim(study, storage, study_id, budget=1)
        >>> claimed = storage.get_trial(trial._trial_id).system_attrs[BEAT]
        >>> with heartbeat(storage, trial._trial_id, interval=0.01):
        ...     time.sleep(0.05)
        >>> storage.get_trial(trial._trial_id).system_attrs[BEAT] > claimed
        True
    """
    import optuna

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                storage.set_trial_system_attr(trial_id, BEAT, time.time())
            except optuna.exceptions.UpdateFinishedTrialError:
                return  # a peer took it for lost: its result is no longer wanted
            except Exception:
                continue  # a storage that fails once may answer next time

    thread = threading.Thread(target=beat, name="optrace-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


_me: dict[str, Any] = {}


def this_process() -> dict[str, Any]:
    """This process as a trial's owner: host, pid and a token drawn once per process."""
    if _me.get("pid") != os.getpid():  # a new process (forked): a token of its own
        _me.update(host=_host(), pid=os.getpid(), token=uuid.uuid4().hex)
    return dict(_me)


def _host() -> str:
    """Where a pid names one process: this machine's name and, where Linux tells them,
    its boot id (a pid names a process only within one boot) and this process's pid
    namespace (containers that share a kernel and a name have their own pids)."""
    parts = [socket.gethostname()]
    try:
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        pass
    return "/".join(parts)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs (a zombie, killed but not yet
    waited for, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, under another user
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here: it exists
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
