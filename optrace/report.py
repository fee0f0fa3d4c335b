"""What a finished race says in words: the summary table, warnings, strict failures."""

from __future__ import annotations

from optrace.trace import RaceResult, Summary, summarize


def _number(value: float) -> str:
    return f"{value:.6g}"


def _note(summary: Summary, starts: int) -> str:
    notes = []
    if summary.diverged_at is not None:
        if starts == 1:
            notes.append(f"diverged at epoch {summary.diverged_at}")
        else:
            notes.append(
                f"{summary.diverged} of {starts} starts diverged, first at {summary.diverged_at}"
            )
    if summary.left_at is not None:
        if starts == 1:
            notes.append(f"left the domain at epoch {summary.left_at}")
        else:
            notes.append(
                f"{summary.left} of {starts} starts left the domain, first at {summary.left_at}"
            )
    return "; ".join(notes)


def summary_table(result: RaceResult) -> str:
    """Each racer's final x, final loss, best loss and the epoch of the best, aligned."""
    header = ["racer", "final x", "final loss", "best loss", "best epoch", ""]
    rows = [header]
    for trace in result.traces:
        s = summarize(trace, result.domain)
        rows.append(
            [
                s.label,
                _number(s.final_x),
                _number(s.final_loss),
                _number(s.best_loss),
                str(s.best_epoch),
                _note(s, trace.x.shape[0]),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:5], widths[1:5], strict=True)]
        lines.append("  ".join([*cells, row[5]]).rstrip())
    starts = result.traces[0].x.shape[0]
    if starts > 1:
        lines.append(f"({starts} starts: each row shows the start with the lowest final loss)")
    return "\n".join(lines)


def warnings(result: RaceResult) -> list[str]:
    """One line per racer that diverged or left the plotted domain."""
    lines = []
    for trace in result.traces:
        starts = len(trace.diverged_at)
        stopped = [e for e in trace.diverged_at if e is not None]
        left = [e for e in trace.left_domain_at(result.domain) if e is not None]
        if stopped and starts == 1:
            lines.append(
                f"warning: racer '{trace.label}' diverged at epoch {stopped[0]} "
                f"(x or loss not finite); it stops at epoch {stopped[0] - 1}"
            )
        elif stopped:
            lines.append(
                f"warning: racer '{trace.label}': {len(stopped)} of {starts} starts diverged "
                f"(x or loss not finite), the first at epoch {min(stopped)}; each stops there"
            )
        lo, hi = result.domain
        if left and starts == 1:
            lines.append(
                f"warning: racer '{trace.label}' left the domain [{lo}, {hi}] at epoch {left[0]}; "
                "it is drawn at the edge"
            )
        elif left:
            lines.append(
                f"warning: racer '{trace.label}': {len(left)} of {starts} starts left the domain "
                f"[{lo}, {hi}], the first at epoch {min(left)}; they are drawn at the edge"
            )
    return lines


def strict_failures(result: RaceResult) -> list[str]:
    """The racers that diverged or left the domain, for ``--strict``."""
    failed = []
    for trace in result.traces:
        s = summarize(trace, result.domain)
        what = [
            f"diverged at epoch {s.diverged_at}" if s.diverged_at is not None else "",
            f"left the domain at epoch {s.left_at}" if s.left_at is not None else "",
        ]
        if any(what):
            failed.append(f"'{trace.label}' " + " and ".join(w for w in what if w))
    return failed
