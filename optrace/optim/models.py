"""Optimizers on a model: built over a torch.nn.Module's parameters of every shape
as each optimizer's documentation builds it, and probed on a copy of the model.

A function race gives an optimizer one tensor; a model race gives it the model's
parameters, and some optimizers want more than a list of them:

- a constructor whose first parameter is ``model`` (AdamMini, LOMO) gets the
  module itself;
- the Muon family (pytorch_optimizer's Muon, AdaMuon, NorMuon, MuonClip, AdaGO,
  DistributedMuon), found by reading ``use_muon`` from its parameter groups, gets
  two groups: the matrices (``ndim >= 2``) with ``use_muon: True``, the rest
  (biases) with ``use_muon: False``, as their documentation writes them;
- torch.optim.Muon, which takes only 2-D parameters and is documented beside a
  second optimizer for the rest, gets the parameters as a list: it races a model
  whose parameters are all matrices (layers without bias) and refuses any other
  in one line, its own;
- an optimizer that updates the weights inside ``backward()`` and documents
  ``fused_backward(loss, lr)`` in place of ``step()`` (LOMO) races when a plain
  backward moves the weights exactly as ``fused_backward`` does, which is checked
  on a small network at every build; its ``step()`` then has nothing left to do.
  One whose ``fused_backward`` does more (AdaLOMO scales the loss and counts the
  steps there) cannot race, and says so.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from optrace._core.errors import CannotRace, ConfigError
from optrace.optim.diagnosis import at_defaults
from optrace.optim.hyperparameters import first_parameter, wants_a_model
from optrace.optim.optimizers import OptimizerSpec, _training, drafted
from optrace.optim.probe import (
    Attempt,
    Probed,
    TooSlow,
    attempt_steps,
    first_line,
    first_working,
    with_deadline,
)
from optrace.optim.step import StepMode, modes_for, step
from optrace.optim.wrappers import BASE, WRAPPED, supplied_by_model
from optrace.problems.networks import build_mlp

#: Makes the loss closure of a copy of the model: its training loss at its
#: current weights, differentiable.
EvaluateFactory = Callable[[nn.Module], Callable[[], torch.Tensor]]
#: The group key the Muon family reads: whether a group's update is orthogonalised.
USE_MUON = "use_muon"
#: The method an optimizer that updates inside backward documents instead of step.
FUSED = "fused_backward"


def model_dtype(module: nn.Module) -> torch.dtype:
    """The dtype of ``module``'s first parameter (float64 for one without any)."""
    first = next(iter(module.parameters()), None)
    return torch.float64 if first is None else first.dtype


#: :func:`reads_use_muon` by class, found once per class.
_READS_USE_MUON: dict[type, bool] = {}


def reads_use_muon(cls: type[Optimizer]) -> bool:
    """Whether ``cls`` reads ``use_muon`` from its parameter groups: built on a
    group without it (and stepped once), it names that key in its error.

    Examples:
        >>> import torch
        >>> reads_use_muon(torch.optim.Adam)
        False
    """
    if cls not in _READS_USE_MUON:
        _READS_USE_MUON[cls] = _names_use_muon(cls)
    return _READS_USE_MUON[cls]


def _names_use_muon(cls: type[Optimizer]) -> bool:
    matrix = torch.zeros(2, 2, dtype=torch.float64, requires_grad=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            maker: Any = cls  # any constructor: it is only tried
            built = maker([{"params": [matrix]}])
            matrix.grad = torch.ones_like(matrix)
            built.step()
    except Exception as exc:
        return USE_MUON in str(exc)
    return False


def parameters_for(cls: type[Optimizer], module: nn.Module) -> list[Any]:
    """``module``'s parameters as ``cls`` takes them: a list, or for the Muon family
    (:func:`reads_use_muon`) the matrices with ``use_muon: True`` and the rest with
    ``use_muon: False`` (groups left empty are left out).

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(3, 2)
        >>> len(parameters_for(torch.optim.SGD, net))
        2
    """
    params = list(module.parameters())
    if not reads_use_muon(cls):
        return params
    matrices = [p for p in params if p.ndim >= 2]
    rest = [p for p in params if p.ndim < 2]
    groups = [{"params": matrices, USE_MUON: True}, {"params": rest, USE_MUON: False}]
    return [g for g in groups if g["params"]]


def build_on_model(spec: OptimizerSpec, module: nn.Module) -> Optimizer:
    """``spec``'s optimizer over ``module``'s parameters as its documentation builds it:
    the module itself where the constructor takes a model (AdamMini, LOMO), the
    ``use_muon`` parameter groups for the Muon family, and what it wraps or its base
    as :meth:`OptimizerSpec.build` gives them; schedule-free ones switched to train mode.

    Args:
        spec: The resolved optimizer.
        module: The model it trains (its own copy, in a race).

    Returns:
        The optimizer, ready to step.
    """
    keywords = dict(spec.hyperparameters)
    if spec.wraps is not None:
        wrapper: Any = spec.cls  # its first argument is an optimizer, not params
        return _training(wrapper(build_on_model(spec.wraps, module), **keywords))
    grouped_by = spec.cls
    if spec.base_optimizer is not None:
        keywords[BASE] = grouped_by = spec.base_optimizer[1]
    for name in supplied_by_model(spec.cls):
        keywords[name] = module if name != "params" else parameters_for(grouped_by, module)
    maker: Any = spec.cls
    first = first_parameter(spec.cls)
    if first.name != WRAPPED and wants_a_model(first):
        if callable(getattr(spec.cls, FUSED, None)):
            return _training(_fused(spec.cls, module, keywords))
        return _training(maker(module, **keywords))
    return _training(maker(parameters_for(grouped_by, module), **keywords))


def _fused(cls: type[Optimizer], module: nn.Module, keywords: Mapping[str, Any]) -> Optimizer:
    """An optimizer that updates in backward, over ``module``, if a plain backward
    does what its ``fused_backward`` does (:func:`fused_differs`); else ValueError."""
    differs = fused_differs(cls, keywords, model_dtype(module))
    if differs is not None:
        raise ValueError(differs)
    maker: Any = _stepped_in_backward(cls)
    built: Optimizer = maker(module, **keywords)
    return built


def fused_differs(
    cls: type[Optimizer], keywords: Mapping[str, Any], dtype: torch.dtype
) -> str | None:
    """Why a race's step (zero_grad, backward, step) would not train like ``cls``'s
    documented ``fused_backward(loss, lr)``, or None where it does: two steps of each
    on copies of a small MLP leave the same weights, to the bit.

    Args:
        cls: An optimizer with a ``fused_backward`` method, built on a model.
        keywords: Its constructor's keywords.
        dtype: The model's dtype.

    Returns:
        None, or the one-line reason.
    """
    net, evaluate_factory = small_model(dtype)
    raced, documented = copy.deepcopy(net), copy.deepcopy(net)
    maker: Any = cls
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            by_race, by_docs = maker(raced, **keywords), maker(documented, **keywords)
            for _ in range(2):
                by_race.zero_grad()
                evaluate_factory(raced)().backward()  # type: ignore[no-untyped-call]
                by_docs.fused_backward(
                    evaluate_factory(documented)(), lr=by_docs.param_groups[0]["lr"]
                )
    except Exception as exc:
        return f"its {FUSED}(loss, lr) fails: {first_line(exc)}"
    same = all(
        torch.equal(a, b) for a, b in zip(raced.parameters(), documented.parameters(), strict=True)
    )
    if same:
        return None
    return (
        f"it updates the weights in {FUSED}(loss, lr), which a race's backward() and "
        "step() do not reproduce"
    )


#: :func:`_stepped_in_backward` by class, so that each is made once.
_STEPPED_IN_BACKWARD: dict[type, type[Optimizer]] = {}


def _stepped_in_backward(cls: type[Optimizer]) -> type[Optimizer]:
    """``cls`` whose ``step()`` does nothing, its hooks having updated the weights in
    backward, and whose ``zero_grad()`` (before every backward) hands the group's
    learning rate to the ``lr`` the hooks read, as ``fused_backward(loss, lr)``
    does, so that a schedule reaches it."""
    if cls in _STEPPED_IN_BACKWARD:
        return _STEPPED_IN_BACKWARD[cls]
    base: Any = cls

    def zero_grad(self: Any, set_to_none: bool = True) -> None:
        if hasattr(self, "lr"):
            self.lr = self.param_groups[0]["lr"]
        base.zero_grad(self, set_to_none)

    def no_step(self: Any, closure: Any = None) -> None:
        return None

    made: type[Optimizer] = type(
        cls.__name__,
        (cls,),
        {"zero_grad": zero_grad, "step": no_step, "__module__": cls.__module__},
    )
    _STEPPED_IN_BACKWARD[cls] = made
    return made


def small_model(dtype: torch.dtype = torch.float64) -> tuple[nn.Module, EvaluateFactory]:
    """A small model to find what races on one: an MLP 4-3-2 (tanh), and the loss
    closure factory of its cross-entropy on 8 fixed random examples.

    Examples:
        >>> net, evaluate_factory = small_model()
        >>> float(evaluate_factory(net)()) > 0
        True
    """
    net = build_mlp(4, [3], 2, "tanh", 0, dtype)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(8, 4, generator=generator, dtype=dtype)
    targets = torch.randint(0, 2, (8,), generator=generator)

    def evaluate_factory(module: nn.Module) -> Callable[[], torch.Tensor]:
        return lambda: nn.functional.cross_entropy(module(inputs), targets)

    return net, evaluate_factory


def _no_function(x: torch.Tensor) -> torch.Tensor:
    raise AssertionError("a model's loss comes from its evaluate closure")


def probe_model(
    spec: OptimizerSpec,
    module: nn.Module,
    evaluate_factory: EvaluateFactory,
    path: str,
    time_limit: float | None,
    steps: int = 2,
) -> Probed:
    """Build ``spec`` on a deep copy of ``module`` and step it ``steps`` epochs in
    each of its step modes until one works; a step slower than ``time_limit``
    seconds is refused at ``path``.

    Args:
        spec: The optimizer to probe.
        module: The model; never changed.
        evaluate_factory: The loss closure of a copy.
        path: The racer's key path, for a too-slow step.
        time_limit: Seconds one mode's steps may take.
        steps: Epochs per mode.

    Returns:
        The first mode that worked, or the most telling failure.
    """

    def attempt(mode: StepMode) -> Attempt:
        trained = copy.deepcopy(module)
        params = list(trained.parameters())

        def stepper(optimizer: Optimizer) -> Callable[[], None]:
            evaluate = with_deadline(evaluate_factory(trained), time_limit)
            return lambda: step(optimizer, params, _no_function, mode, evaluate=evaluate)

        return attempt_steps(lambda: build_on_model(spec, trained), stepper, steps)

    try:
        return first_working(modes_for(spec.cls), attempt)
    except TooSlow:
        raise ConfigError(
            path,
            f"one step of {spec.name} took over {time_limit:g} s on the model; check "
            "hyperparameters such as max_iter, or race with limits=False",
        ) from None


def resolve_for_model(
    name: str | type,
    given: Mapping[str, Any],
    path: str,
    module: nn.Module,
    evaluate_factory: EvaluateFactory,
    folder: Path | None = None,
    time_limit: float | None = None,
    base_optimizer: str | None = None,
    wraps: Mapping[str, Any] | None = None,
) -> OptimizerSpec:
    """Resolve, check and probe one racer's optimizer on a model, as
    :func:`optrace.optim.optimizers.resolve` does on a function: the probe steps a
    deep copy of ``module`` for 2 epochs in each step mode and keeps the first
    that works. The spec's dtype is the module's; it is never elementwise.

    Args:
        name: ``optimizer`` as written, or an Optimizer subclass itself.
        given: The racer's hyperparameters as written.
        path: The racer's key path, e.g. ``racers[2]``.
        module: The model (its parameters as given are the initial point).
        evaluate_factory: ``evaluate_factory(copy)`` is the loss closure of a copy.
        folder: Where dotted paths are looked for first (the config's folder).
        time_limit: Seconds the probe may take; a step slower than that is refused.
        base_optimizer: A SAM-like optimizer's base: a name or dotted path.
        wraps: For a wrapper (Lookahead): the wrapped optimizer as a config writes it.

    Returns:
        The checked optimizer with the way it steps.

    Raises:
        CannotRace: It fails on the model at its defaults.
        ConfigError: A hyperparameter it rejects, at its key.

    Examples:
        >>> net, evaluate_factory = small_model()
        >>> spec = resolve_for_model("pytorch_optimizer.Muon", {}, "r", net, evaluate_factory)
        >>> [g["use_muon"] for g in build_on_model(spec, net).param_groups]
        [True, False]
    """

    def inner(
        name: str, given: Mapping[str, Any], path: str, base: str | None, wraps: Any
    ) -> OptimizerSpec:
        return resolve_for_model(
            name, given, path, module, evaluate_factory, folder, time_limit, base, wraps
        )

    dtype = model_dtype(module)
    draft = drafted(name, given, path, folder, base_optimizer, wraps, dtype, inner, model=True)

    def again(spec: OptimizerSpec) -> Probed:
        return probe_model(spec, module, evaluate_factory, path, time_limit)

    found = again(draft)
    if found.mode is None:
        plain = at_defaults(draft, found, path, again)
        assert plain.failure is not None
        raise CannotRace(f"{path}.optimizer", draft.name, first_line(plain.failure))
    return replace(draft, mode=found.mode, step_seconds=found.seconds)
