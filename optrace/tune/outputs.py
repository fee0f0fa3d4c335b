"""What a tuning writes: the tuned config (YAML), the table, the report (JSON), the plot."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from optrace._core.atomic import AtomicFile, Output
from optrace._core.errors import UsageError
from optrace._core.jsonable import jsonable
from optrace.render.sensitivity import Panel, draw_sensitivity
from optrace.spec.sweep import sweep_with
from optrace.tune.tuner import TunedRacer, TuningResult

#: The files a tuning writes, by kind: the tuned config, the plot, the report.
SUFFIXES: dict[str, tuple[str, ...]] = {
    "tuned": (".yaml", ".yml"),
    "plot": (".png",),
    "report": (".json",),
}
#: How a message names each kind's file.
NAMED = {"tuned": "a tuned config", "plot": "a tuning plot", "report": "a tuning report"}


def kind_of(path: Path) -> str:
    """The kind of tuning output a path's suffix asks for.

    Examples:
        >>> kind_of(Path("tuned.yaml")), kind_of(Path("trials.JSON")), kind_of(Path("lr.png"))
        ('tuned', 'report', 'plot')
    """
    suffix = path.suffix.lower()
    for kind, suffixes in SUFFIXES.items():
        if suffix in suffixes:
            return kind
    known = " ".join(s for suffixes in SUFFIXES.values() for s in suffixes)
    raise UsageError(f"'{path}': unknown format '{suffix or path.name}'; known: {known}")


def write_outputs(
    tuning: TuningResult,
    files: Mapping[Output, AtomicFile],
    document: Mapping[str, Any] | None = None,
) -> None:
    """Write each tuning output into its opened atomic file.

    Args:
        tuning: The tuning.
        files: The outputs (kinds of :data:`SUFFIXES`) and their atomic files.
        document: The config as read from its YAML file (see :func:`tuned_yaml`).
    """
    for out, file in files.items():
        if out.kind == "tuned":
            file.path.write_text(tuned_yaml(tuning, document), encoding="utf-8")
        elif out.kind == "report":
            file.path.write_text(report_json(tuning), encoding="utf-8")
        else:
            plot(tuning, file.path)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}" if math.isfinite(value) else "inf (worst)"


def _values(values: Mapping[str, Any]) -> str:
    return " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )


def _plain(value: Any) -> Any:
    """``value`` as YAML holds it: mappings and lists of plain values, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(exclude_defaults=True))
    if isinstance(value, float):
        return value  # YAML holds infinity (.inf), unlike JSON
    return jsonable(value)


def _flow(value: Any) -> str:
    """``value`` as one line of YAML flow style."""
    text = yaml.safe_dump(_plain(value), default_flow_style=True, width=2**31 - 1, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def _document(tuning: TuningResult) -> dict[str, Any]:
    """The config as written, rebuilt from the model (for a config given as a model)."""
    doc: dict[str, Any] = tuning.source.model_dump(mode="json", exclude_unset=True)
    function = doc.get("function")
    if isinstance(function, dict) and list(function) == ["name"]:
        doc["function"] = function["name"]
    return doc


def _comment(tuned: TunedRacer, objective: str) -> str:
    space = "; ".join(f"{k} {_range(r)}" for k, r in tuned.space.items())
    trials = f"{len(tuned.trials)} trials over {space}"
    if tuned.kept_as_written:
        kept = f"# {objective} {_number(tuned.baseline_objective)} as written, kept: "
        if not tuned.in_space:
            return kept + f"none of {trials} finished"
        first = "trial 0 of " if tuned.baseline_trial == 0 else ""
        return kept + f"no trial beat it ({first}{trials})"
    written = "as written" if tuned.in_space else "as written, outside the space"
    return (
        f"# {objective} {_number(tuned.best_objective)} ({written}: "
        f"{_number(tuned.baseline_objective)}), the best of {trials}"
    )


def _chosen(tuned: TunedRacer) -> str:
    """Where a racer's values come from, as the table says it."""
    if tuned.kept_as_written:
        return "as written (no trial beat it)"
    best = min(
        (t for t in tuned.trials if t.objective is not None),
        key=lambda t: (t.objective, t.number),
    )
    return f"trial {best.number}" + ("" if tuned.in_space else " (as written outside the space)")


def _rerun(tuned: TunedRacer) -> str:
    """The median [q1, q3] of a racer's reruns."""
    if tuned.rerun is None:
        return "-"
    q = tuned.rerun.spread
    median, q1, q3 = (math.inf if v is None else v for v in (q.median, q.q1, q.q3))
    return f"{_number(median)} [{_number(q1)}, {_number(q3)}]"


def _range(r: Mapping[str, Any]) -> str:
    if "choices" in r:
        return f"one of {r['choices']}"
    kind = "log-uniform" if r.get("log") else "uniform"
    step = f" step {r['step']:g}" if "step" in r else ""
    return f"{kind} [{r['low']:g}, {r['high']:g}]{step}"


def tuned_yaml(tuning: TuningResult, document: Mapping[str, Any] | None = None) -> str:
    """The config with every tuned racer's best values set, a comment above each racer.

    Args:
        tuning: The outcome of :func:`optrace.tune.tune_config`.
        document: The config as read from its YAML file, so that its keys keep
            their order and form; by default rebuilt from ``tuning.source``.

    Returns:
        YAML text that :func:`optrace.spec.loading.load_config` reads back as
        ``tuning.config``.
    """
    doc = dict(document) if document is not None else _document(tuning)
    settings = tuning.settings
    by_index = {r.index: r for r in tuning.racers}
    starts = settings["starts"]
    where = (
        f"{next(iter(starts.values()))} {next(iter(starts))} starts"
        if isinstance(starts, dict)
        else f"{len(starts)} starts"
    )
    lines = [
        f"# Tuned by optrace tune: every tuned racer had the same {settings['trials']} trials",
        f"# ({settings['sampler']}), each scored by {settings['objective']},",
        f"# the mean over {where} (seed {settings['seed']}) of {settings['epochs']} epochs.",
        "# Each racer's values are its best trial's, or its own when no trial beat them",
        "# (its own, when inside the space, were trial 0); diverging or leaving the domain",
        "# scored inf.",
    ]
    for key, value in doc.items():
        if key != "racers":
            if isinstance(value, Mapping) and value:
                dumped = yaml.safe_dump(
                    {key: _plain(value)}, sort_keys=False, default_flow_style=None, width=100
                )
                lines.append(dumped.rstrip())
            else:
                lines.append(f"{key}: {_flow(value)}")
            continue
        lines.append("racers:")
        for i, racer in enumerate(value):
            tuned = by_index.get(i)
            written = dict(racer)
            if tuned is None:
                lines.append("  # raced as written (tune: false)")
            else:
                lines.append("  " + _comment(tuned, settings["objective"]))
                if not tuned.kept_as_written:
                    written.update(tuned.best_params)
                    if isinstance(written.get("sweep"), Mapping):
                        written["sweep"] = sweep_with(written["sweep"], tuned.best_params)
            lines.append("  - " + _flow(written))
    return "\n".join(lines) + "\n"


def table(tuning: TuningResult) -> str:
    """Per racer: its tuned values, their objective, the config's own, the trials, where
    the values come from and, with ``tune.rerun``, the median [q1, q3] of the reruns."""
    objective = tuning.settings["objective"]
    reruns = bool(tuning.settings.get("rerun"))
    rows = [["racer", "tuned values", objective, "as written", "trials", "chosen"]]
    if reruns:
        rows[0].append(f"rerun {objective} median [q1, q3]")
    by_label = {r.label: r for r in tuning.racers}
    for label in tuning.labels:
        tuned = by_label.get(label)
        if tuned is None:
            rows.append([label, "(tune: false)", "-", "-", "0", "-"] + ["-"] * reruns)
            continue
        rows.append(
            [
                label,
                _values(tuned.best_params),
                _number(tuned.best_objective),
                _number(tuned.baseline_objective),
                str(len(tuned.trials)),
                _chosen(tuned),
            ]
            + [_rerun(tuned)] * reruns
        )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def report_json(tuning: TuningResult) -> str:
    """The report as ``--report`` writes it: strict JSON, infinity written null."""
    return json.dumps(jsonable(tuning.report()), indent=1, allow_nan=False) + "\n"


def plot(tuning: TuningResult, path: Path, size: tuple[int, int] = (1000, 700)) -> None:
    """Each tuned racer's objective against its first number keyword (lr by default;
    log x when searched on a log scale), the chosen point marked; with a second
    keyword searched, also the best objective per bin of the first. Written as PNG."""
    panels = [_panel(r, key) for r in tuning.racers if (key := _axis_key(r)) is not None]
    objective = tuning.settings["objective"]
    keys = ", ".join(sorted({p.key for p in panels}))
    title = f"{objective} against {keys}: {tuning.settings['trials']} trials per racer"
    draw_sensitivity(path, panels, objective, title, size)


def _axis_key(racer: TunedRacer) -> str | None:
    numbers = [k for k, r in racer.space.items() if "choices" not in r]
    if "lr" in numbers:
        return "lr"
    return numbers[0] if numbers else None


def _panel(racer: TunedRacer, key: str) -> Panel:
    """One racer's finished trials as the plot draws them."""
    done = [t for t in racer.trials if t.objective is not None]
    space = racer.space[key]
    best = None
    if math.isfinite(racer.best_objective) and key in racer.best_params:
        best = (float(racer.best_params[key]), racer.best_objective)
    written = racer.baseline_params.get(key)
    baseline = None
    if isinstance(written, (int, float)) and math.isfinite(racer.baseline_objective):
        baseline = (float(written), racer.baseline_objective)
    return Panel(
        label=racer.label,
        key=key,
        xs=np.array([float(t.params[key]) for t in done]),
        ys=np.array([t.objective for t in done], dtype=float),
        low=space["low"],
        high=space["high"],
        log=bool(space.get("log")),
        binned=len(racer.space) > 1,
        best=best,
        baseline=baseline,
    )
