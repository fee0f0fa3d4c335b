"""One epoch of an optimizer: the step every race, probe and schedule check uses."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch.optim import Optimizer

from optrace._core.types import Fn


def needs_closure(cls: type[Optimizer]) -> bool:
    """Whether ``cls.step`` has a ``closure`` parameter without a default."""
    closure = inspect.signature(cls.step).parameters.get("closure")
    return closure is not None and closure.default is inspect.Parameter.empty


def step(
    optimizer: Optimizer,
    param: torch.Tensor,
    fn: Fn,
    with_closure: bool,
    loss: torch.Tensor | None = None,
    perturb: Callable[[torch.Tensor], None] | None = None,
) -> None:
    """One epoch: zero_grad, loss.backward(), step (with a closure where required).

    Args:
        optimizer: The optimizer over ``param``.
        param: The parameter tensor.
        fn: The objective; the loss is the sum of its values.
        with_closure: Step with a closure that re-evaluates the loss (LBFGS).
        loss: ``fn(param)`` already computed at this place, which the race has
            from recording it; without a closure its sum is differentiated
            instead of evaluating ``fn`` again (the same bits either way).
        perturb: Called with ``param`` after every backward(), before the step
            uses the gradient (gradient noise); inside the closure, once per
            evaluation.
    """
    if with_closure:

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = fn(param).sum()
            loss.backward()  # type: ignore[no-untyped-call]
            if perturb is not None:
                perturb(param)
            return loss

        optimizer.step(closure)  # type: ignore[arg-type]  # torch's stub says float; LBFGS takes a tensor
        return
    optimizer.zero_grad()
    (fn(param) if loss is None else loss).sum().backward()  # type: ignore[no-untyped-call]
    if perturb is not None:
        perturb(param)
    optimizer.step()
