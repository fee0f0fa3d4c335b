"""Hyperparameter checks: a racer's keywords against the constructor's signature.

Each key must be a parameter of the constructor (or go to its ``**kwargs``), each
value of the kind its default has; a required parameter must be given, and one
that takes a torch.nn.Module means the optimizer cannot race at all.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

from optrace._core.errors import CannotRace, ConfigError
from optrace._core.jsonable import jsonable
from optrace._core.keys import child, did_you_mean


def first_parameter(cls: type) -> inspect.Parameter:
    """The constructor's first parameter: the params, or the optimizer a wrapper wraps."""
    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        params = []
    return params[0] if params else inspect.Parameter("params", inspect.Parameter.POSITIONAL_ONLY)


def constructor_parameters(cls: type) -> tuple[list[inspect.Parameter], bool]:
    """The hyperparameters of ``cls`` (all but the first, ``params``) and whether
    it takes ``**kwargs``."""
    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):  # a constructor without a signature takes anything
        return [], True
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
    named = [p for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    return named[1:], var_kw


def defaults(cls: type) -> dict[str, Any]:
    """Constructor defaults of ``cls`` (``inspect.Parameter.empty`` where none)."""
    params, _ = constructor_parameters(cls)
    return {p.name: p.default for p in params}


def annotation_name(parameter: inspect.Parameter) -> str:
    """The name of ``parameter``'s annotation (``float``, ``torch.nn.Module``), or ''."""
    annotation = parameter.annotation
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")


def wants_a_model(parameter: inspect.Parameter) -> bool:
    """Whether ``parameter`` takes a torch.nn.Module, which a race has none of."""
    return parameter.name == "model" or annotation_name(parameter).split(".")[-1] == "Module"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (tuple, list)):
        return "list"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "none"
    return "other"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_EXPECT = {"bool": "true or false", "number": "a number", "list": "a list", "text": "text"}


def _check_value(value: Any, default: Any, where: str) -> Any:
    """``value`` shaped like ``default``; YAML lists become tuples."""
    want, got = _kind(default), _kind(value)
    if want in _EXPECT and got != want:
        if want == "list" and got == "number" and isinstance(default, tuple):
            raise ConfigError(
                where,
                f"expected a list of {len(default)} values like {list(default)}, got {value!r}",
            )
        extra = " (write numbers without quotes)" if got == "text" and _is_number(value) else ""
        raise ConfigError(where, f"expected {_EXPECT[want]}, got {value!r}{extra}")
    if got == "number" and not math.isfinite(value):
        raise ConfigError(where, f"expected a finite number, got {value!r}")
    if isinstance(value, list):
        if isinstance(default, tuple) and len(default) != len(value):
            raise ConfigError(
                where, f"expected {len(default)} values like {list(default)}, got {len(value)}"
            )
        items = []
        for i, item in enumerate(value):
            sub = default[i] if isinstance(default, tuple) and i < len(default) else None
            items.append(_check_value(item, sub, f"{where}[{i}]"))
        return tuple(items)
    return value


_ANNOTATED = {"float": 0.0, "int": 0, "bool": False}


def _example(parameter: inspect.Parameter) -> Any:
    """A value of the kind ``parameter`` takes: its default, or for a required
    parameter one of its plain annotation (float, int, bool), else None."""
    if parameter.default is not inspect.Parameter.empty:
        return parameter.default
    return _ANNOTATED.get(annotation_name(parameter))


def check_hyperparameters(
    cls: type,
    name: str,
    given: Mapping[str, Any],
    path: str,
    noun: str = "hyperparameter",
    supplied: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Check names and value kinds of ``given`` against ``cls``'s constructor (whose
    first parameter, the params or the optimizer, optrace supplies, and also the
    parameters named in ``supplied``)."""
    params, var_kw = constructor_parameters(cls)
    by_name = {p.name: p for p in params}
    first = first_parameter(cls).name
    checked: dict[str, Any] = {}
    for key, value in given.items():
        where = child(path, key)
        if key == first or key in supplied:
            raise ConfigError(where, f"optrace supplies '{key}' itself; remove it")
        if key not in by_name:
            if var_kw:
                checked[key] = _check_value(value, None, where)
                continue
            hint = did_you_mean(key, list(by_name))
            takes = ", ".join(by_name) or "none"
            raise ConfigError(where, f"{name} has no {noun} '{key}'{hint}; it takes: {takes}")
        checked[key] = _check_value(value, _example(by_name[key]), where)
    missing = [
        p
        for p in params
        if p.default is inspect.Parameter.empty and p.name not in checked and p.name not in supplied
    ]
    for p in missing:
        if wants_a_model(p):
            raise CannotRace(
                child(path, p.name),
                name,
                f"it needs '{p.name}', a torch.nn.Module, and a race has no model",
            )
    if missing:
        raise ConfigError(child(path, missing[0].name), f"{name} needs '{missing[0].name}'; add it")
    return checked


#: Constructor keywords that choose torch's implementation, not the algorithm.
IMPLEMENTATION = ("foreach", "fused", "capturable", "differentiable")


def built_with(cls: type, given: Mapping[str, Any]) -> dict[str, Any]:
    """The keywords an optimizer ``cls`` is built with: its constructor's defaults,
    then the ``given`` values; implementation switches (:data:`IMPLEMENTATION`) and
    keywords without a default left out. Values are as JSON writes them."""
    used = {
        k: v
        for k, v in defaults(cls).items()
        if v is not inspect.Parameter.empty and k not in IMPLEMENTATION
    }
    used.update(given)
    return {k: jsonable(v) for k, v in used.items()}
