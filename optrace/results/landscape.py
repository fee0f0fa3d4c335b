"""A model race's shared plane: where every racer's weights are drawn, and the
training loss over it, as plain numpy data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A path's plane loss "departs" from its true loss beyond this fraction of it.
FAITHFUL = 0.1


@dataclass(frozen=True)
class Landscape:
    """The plane through a model's initial weights that every racer is drawn on.

    A point ``(a, b)`` of the plane is the weights ``origin + a * directions[0] + b *
    directions[1]``; a racer's weights ``theta`` are drawn at their coordinates: the
    dot products of ``theta - origin`` with orthonormal directions (``pca``), else
    the least-squares fit.

    Attributes:
        kind: ``pca``, ``endpoints`` or ``random``.
        origin: ``(P,)``: the initial weights, flattened in ``module.parameters()`` order.
        directions: ``(2, P)``.
        explained: For ``pca``, each direction's share of the sum of the squared
            singular values of every racer's displacements; else None.
        alphas: The grid's axis along the first direction.
        betas: Along the second.
        losses: ``(len(betas), len(alphas))``: the training loss at each grid point,
            ``losses[j, i]`` at ``(alphas[i], betas[j])``.
        examples: How many training examples the grid's losses average over.
        total: How many there are (more than ``examples`` when the grid used a subset).
        racers: For ``endpoints``, the two racers whose final weights span it.
        left_out: The racers the plane and its grid were not fitted to: those that
            diverged, failed, or ended with a higher training loss than they began
            with (unless every racer did).
    """

    kind: str
    origin: np.ndarray
    directions: np.ndarray
    explained: np.ndarray | None
    alphas: np.ndarray
    betas: np.ndarray
    losses: np.ndarray
    examples: int
    total: int
    racers: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()

    def describe(self) -> str:
        """What the plane is, in a few words, as a figure states it.

        Examples:
            >>> z = np.zeros(2)
            >>> Landscape("pca", z, np.eye(2), np.array([0.931, 0.052]), z, z,
            ...           np.zeros((2, 2)), 100, 100).describe()
            "PCA plane: 93% + 5% of the paths' variance"
        """
        without = "" if not self.left_out else f" (fitted without {', '.join(self.left_out)})"
        if self.kind == "pca":
            assert self.explained is not None
            first, second = (100 * float(e) for e in self.explained)
            return f"PCA plane: {first:.0f}% + {second:.0f}% of the paths' variance" + without
        if self.kind == "endpoints":
            return "plane through the start and the ends of " + " and ".join(self.racers)
        return "random filter-normalised plane" + without

    @property
    def subset(self) -> bool:
        """Whether the grid's losses average over a subset of the training examples."""
        return self.examples < self.total
