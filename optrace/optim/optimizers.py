"""Optimizers: a racer's optimizer resolved, checked and probed into an
:class:`OptimizerSpec`.

The class is looked up (:mod:`optrace.optim.classes`), its hyperparameters are
checked against the constructor's signature (:mod:`optrace.optim.hyperparameters`),
wrappers and SAM-like optimizers get what they wrap (:mod:`optrace.optim.wrappers`),
then the optimizer is built and stepped on a throwaway parameter, so that a value
it rejects, or an optimizer that cannot step a dense parameter at all, is
reported before the race starts, at the key that caused it
(:mod:`optrace.optim.diagnosis`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch.optim import Optimizer

from optrace._core.errors import ConfigError
from optrace._core.types import Fn
from optrace.optim.classes import resolve_class
from optrace.optim.diagnosis import diagnose, probed
from optrace.optim.hyperparameters import check_hyperparameters
from optrace.optim.step import PLAIN, StepMode
from optrace.optim.wrappers import (
    BASE,
    check_first_parameter,
    check_wrapper_keys,
    check_wraps,
    split_for_base,
    supplied_by_model,
    takes_base,
    wrapped_form,
)

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
        return _training(built)

    @property
    def groups_allowed(self) -> bool:
        """Whether :meth:`build_groups` may build it: a plain class, neither a wrapper
        nor SAM-like, stepped plainly (a closure re-evaluates every group)."""
        return self.wraps is None and self.base_optimizer is None and self.mode == PLAIN

    def build_groups(
        self, params: Sequence[torch.Tensor], groups: Sequence[Mapping[str, Any]]
    ) -> Optimizer:
        """One optimizer with a parameter group per tensor, each group's keywords
        over the racer's own (see :attr:`groups_allowed`)."""
        built = self.cls(
            [{"params": [p], **g} for p, g in zip(params, groups, strict=True)],
            **self.hyperparameters,
        )
        return _training(built)

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


def _training(built: Optimizer) -> Optimizer:
    train = getattr(built, "train", None)
    if callable(train):
        # Schedule-free optimizers step only in train mode, which their
        # documentation says to switch on before training.
        train()
    return built


def learning_rate(optimizer: Optimizer, group: int = 0) -> float | None:
    """The learning rate of the optimizer's parameter group ``group`` (its first),
    or None where it has none (A2Grad, AliG) or not a number."""
    try:
        value = optimizer.param_groups[group]["lr"]
        return float(value)
    except Exception:
        return None


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

    def inner(
        name: str, given: Mapping[str, Any], path: str, base: str | None, wraps: Any
    ) -> OptimizerSpec:
        return resolve(
            name,
            given,
            path,
            fn,
            start,
            folder,
            time_limit,
            base_optimizer=base,
            wraps=wraps,
            dtype=dtype,
        )

    draft = drafted(name, given, path, folder, base_optimizer, wraps, dtype, inner)
    cls = draft.cls
    found = probed(draft, fn, start, path, time_limit, steps=2)
    if found.mode is None:
        diagnose(draft, found, fn, start, path, time_limit)
    elementwise = (
        cls.__module__.startswith("torch.optim")
        and cls.__name__ in ELEMENTWISE_NAMES
        and found.mode == PLAIN
    )
    return replace(draft, mode=found.mode, elementwise=elementwise, step_seconds=found.seconds)


#: Resolves the optimizer a wrapper wraps: its name, hyperparameters, key path,
#: base optimizer and own ``wraps``.
ResolveInner = Callable[[str, Mapping[str, Any], str, str | None, Any], OptimizerSpec]


def drafted(
    name: str | type,
    given: Mapping[str, Any],
    path: str,
    folder: Path | None,
    base_optimizer: str | None,
    wraps: Mapping[str, Any] | None,
    dtype: torch.dtype,
    inner: ResolveInner,
    model: bool = False,
) -> OptimizerSpec:
    """The racer's optimizer resolved and checked, not yet probed: its class, the
    optimizer it wraps (resolved by ``inner``), its base and its hyperparameters.

    Args:
        name: ``optimizer`` as written, or an Optimizer subclass itself.
        given: The racer's hyperparameters as written.
        path: The racer's key path.
        folder: Where dotted paths are looked for first.
        base_optimizer: A SAM-like optimizer's base: a name or dotted path.
        wraps: For a wrapper: the wrapped optimizer as a config writes it.
        dtype: The parameters' dtype.
        inner: Resolves the wrapped optimizer the same way.
        model: Whether it is built on a model, which supplies the constructor's
            ``model`` (:func:`optrace.optim.wrappers.supplied_by_model`).

    Returns:
        The spec, stepped plainly until the probe says otherwise.
    """
    cls = resolve_class(name, f"{path}.optimizer", folder)
    name = name if isinstance(name, str) else cls.__name__
    if not model:
        check_first_parameter(cls, name, f"{path}.optimizer")
    wrapped = None
    if check_wraps(cls, name, wraps, f"{path}.wraps"):
        inner_name, inner_given, inner_base, inner_wraps = wrapped_form(wraps, f"{path}.wraps")
        wrapped = inner(inner_name, inner_given, f"{path}.wraps", inner_base, inner_wraps)
    supplied = supplied_by_model(cls) if model else ()
    base, hyper = _checked(
        cls, name, given, path, folder, base_optimizer, wrapped is not None, supplied
    )
    return OptimizerSpec(
        name=name, cls=cls, hyperparameters=hyper, dtype=dtype, base_optimizer=base, wraps=wrapped
    )


def _checked(
    cls: type[Optimizer],
    name: str,
    given: Mapping[str, Any],
    path: str,
    folder: Path | None,
    base_optimizer: str | None,
    wrapping: bool,
    supplied: tuple[str, ...] = (),
) -> tuple[tuple[str, type[Optimizer]] | None, dict[str, Any]]:
    """The base optimizer (a SAM-like one's) and the checked hyperparameters:
    those ``cls`` does not take go to its base; a wrapper takes only its own;
    the keys in ``supplied`` optrace gives it (a model)."""
    if base_optimizer is None:
        hyper = check_hyperparameters(cls, name, given, path, supplied=supplied)
        if wrapping:
            check_wrapper_keys(cls, name, hyper, path)
        return None, hyper
    if not takes_base(cls):
        raise ConfigError(f"{path}.{BASE}", f"{name} takes no base optimizer; remove '{BASE}'")
    base_cls = resolve_class(base_optimizer, f"{path}.{BASE}", folder)
    own, rest = split_for_base(cls, given)
    hyper = check_hyperparameters(cls, name, own, path, supplied=(BASE, *supplied))
    hyper.update(check_hyperparameters(base_cls, base_optimizer, rest, path))
    return (base_optimizer, base_cls), hyper
