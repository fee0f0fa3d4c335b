"""``list-optimizers``: torch.optim's optimizers, their defaults, and which cannot race."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch

from optrace.optim.optimizers import defaults, torch_optimizers
from optrace.optim.probe import first_line, try_step


@dataclass(frozen=True)
class CatalogEntry:
    """One torch.optim optimizer as ``list-optimizers`` shows it."""

    name: str
    defaults: dict[str, Any]
    cannot_race: str | None


def catalog() -> list[CatalogEntry]:
    """Every torch.optim optimizer with its defaults, and why it cannot race, if so."""
    start = torch.tensor([0.5], dtype=torch.float64)
    entries = []
    for name, cls in torch_optimizers().items():
        failure, _ = try_step(cls, {}, lambda x: x * x, start)
        entries.append(
            CatalogEntry(
                name=name,
                defaults={
                    k: v for k, v in defaults(cls).items() if v is not inspect.Parameter.empty
                },
                cannot_race=None if failure is None else first_line(failure),
            )
        )
    return entries
