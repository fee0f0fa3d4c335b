"""Default labels: the optimizer's name, plus what tells same-named racers apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from optrace.optim.hyperparameters import constructor_parameters
from optrace.optim.optimizers import OptimizerSpec
from optrace.optim.schedules import ScheduleSpec


def _format(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_format(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_format(v) for v in value) + ")"
    return repr(value) if isinstance(value, (float, str)) else str(value)


def default_labels(
    specs: Sequence[OptimizerSpec],
    chosen: Sequence[str | None],
    schedules: Sequence[ScheduleSpec | None] | None = None,
) -> list[str]:
    """Labels for racers without one: the optimizer's name, plus the hyperparameters
    (and schedule) that differ within a group of same-named racers; ``#n`` where
    still equal."""
    schedules = schedules or [None] * len(specs)
    labels: list[str | None] = list(chosen)
    groups: dict[str, list[int]] = {}
    for i, (spec, label) in enumerate(zip(specs, chosen, strict=True)):
        if label is None:
            groups.setdefault(spec.name, []).append(i)
    for name, members in groups.items():
        if len(members) == 1 and name not in chosen:
            labels[members[0]] = name
            continue
        full = [_with_defaults(specs[i], schedules[i]) for i in members]
        keys: list[str] = []
        for hp in full:
            for key in hp:
                if key not in keys and len({_format(h.get(key)) for h in full}) > 1:
                    keys.append(key)
        for i, hp in zip(members, full, strict=True):
            parts = [f"{k}={hp[k] if k == 'schedule' else _format(hp.get(k))}" for k in keys]
            labels[i] = " ".join([name, *parts])
    taken: dict[str, int] = {}
    for i, label in enumerate(labels):
        assert label is not None
        if label in taken or (chosen[i] is None and label in chosen):
            n = 2
            while f"{label} #{n}" in labels or f"{label} #{n}" in taken:
                n += 1
            label = f"{label} #{n}"
            labels[i] = label
        taken[label] = i
    return [str(label) for label in labels]


def _with_defaults(spec: OptimizerSpec, schedule: ScheduleSpec | None) -> Mapping[str, Any]:
    params, _ = constructor_parameters(spec.cls)
    full = {p.name: p.default for p in params}
    full.update(spec.keywords())
    full["schedule"] = "none" if schedule is None else schedule.name
    return full
