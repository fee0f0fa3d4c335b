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
    runs = ["start", "repeat"] if is_repeated(result) else ["start"] if is_swarm(result) else []
    return ["racer", *swept_keys(result), *runs]


def swept_keys(result: RaceResult) -> list[str]:
    """Every key some racer sweeps, in the order the racers name them."""
    return list(dict.fromkeys(k for sweep in result.sweeps for k in sweep.keys))


def combinations(result: RaceResult, trace: Trace) -> list[tuple[dict[str, Any], Trace]]:
    """A racer's runs by combination: each of its sweep's with its swept values, or
    its own trace alone with none."""
    sweep = result.sweep_of(trace.label)
    if sweep is None:
        return [({}, trace)]
    return [(sweep.params(i), t) for i, t in enumerate(sweep.traces)]


#: A model race's columns after ``loss``, each a trace's array of that name.
MODEL_COLUMNS = ("plane_loss", "off_plane", "test_loss", "test_accuracy")


def model_columns(result: RaceResult) -> list[str]:
    """The model columns some racer of ``result`` records (none for a function)."""
    return [k for k in MODEL_COLUMNS if any(getattr(t, k) is not None for t in result.traces)]


def _counts(trace: Trace, start: int, last: int) -> list[int | None]:
    """A run's gradient evaluations by each epoch through ``last`` (None if not counted)."""
    if trace.evaluations is None:
        return [None] * (last + 1)
    counts: list[int | None] = trace.evaluations[start, : last + 1].tolist()
    return counts


def _rows(result: RaceResult) -> list[list[Any]]:
    swarm, repeated = is_swarm(result), is_repeated(result)
    keys = swept_keys(result)
    extra = model_columns(result)
    rows: list[list[Any]] = []
    for racer in result.traces:
        for params, trace in combinations(result, racer):
            swept = [params.get(k, "") for k in keys]
            for s, last in enumerate(trace.last_epoch):
                runs = list(run_keys(trace, s, repeated).values()) if swarm else []
                head = [trace.label, *swept, *runs]
                columns = [_counts(trace, s, last), trace.x[s, : last + 1].tolist()]
                if trace.y is not None:
                    columns.append(trace.y[s, : last + 1].tolist())
                columns.append(trace.loss[s, : last + 1].tolist())
                for key in extra:
                    values = getattr(trace, key)
                    columns.append(
                        [""] * (last + 1) if values is None else values[s, : last + 1].tolist()
                    )
                rows.extend(
                    [*head, e, *values] for e, values in enumerate(zip(*columns, strict=True))
                )
    return rows


def _runs_json(trace: Trace, result: RaceResult) -> list[dict[str, Any]]:
    repeated = is_repeated(result)
    left = trace.left_domain_at(result.domain, result.ydomain)
    return [
        {
            **run_keys(trace, s, repeated),
            "diverged_at": trace.diverged_at[s],
            "left_domain_at": left[s],
            "evaluations": _counts(trace, s, last),
            "x": trace.x[s, : last + 1].tolist(),
            **({} if trace.y is None else {"y": trace.y[s, : last + 1].tolist()}),
            "loss": trace.loss[s, : last + 1].tolist(),
            **({} if trace.lr is None else {"lr": trace.lr[s, : last + 1].tolist()}),
            **{
                key: getattr(trace, key)[s, : last + 1].tolist()
                for key in MODEL_COLUMNS
                if getattr(trace, key) is not None
            },
        }
        for s, last in enumerate(trace.last_epoch)
    ]


def traces_json(result: RaceResult) -> dict[str, Any]:
    """The traces as a JSON-ready mapping (floats round-trip exactly); a racer with a
    sweep adds ``sweep``: each combination's ``params`` and ``starts``, in grid order."""
    racers = []
    for trace in result.traces:
        ran = combinations(result, trace)
        sweep = (
            {}
            if len(ran) == 1 and not ran[0][0]
            else {"sweep": [{"params": p, "starts": _runs_json(t, result)} for p, t in ran]}
        )
        racers.append(
            {
                "label": trace.label,
                "optimizer": trace.optimizer,
                "hyperparameters": {k: jsonable(v) for k, v in trace.hyperparameters.items()},
                "schedule": trace.schedule,
                **({} if trace.noise is None else {"noise": dict(trace.noise)}),
                "starts": _runs_json(trace, result),
                **sweep,
            }
        )
    budget = None if result.evaluations is None else {"evaluations": result.evaluations}
    land = result.landscape
    plane = (
        {}
        if land is None
        else {
            "plane": {
                "kind": land.kind,
                "explained": None if land.explained is None else land.explained.tolist(),
            }
        }
    )
    return {
        "function": result.function,
        **plane,
        "epochs": result.epochs,
        "budget": budget,
        "racers": racers,
    }


def write_traces(result: RaceResult, out: AtomicFile) -> None:
    """Write CSV (``racer,epoch,evaluations,x,loss``, or ``...,x,y,loss`` in 2-D, with
    ``start`` after ``racer`` for a swarm, and ``start,repeat`` with repeats; with a
    sweep, a column per swept key after ``racer`` and every combination's rows; a
    model race adds ``plane_loss,off_plane`` and, with a test split,
    ``test_loss,test_accuracy`` after ``loss``; floats as repr) or JSON, by suffix."""
    try:
        with open(out.path, "w", encoding="utf-8", newline="") as fh:
            if out.target.suffix.lower() == ".json":
                json.dump(jsonable(traces_json(result)), fh, indent=1, allow_nan=False)
                fh.write("\n")
            else:
                writer = csv.writer(fh, lineterminator="\n")
                place = ["x"] if result.dims == 1 else ["x", "y"]
                writer.writerow(
                    [*_head(result), "epoch", "evaluations", *place, "loss", *model_columns(result)]
                )
                writer.writerows(_rows(result))
    except OSError as exc:
        raise OutputError(f"cannot write '{out.target}': {exc.strerror}") from None
