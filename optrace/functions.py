"""Test functions: a registry from YAML names to factories of :class:`Objective`.

Each objective is written once, in torch, and serves both the race (autograd)
and the drawn curve (evaluated on a grid and handed on as numpy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from optrace.config import child, did_you_mean
from optrace.errors import ConfigError


@dataclass(frozen=True)
class Objective:
    """A 1-D test function with the domain it is drawn over.

    Attributes:
        name: The registry name, e.g. ``peaks-slice``.
        fn: Maps a float64 tensor of points to their values, element by element.
        domain: ``(low, high)`` drawn on the x axis; a racer may leave it.
        formula: A one-line description shown by ``list-functions`` and in titles.
        params: The parameters the function was built with.
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    domain: tuple[float, float]
    formula: str
    params: Mapping[str, float] = field(default_factory=dict)

    def curve(
        self, domain: tuple[float, float], points: int = 1000
    ) -> tuple[np.ndarray, np.ndarray]:
        """The function sampled on ``points`` evenly spaced x values over ``domain``."""
        xs = torch.linspace(domain[0], domain[1], points, dtype=torch.float64)
        with torch.no_grad():
            ys = self.fn(xs)
        return xs.numpy(), ys.numpy()


def peaks(x: torch.Tensor, y: torch.Tensor | float) -> torch.Tensor:
    """MATLAB's peaks, written as its published formula."""
    return (
        3 * (1 - x) ** 2 * torch.exp(-(x**2) - (y + 1) ** 2)
        - 10 * (x / 5 - x**3 - y**5) * torch.exp(-(x**2) - y**2)
        - 1 / 3 * torch.exp(-((x + 1) ** 2) - y**2)
    )


@dataclass(frozen=True)
class FunctionSpec:
    """A registry entry: a description, the parameters it takes, and a builder."""

    name: str
    formula: str
    domain: tuple[float, float]
    defaults: Mapping[str, float]
    build: Callable[[Mapping[str, float]], Callable[[torch.Tensor], torch.Tensor]]


def _peaks_slice(params: Mapping[str, float]) -> Callable[[torch.Tensor], torch.Tensor]:
    y = float(params["y"])
    return lambda x: peaks(x, y)


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec(
            name="peaks-slice",
            formula="MATLAB's peaks(x, y) along the line y = const (default -0.5)",
            domain=(-5.0, 5.0),
            defaults={"y": -0.5},
            build=_peaks_slice,
        ),
    )
}


def build_function(name: str, params: Mapping[str, Any], path: str = "function") -> Objective:
    """Look up ``name`` and build it with ``params``, naming ``path`` on error."""
    spec = FUNCTIONS.get(name)
    if spec is None:
        hint = did_you_mean(name, list(FUNCTIONS))
        known = ", ".join(FUNCTIONS)
        raise ConfigError(f"{path}.name", f"unknown function '{name}'{hint}; known: {known}")
    values = dict(spec.defaults)
    for key, value in params.items():
        if key not in spec.defaults:
            hint = did_you_mean(key, list(spec.defaults))
            takes = ", ".join(spec.defaults) or "no parameters"
            raise ConfigError(
                child(path, key), f"{name} has no parameter '{key}'{hint}; it takes {takes}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(child(path, key), f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(child(path, key), f"expected a finite number, got {value!r}")
        values[key] = float(value)
    return Objective(
        name=name, fn=spec.build(values), domain=spec.domain, formula=spec.formula, params=values
    )
