"""A tuning process killed with SIGKILL mid-trial costs its trial's time and nothing
else: run again (or finished by the other workers), every racer ends with exactly
its budget of trials, on SQLite, a journal file and a real PostgreSQL server, and
two processes that join one PostgreSQL study at the same moment share its budget.

The stored studies are read here with Optuna alone; a trial's slot is its
``optrace:slot`` system attribute, else its number (docs/tuning.md)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("optuna", reason="tuning needs the 'tune' extra (optuna)")

import optuna
from optuna.trial import FrozenTrial

from optrace.spec.loading import parse_config
from optrace.tune import tune_config
from optrace.tune.storage import (
    claim,
    counted,
    heartbeat,
    lost,
    open_storage,
    open_study,
    slot,
    this_process,
)
from tests.conftest import ROOT

BUDGET = 4
NAME = "killed:racers[0]:Adam"


def config(tmp_path: Path, racers: int = 1) -> Path:
    """A race whose trials take about half a second each, none cut short by divergence."""
    space = {"lr": {"low": 1e-4, "high": 1e-3, "log": True}}
    doc = {
        "function": "rosenbrock",
        "start": [-1.2, 1.0],
        "epochs": 1000,
        "racers": [{"optimizer": "Adam", "lr": 5e-4}, {"optimizer": "RMSprop", "lr": 5e-4}][
            :racers
        ],
        "tune": {"trials": BUDGET, "starts": {"random": 16}, "space": space},
    }
    path = tmp_path / "killed.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def tune(path: Path, url: str, *more: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "optrace", "tune", str(path), "--storage", url, *more],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stored(url: str) -> Any:
    """The storage of ``url``, opened with Optuna alone."""
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    return url


def trials(url: str, name: str = NAME) -> list[FrozenTrial]:
    try:
        return optuna.load_study(storage=stored(url), study_name=name).get_trials()
    except KeyError:
        return []  # not created yet


def kill_mid_trial(url: str, processes: list[subprocess.Popen[str]]) -> FrozenTrial:
    """SIGKILL the process that runs the first trial seen running with its values
    drawn (one of ``processes`` or a worker of theirs), and return that trial."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = [
            t
            for t in trials(url)
            if t.state.name == "RUNNING" and t.params and "optrace:owner" in t.system_attrs
        ]
        if running:
            # Past its last write for a while (a journal writer killed while it holds
            # the file's lock leaves it to Optuna's 30 s grace period).
            time.sleep(0.1)
            os.kill(running[0].system_attrs["optrace:owner"]["pid"], signal.SIGKILL)
            break
        assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
        time.sleep(0.02)
    else:
        raise AssertionError("no trial was seen running")
    for p in processes:
        if p.pid == running[0].system_attrs["optrace:owner"]["pid"]:
            assert p.wait(timeout=10) == -signal.SIGKILL
    (killed,) = [t for t in trials(url) if t.number == running[0].number]
    # Killed before it finished; a surviving worker may have seen it lost already.
    assert killed.state.name == "RUNNING" or "optrace:lost" in killed.system_attrs
    return killed


def exactly_the_budget(url: str, name: str = NAME, killed: FrozenTrial | None = None) -> None:
    """``BUDGET`` complete trials filling slots 0 to BUDGET - 1, none running or waiting;
    any other trial failed, marked lost or void; a killed trial's retry ran its values."""
    every = trials(url, name)
    assert {t.state.name for t in every} <= {"COMPLETE", "FAIL"}
    complete = [t for t in every if t.state.name == "COMPLETE"]
    slot = {t.number: t.system_attrs.get("optrace:slot", t.number) for t in every}
    assert sorted(slot[t.number] for t in complete) == list(range(BUDGET))
    for t in every:
        if t.state.name == "FAIL":
            assert {"optrace:lost", "optrace:void"} & set(t.system_attrs), t
    if killed is not None:
        (was,) = [t for t in every if t.number == killed.number]
        assert was.state.name == "FAIL" and "has ended" in was.system_attrs["optrace:lost"]
        (retry,) = [t for t in complete if slot[t.number] == slot[killed.number]]
        assert retry.params == killed.params  # run again as it would have run


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_study_killed_mid_trial_resumes_to_exactly_its_budget(
    kind: str, tmp_path: Path, invoke: Any
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}" if kind == "sqlite" else f"journal:{tmp_path / 's.log'}"
    path = config(tmp_path)
    killed = kill_mid_trial(url, [tune(path, url)])
    # The same command again on this host: the killed process's trial is retried at
    # once, with no grace period to wait out.
    result = invoke("tune", path, "--storage", url, "--report", tmp_path / "r.json")
    assert result.exit_code == 0, result.stderr
    exactly_the_budget(url, killed=killed)
    report = json.loads((tmp_path / "r.json").read_text())
    assert [t["state"] for t in report["racers"][0]["trials"]] == ["COMPLETE"] * BUDGET


def test_a_running_trial_is_lost_once_its_process_ended_or_its_heartbeat_is_stale() -> None:
    """A trial running on another host counts as alive while its heartbeat is fresh and
    is lost once it is older than the grace period; one of this host is lost as soon
    as its process has ended."""
    storage = optuna.storages.InMemoryStorage()
    study, study_id = open_study(storage, "s", seed=0, budget=1)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, study.ask().number)

    def running(owner: dict[str, Any], beat: float) -> FrozenTrial:
        storage.set_trial_system_attr(trial_id, "optrace:owner", owner)
        storage.set_trial_system_attr(trial_id, "optrace:heartbeat", beat)
        return storage.get_trial(trial_id)

    now = time.time()
    elsewhere = {"host": "elsewhere", "pid": os.getpid(), "token": "x"}
    assert lost(running(elsewhere, now - 59), now, grace=60) is None
    assert lost(running(elsewhere, now - 61), now, grace=60) == (
        "no heartbeat for 61 s (grace period 60 s)"
    )
    with subprocess.Popen([sys.executable, "-c", ""]) as ended:
        pass  # it has ended, and been waited for
    here = {**elsewhere, "host": this_process()["host"]}
    assert lost(running({**here, "pid": os.getppid()}, now), now) is None
    assert lost(running({**here, "pid": ended.pid}, now), now) == (
        f"process {ended.pid} that ran it has ended"
    )
    # This process's own pid with another token: an earlier process that had this pid.
    assert lost(running({**here, "token": "earlier"}, now), now) is not None


TINY = {
    "function": "rosenbrock",
    "start": [-1.2, 1.0],
    "epochs": 20,
    "racers": [{"optimizer": "Adam", "lr": 0.01}],
    "tune": {"trials": BUDGET, "starts": [[-1.2, 1.0]]},
}


def test_tuning_retries_the_trials_that_a_lost_machine_left_running(tmp_path: Path) -> None:
    """What a machine that lost power leaves: trial 0 (queued with values of its own,
    as the config's values are) running before it drew any, trial 1 running with its
    value drawn; their last heartbeats an hour old. Each is run again as it would
    have run."""
    url = f"journal:{tmp_path / 's.log'}"
    race = parse_config(TINY)
    storage = open_storage(url)
    name = "lost:racers[0]:Adam"
    optuna.create_study(storage=storage, study_name=name).enqueue_trial({"lr": 0.005})
    _, study_id = open_study(storage, name, race.seed, BUDGET)
    for number in (0, 1):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
        assert storage.set_trial_state_values(trial_id, optuna.trial.TrialState.RUNNING)
        if number == 1:
            lr = optuna.distributions.FloatDistribution(1e-4, 10, log=True)
            storage.set_trial_param(trial_id, "lr", 0.003, lr)
        storage.set_trial_system_attr(trial_id, "optrace:owner", {"host": "gone", "pid": 1})
        storage.set_trial_system_attr(trial_id, "optrace:heartbeat", time.time() - 3600)
    result = tune_config(race, storage=url, study="lost")
    every = trials(url, name)
    ran = [t.params for t in result.racers[0].trials]
    assert len(ran) == BUDGET
    for number, values in ((0, {"lr": 0.005}), (1, {"lr": 0.003})):
        assert "no heartbeat for 36" in every[number].system_attrs["optrace:lost"]
        (retry,) = [t for t in every if t.system_attrs.get("optrace:slot") == number]
        assert retry.state.name == "COMPLETE" and retry.params == values
        assert ran[number] == values  # the report lists the retry in the slot's place


def test_a_queue_topped_up_twice_at_once_runs_exactly_its_budget(tmp_path: Path) -> None:
    """Two processes that top a new study's queue up at the same moment each queue the
    whole budget; two that queue a lost trial's slot again at once queue it twice.
    The surplus is voided, never run."""
    url = f"journal:{tmp_path / 's.log'}"
    race = parse_config(TINY)
    storage = open_storage(url)
    study, _ = open_study(storage, "twice:racers[0]:Adam", race.seed, BUDGET)
    for _ in range(BUDGET):
        study.enqueue_trial({})
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING,
            system_attrs={"optrace:slot": 1, "fixed_params": {}},
        )
    )
    result = tune_config(race, storage=url, study="twice")
    assert [t.number for t in result.racers[0].trials] == list(range(BUDGET))
    every = trials(url, "twice:racers[0]:Adam")
    assert len(every) == 2 * BUDGET + 1
    assert [t.state.name for t in every[BUDGET:]] == ["FAIL"] * (BUDGET + 1)
    assert [t.system_attrs["optrace:void"] for t in every[BUDGET:]] == (
        ["beyond the budget"] * BUDGET + ["slot 1 is queued twice"]
    )
    assert all(not t.params for t in every[BUDGET:])


# PostgreSQL: a throwaway cluster, made and removed by the module.


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return next(
        (d for d in candidates if (d / "initdb").is_file() and (d / "pg_ctl").is_file()), None
    )


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """The URL of a fresh PostgreSQL server on a free local port (its maintenance
    database ``postgres``), run as the ``postgres`` user when the tests run as root."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL's initdb and pg_ctl are not installed (scripts/install-system-deps.sh)"
        )
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="optrace-pg-"))
    if os.geteuid() == 0:  # initdb refuses root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = folder / "data"

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-F -p {port} -k {folder} -c listen_addresses=127.0.0.1"
        run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(folder / "log"),
            "-o",
            options,
            "-w",
            "start",
        )
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        if data.is_dir():
            subprocess.run(
                [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(folder, ignore_errors=True)


def database(server: str, name: str) -> str:
    """A new, empty database on ``server``: no Optuna tables yet."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def test_storages_opened_at_the_same_moment_create_the_schema_once(postgres: str) -> None:
    """As machines started together do: each makes its own connection and creates
    Optuna's tables if missing, at the same moment."""
    url = database(postgres, "schema")
    together = threading.Barrier(4)
    failures: list[BaseException] = []

    def open_it() -> None:
        together.wait()
        try:
            open_storage(url)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


@pytest.mark.parametrize("kind", ["sqlite", "journal", "postgresql"])
def test_a_running_trials_heartbeat_is_refreshed_from_its_thread(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = {
        "sqlite": f"sqlite:///{tmp_path / 's.db'}",
        "journal": f"journal:{tmp_path / 's.log'}",
    }.get(kind) or database(request.getfixturevalue("postgres"), "beat")
    storage = open_storage(url)
    study, study_id = open_study(storage, "beat", seed=0, budget=1)
    trial = claim(study, storage, study_id, budget=1)
    assert trial is not None
    claimed = storage.get_trial(trial._trial_id).system_attrs["optrace:heartbeat"]
    with heartbeat(storage, trial._trial_id, interval=0.05):
        time.sleep(0.5)
    last = storage.get_trial(trial._trial_id).system_attrs["optrace:heartbeat"]
    assert claimed + 0.3 < last <= time.time()
    time.sleep(0.2)  # and none after the block
    assert trials(url, "beat")[0].system_attrs["optrace:heartbeat"] == last


def test_two_processes_started_at_once_share_one_postgresql_study(
    postgres: str, tmp_path: Path
) -> None:
    url = database(postgres, "together")
    path = config(tmp_path)
    processes = [tune(path, url, "--study", "killed") for _ in range(2)]
    for p in processes:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    exactly_the_budget(url)


def test_a_worker_killed_on_postgresql_costs_nothing(
    postgres: str, tmp_path: Path, invoke: Any
) -> None:
    """One of two ``--workers`` killed mid-trial: the other finishes its trial, and the
    same command once more finds nothing left to run."""
    url = database(postgres, "killed")
    path = config(tmp_path)
    parent = tune(path, url, "--study", "killed", "--workers", "2")
    killed = kill_mid_trial(url, [parent])
    assert killed.system_attrs["optrace:owner"]["pid"] != parent.pid  # a worker
    _, err = parent.communicate(timeout=120)
    assert parent.returncode == 0, err
    exactly_the_budget(url, killed=killed)
    assert invoke("tune", path, "--storage", url, "--study", "killed").exit_code == 0
    exactly_the_budget(url, killed=killed)


def test_a_slot_lost_three_times_is_counted_failed_so_the_study_can_finish() -> None:
    """Values that kill their process every time: after three losses the slot is a
    failed trial, which counts, instead of a fourth try."""
    storage = optuna.storages.InMemoryStorage()
    study, study_id = open_study(storage, "s", seed=0, budget=2)
    gone = {"host": this_process()["host"], "pid": 2**22 + 7, "token": "x"}  # no such pid
    for _ in range(3):
        trial = claim(study, storage, study_id, budget=2)
        assert trial is not None and slot(storage.get_trial(trial._trial_id)) == 0
        # Its process died; the next claim retires it and queues slot 0 again, until
        # the third loss, after which the slot is a failed trial.
        storage.set_trial_system_attr(trial._trial_id, "optrace:owner", gone)
    done = claim(study, storage, study_id, budget=2)
    assert done is not None and slot(storage.get_trial(done._trial_id)) == 1
    study.tell(done, 1.0)
    assert claim(study, storage, study_id, budget=2) is None
    slots = {}
    for t in counted(storage.get_all_trials(study_id), budget=2):
        slots[slot(t)] = t
    assert sorted(slots) == [0, 1]
    failed = [t for t in slots.values() if t.state.name == "FAIL"]
    assert len(failed) == 1 and "lost 3 times" in failed[0].system_attrs["optrace:error"]
