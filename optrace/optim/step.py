"""One epoch of an optimizer: the step every race, probe and schedule check uses."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.optim import Optimizer

from optrace._core.types import Fn


@dataclass(frozen=True)
class StepMode:
    """How an optimizer is stepped; the probe chooses one per racer.

    Attributes:
        closure: ``step(closure)``, with a closure that zeroes the gradient,
            re-evaluates the loss, back-propagates and returns the loss (a float).
        gradient_first: The gradient at the current place is computed before
            ``step`` (False only for LBFGS-like optimizers whose closure
            computes every gradient they use).
        create_graph: ``loss.backward(create_graph=True)``, for second-order
            optimizers that differentiate the gradient (AdaHessian, SophiaH).
    """

    closure: bool = False
    gradient_first: bool = True
    create_graph: bool = False

    def describe(self) -> str:
        """A few words for listings: ``plain``, ``closure``, ``create_graph``."""
        parts = [
            *(["closure"] if self.closure else []),
            *(["create_graph"] if self.create_graph else []),
        ]
        return " + ".join(parts) or "plain"


#: zero_grad, loss.backward(), step(): every optimizer that does not ask for more.
PLAIN = StepMode()
#: step(closure) alone, as torch.optim.LBFGS documents it.
CLOSURE_ONLY = StepMode(closure=True, gradient_first=False)
#: The ways the probe tries, in order, for an optimizer whose step signature does
#: not demand a closure: plain first, so that whatever steps plainly keeps the
#: plain loop's bits.
MODES = (
    PLAIN,
    StepMode(closure=True),
    StepMode(create_graph=True),
    StepMode(closure=True, create_graph=True),
)


def needs_closure(cls: type[Optimizer]) -> bool:
    """Whether ``cls.step`` has a ``closure`` parameter without a default."""
    try:
        closure = inspect.signature(cls.step).parameters.get("closure")
    except (TypeError, ValueError):
        return False
    return closure is not None and closure.default is inspect.Parameter.empty


def modes_for(cls: type[Optimizer]) -> tuple[StepMode, ...]:
    """The step modes to try for ``cls``, in order."""
    return (CLOSURE_ONLY, *MODES) if needs_closure(cls) else MODES


def step(
    optimizer: Optimizer,
    param: torch.Tensor | Sequence[torch.Tensor],
    fn: Fn,
    mode: StepMode,
    loss: torch.Tensor | None = None,
    perturb: Callable[[torch.Tensor], None] | None = None,
    evaluate: Callable[[], torch.Tensor] | None = None,
) -> None:
    """One epoch: zero_grad, loss.backward(), step(), as ``mode`` says.

    Args:
        optimizer: The optimizer over ``param``.
        param: The parameter tensor; or several of one shape, one per parameter
            group, which ``fn`` evaluates stacked (as a swarm's rows), so that one
            backward() of the sum gives each its own gradient, the same bits as
            its own backward().
        fn: The objective; the loss is the sum of its values.
        mode: How to step (see :class:`StepMode`).
        loss: ``fn`` already computed at this place (of the stacked tensors), which
            the race has from recording it; its sum is differentiated instead of
            evaluating ``fn`` again (the same bits either way).
        perturb: Called with each tensor after every backward(), before the step
            uses the gradient (gradient noise); inside the closure, once per
            evaluation.
        evaluate: The loss at the current place, where it is not ``fn`` of the
            stacked tensors: a model's, whose ``param`` are its parameters of
            every shape (``fn`` is then not called).
    """
    params = [param] if isinstance(param, torch.Tensor) else list(param)

    def stacked_loss() -> torch.Tensor:
        return fn(stacked(param))

    if evaluate is None:
        evaluate = stacked_loss

    def backward(value: torch.Tensor) -> torch.Tensor:
        total = value.sum()
        if mode.create_graph:
            # zero_grad sets the gradient to None every epoch, which breaks the
            # cycle torch warns about.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*create_graph=True.*")
                total.backward(create_graph=True)  # type: ignore[no-untyped-call]
        else:
            total.backward()  # type: ignore[no-untyped-call]
        if perturb is not None:
            for p in params:
                perturb(p)
        return total

    if mode.gradient_first:
        optimizer.zero_grad()
        backward(evaluate() if loss is None else loss)
    if not mode.closure:
        optimizer.step()
        return

    def closure() -> float:
        # The loss as a number, as AliG's documentation writes the closure
        # (``lambda: float(loss)``); LBFGS takes float() of it all the same.
        with torch.enable_grad():
            optimizer.zero_grad()
            return float(backward(evaluate()))

    optimizer.step(closure)


def stacked(param: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """The tensor ``fn`` evaluates: ``param``, or several stacked along a new first axis."""
    return param if isinstance(param, torch.Tensor) else torch.stack(list(param))


class Evaluations:
    """Counts every gradient computed with respect to one parameter: each
    ``backward()`` that reaches it (a plain step's, or one per closure call) and
    each Hessian-vector product an optimizer takes through it, whatever wraps what.
    Computing a loss without differentiating it counts nothing.

    Examples:
        >>> p = torch.tensor([1.0], requires_grad=True)
        >>> counted = Evaluations(p)
        >>> (p**2).sum().backward(); (p**3).sum().backward(); counted.total
        2
    """

    def __init__(self, param: torch.Tensor) -> None:
        self.total = 0
        # A hook that returns None leaves the gradient as it is.
        self._handle = param.register_hook(self._count)  # type: ignore[no-untyped-call]

    def _count(self, grad: torch.Tensor) -> None:
        self.total += 1

    def close(self) -> None:
        """Stop counting."""
        self._handle.remove()
