"""A racer's search space: each ``tune.space`` keyword checked against its optimizer.

A keyword must be a constructor keyword of the racer's optimizer (with the same
did-you-mean as the racer's own keys). A number keyword takes ``low`` and ``high``;
a whole-number, true/false or text keyword takes ``choices``. The optimizer is then
built and stepped at every bound and every choice, so that a value it rejects is
reported before any trial runs.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch

from optrace._core.errors import ConfigError
from optrace._core.keys import child, did_you_mean
from optrace._core.types import Fn
from optrace.optim.hyperparameters import constructor_parameters
from optrace.optim.optimizers import OptimizerSpec
from optrace.optim.probe import first_line, probe
from optrace.spec.tune import SearchRange

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class Param:
    """One searched keyword: its name and range, and what the racer gives it untuned."""

    name: str
    range: SearchRange
    baseline: Any

    def suggest(self, trial: optuna.trial.Trial) -> Any:
        """Optuna's suggestion for this keyword in ``trial``."""
        r = self.range
        if r.choices is not None:
            return trial.suggest_categorical(self.name, list(r.choices))
        assert r.low is not None and r.high is not None
        return trial.suggest_float(self.name, r.low, r.high, log=r.log, step=r.step)

    def contains(self, value: Any) -> bool:
        """Whether Optuna would suggest ``value`` for this keyword: one of the
        choices, or a number within low and high (on the step's grid, with a step).

        Examples:
            >>> lr = Param("lr", SearchRange(low=1e-4, high=0.1, log=True), 1e-4)
            >>> lr.contains(1e-4), lr.contains(0.5), lr.contains(None)
            (True, False, False)
            >>> Param("m", SearchRange(low=0.0, high=0.9, step=0.3), 0.0).contains(0.45)
            False
        """
        from optuna.distributions import FloatDistribution

        r = self.range
        if r.choices is not None:
            # Optuna stores a choice by its index, so a value equal to no choice is outside.
            return any(type(value) is type(c) and value == c for c in r.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        assert r.low is not None and r.high is not None
        distribution = FloatDistribution(r.low, r.high, log=r.log, step=r.step)
        try:
            internal = distribution.to_internal_repr(value)
        except ValueError:  # NaN, or not above 0 on a log scale
            return False
        return distribution._contains(internal)


def _kind(parameter: inspect.Parameter) -> str:
    """``number``, ``choice`` (whole numbers, true/false, text) or ``list``."""
    default = parameter.default
    annotation = parameter.annotation
    text = annotation if isinstance(annotation, str) else str(annotation)
    if parameter.name == "lr":
        return "number"
    if isinstance(default, (tuple, list)):
        return "list"
    if isinstance(default, (bool, str)) or ("str" in text and "float" not in text):
        return "choice"
    if "float" in text or "Tensor" in text or isinstance(default, float):
        return "number"
    if isinstance(default, int) or "int" in text or "bool" in text or isinstance(default, str):
        return "choice"
    return "number"


def resolve_space(
    space: Mapping[str, SearchRange],
    spec: OptimizerSpec,
    path: str,
    racer: str,
    fn: Fn,
    start: torch.Tensor,
) -> tuple[Param, ...]:
    """Check ``space`` against ``spec``'s optimizer and probe it at every bound.

    Args:
        space: The keywords and their ranges, as written.
        spec: The racer's resolved optimizer, with the racer's own hyperparameters.
        path: Where the space is written (``tune.space`` or ``racers[1].tune.space``).
        racer: The racer's key path (``racers[1]``), named when the space is shared.
        fn: The objective, for the probe step.
        start: A start, for the probe step.

    Returns:
        One :class:`Param` per keyword, in the order written.
    """
    params, var_kw = constructor_parameters(spec.cls)
    by_name = {p.name: p for p in params}
    who = spec.name if path.startswith(racer) else f"{spec.name} ({racer})"
    own = "" if path.startswith(racer) else f", or give {racer} its own tune: {{space: ...}}"
    found = []
    for key, entry in space.items():
        where = child(path, key)
        if key not in by_name and not var_kw:
            hint = did_you_mean(key, list(by_name))
            takes = ", ".join(by_name) or "none"
            raise ConfigError(
                where, f"{who} has no hyperparameter '{key}'{hint}; it takes: {takes}{own}"
            )
        kind = _kind(by_name[key]) if key in by_name else "number"
        if kind == "list":
            raise ConfigError(
                where,
                f"{key} is a list like {list(by_name[key].default)}; a space entry searches "
                "one number: set the list on the racer instead",
            )
        if kind == "choice" and entry.choices is None:
            default = by_name[key].default
            example = [False, True] if isinstance(default, bool) else [default]
            raise ConfigError(
                where,
                f"{key} is not a real number: give it choices, e.g. choices: {json.dumps(example)}",
            )
        default = by_name[key].default if key in by_name else None
        baseline = spec.hyperparameters.get(key, default)
        if baseline is inspect.Parameter.empty:
            baseline = None
        values = list(entry.choices) if entry.choices is not None else [entry.low, entry.high]
        for value in values:
            trial = replace(spec, hyperparameters={**spec.hyperparameters, key: value})
            failure = probe(trial.build, [spec.mode], fn, start.to(spec.dtype)).failure
            if failure is not None:
                raise ConfigError(
                    where, f"{spec.name} rejects {key}={value!r}: {first_line(failure)}"
                )
        found.append(Param(key, entry, baseline))
    return tuple(found)
