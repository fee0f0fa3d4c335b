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
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch.optim import Optimizer

from optrace._core.errors import ConfigError
from optrace._core.keys import child, did_you_mean
from optrace._core.types import Fn
from optrace.optim.probe import Probed, TooSlow, first_line, probe
from optrace.optim.step import PLAIN, StepMode, modes_for

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
        hyperparameters: Keyword arguments for the constructor, lists made tuples
            (for a SAM-like optimizer, its own and those it hands to its base).
        mode: How it is stepped (plain, with a closure, with create_graph), as the
            probe found.
        elementwise: Whether many starts may share one tensor exactly.
        step_seconds: How long one step took in the probe (for cost estimates).
        dtype: The parameter's dtype (float64 unless the config says float32).
        base_optimizer: ``(name, class)`` of a SAM-like optimizer's base, passed
            to its constructor as ``base_optimizer``.
        wraps: The optimizer a Lookahead-like wrapper wraps, built first on the
            same parameter.
    """

    name: str
    cls: type[Optimizer]
    hyperparameters: Mapping[str, Any]
    mode: StepMode = PLAIN
    elementwise: bool = False
    step_seconds: float = 0.0
    dtype: torch.dtype = torch.float64
    base_optimizer: tuple[str, type[Optimizer]] | None = None
    wraps: OptimizerSpec | None = None

    def build(self, param: torch.Tensor) -> Optimizer:
        """The optimizer over ``param`` (and the one it wraps, if any)."""
        keywords = dict(self.hyperparameters)
        if self.base_optimizer is not None:
            keywords["base_optimizer"] = self.base_optimizer[1]
        built: Optimizer
        if self.wraps is not None:
            wrapper: Any = self.cls  # its first argument is an optimizer, not params
            built = wrapper(self.wraps.build(param), **keywords)
        else:
            built = self.cls([param], **keywords)
        train = getattr(built, "train", None)
        if callable(train):
            # Schedule-free optimizers step only in train mode, which their
            # documentation says to switch on before training.
            train()
        return built

    def keywords(self) -> dict[str, Any]:
        """Everything but the name as a config writes it: ``base_optimizer`` and
        ``wraps`` by name, then the hyperparameters."""
        found: dict[str, Any] = {}
        if self.base_optimizer is not None:
            found["base_optimizer"] = self.base_optimizer[0]
        if self.wraps is not None:
            found["wraps"] = {"optimizer": self.wraps.name, **self.wraps.keywords()}
        found.update(self.hyperparameters)
        return found


class CannotRace(ConfigError):
    """An optimizer that cannot race at all, whatever its hyperparameters;
    ``reason`` is the why, without the key path or the optimizer's name."""

    def __init__(self, path: str, name: str, reason: str) -> None:
        self.reason = " ".join(reason.split())
        super().__init__(path, f"{name} cannot race here: {self.reason}")


def learning_rate(optimizer: Optimizer) -> float | None:
    """The learning rate of the optimizer's first parameter group, or None where it
    has none (A2Grad, AliG) or not a number."""
    try:
        value = optimizer.param_groups[0]["lr"]
        return float(value)
    except Exception:
        return None


def optimizer_classes(module: Any) -> dict[str, type[Optimizer]]:
    """Every public Optimizer subclass that ``module`` holds, by name."""
    found = {}
    for name in sorted(dir(module)):
        obj = getattr(module, name, None)
        if (
            not name.startswith("_")
            and inspect.isclass(obj)
            and issubclass(obj, Optimizer)
            and obj is not Optimizer
        ):
            found[name] = obj
    return found


def torch_optimizers() -> dict[str, type[Optimizer]]:
    """Every public Optimizer subclass in torch.optim, by name."""
    return optimizer_classes(torch.optim)


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
    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):  # a constructor without a signature takes anything
        return [], True
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


def annotation_name(parameter: inspect.Parameter) -> str:
    """The name of ``parameter``'s annotation (``float``, ``torch.nn.Module``), or ''."""
    annotation = parameter.annotation
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")


def _example(parameter: inspect.Parameter) -> Any:
    """A value of the kind ``parameter`` takes: its default, or for a required
    parameter one of its plain annotation (float, int, bool), else None."""
    if parameter.default is not inspect.Parameter.empty:
        return parameter.default
    return _ANNOTATED.get(annotation_name(parameter))


def _wants_a_model(parameter: inspect.Parameter) -> bool:
    """Whether ``parameter`` takes a torch.nn.Module, which a race has none of."""
    return parameter.name == "model" or annotation_name(parameter).split(".")[-1] == "Module"


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
        if _wants_a_model(p):
            raise CannotRace(
                child(path, p.name),
                name,
                f"it needs '{p.name}', a torch.nn.Module, and a race has no model",
            )
    if missing:
        raise ConfigError(child(path, missing[0].name), f"{name} needs '{missing[0].name}'; add it")
    return checked


#: The first constructor parameter of an optimizer that wraps another one.
WRAPPED = "optimizer"
#: The constructor parameter of a SAM-like optimizer that takes its base class.
BASE = "base_optimizer"
WRAPS_EXAMPLE = "wraps: {optimizer: Adam, lr: 0.1}"


def first_parameter(cls: type) -> inspect.Parameter:
    """The constructor's first parameter: the params, or the optimizer a wrapper wraps."""
    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        params = []
    return params[0] if params else inspect.Parameter("params", inspect.Parameter.POSITIONAL_ONLY)


def is_wrapper(cls: type) -> bool:
    """Whether ``cls`` can wrap an optimizer instance (Lookahead, Magma)."""
    return first_parameter(cls).name == WRAPPED


def wraps_only(cls: type) -> bool:
    """Whether ``cls`` must wrap an optimizer: it takes one, and its annotation does
    not also admit parameters (Magma takes either)."""
    annotation = str(first_parameter(cls).annotation)
    return is_wrapper(cls) and "Iterable" not in annotation and "Params" not in annotation


def takes_base(cls: type) -> bool:
    """Whether ``cls`` takes a base optimizer class (SAM)."""
    params, _ = constructor_parameters(cls)
    return any(p.name == BASE for p in params)


def _split(cls: type, given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``given`` split into ``cls``'s own keywords and the rest (for its base)."""
    own_names = {p.name for p in constructor_parameters(cls)[0]}
    own = {k: v for k, v in given.items() if k in own_names}
    rest = {k: v for k, v in given.items() if k not in own_names}
    return own, rest


def resolve(
    name: str | type,
    given: Mapping[str, Any],
    path: str,
    fn: Fn,
    start: torch.Tensor,
    folder: Path | None = None,
    time_limit: float | None = None,
    base_optimizer: str | None = None,
    wraps: Mapping[str, Any] | None = None,
    dtype: torch.dtype = torch.float64,
) -> OptimizerSpec:
    """Resolve, check and probe one racer's optimizer.

    The probe steps it plainly first; an optimizer that fails so is tried with a
    closure, then with ``create_graph=True``, then with both, and races the
    first way that works.

    Args:
        name: ``optimizer`` as written, or an Optimizer subclass itself.
        given: The racer's hyperparameters as written.
        path: The racer's key path, e.g. ``racers[2]``.
        fn: The objective, for the probe step.
        start: The start point, for the probe step.
        folder: Where dotted paths are looked for first (the config's folder).
        time_limit: Seconds the probe may take; a step slower than that is refused.
        base_optimizer: A SAM-like optimizer's base: a name or dotted path.
        wraps: For a wrapper (Lookahead): the wrapped optimizer as a config
            writes it, ``{optimizer: Adam, lr: 0.1}``.
        dtype: The parameter's dtype.

    Returns:
        The checked optimizer with the way it steps.
    """
    cls = resolve_class(name, f"{path}.optimizer", folder)
    name = name if isinstance(name, str) else cls.__name__
    first = first_parameter(cls)
    if first.name != WRAPPED and _wants_a_model(first):
        raise CannotRace(
            f"{path}.optimizer",
            name,
            f"it takes a model ('{first.name}', a torch.nn.Module) instead of parameters, "
            "and a race has no model",
        )
    inner = None
    if wraps is not None and is_wrapper(cls):
        inner = _resolve_wrapped(wraps, f"{path}.wraps", fn, start, folder, time_limit, dtype)
    elif wraps_only(cls):
        raise ConfigError(
            f"{path}.wraps",
            f"{name} wraps another optimizer: add it, e.g. '{WRAPS_EXAMPLE}'",
        )
    elif wraps is not None:
        raise ConfigError(
            f"{path}.wraps", f"{name} takes parameters, not an optimizer; remove 'wraps'"
        )
    base = None
    hyper: dict[str, Any]
    if base_optimizer is not None:
        if not takes_base(cls):
            raise ConfigError(
                f"{path}.base_optimizer", f"{name} takes no base optimizer; remove 'base_optimizer'"
            )
        base_cls = resolve_class(base_optimizer, f"{path}.base_optimizer", folder)
        base = (base_optimizer, base_cls)
        own, rest = _split(cls, given)
        hyper = check_hyperparameters(cls, name, own, path, supplied=(BASE,))
        hyper.update(check_hyperparameters(base_cls, base_optimizer, rest, path))
    else:
        hyper = check_hyperparameters(cls, name, given, path)
        takes = [p.name for p in constructor_parameters(cls)[0]]
        # A wrapper's **kwargs build a class it is given, never the instance
        # optrace gives it: a key it does not name would be lost.
        for key in hyper if inner is not None else ():
            if key not in takes:
                raise ConfigError(
                    child(path, key),
                    f"{name} has no hyperparameter '{key}'; it takes: {', '.join(takes)}; "
                    "the wrapped optimizer's go under 'wraps'",
                )
    draft = OptimizerSpec(
        name=name, cls=cls, hyperparameters=hyper, dtype=dtype, base_optimizer=base, wraps=inner
    )
    modes = modes_for(cls)

    def tried(spec: OptimizerSpec, steps: int = 1) -> Probed:
        try:
            at = start.to(spec.dtype)
            return probe(spec.build, modes, fn, at, steps=steps, time_limit=time_limit)
        except TooSlow:
            raise ConfigError(
                path,
                f"one step of {name} took over {time_limit:g} s on a single number; check "
                "hyperparameters such as max_iter, or pass --no-limits",
            ) from None

    found = tried(draft, steps=2)
    if found.mode is None:
        failure = found.failure
        assert failure is not None
        plain = tried(replace(draft, hyperparameters={})) if hyper else found
        if plain.mode is None:
            assert plain.failure is not None
            reason = first_line(plain.failure)
            if not plain.built and inner is None:
                reason += _as_a_group(cls, start.to(dtype), reason)
            if dtype != torch.float32 and tried(replace(draft, dtype=torch.float32)).mode:
                raise CannotRace(
                    f"{path}.optimizer",
                    name,
                    f"{reason}; it races in float32: add 'dtype: float32'",
                )
            raise CannotRace(f"{path}.optimizer", name, reason)
        for key, value in hyper.items():
            alone = tried(replace(draft, hyperparameters={key: value}))
            if alone.failure is not None:
                raise ConfigError(
                    child(path, key), f"{name} rejects {key}={value!r}: {first_line(alone.failure)}"
                )
        raise ConfigError(path, f"{name} rejects these hyperparameters: {first_line(failure)}")
    elementwise = (
        cls.__module__.startswith("torch.optim")
        and cls.__name__ in ELEMENTWISE_NAMES
        and found.mode == PLAIN
    )
    return replace(draft, mode=found.mode, elementwise=elementwise, step_seconds=found.seconds)


def _as_a_group(cls: type[Optimizer], start: torch.Tensor, said: str) -> str:
    """What ``cls`` says when given its parameter as a group, ``[{"params": [p]}]``,
    if that differs: the Muon family names the group key it wants there."""
    param = start.detach().clone().requires_grad_(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            maker: Any = cls  # any constructor: it is only tried
            maker([{"params": [param]}])
    except Exception as exc:
        group = first_line(exc)
        return "" if group == said else f"; as a parameter group: {group}"
    return ""


def _resolve_wrapped(
    wraps: Mapping[str, Any],
    path: str,
    fn: Fn,
    start: torch.Tensor,
    folder: Path | None,
    time_limit: float | None,
    dtype: torch.dtype,
) -> OptimizerSpec:
    """The optimizer under ``wraps``, resolved and probed like a racer's own."""
    if not isinstance(wraps, Mapping):
        raise ConfigError(path, f"expected a mapping like {{{WRAPS_EXAMPLE[7:]}}}, got {wraps!r}")
    name = wraps.get("optimizer")
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{path}.optimizer", f"name the wrapped optimizer, e.g. '{WRAPS_EXAMPLE}'"
        )
    base = wraps.get(BASE)
    if base is not None and not isinstance(base, str):
        raise ConfigError(f"{path}.{BASE}", f"expected a name or dotted path, got {base!r}")
    given = {k: v for k, v in wraps.items() if k not in ("optimizer", BASE, "wraps")}
    return resolve(
        name, given, path, fn, start, folder, time_limit, base, wraps.get("wraps"), dtype
    )
