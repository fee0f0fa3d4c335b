"""What a finished race says in words: the summary table, warnings, strict failures."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from optrace._core.atomic import AtomicFile
from optrace._core.errors import OutputError
from optrace._core.jsonable import jsonable
from optrace._core.types import Minimum, describe_box
from optrace.results.basins import (
    LOST,
    NONE,
    OTHER,
    basins,
    describe_minimum,
    grouped,
    reached,
    shown_minima,
)
from optrace.results.summary import Quartiles, Spread, Summary, spread, summarize
from optrace.results.trace import RaceResult, Sweep, Trace, is_repeated, is_swarm, run_keys


def _number(value: float) -> str:
    return f"{value:.6g}"


def _percent(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.1%}"


def _place(s: Summary) -> str:
    x = _number(s.final_x)
    return x if s.final_y is None else f"{x}, {_number(s.final_y)}"


def minimum_json(m: Minimum) -> dict[str, float]:
    """A known minimum as JSON: its x (and y) and its value f."""
    return {"x": m.x, "f": m.value} if m.y is None else {"x": m.x, "y": m.y, "f": m.value}


def _runs(trace: Trace) -> str:
    """What a trace's rows are called: starts, or runs when starts are repeated."""
    return "runs" if trace.repeats > 1 else "starts"


def _note(summary: Summary, trace: Trace) -> str:
    starts = trace.x.shape[0]

    def said(count: int, first: int | None, what: str) -> str | None:
        if first is None:
            return None
        if starts == 1:
            return f"{what} at epoch {first}"
        return f"{count} of {starts} {_runs(trace)} {what}, first at {first}"

    notes = [
        said(summary.diverged, summary.diverged_at, "diverged"),
        said(summary.left, summary.left_at, "left the domain"),
    ]
    return "; ".join(n for n in notes if n)


def _median(q: Quartiles | None, never: str) -> str:
    if q is None:
        return "-"
    return never if q.median is None else _number(q.median)


def _iqr(q: Quartiles | None) -> str:
    if q is None or q.median is None:
        return "-"
    return "inf" if q.iqr is None else _number(q.iqr)


def _spread_cells(s: Spread) -> list[str]:
    gap = s.final_gap if s.final_gap is not None else s.final_loss
    return [
        _median(gap, "inf"),
        _iqr(gap),
        _median(s.reached_at, "never"),
        _iqr(s.reached_at),
    ]


def summary_table(result: RaceResult) -> str:
    """Per racer: final place, final loss, best loss and its epoch, the epoch it came
    within the tolerance of the lowest known minimum, its distance to the nearest
    known minimum and the gradient evaluations it used (with a budget of them,
    also the epochs it took); aligned, one line each. With a swarm or repeats, also
    the median and interquartile range, over all runs, of the final gap (final
    loss minus the lowest minimum) and of the epoch it was reached."""
    place = "final x" if result.dims == 1 else "final x, y"
    header = ["racer", place, "final loss", "best loss", "best epoch", "reached", "to min"]
    budget = result.evaluations is not None
    header += ["epochs", "evals"] if budget else ["evals"]
    model = result.landscape is not None
    if model:
        # No known minimum: the target loss, how far off the plane, the held-out part.
        header[header.index("to min")] = "off plane"
        tested = any(t.test_loss is not None for t in result.traces)
        classes = any(t.test_accuracy is not None for t in result.traces)
        header += [*(["test loss"] if tested else []), *(["test acc"] if classes else [])]
    many = is_swarm(result)
    if many:
        gap = "gap" if result.minima else "loss"
        header += [f"median {gap}", f"{gap} IQR", "median reached", "reached IQR"]
    rows = [[*header, ""]]
    for trace in result.traces:
        s = summarize(trace, result)
        cells = [
            s.label,
            _place(s),
            _number(s.final_loss),
            _number(s.best_loss),
            str(s.best_epoch),
            "never" if s.reached_at is None else str(s.reached_at),
            (
                ("-" if s.max_off_plane is None else f"{s.max_off_plane:.0%}")
                if model
                else ("-" if s.distance is None else f"{s.distance:.3g}")
            ),
            *([str(s.epochs)] if budget else []),
            "-" if s.evaluations is None else str(s.evaluations),
        ]
        if model:
            cells += ["-" if s.test_loss is None else _number(s.test_loss)] if tested else []
            cells += [_percent(s.test_accuracy)] if classes else []
        if many:
            cells += _spread_cells(spread(trace, result))
        rows.append([*cells, _note(s, trace)])
    columns = len(header)
    widths = [max(len(r[i]) for r in rows) for i in range(columns)]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:columns], widths[1:], strict=True)]
        lines.append("  ".join([*cells, row[columns]]).rstrip())
    first = result.traces[0]
    runs = first.x.shape[0]
    if first.repeats > 1:
        starts = runs // first.repeats
        lines.append(
            f"({starts} start{'s' if starts > 1 else ''} x {first.repeats} repeats: each row "
            "shows the run with the lowest final loss, and the median and IQR over all runs)"
        )
    elif runs > 1:
        lines.append(
            f"({runs} starts: each row shows the start with the lowest final loss, "
            "and the median and IQR over all starts)"
        )
    if many and result.minima:
        lines += basins_table(result)
    lines += sweeps_table(result)
    return "\n".join(lines)


def basins_table(result: RaceResult) -> list[str]:
    """Per racer of a swarm, how many runs ended at each known minimum (those a
    basins map colours one by one; any other together), at none, or were lost
    (diverged, or ended outside the domain): a heading and aligned lines."""
    shown = shown_minima(result)
    others = len(result.minima) - len(shown)
    header = ["", *(describe_minimum(result.minima[i]) for i in shown)]
    header += [f"{others} other minima"] if others else []
    header += ["no minimum", "diverged or outside"]
    rows = [header]
    for trace in result.traces:
        group = grouped(reached(trace, result), shown)
        counts = [int((group == i).sum()) for i in range(len(shown))]
        counts += [int((group == OTHER).sum())] if others else []
        counts += [int((group == NONE).sum()), int((group == LOST).sum())]
        rows.append([trace.label, *map(str, counts)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        f"where each of the {result.traces[0].x.shape[0]} {_runs(result.traces[0])} ends "
        f"(its final loss within "
        f"{result.tolerance:g} of the nearest known minimum's):"
    ]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return lines


def basins_json(trace: Trace, result: RaceResult) -> list[dict[str, Any]]:
    """A racer's basins as JSON: ``{"minimum": [x, y], "starts": N}`` (1-D ``[x]``) per
    known minimum some run reached, then ``{"minimum": null, "starts": N,
    "diverged": D, "outside": O}``: the runs that reached none, of them D diverged
    and O ended outside the domain. The counts add up to the racer's runs."""
    out: list[dict[str, Any]] = []
    for basin in basins(trace, result):
        m = basin.minimum
        if m is None:
            out.append(
                {
                    "minimum": None,
                    "starts": basin.starts,
                    "diverged": basin.diverged,
                    "outside": basin.outside,
                }
            )
        else:
            out.append({"minimum": [m.x] if m.y is None else [m.x, m.y], "starts": basin.starts})
    return out


def warnings(result: RaceResult) -> list[str]:
    """One line per racer that diverged or left the plotted domain, and one if
    starts are repeated without any noise to tell the repeats apart."""
    lines = []
    if is_repeated(result) and not any(t.noise and t.noise["std"] > 0 for t in result.traces):
        lines.append(
            f"warning: repeats: {result.traces[0].repeats} repeats but no racer has noise, so "
            "every repeat of a start is the same race; add e.g. 'noise: {std: 0.1}'"
        )
    for trace in result.traces:
        starts = len(trace.diverged_at)
        stopped = [e for e in trace.diverged_at if e is not None]
        left = [e for e in trace.left_domain_at(result.domain, result.ydomain) if e is not None]
        if trace.failure is not None:
            first = min(stopped) if stopped else 1
            lines.append(
                f"warning: racer '{trace.label}' stopped at epoch {first}: its optimizer "
                f"raised: {trace.failure}"
            )
        elif stopped and starts == 1:
            lines.append(
                f"warning: racer '{trace.label}' diverged at epoch {stopped[0]} "
                f"(x or loss not finite); it stops at epoch {stopped[0] - 1}"
            )
        elif stopped:
            lines.append(
                f"warning: racer '{trace.label}': {len(stopped)} of {starts} {_runs(trace)} "
                f"diverged (x or loss not finite), the first at epoch {min(stopped)}; "
                "each stops there"
            )
        box = describe_box(result.domain, result.ydomain)
        if left and starts == 1:
            lines.append(
                f"warning: racer '{trace.label}' left the domain {box} at epoch {left[0]}; "
                "it is drawn at the edge"
            )
        elif left:
            lines.append(
                f"warning: racer '{trace.label}': {len(left)} of {starts} {_runs(trace)} "
                f"left the domain {box}, the first at epoch {min(left)}; they are drawn at "
                "the edge"
            )
    return lines


def strict_failures(result: RaceResult) -> list[str]:
    """The racers that diverged or left the domain, for a strict run to refuse."""
    failed = []
    for trace in result.traces:
        s = summarize(trace, result)
        what = [
            f"diverged at epoch {s.diverged_at}" if s.diverged_at is not None else "",
            f"left the domain at epoch {s.left_at}" if s.left_at is not None else "",
        ]
        if any(what):
            failed.append(f"'{trace.label}' " + " and ".join(w for w in what if w))
    return failed


def _summary_fields(s: Summary) -> dict[str, Any]:
    return {
        "final_x": s.final_x,
        **({} if s.final_y is None else {"final_y": s.final_y}),
        "final_loss": s.final_loss,
        "best_loss": s.best_loss,
        "best_epoch": s.best_epoch,
        "reached_at": s.reached_at,
        "reached_at_evaluations": s.reached_at_evaluations,
        "epochs": s.epochs,
        "evaluations": s.evaluations,
        "nearest_minimum": jsonable(s.nearest_minimum),
        "distance_to_minimum": s.distance,
        **(
            {}
            if s.max_off_plane is None
            else {
                "max_off_plane": s.max_off_plane,
                "test_loss": s.test_loss,
                "test_accuracy": s.test_accuracy,
            }
        ),
    }


def _quartiles_json(q: Quartiles | None) -> dict[str, float | None] | None:
    if q is None:
        return None
    return {"median": q.median, "q1": q.q1, "q3": q.q3, "iqr": q.iqr}


def spread_json(s: Spread) -> dict[str, Any]:
    """A racer's spread over its runs as JSON; null stands for infinity (diverged, or
    never reached)."""
    return {
        "runs": s.runs,
        "final_gap": _quartiles_json(s.final_gap),
        "final_loss": _quartiles_json(s.final_loss),
        "reached_at": _quartiles_json(s.reached_at),
        "reached": s.reached,
    }


def sweep_json(sweep: Sweep, result: RaceResult) -> list[dict[str, Any]]:
    """Each combination of a sweep, in grid order: its ``params``, and how it finished
    (for a swarm, its start with the lowest final loss; ``diverged`` and
    ``left_domain`` count its runs that did)."""
    out = []
    for i, trace in enumerate(sweep.traces):
        s = summarize(trace, result)
        out.append(
            {
                "params": sweep.params(i),
                "final_loss": s.final_loss,
                "best_loss": s.best_loss,
                "reached_at": s.reached_at,
                "reached_at_evaluations": s.reached_at_evaluations,
                "diverged": s.diverged,
                "left_domain": s.left,
            }
        )
    return out


def best_combination(ended: Sequence[Summary]) -> int | None:
    """Of a sweep's combinations, how each ``ended``: the one with the lowest final
    loss among those none of whose runs diverged or left the domain (the earliest on
    a tie), or None if every one did."""
    finished = [
        (s.final_loss, i)
        for i, s in enumerate(ended)
        if s.diverged == 0 and s.left == 0 and math.isfinite(s.final_loss)
    ]
    return min(finished)[1] if finished else None


def sweeps_table(result: RaceResult) -> list[str]:
    """Per racer with a sweep, a line naming its best combination and the one as written."""

    def said(params: dict[str, Any]) -> str:
        return ", ".join(f"{k}={v:g}" for k, v in params.items())

    lines = []
    for sweep in result.sweeps:
        ended = [summarize(t, result) for t in sweep.traces]
        best = best_combination(ended)
        lost = sum(1 for s in ended if s.diverged or s.left)
        head = f"sweep of {sweep.label} ({len(sweep.traces)} combinations): "
        if best is None:
            lines.append(head + "every combination diverged or left the domain")
            continue
        written = ended[sweep.written].final_loss
        lines.append(
            head
            + f"best {said(sweep.params(best))}: final loss {_number(ended[best].final_loss)}; "
            + f"as written {said(sweep.params(sweep.written))}: {_number(written)}"
            + (f"; {lost} diverged or left the domain" if lost else "")
        )
    return lines


def summary_json(result: RaceResult) -> dict[str, Any]:
    """The finish line as a JSON-ready mapping: per racer and per run (start, and
    repeat with repeats); with a swarm or repeats, each racer's ``spread``."""
    racers = []
    repeated = is_repeated(result)
    for trace in result.traces:
        best = summarize(trace, result)
        sweep = result.sweep_of(trace.label)
        left = trace.left_domain_at(result.domain, result.ydomain)
        starts = [
            {
                **run_keys(trace, i, repeated),
                **_summary_fields(summarize(trace, result, i)),
                "diverged_at": trace.diverged_at[i],
                "left_domain_at": left[i],
            }
            for i in range(trace.x.shape[0])
        ]
        racers.append(
            {
                "label": trace.label,
                "optimizer": trace.optimizer,
                "schedule": trace.schedule,
                **({} if trace.noise is None else {"noise": dict(trace.noise)}),
                **{f"best_{k}": v for k, v in run_keys(trace, best.start, repeated).items()},
                **_summary_fields(best),
                "diverged": best.diverged,
                "left_domain": best.left,
                **({"spread": spread_json(spread(trace, result))} if is_swarm(result) else {}),
                "basins": basins_json(trace, result),
                **({"sweep": sweep_json(sweep, result)} if sweep is not None else {}),
                "starts": starts,
            }
        )
    lowest = result.minima[0] if result.minima else None
    land = result.landscape
    plane = (
        {}
        if land is None
        else {
            "target": result.target,
            "plane": {
                "kind": land.kind,
                "explained": None if land.explained is None else land.explained.tolist(),
                "max_off_plane": max(
                    (r["max_off_plane"] for r in racers if r["max_off_plane"] is not None),
                    default=None,
                ),
                "grid_examples": land.examples,
                "training_examples": land.total,
            },
        }
    )
    return {
        **plane,
        "function": result.function,
        "epochs": result.epochs,
        "budget": None if result.evaluations is None else {"evaluations": result.evaluations},
        "tolerance": result.tolerance,
        "known_minima": [minimum_json(m) for m in result.minima],
        "lowest_minimum": None if lowest is None else minimum_json(lowest),
        "racers": racers,
    }


def write_summary(result: RaceResult, out: AtomicFile) -> None:
    """Write :func:`summary_json` to ``out`` (floats round-trip exactly; strict JSON,
    a number that is not finite written null, see :func:`optrace._core.jsonable.jsonable`)."""
    try:
        with open(out.path, "w", encoding="utf-8") as fh:
            json.dump(jsonable(summary_json(result)), fh, indent=1, allow_nan=False)
            fh.write("\n")
    except OSError as exc:
        raise OutputError(f"cannot write '{out.target}': {exc.strerror}") from None
