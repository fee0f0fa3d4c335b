"""Class lookup: a short name, a dotted path or a class object -> the class, checked.

Optimizers and schedulers are both found here: by short name from a known set
(torch.optim, torch.optim.lr_scheduler), or by dotted path, imported with the
config's folder importable first.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import torch
from torch.optim import Optimizer

from optrace._core.errors import ConfigError
from optrace._core.keys import did_you_mean


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
    module = _import(module_name, path, folder)
    obj = getattr(module, attr, None)
    if obj is None:
        names = [n for n in dir(module) if not n.startswith("_")]
        hint = did_you_mean(attr, names)
        raise ConfigError(path, f"module '{module_name}' has no attribute '{attr}'{hint}")
    if not (inspect.isclass(obj) and issubclass(obj, base)) or obj is base:
        qualified = f"{base.__module__}.{base.__name__}".replace(".optimizer.", ".")
        raise ConfigError(path, f"'{name}' is not a {qualified} subclass; name a {kind} class")
    return obj


def _import(module_name: str, path: str, folder: Path | None) -> Any:
    """The module ``module_name``, imported with ``folder`` first on the path."""
    with _importable(folder):
        try:
            return importlib.import_module(module_name)
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
