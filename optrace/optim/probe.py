"""The probe: an optimizer built and stepped on a throwaway copy of the parameter,
in each way it may need to be stepped, until one works."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import torch
from torch.optim import Optimizer

from optrace._core.types import Fn
from optrace.optim.step import StepMode, step

P = ParamSpec("P")
T = TypeVar("T")


class TooSlow(BaseException):
    """The probe step ran past its time limit (a BaseException, so the probe's own
    ``except Exception`` and an optimizer's let it through)."""


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Torch's global CPU generator seeded with ``seed`` inside, and given back as
    it was afterwards: optimizers that draw noise (AdaHessian, SophiaH, Kron...)
    draw the same numbers in every run, and the caller's generator is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def with_deadline(fn: Callable[P, T], seconds: float | None) -> Callable[P, T]:
    """``fn``, raising TooSlow once ``seconds`` of wall time have passed.

    The deadline is checked at every evaluation of the function, so a step that
    would never end (a line search with max_iter=1e9) ends at its next
    evaluation. It needs no signal or alarm, so it works on any thread, in a
    Jupyter kernel and on systems without SIGALRM.
    """
    if seconds is None:
        return fn
    deadline = time.monotonic() + seconds

    def timed(*args: P.args, **kwargs: P.kwargs) -> T:
        if time.monotonic() > deadline:
            raise TooSlow
        return fn(*args, **kwargs)

    return timed


@dataclass(frozen=True)
class Probed:
    """What the probe found.

    Attributes:
        mode: The first step mode that worked, or None.
        failure: When none worked, the exception that tells most.
        built: Whether the optimizer could be built at all.
        seconds: How long the last probe step took (the first also pays set-up).
    """

    mode: StepMode | None
    failure: Exception | None
    built: bool
    seconds: float = 0.0


#: What one way of stepping came to: the failure (or None), whether the optimizer
#: was built, and how long its last step took.
Attempt = tuple[Exception | None, bool, float]


def attempt_steps(
    build: Callable[[], Optimizer],
    stepper: Callable[[Optimizer], Callable[[], None]],
    steps: int,
) -> Attempt:
    """Build an optimizer and take ``steps`` steps with it, warnings silenced and
    torch's generator seeded; ``stepper`` makes the step once the optimizer is
    built (so that a deadline it sets does not count the building)."""
    seconds = 0.0
    with warnings.catch_warnings(), seeded(0):
        warnings.simplefilter("ignore")
        try:
            optimizer = build()
        except Exception as exc:
            return exc, False, 0.0
        one = stepper(optimizer)
        try:
            for _ in range(steps):
                began = time.perf_counter()
                one()
                seconds = time.perf_counter() - began
        except Exception as exc:
            return exc, True, seconds
    return None, True, seconds


def _attempt(
    build: Callable[[torch.Tensor], Optimizer],
    mode: StepMode,
    fn: Fn,
    start: torch.Tensor,
    steps: int,
    time_limit: float | None,
) -> Attempt:
    param = start.detach().clone().requires_grad_(True)

    def stepper(optimizer: Optimizer) -> Callable[[], None]:
        timed = with_deadline(fn, time_limit)
        return lambda: step(optimizer, param, timed, mode)

    return attempt_steps(lambda: build(param), stepper, steps)


def _about_the_mode(exc: Exception) -> bool:
    """Whether a failure says the optimizer wanted another kind of step (a
    closure, a gradient with its graph) rather than other hyperparameters."""
    text = str(exc).lower()
    return "closure" in text or "does not require grad" in text or "grad_fn" in text


def probe(
    build: Callable[[torch.Tensor], Optimizer],
    modes: Sequence[StepMode],
    fn: Fn,
    start: torch.Tensor,
    steps: int = 1,
    time_limit: float | None = None,
) -> Probed:
    """Build an optimizer on a copy of ``start`` and step it in each of ``modes``
    until one works.

    ``time_limit`` bounds the steps only: building the first optimizer imports
    parts of torch, which is never counted against it. Torch's random generator
    is seeded inside and left as it was.

    Args:
        build: Makes the optimizer over a parameter.
        modes: The step modes to try, in order.
        fn: The objective.
        start: The parameter's value (and dtype).
        steps: Steps per mode.
        time_limit: Seconds the steps of one mode may take (TooSlow past it).

    Returns:
        The first mode that worked, or the most telling failure.
    """
    return first_working(modes, lambda mode: _attempt(build, mode, fn, start, steps, time_limit))


def first_working(modes: Sequence[StepMode], attempt: Callable[[StepMode], Attempt]) -> Probed:
    """The first of ``modes`` whose ``attempt`` works, or the most telling failure
    (one that is not about the kind of step, where there is one); an optimizer
    that cannot be built ends the search."""
    failures: list[Exception] = []
    for mode in modes:
        failure, built, seconds = attempt(mode)
        if failure is None:
            return Probed(mode, None, True, seconds)
        if not built:
            return Probed(None, failure, False)
        failures.append(failure)
    telling = next((f for f in failures if not _about_the_mode(f)), failures[0])
    return Probed(None, telling, True)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, for a one-line error."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, KeyError):
        # A KeyError's message is only the missing key: name what went wrong.
        text = f"KeyError: {text}"
    return text.rstrip(".")
