"""Optimizers: a name or dotted path -> a torch.optim.Optimizer subclass, checked.

Hyperparameters are checked against the constructor's signature, then the
optimizer is built and stepped once on a throwaway parameter, so that a value
it rejects, or an optimizer that cannot step a dense parameter at all, is
reported before the race starts, at the key that caused it.
"""

from __future__ import annotations

import importlib
import inspect
import math
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.optim import Optimizer

from optrace._core.errors import ConfigError
from optrace._core.keys import child, did_you_mean
from optrace._core.types import Fn
from optrace.optim.probe import TooSlow, first_line, try_step
from optrace.optim.step import needs_closure

#: torch.optim optimizers whose update of each element depends only on that
#: element's own value, gradient and state (plus the step count), so that N
#: starts can race as one N-element tensor with exactly the traces of N runs.
#: Not Adafactor (step size uses the tensor's RMS), LBFGS (the line search
#: couples all elements), Muon (orthogonalises a matrix), SparseAdam.
ELEMENTWISE_NAMES = frozenset(
    {
        "ASGD",
        "Adadelta",
        "Adagrad",
        "Adam",
        "AdamW",
        "Adamax",
        "NAdam",
        "RAdam",
        "RMSprop",
        "Rprop",
        "SGD",
    }
)


@dataclass(frozen=True)
class OptimizerSpec:
    """A resolved optimizer with checked hyperparameters.

    Attributes:
        name: As written in the config (``SGD``, ``mypkg.MyAdam``).
        cls: The Optimizer subclass.
        hyperparameters: Keyword arguments for the constructor, lists made tuples.
        needs_closure: Whether ``step`` requires a closure (LBFGS).
        elementwise: Whether many starts may share one tensor exactly.
        step_seconds: How long one step took in the probe (for cost estimates).
    """

    name: str
    cls: type[Optimizer]
    hyperparameters: Mapping[str, Any]
    needs_closure: bool
    elementwise: bool
    step_seconds: float = 0.0

    def build(self, param: torch.Tensor) -> Optimizer:
        """The optimizer over ``param``."""
        return self.cls([param], **self.hyperparameters)


def torch_optimizers() -> dict[str, type[Optimizer]]:
    """Every public Optimizer subclass in torch.optim, by name."""
    found = {}
    for name in sorted(dir(torch.optim)):
        obj = getattr(torch.optim, name)
        if (
            not name.startswith("_")
            and inspect.isclass(obj)
            and issubclass(obj, Optimizer)
            and obj is not Optimizer
        ):
            found[name] = obj
    return found


@contextmanager
def _importable(folder: Path | None) -> Iterator[None]:
    if folder is None:
        yield
        return
    entry = str(folder.resolve())
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with suppress(ValueError):
            sys.path.remove(entry)


def resolve_class(name: str | type, path: str, folder: Path | None = None) -> type[Optimizer]:
    """``SGD`` -> ``torch.optim.SGD``; ``pkg.mod.Cls`` is imported (``folder`` first);
    a class object (one defined in a notebook cell) is checked and taken as it is."""
    if isinstance(name, type):
        if not issubclass(name, Optimizer) or name is Optimizer:
            raise ConfigError(
                path,
                f"'{name.__name__}' is not a torch.optim.Optimizer subclass; "
                "name an optimizer class",
            )
        return name
    found: type[Optimizer] = find_class(
        name,
        path,
        folder,
        torch_optimizers(),
        Optimizer,
        "optimizer",
        "see 'optrace list-optimizers', or give a dotted path such as 'mymodule.MyOptimizer'",
    )
    return found


def find_class(
    name: str,
    path: str,
    folder: Path | None,
    known: dict[str, type],
    base: type,
    kind: str,
    hint_unknown: str,
) -> Any:
    """A class by short name from ``known``, or by dotted path (``folder`` importable
    first); it must subclass ``base``. Errors name ``kind`` (optimizer, scheduler)."""
    if "." not in name:
        if name in known:
            return known[name]
        hint = did_you_mean(name, list(known))
        raise ConfigError(path, f"unknown {kind} '{name}'{hint}; {hint_unknown}")
    if not all(part.isidentifier() for part in name.split(".")):
        raise ConfigError(
            path, f"'{name}' is not a dotted path; write it as module.Class, e.g. mymodule.MyAdam"
        )
    module_name, _, attr = name.rpartition(".")
    with _importable(folder):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or module_name
            if module_name == missing or module_name.startswith(missing + "."):
                raise ConfigError(
                    path,
                    f"cannot import '{module_name}': no module named '{missing}'; "
                    "put the file next to the config or install the package",
                ) from None
            raise ConfigError(path, f"importing '{module_name}' failed: {exc}") from None
        except Exception as exc:
            raise ConfigError(
                path, f"importing '{module_name}' failed: {type(exc).__name__}: {exc}"
            ) from None
    obj = getattr(module, attr, None)
    if obj is None:
        names = [n for n in dir(module) if not n.startswith("_")]
        hint = did_you_mean(attr, names)
        raise ConfigError(path, f"module '{module_name}' has no attribute '{attr}'{hint}")
    if not (inspect.isclass(obj) and issubclass(obj, base)) or obj is base:
        qualified = f"{base.__module__}.{base.__name__}".replace(".optimizer.", ".")
        raise ConfigError(path, f"'{name}' is not a {qualified} subclass; name a {kind} class")
    return obj


def constructor_parameters(cls: type) -> tuple[list[inspect.Parameter], bool]:
    """The hyperparameters of ``cls`` (all but the first, ``params``) and whether
    it takes ``**kwargs``."""
    sig = inspect.signature(cls)
    params = list(sig.parameters.values())
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
    named = [p for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    return named[1:], var_kw


def defaults(cls: type[Optimizer]) -> dict[str, Any]:
    """Constructor defaults of ``cls`` (``inspect.Parameter.empty`` where none)."""
    params, _ = constructor_parameters(cls)
    return {p.name: p.default for p in params}


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
    annotation = parameter.annotation
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return _ANNOTATED.get(name)


def check_hyperparameters(
    cls: type, name: str, given: Mapping[str, Any], path: str, noun: str = "hyperparameter"
) -> dict[str, Any]:
    """Check names and value kinds of ``given`` against ``cls``'s constructor (whose
    first parameter, the params or the optimizer, optrace supplies)."""
    params, var_kw = constructor_parameters(cls)
    by_name = {p.name: p for p in params}
    first = next(iter(inspect.signature(cls).parameters))
    checked: dict[str, Any] = {}
    for key, value in given.items():
        where = child(path, key)
        if key == first:
            raise ConfigError(where, f"optrace supplies '{key}' itself; remove it")
        if key not in by_name:
            if var_kw:
                checked[key] = _check_value(value, None, where)
                continue
            hint = did_you_mean(key, list(by_name))
            takes = ", ".join(by_name) or "none"
            raise ConfigError(where, f"{name} has no {noun} '{key}'{hint}; it takes: {takes}")
        checked[key] = _check_value(value, _example(by_name[key]), where)
    for p in params:
        if p.default is inspect.Parameter.empty and p.name not in checked:
            raise ConfigError(child(path, p.name), f"{name} needs '{p.name}'; add it")
    return checked


def resolve(
    name: str | type,
    given: Mapping[str, Any],
    path: str,
    fn: Fn,
    start: torch.Tensor,
    folder: Path | None = None,
    time_limit: float | None = None,
) -> OptimizerSpec:
    """Resolve, check and probe one racer's optimizer.

    Args:
        name: ``optimizer`` as written, or an Optimizer subclass itself.
        given: The racer's hyperparameters as written.
        path: The racer's key path, e.g. ``racers[2]``.
        fn: The objective, for the probe step.
        start: The start point, for the probe step.
        folder: Where dotted paths are looked for first (the config's folder).
        time_limit: Seconds the probe may take; a step slower than that is refused.
    """
    cls = resolve_class(name, f"{path}.optimizer", folder)
    name = name if isinstance(name, str) else cls.__name__
    hyper = check_hyperparameters(cls, name, given, path)
    try:
        failure, seconds = try_step(cls, hyper, fn, start, steps=2, time_limit=time_limit)
    except TooSlow:
        raise ConfigError(
            path,
            f"one step of {name} took over {time_limit:g} s on a single number; check "
            "hyperparameters such as max_iter, or pass --no-limits",
        ) from None
    if failure is not None:
        plain = try_step(cls, {}, fn, start)[0] if hyper else failure
        if plain is not None:
            raise ConfigError(f"{path}.optimizer", f"{name} cannot race here: {first_line(plain)}")
        for key, value in hyper.items():
            alone, _ = try_step(cls, {key: value}, fn, start)
            if alone is not None:
                raise ConfigError(
                    child(path, key), f"{name} rejects {key}={value!r}: {first_line(alone)}"
                )
        raise ConfigError(path, f"{name} rejects these hyperparameters: {first_line(failure)}")
    elementwise = cls.__module__.startswith("torch.optim") and cls.__name__ in ELEMENTWISE_NAMES
    return OptimizerSpec(
        name=name,
        cls=cls,
        hyperparameters=hyper,
        needs_closure=needs_closure(cls),
        elementwise=elementwise,
        step_seconds=seconds,
    )
