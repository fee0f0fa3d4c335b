"""``list-optimizers``: the optimizers of torch.optim (or of any package), their
defaults, and for each whether it races, with what, or why not."""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.optim import Optimizer

from optrace._core.errors import CannotRace, ConfigError
from optrace.optim.classes import optimizer_classes, torch_optimizers
from optrace.optim.hyperparameters import annotation_name, constructor_parameters, defaults
from optrace.optim.models import resolve_for_model, small_model
from optrace.optim.optimizers import resolve
from optrace.optim.probe import first_line
from optrace.optim.wrappers import BASE, is_wrapper, wraps_only

#: The stand-ins the catalog races with where a constructor needs a key that has
#: no default: the base optimizer of a SAM-like one, the optimizer a wrapper
#: wraps, and a whole number for a required count (Ranger21's num_iterations).
STAND_IN_BASE = "SGD"
STAND_IN_WRAPS = {"optimizer": "SGD"}
STAND_IN_COUNT = 100
#: Seconds one class's probe may take in the catalog before it counts as too slow.
PROBE_SECONDS = 10.0


@dataclass(frozen=True)
class CatalogEntry:
    """One optimizer as ``list-optimizers`` shows it.

    Attributes:
        name: Its name in the package (``Adam``, ``Lookahead``).
        defaults: Its constructor's defaults (not the keys without one).
        cannot_race: Why it cannot race, or None.
        needs: The keys a config must give for it to race, with the values the
            catalog raced it with (``{"wraps": {"optimizer": "SGD"}}``).
        steps: How it is stepped: ``plain``, ``closure``, ``create_graph``...
    """

    name: str
    defaults: dict[str, Any]
    cannot_race: str | None
    needs: dict[str, Any] = field(default_factory=dict)
    steps: str | None = None


def package_optimizers(package: str) -> dict[str, type[Optimizer]]:
    """Every public torch.optim.Optimizer subclass a package exposes, by name.

    Args:
        package: An importable module name, e.g. ``pytorch_optimizer``.

    Returns:
        The classes by their public name, sorted.
    """
    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "package", f"cannot import '{package}': no module named '{exc.name}'"
        ) from None
    except Exception as exc:
        raise ConfigError(
            "package", f"importing '{package}' failed: {type(exc).__name__}: {exc}"
        ) from None
    return optimizer_classes(module)


def stand_ins(cls: type[Optimizer]) -> dict[str, Any]:
    """The keys ``cls`` needs to race, with the catalog's stand-in values."""
    needs: dict[str, Any] = {}
    if wraps_only(cls):
        needs["wraps"] = dict(STAND_IN_WRAPS)
    params, _ = constructor_parameters(cls)
    for p in params:
        if p.default is not inspect.Parameter.empty:
            continue
        kind = annotation_name(p)
        if p.name == BASE:
            needs[BASE] = STAND_IN_BASE
        elif kind == "int" and not is_wrapper(cls):
            needs[p.name] = STAND_IN_COUNT
    return needs


def _entry(
    name: str,
    qualified: str | type,
    cls: type[Optimizer],
    time_limit: float | None,
    model: bool = False,
) -> CatalogEntry:
    start = torch.tensor([0.5, -0.5], dtype=torch.float64)
    needs = stand_ins(cls)
    hyper = {k: v for k, v in needs.items() if k not in ("wraps", BASE)}

    def attempt(dtype: torch.dtype) -> str:
        if model:
            net, evaluate_factory = small_model(dtype)
            spec = resolve_for_model(
                qualified,
                hyper,
                "optimizer",
                net,
                evaluate_factory,
                time_limit=time_limit,
                base_optimizer=needs.get(BASE),
                wraps=needs.get("wraps"),
            )
            return spec.mode.describe()
        spec = resolve(
            qualified,
            hyper,
            "optimizer",
            lambda x: x * x,
            start,
            time_limit=time_limit,
            base_optimizer=needs.get(BASE),
            wraps=needs.get("wraps"),
            dtype=dtype,
        )
        return spec.mode.describe()

    shown = {k: v for k, v in defaults(cls).items() if v is not inspect.Parameter.empty}
    try:
        try:
            steps = attempt(torch.float64)
        except CannotRace as exc:
            if "float32" not in exc.reason:
                raise
            steps = attempt(torch.float32)
            needs["dtype"] = "float32"
    except CannotRace as exc:
        return CatalogEntry(name, shown, exc.reason, {})
    except ConfigError as exc:
        return CatalogEntry(name, shown, exc.message, {})
    except Exception as exc:  # a class odd enough to break its own inspection
        return CatalogEntry(name, shown, f"inspecting it failed: {first_line(exc)}", {})
    return CatalogEntry(name, shown, None, needs, steps)


def catalog(
    package: str | None = None, time_limit: float | None = PROBE_SECONDS, model: bool = False
) -> list[CatalogEntry]:
    """Every optimizer of torch.optim, or of ``package``, with its defaults and
    whether it races: each is resolved and probed exactly as a racer would be,
    with the stand-ins of :func:`stand_ins` for keys it cannot do without.

    Args:
        package: A package to list instead of torch.optim (``pytorch_optimizer``).
        time_limit: Seconds each probe may take.
        model: Whether to race each on a model (:func:`model_support`'s MLP)
            rather than on a function.

    Returns:
        One entry per class, by name.
    """
    classes = torch_optimizers() if package is None else package_optimizers(package)
    return [
        _entry(name, name if package is None else f"{package}.{name}", cls, time_limit, model)
        for name, cls in classes.items()
    ]


def model_support(cls: type[Optimizer], time_limit: float | None = PROBE_SECONDS) -> str | None:
    """Why ``cls`` cannot race on a model, or None where it can: it is resolved and
    probed as a model race's racer would be, on a small MLP (4-3-2, tanh, float64)
    with the cross-entropy of a few random examples, with the catalog's stand-ins.

    Args:
        cls: The optimizer class.
        time_limit: Seconds its probe may take.

    Returns:
        None, or the one-line reason.

    Examples:
        >>> import torch
        >>> model_support(torch.optim.Adam) is None
        True
        >>> model_support(torch.optim.Muon)
        'Muon only supports 2D parameters whereas we found a parameter with size: torch.Size([3])'
    """
    return _entry(cls.__name__, cls, cls, time_limit, model=True).cannot_race
