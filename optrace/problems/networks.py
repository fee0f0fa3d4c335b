"""The networks a model config builds: an MLP of given hidden widths, and the losses
it may be trained with."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
from torch import nn

#: A model's loss: its output and the targets in, a scalar out.
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: ``model: {activation: ...}``.
ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


def _mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of a one-column output against a vector of targets."""
    return nn.functional.mse_loss(output.squeeze(-1), target)


#: ``model: {loss: ...}``: cross_entropy takes class indices, mse real values.
LOSSES: dict[str, LossFn] = {"cross_entropy": nn.functional.cross_entropy, "mse": _mse}


def build_mlp(
    features: int,
    widths: Sequence[int],
    outputs: int,
    activation: str,
    seed: int,
    dtype: torch.dtype,
) -> nn.Sequential:
    """An MLP: ``Linear`` layers of ``widths`` with ``activation`` between them, then
    a ``Linear`` to ``outputs``; torch's own initialisation drawn from ``seed``.

    Examples:
        >>> net = build_mlp(64, [32], 10, "tanh", 0, torch.float64)
        >>> [tuple(p.shape) for p in net.parameters()]
        [(32, 64), (32,), (10, 32), (10,)]
        >>> again = build_mlp(64, [32], 10, "tanh", 0, torch.float64)
        >>> bool((again[0].weight == net[0].weight).all())
        True
    """
    sizes = [features, *widths, outputs]
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            if i:
                layers.append(ACTIVATIONS[activation]())
            layers.append(nn.Linear(fan_in, fan_out, dtype=dtype))
    return nn.Sequential(*layers)
