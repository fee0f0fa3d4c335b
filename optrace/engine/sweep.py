"""A racer's sweep raced: every combination of its swept values, each exactly as a
plain loop races it; as one optimizer with a parameter group per combination where
that gives the same bits, else one race per combination."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from optrace._core.errors import ConfigError
from optrace._core.types import Fn, Point
from optrace.engine.race import Run, race_groups, race_one
from optrace.optim.noise import NoiseSpec
from optrace.optim.optimizers import OptimizerSpec
from optrace.optim.probe import first_line, seeded
from optrace.optim.schedules import ScheduleSpec

#: Epochs of the check that a batched sweep races as its combinations alone do.
CHECK_EPOCHS = 3


@dataclass(frozen=True)
class SweepPlan:
    """A racer's sweep: its keys, each key's values, and which combination is the
    racer as written.

    Examples:
        >>> axes = {"lr": (0.1, 0.2), "momentum": (0.0, 0.9)}
        >>> sweep = SweepPlan.of(axes, {"lr": 0.2, "momentum": 0.0})
        >>> sweep.combinations[sweep.written]
        {'lr': 0.2, 'momentum': 0.0}
        >>> len(sweep.combinations)
        4
    """

    keys: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    written: int

    @classmethod
    def of(cls, axes: Mapping[str, Sequence[float]], written: Mapping[str, Any]) -> SweepPlan:
        """The sweep of ``axes`` (checked by the config) for a racer whose values as
        written are ``written``."""
        keys = tuple(axes)
        values = tuple(tuple(axes[k]) for k in keys)
        at = tuple(v.index(written[k]) for k, v in zip(keys, values, strict=True))
        shape = tuple(len(v) for v in values)
        return cls(keys, values, int(np.ravel_multi_index(at, shape)))

    def around(self, written: Mapping[str, Any]) -> SweepPlan:
        """This sweep around other values as written (a tuning's best): each swept
        key's value among its values, added in order where it is not.

        Examples:
            >>> SweepPlan.of({"lr": (0.1, 0.3)}, {"lr": 0.1}).around({"lr": 0.2}).values
            ((0.1, 0.2, 0.3),)
        """
        axes = {
            k: tuple(sorted({*v, written[k]})) if k in written else v
            for k, v in zip(self.keys, self.values, strict=True)
        }
        own = {
            k: written.get(k, v[self._at(i)])
            for i, (k, v) in enumerate(zip(self.keys, self.values, strict=True))
        }
        return SweepPlan.of(axes, own)

    def _at(self, key: int) -> int:
        """The index along key number ``key`` of the combination as written."""
        shape = tuple(len(v) for v in self.values)
        return int(np.unravel_index(self.written, shape)[key])

    @property
    def combinations(self) -> list[dict[str, float]]:
        """Every combination in grid order, the last key varying fastest."""
        return [dict(zip(self.keys, c, strict=True)) for c in itertools.product(*self.values)]


def race_sweep(
    spec: OptimizerSpec,
    fn: Fn,
    starts: Sequence[Point],
    epochs: int,
    sweep: SweepPlan,
    progress: Callable[[int], None] | None = None,
    schedule: ScheduleSpec | None = None,
    seed: int = 0,
    noise: NoiseSpec | None = None,
    budget: int | None = None,
) -> list[Run]:
    """Every combination of ``sweep`` raced from every start (see
    :func:`optrace.engine.loop.race_one`), in grid order.

    The combinations race as one optimizer with a parameter group per combination
    (one backward() over the sum of their losses gives each its own gradient) when
    the optimizer is torch's own (whose groups keep to themselves: a third-party
    one may clip by the norm of every group, or keep a swept value outside its
    groups), steps plainly over one tensor of all the starts, a short race of the
    first and last combinations that way gives the same bits as each alone, and no
    combination raises; otherwise each combination races on its own.
    """
    combinations = sweep.combinations
    batched = (
        len(combinations) > 1
        and spec.groups_allowed
        and spec.cls.__module__.startswith("torch.optim")
        and (len(starts) == 1 or spec.elementwise)
        and (schedule is None or not schedule.on_loss)
    )
    if batched and _same_bits(spec, fn, starts, epochs, combinations, schedule, seed, noise):
        with seeded(seed):
            runs = race_groups(
                spec, fn, starts, epochs, progress, schedule, noise, None, budget, combinations
            )
        if all(r.failure is None for r in runs):
            return runs
        # One group's exception stopped them all: each races alone instead.
        progress = None
    return [
        race_one(_with(spec, c), fn, starts, epochs, progress, schedule, seed, noise, None, budget)
        for c in combinations
    ]


def check_combinations(
    spec: OptimizerSpec, sweep: SweepPlan, start: torch.Tensor, path: str
) -> None:
    """Build the optimizer of every combination once, on a copy of ``start``, as a
    plain loop would: a value its constructor refuses (a negative lr) is a config
    error at ``path`` (the racer's ``sweep``), before anything races.

    Raises:
        ConfigError: The first combination whose optimizer cannot be built.
    """
    for values in sweep.combinations:
        param = start.detach().clone().to(spec.dtype).requires_grad_(True)
        try:
            _with(spec, values).build(param)
        except Exception as exc:
            said = ", ".join(f"{k}={v!r}" for k, v in values.items())
            raise ConfigError(path, f"{spec.name} refuses {said}: {first_line(exc)}") from None


def _with(spec: OptimizerSpec, values: Mapping[str, Any]) -> OptimizerSpec:
    return replace(spec, hyperparameters={**spec.hyperparameters, **values})


def _same_bits(
    spec: OptimizerSpec,
    fn: Fn,
    starts: Sequence[Point],
    epochs: int,
    combinations: list[dict[str, float]],
    schedule: ScheduleSpec | None,
    seed: int,
    noise: NoiseSpec | None,
) -> bool:
    """Whether the first and last combinations raced as two groups of one optimizer
    give the same places and losses as each raced alone, over a few epochs."""
    ends = [combinations[0], combinations[-1]]
    short = min(epochs, CHECK_EPOCHS)
    with seeded(seed):
        together = race_groups(spec, fn, starts, short, None, schedule, noise, None, None, ends)
    for values, grouped in zip(ends, together, strict=True):
        alone = race_one(_with(spec, values), fn, starts, short, None, schedule, seed, noise)
        for a, b in ((alone.x, grouped.x), (alone.loss, grouped.loss), (alone.y, grouped.y)):
            if a is None or b is None:
                if (a is None) != (b is None):
                    return False
            elif not np.array_equal(a, b, equal_nan=True):
                return False
        if alone.failure is not None or grouped.failure is not None:
            return False
    return True
