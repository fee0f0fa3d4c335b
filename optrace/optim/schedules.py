"""Learning-rate schedules: a racer's ``schedule: {name: StepLR, step_size: 10}``.

Any torch.optim.lr_scheduler class (or a dotted path to your own), its keywords
checked like an optimizer's hyperparameters and probed for a step before the race.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.optim import lr_scheduler

from optrace._core.errors import ConfigError
from optrace._core.keys import child
from optrace._core.types import Fn
from optrace.optim.classes import find_class
from optrace.optim.hyperparameters import check_hyperparameters
from optrace.optim.optimizers import OptimizerSpec, learning_rate
from optrace.optim.probe import first_line, seeded
from optrace.optim.step import step

#: Schedulers that a YAML config cannot build: they take Python functions or
#: other scheduler objects.
NOT_FROM_CONFIG = {
    "LambdaLR": "its lr_lambda is a Python function",
    "MultiplicativeLR": "its lr_lambda is a Python function",
    "SequentialLR": "it takes other scheduler objects",
    "ChainedScheduler": "it takes other scheduler objects",
    "LRScheduler": "it is the base class",
}


@dataclass(frozen=True)
class ScheduleSpec:
    """A resolved learning-rate schedule.

    Attributes:
        name: As written (``StepLR``, ``mymodule.MySchedule``).
        cls: The scheduler class.
        params: Keywords for its constructor.
        on_loss: Whether ``step`` takes the loss (ReduceLROnPlateau).
    """

    name: str
    cls: type
    params: Mapping[str, Any]
    on_loss: bool

    def build(self, optimizer: torch.optim.Optimizer) -> Any:
        """The scheduler driving ``optimizer``."""
        return self.cls(optimizer, **self.params)

    def step(self, scheduler: Any, loss: torch.Tensor) -> None:
        """Advance one epoch (ReduceLROnPlateau reads the summed loss)."""
        if self.on_loss:
            scheduler.step(float(loss.sum()))
        else:
            scheduler.step()


def torch_schedulers() -> dict[str, type]:
    """Every public scheduler class in torch.optim.lr_scheduler, by name."""
    found = {}
    for name in sorted(dir(lr_scheduler)):
        obj = getattr(lr_scheduler, name)
        if (
            not name.startswith("_")
            and inspect.isclass(obj)
            and (issubclass(obj, lr_scheduler.LRScheduler) or obj is lr_scheduler.ReduceLROnPlateau)
        ):
            found[name] = obj
    return found


def resolve_schedule(
    given: Mapping[str, Any],
    path: str,
    optimizer: OptimizerSpec,
    fn: Fn,
    start: torch.Tensor,
    folder: Path | None = None,
) -> ScheduleSpec:
    """Resolve, check and probe a racer's ``schedule`` mapping at ``path``."""
    name = given.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(
            child(path, "name"), "name a scheduler, e.g. 'schedule: {name: StepLR, step_size: 10}'"
        )
    if name in NOT_FROM_CONFIG:
        raise ConfigError(
            child(path, "name"),
            f"{name} cannot come from a config: {NOT_FROM_CONFIG[name]}; use another, or a "
            "dotted path to a scheduler class of your own",
        )
    base: type = lr_scheduler.LRScheduler
    cls = find_class(
        name,
        child(path, "name"),
        folder,
        torch_schedulers(),
        base,
        "scheduler",
        "name a torch.optim.lr_scheduler class such as StepLR or CosineAnnealingLR",
    )
    params = check_hyperparameters(
        cls, name, {k: v for k, v in given.items() if k != "name"}, path, noun="parameter"
    )
    spec = ScheduleSpec(
        name=name, cls=cls, params=params, on_loss=cls is lr_scheduler.ReduceLROnPlateau
    )
    param = start.detach().to(optimizer.dtype).clone().requires_grad_(True)
    try:
        with seeded(0):
            built = optimizer.build(param)
            if learning_rate(built) is None:
                raise ConfigError(
                    path, f"{optimizer.name} has no 'lr' for a schedule to drive; remove 'schedule'"
                )
            scheduler = spec.build(built)
            for _ in range(2):
                step(built, param, fn, optimizer.mode)
                spec.step(scheduler, fn(param).detach())
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(path, f"{name} rejects these parameters: {first_line(exc)}") from None
    return spec
