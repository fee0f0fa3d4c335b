"""Traces written as CSV or JSON, floats losslessly."""

from __future__ import annotations

import csv
import json
from typing import Any

from optrace._core.atomic import AtomicFile
from optrace._core.errors import OutputError
from optrace._core.jsonable import jsonable
from optrace.results.trace import RaceResult, Trace, is_repeated, is_swarm, run_keys


def _head(result: RaceResult) -> list[str]:
    if is_repeated(result):
        return ["racer", "start", "repeat"]
    return ["racer", "start"] if is_swarm(result) else ["racer"]


def _counts(trace: Trace, start: int, last: int) -> list[int | None]:
    """A run's gradient evaluations by each epoch through ``last`` (None if not counted)."""
    if trace.evaluations is None:
        return [None] * (last + 1)
    counts: list[int | None] = trace.evaluations[start, : last + 1].tolist()
    return counts


def _rows(result: RaceResult) -> list[list[Any]]:
    swarm, repeated = is_swarm(result), is_repeated(result)
    rows: list[list[Any]] = []
    for trace in result.traces:
        for s, last in enumerate(trace.last_epoch):
            head = [trace.label, *run_keys(trace, s, repeated).values()] if swarm else [trace.label]
            columns = [_counts(trace, s, last), trace.x[s, : last + 1].tolist()]
            if trace.y is not None:
                columns.append(trace.y[s, : last + 1].tolist())
            columns.append(trace.loss[s, : last + 1].tolist())
            rows.extend([*head, e, *values] for e, values in enumerate(zip(*columns, strict=True)))
    return rows


def traces_json(result: RaceResult) -> dict[str, Any]:
    """The traces as a JSON-ready mapping (floats round-trip exactly)."""
    racers = []
    repeated = is_repeated(result)
    for trace in result.traces:
        left = trace.left_domain_at(result.domain, result.ydomain)
        runs = [
            {
                **run_keys(trace, s, repeated),
                "diverged_at": trace.diverged_at[s],
                "left_domain_at": left[s],
                "evaluations": _counts(trace, s, last),
                "x": trace.x[s, : last + 1].tolist(),
                **({} if trace.y is None else {"y": trace.y[s, : last + 1].tolist()}),
                "loss": trace.loss[s, : last + 1].tolist(),
                **({} if trace.lr is None else {"lr": trace.lr[s, : last + 1].tolist()}),
            }
            for s, last in enumerate(trace.last_epoch)
        ]
        racers.append(
            {
                "label": trace.label,
                "optimizer": trace.optimizer,
                "hyperparameters": {k: jsonable(v) for k, v in trace.hyperparameters.items()},
                "schedule": trace.schedule,
                **({} if trace.noise is None else {"noise": dict(trace.noise)}),
                "starts": runs,
            }
        )
    budget = None if result.evaluations is None else {"evaluations": result.evaluations}
    return {
        "function": result.function,
        "epochs": result.epochs,
        "budget": budget,
        "racers": racers,
    }


def write_traces(result: RaceResult, out: AtomicFile) -> None:
    """Write CSV (``racer,epoch,evaluations,x,loss``, or ``...,x,y,loss`` in 2-D, with
    ``start`` after ``racer`` for a swarm, and ``start,repeat`` with repeats; floats
    as repr) or JSON, by suffix."""
    try:
        with open(out.path, "w", encoding="utf-8", newline="") as fh:
            if out.target.suffix.lower() == ".json":
                json.dump(jsonable(traces_json(result)), fh, indent=1, allow_nan=False)
                fh.write("\n")
            else:
                writer = csv.writer(fh, lineterminator="\n")
                place = ["x"] if result.dims == 1 else ["x", "y"]
                writer.writerow([*_head(result), "epoch", "evaluations", *place, "loss"])
                writer.writerows(_rows(result))
    except OSError as exc:
        raise OutputError(f"cannot write '{out.target}': {exc.strerror}") from None
