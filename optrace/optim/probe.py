"""The probe: an optimizer built and stepped on a throwaway copy of the parameter."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch.optim import Optimizer

from optrace._core.types import Fn
from optrace.optim.step import needs_closure, step


class TooSlow(BaseException):
    """The probe step ran past its time limit (a BaseException, so the probe's own
    ``except Exception`` and an optimizer's let it through)."""


def _with_deadline(fn: Fn, seconds: float | None) -> Fn:
    """``fn``, raising TooSlow once ``seconds`` of wall time have passed.

    The deadline is checked at every evaluation of the function, so a step that
    would never end (a line search with max_iter=1e9) ends at its next
    evaluation. It needs no signal or alarm, so it works on any thread, in a
    Jupyter kernel and on systems without SIGALRM.
    """
    if seconds is None:
        return fn
    deadline = time.monotonic() + seconds

    def timed(x: torch.Tensor) -> torch.Tensor:
        if time.monotonic() > deadline:
            raise TooSlow
        return fn(x)

    return timed


def try_step(
    cls: type[Optimizer],
    hyper: Mapping[str, Any],
    fn: Fn,
    start: torch.Tensor,
    steps: int = 1,
    time_limit: float | None = None,
) -> tuple[Exception | None, float]:
    """Build ``cls`` on a copy of ``start`` and step it: the exception it raised, if
    any, and how long its last step took (the first also pays one-time set-up).

    ``time_limit`` bounds the steps only: building the first optimizer imports
    parts of torch, which is never counted against it.
    """
    param = start.detach().clone().requires_grad_(True)
    seconds = 0.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimizer = cls([param], **hyper)
            timed = _with_deadline(fn, time_limit)
            for _ in range(steps):
                began = time.perf_counter()
                step(optimizer, param, timed, needs_closure(cls))
                seconds = time.perf_counter() - began
    except Exception as exc:
        return exc, seconds
    return None, seconds


def first_line(exc: Exception) -> str:
    """The first line of an exception's message, for a one-line error."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.rstrip(".")
