"""Wrapper conventions: what an optimizer's constructor takes first, and the keys
that build one optimizer on another.

A constructor's first parameter is the params, or (``optimizer``) an optimizer
instance it wraps (Lookahead, OrthoGrad), given in a config as ``wraps``; a
SAM-like optimizer takes its base optimizer's class as ``base_optimizer``, and
the racer's keys it does not take go to that base.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optrace._core.errors import CannotRace, ConfigError
from optrace._core.keys import child
from optrace.optim.hyperparameters import constructor_parameters, first_parameter, wants_a_model

#: The first constructor parameter of an optimizer that wraps another one.
WRAPPED = "optimizer"
#: The constructor parameter of a SAM-like optimizer that takes its base class.
BASE = "base_optimizer"
WRAPS_EXAMPLE = "wraps: {optimizer: Adam, lr: 0.1}"


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


def check_first_parameter(cls: type, name: str, path: str) -> None:
    """Refuse an optimizer whose constructor takes a model instead of parameters."""
    first = first_parameter(cls)
    if first.name != WRAPPED and wants_a_model(first):
        raise CannotRace(
            path,
            name,
            f"it takes a model ('{first.name}', a torch.nn.Module) instead of parameters, "
            "and a race has no model",
        )


def supplied_by_model(cls: type) -> tuple[str, ...]:
    """The constructor's keywords (after the first parameter) that optrace fills from
    a model: each that takes a torch.nn.Module (GSAM's ``model``), and, where the
    model comes first (WSAM), ``params``, the model's parameters."""
    first = first_parameter(cls)
    later = constructor_parameters(cls)[0]
    modelled = first.name != WRAPPED and wants_a_model(first)
    return tuple(p.name for p in later if wants_a_model(p) or (modelled and p.name == "params"))


def check_wraps(cls: type, name: str, wraps: Any, path: str) -> bool:
    """Whether ``cls`` wraps the optimizer ``wraps`` (the config's key at ``path``);
    refuses a wrapper without it and a plain optimizer with it."""
    if wraps is not None and is_wrapper(cls):
        return True
    if wraps_only(cls):
        raise ConfigError(path, f"{name} wraps another optimizer: add it, e.g. '{WRAPS_EXAMPLE}'")
    if wraps is not None:
        raise ConfigError(path, f"{name} takes parameters, not an optimizer; remove 'wraps'")
    return False


def wrapped_form(
    wraps: Any, path: str
) -> tuple[str, dict[str, Any], str | None, Mapping[str, Any] | None]:
    """The wrapped optimizer's name, hyperparameters, base optimizer and own
    ``wraps``, from ``wraps`` as a config writes it, checked."""
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
    return name, given, base, wraps.get("wraps")


def check_wrapper_keys(cls: type, name: str, keys: Mapping[str, Any], path: str) -> None:
    """Refuse a wrapper's key that its constructor does not name: its ``**kwargs``
    build a class it is given, never the instance optrace gives it, so the key
    would be lost."""
    takes = [p.name for p in constructor_parameters(cls)[0]]
    for key in keys:
        if key not in takes:
            raise ConfigError(
                child(path, key),
                f"{name} has no hyperparameter '{key}'; it takes: {', '.join(takes)}; "
                "the wrapped optimizer's go under 'wraps'",
            )


def split_for_base(cls: type, given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``given`` split into ``cls``'s own keywords and the rest (for its base)."""
    own_names = {p.name for p in constructor_parameters(cls)[0]}
    own = {k: v for k, v in given.items() if k in own_names}
    rest = {k: v for k, v in given.items() if k not in own_names}
    return own, rest
