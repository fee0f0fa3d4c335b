"""Your own function as a Python callable on torch tensors (from the API, not YAML).

``f(x)`` is 1-D and ``f(x, y)`` 2-D, by the number of its parameters. Before
any race it is called on a few points of its domain and differentiated there,
so a callable that raises, returns something not shaped like its input, or
has no gradient is refused with one line naming ``function``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from optrace._core.errors import ConfigError
from optrace._core.types import Box, Fn
from optrace.problems.minima import find_minima, find_minima_2d
from optrace.problems.objective import DTYPE, Objective


def _arity(fn: Callable[..., Any], path: str) -> int:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return 1  # a builtin without a signature: take it as f(x)
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.default is inspect.Parameter.empty
    ]
    if len(positional) in (1, 2):
        return len(positional)
    if not positional and any(p.kind is p.VAR_POSITIONAL for p in params):
        return 1
    raise ConfigError(
        path,
        f"a callable function takes x (1-D) or x and y (2-D); this one takes "
        f"{len(positional)} required arguments",
    )


def _name(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", type(fn).__name__)
    return "a lambda" if name == "<lambda>" else f"{name}()"


def _check(fn: Fn, dims: int, box: Box, path: str, described: str) -> None:
    """Call ``fn`` on a few points of the box and differentiate it there."""
    share = torch.tensor([0.31, 0.52, 0.77], dtype=DTYPE)
    (xlo, xhi), (ylo, yhi) = box[0], box[-1]
    if dims == 1:
        points = xlo + share * (xhi - xlo)
    else:
        points = torch.stack([xlo + share * (xhi - xlo), ylo + share.flip(0) * (yhi - ylo)], -1)
    points.requires_grad_(True)
    try:
        values = fn(points)
    except Exception as exc:
        raise ConfigError(
            path, f"calling {described} failed: {type(exc).__name__}: {_line(exc)}"
        ) from None
    want = (3,)
    if not isinstance(values, torch.Tensor):
        raise ConfigError(
            path,
            f"{described} returned {type(values).__name__}; it must return a torch tensor "
            "with one value per point (use torch functions such as torch.sin, not math.sin)",
        )
    if tuple(values.shape) != want:
        raise ConfigError(
            path,
            f"{described} returned shape {tuple(values.shape)} for {len(share)} points; "
            "it must return one value per point, shaped like its input",
        )
    if not values.requires_grad:
        raise ConfigError(
            path,
            f"{described} is not differentiable by autograd (its result has no gradient); "
            "write it with torch operations on its arguments",
        )
    try:
        (grad,) = torch.autograd.grad(values.sum(), points, allow_unused=True)
    except RuntimeError as exc:
        raise ConfigError(path, f"{described} cannot be differentiated: {_line(exc)}") from None
    if grad is None:
        raise ConfigError(
            path, f"{described} does not depend on its arguments through autograd; nothing to race"
        )


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def objective_from_callable(
    call: Callable[..., Any], domain: Box | None, path: str = "function"
) -> Objective:
    """An :class:`Objective` from ``f(x)`` or ``f(x, y)`` on torch tensors.

    Args:
        call: The function; it takes and returns torch tensors, element by element.
        domain: One range (in 2-D, for both axes) or two (x, then y); required.
        path: The key blamed in errors.

    Returns:
        The objective, with its minima found numerically as for ``expr``.
    """
    if domain is None:
        raise ConfigError(
            "domain",
            "a function given as a callable needs a domain: e.g. domain=(-2, 2), "
            "or ((-2, 2), (-1, 1)) in 2-D",
        )
    dims = _arity(call, path)
    described = _name(call)
    if dims == 1:
        if len(domain) == 2:
            raise ConfigError("domain", f"{described} is a function of x alone; give one range")
        fn: Fn = call
        _check(fn, 1, domain, path, described)
        return Objective(
            name="callable",
            fn=fn,
            domain=domain[0],
            formula=described,
            minima=find_minima(fn, domain[0]),
        )
    fn = lambda p: call(p[..., 0], p[..., 1])  # noqa: E731
    _check(fn, 2, domain, path, described)
    xs, ys = domain[0], domain[-1]
    return Objective(
        name="callable",
        fn=fn,
        domain=xs,
        ydomain=ys,
        formula=described,
        minima=find_minima_2d(fn, xs, ys),
    )
