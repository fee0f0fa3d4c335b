"""Gradient noise: seeded Gaussian noise added to ``.grad`` after every backward().

The noise is a pure function of (seed, start, repeat, epoch, evaluation), so
every racer at the same epoch, start and repeat draws the same numbers (common
random numbers), and a start gets the same noise whether it races alone or in a
swarm. How it is drawn, for a hand-written loop to reproduce:

- Each run, that is each (start index, repeat), has its own
  ``torch.Generator().manual_seed(noise_seed(seed, start, repeat))``.
- That generator draws the noise of the first gradient of each epoch, 64 epochs
  at a time: ``torch.randn(64, dims, generator=g, dtype=param.dtype)`` (``dims``
  is 1 or 2). Epoch ``t`` (from 1) takes row ``(t - 1) % 64`` of draw
  ``(t - 1) // 64``, however many epochs the race has. (One draw per epoch
  would cost a call per start and epoch; a block costs about as much as one.)
- An optimizer that evaluates the gradient again within the epoch (through its
  closure, like LBFGS) draws those from a generator of that epoch,
  ``manual_seed(noise_seed(seed, start, repeat, epoch))``, in order; so later
  epochs do not depend on how many evaluations the earlier ones made.
- The noise is ``std * z`` added to the gradient, or with ``relative``
  ``std * |grad| * z`` (multiplied left to right).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

#: A run's place in the race: (start index, repeat).
Stream = tuple[int, int]


def noise_seed(seed: int, start: int, repeat: int, epoch: int | None = None) -> int:
    """The seed of a run's noise generator (of one epoch's extra evaluations when
    ``epoch`` is given): the first 8 bytes, little-endian, of the SHA-256 of
    ``"optrace-noise:{seed}:{start}:{repeat}"`` (``":{epoch}"`` appended).

    Examples:
        >>> noise_seed(0, 0, 0) == noise_seed(0, 0, 0) != noise_seed(0, 1, 0)
        True
    """
    text = f"optrace-noise:{seed}:{start}:{repeat}" + ("" if epoch is None else f":{epoch}")
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


@dataclass(frozen=True)
class NoiseSpec:
    """A racer's noise over some runs: what to draw, for which (start, repeat).

    Attributes:
        std: Standard deviation (a fraction of |grad| when ``relative``); above 0.
        relative: Scale by the gradient's magnitude, element by element.
        seed: The race's seed.
        streams: Per row of the parameter tensor, its (start index, repeat).
    """

    std: float
    relative: bool
    seed: int
    streams: tuple[Stream, ...]

    def row(self, index: int) -> NoiseSpec:
        """The noise of one row alone (for a run raced on its own)."""
        return replace(self, streams=(self.streams[index],))

    def start(self, dims: int) -> GradientNoise:
        """Fresh generators for one race of these rows, ``dims`` coordinates each."""
        return GradientNoise(self, dims)


#: Epochs of noise each run's generator draws at once.
BLOCK = 64


class GradientNoise:
    """The noise of a few runs raced as one parameter tensor, as it is drawn.

    Args:
        spec: What to draw.
        dims: Coordinates per row: 1 or 2.
    """

    def __init__(self, spec: NoiseSpec, dims: int) -> None:
        self.spec = spec
        self.dims = dims
        self.generators = [
            torch.Generator().manual_seed(noise_seed(spec.seed, start, repeat))
            for start, repeat in spec.streams
        ]
        self._block = torch.empty(0)  # (runs, BLOCK, dims): the latest draw
        self._drawn = 0  # how many blocks each generator has drawn

    def _first(self, epoch: int, like: torch.Tensor) -> torch.Tensor:
        """The noise of ``epoch``'s first evaluation, shaped like ``like`` (epochs come
        in order)."""
        block, row = divmod(epoch - 1, BLOCK)
        while self._drawn <= block:
            self._drawn += 1
            self._block = torch.stack(
                [
                    torch.randn(BLOCK, self.dims, generator=g, dtype=like.dtype)
                    for g in self.generators
                ]
            )
        return self._block[:, row].reshape(like.shape)

    def at(self, epoch: int) -> Callable[[torch.Tensor], None]:
        """The gradient hook of ``epoch``: each call adds the next evaluation's noise
        to ``param.grad``."""
        spec = self.spec
        extra: list[torch.Generator] = []
        evaluations = 0

        def perturb(param: torch.Tensor) -> None:
            nonlocal evaluations, extra
            grad = param.grad
            if grad is None:
                return
            if evaluations == 0:
                z = self._first(epoch, grad)
            else:
                if evaluations == 1:
                    extra = [
                        torch.Generator().manual_seed(noise_seed(spec.seed, start, repeat, epoch))
                        for start, repeat in spec.streams
                    ]
                z = torch.stack(
                    [torch.randn(self.dims, generator=g, dtype=grad.dtype) for g in extra]
                ).reshape(grad.shape)
            evaluations += 1
            scale = spec.std * grad.abs() if spec.relative else spec.std
            param.grad = grad + scale * z

        return perturb
