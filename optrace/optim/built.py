"""What an optimizer is built with: its constructor's defaults, then the racer's values."""

from __future__ import annotations

import inspect
from typing import Any

from optrace._core.jsonable import jsonable
from optrace.optim.optimizers import OptimizerSpec, defaults

#: Constructor keywords that choose torch's implementation, not the algorithm.
IMPLEMENTATION = ("foreach", "fused", "capturable", "differentiable")


def built_with(spec: OptimizerSpec) -> dict[str, Any]:
    """The keywords ``spec``'s optimizer is built with: its constructor's defaults,
    then the racer's values; implementation switches (:data:`IMPLEMENTATION`) and
    keywords without a default left out. Values are as JSON writes them."""
    used = {
        k: v
        for k, v in defaults(spec.cls).items()
        if v is not inspect.Parameter.empty and k not in IMPLEMENTATION
    }
    used.update(spec.hyperparameters)
    return {k: jsonable(v) for k, v in used.items()}
