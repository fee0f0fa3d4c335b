"""Traces written as CSV or JSON, floats losslessly."""

from __future__ import annotations

import csv
import json
from typing import Any

from optrace._core.atomic import AtomicFile
from optrace._core.errors import OutputError
from optrace._core.jsonable import jsonable
from optrace.results.trace import RaceResult, is_repeated, is_swarm, run_keys


def _head(result: RaceResult) -> list[str]:
    if is_repeated(result):
        return ["racer", "start", "repeat"]
    return ["racer", "start"] if is_swarm(result) else ["racer"]


def _rows(result: RaceResult) -> list[list[Any]]:
    swarm, repeated = is_swarm(result), is_repeated(result)
    rows: list[list[Any]] = []
    for trace in result.traces:
        for s, last in enumerate(trace.last_epoch):
            head = [trace.label, *run_keys(trace, s, repeated).values()] if swarm else [trace.label]
            columns = [trace.x[s, : last + 1].tolist()]
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
    return {"function": result.function, "epochs": result.epochs, "racers": racers}


def write_traces(result: RaceResult, out: AtomicFile) -> None:
    """Write CSV (``racer,epoch,x,loss``, or ``racer,epoch,x,y,loss`` in 2-D, with
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
                writer.writerow([*_head(result), "epoch", *place, "loss"])
                writer.writerows(_rows(result))
    except OSError as exc:
        raise OutputError(f"cannot write '{out.target}': {exc.strerror}") from None
