"""The probe's diagnosis: when no way of stepping an optimizer works, which error
says why, at which key.

An optimizer that fails at its defaults too cannot race (and the diagnosis says
whether float32 or a parameter group would help); one that steps at its defaults
rejects one of the racer's hyperparameters, tried one at a time to name it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NoReturn

import torch
from torch.optim import Optimizer

from optrace._core.errors import CannotRace, ConfigError
from optrace._core.keys import child
from optrace._core.types import Fn
from optrace.optim.probe import Probed, TooSlow, first_line, probe
from optrace.optim.step import modes_for

if TYPE_CHECKING:  # optimizers.py imports this module to probe its specs
    from optrace.optim.optimizers import OptimizerSpec


def probed(
    spec: OptimizerSpec,
    fn: Fn,
    start: torch.Tensor,
    path: str,
    time_limit: float | None,
    steps: int = 1,
) -> Probed:
    """The probe of ``spec`` on ``fn`` from ``start`` (in the spec's dtype); a step
    slower than ``time_limit`` seconds is refused at ``path``."""
    try:
        at = start.to(spec.dtype)
        return probe(spec.build, modes_for(spec.cls), fn, at, steps=steps, time_limit=time_limit)
    except TooSlow:
        raise ConfigError(
            path,
            f"one step of {spec.name} took over {time_limit:g} s on a single number; check "
            "hyperparameters such as max_iter, or race with limits=False",
        ) from None


def diagnose(
    draft: OptimizerSpec,
    failed: Probed,
    fn: Fn,
    start: torch.Tensor,
    path: str,
    time_limit: float | None,
) -> NoReturn:
    """Raise the error that says why ``draft`` failed its probe (``failed``).

    Raises:
        CannotRace: It fails at its defaults too.
        ConfigError: It steps at its defaults: at the hyperparameter it rejects.
    """

    def again(spec: OptimizerSpec) -> Probed:
        return probed(spec, fn, start, path, time_limit)

    plain = at_defaults(draft, failed, path, again)
    assert plain.failure is not None
    reason = first_line(plain.failure)
    if not plain.built and draft.wraps is None:
        reason += _as_a_group(draft.cls, start.to(draft.dtype), reason)
    if draft.dtype != torch.float32:
        as32 = again(replace(draft, dtype=torch.float32))
        if as32.mode is not None:
            reason += "; it races in float32: add 'dtype: float32'"
    raise CannotRace(f"{path}.optimizer", draft.name, reason)


def at_defaults(
    draft: OptimizerSpec,
    failed: Probed,
    path: str,
    again: Callable[[OptimizerSpec], Probed],
) -> Probed:
    """The probe of ``draft`` at its defaults, which fails too; where it steps at its
    defaults, the racer's hyperparameters are tried one at a time (``again``
    probes a spec) to name the one it rejects.

    Raises:
        ConfigError: It steps at its defaults: at the hyperparameter it rejects.
    """
    assert failed.failure is not None
    name, hyper = draft.name, draft.hyperparameters
    plain = again(replace(draft, hyperparameters={})) if hyper else failed
    if plain.mode is None:
        return plain
    for key, value in hyper.items():
        alone = again(replace(draft, hyperparameters={key: value}))
        if alone.failure is not None:
            raise ConfigError(
                child(path, key), f"{name} rejects {key}={value!r}: {first_line(alone.failure)}"
            )
    raise ConfigError(path, f"{name} rejects these hyperparameters: {first_line(failed.failure)}")


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
