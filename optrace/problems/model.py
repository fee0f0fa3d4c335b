"""A model race's problem: a network, its training data and loss (and a held-out
part), from a config's data set or from the user's own module and tensors."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from optrace._core.errors import ConfigError
from optrace._core.keys import show
from optrace.problems.networks import LOSSES, LossFn, build_mlp
from optrace.spec.training import ModelConfig


@dataclass(frozen=True)
class ModelProblem:
    """What every racer of a model race trains: its own copy of ``module`` from the
    same initial weights, on the same batches in the same order.

    Attributes:
        name: The data's name (``digits``, a CSV file's, or ``your data``).
        module: The network at its initial weights (never trained itself).
        loss_fn: ``loss_fn(module(X), y)`` is the training loss.
        X: The training inputs.
        y: The training targets.
        X_test: The held-out inputs, if any.
        y_test: Their targets.
        classes: How many classes the targets hold (None: not a classification,
            or the user's own loss), for test accuracy.
        batch: Minibatch size, or None for full batch.
        description: A line for titles and the summary, e.g.
            ``digits: MLP 64-32-10 (tanh), cross_entropy``.
    """

    name: str
    module: nn.Module
    loss_fn: LossFn
    X: torch.Tensor
    y: torch.Tensor
    X_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None
    classes: int | None = None
    batch: int | None = None
    description: str = ""

    @property
    def examples(self) -> int:
        """How many training examples there are."""
        return int(self.X.shape[0])

    def evaluator(self, module: nn.Module) -> Callable[[], torch.Tensor]:
        """The training loss of ``module`` (a copy of :attr:`module`), as a closure."""
        return lambda: self.loss_fn(module(self.X), self.y)

    def batches(self, seed: int, epochs: int) -> list[torch.Tensor] | None:
        """Each epoch's minibatch as indices into the training part (None: full batch):
        passes over a fresh seeded shuffle each, the same for every racer."""
        if self.batch is None:
            return None
        generator = torch.Generator().manual_seed(seed)
        n, size = self.examples, min(self.batch, self.examples)
        found: list[torch.Tensor] = []
        while len(found) < epochs:
            order = torch.randperm(n, generator=generator)
            found += [order[i : i + size] for i in range(0, n - size + 1, size)]
        return found[:epochs]


def _tensors(values: Any, dtype: torch.dtype, classes: bool) -> torch.Tensor:
    if classes:
        return torch.as_tensor(values, dtype=torch.int64)
    return torch.as_tensor(values, dtype=dtype)


def build_problem(
    config: ModelConfig, seed: int, dtype: torch.dtype, folder: Path | None = None
) -> ModelProblem:
    """The problem a ``model:`` block describes: its data set split and standardised,
    an MLP drawn from ``seed``, or the user's own module and tensors; refused in one
    line where the loss does not fit the data or the module's output the loss."""
    if config.own:
        return _own(config, seed)
    from optrace.problems.datasets import default_loss, load_dataset, loss_fits

    data = load_dataset(config.data, seed=seed, test=config.test_fraction, folder=folder)
    loss = config.loss or default_loss(data)
    loss_fits(loss, data)
    classify = loss == "cross_entropy"
    outputs = data.classes if classify and data.classes is not None else 1
    module = build_mlp(data.X.shape[1], config.net, outputs, config.activation, seed, dtype)
    sizes = "-".join(str(s) for s in (data.X.shape[1], *config.net, outputs))
    kind = "linear" if not config.net else f"MLP {sizes} ({config.activation})"
    if not config.net:
        kind = "logistic regression" if classify else "linear regression"
    return _checked(
        ModelProblem(
            name=data.name,
            module=module,
            loss_fn=LOSSES[loss],
            X=torch.as_tensor(data.X, dtype=dtype),
            y=_tensors(data.y, dtype, classify),
            X_test=None if data.X_test is None else torch.as_tensor(data.X_test, dtype=dtype),
            y_test=None if data.y_test is None else _tensors(data.y_test, dtype, classify),
            classes=data.classes if classify else None,
            batch=None if config.batch == "full" else int(config.batch),
            description=f"{data.name}: {kind}, {loss}",
        )
    )


def _own(config: ModelConfig, seed: int) -> ModelProblem:
    """The user's module, tensors and loss; a test split of them if ``test`` asks."""
    if not isinstance(config.module, nn.Module):
        raise ConfigError("model", f"expected a torch.nn.Module, got {show(config.module)}")
    # The module as given is the initial point: every pass of optrace's runs on a copy.
    module = copy.deepcopy(config.module)
    if not any(p.requires_grad for p in module.parameters()):
        raise ConfigError("model", "the module has no parameters that require a gradient")
    loss_fn = LOSSES[config.loss] if isinstance(config.loss, str) else config.loss
    given: Sequence[Any] = config.data
    tensors = []
    for i, t in enumerate(given):
        if not isinstance(t, torch.Tensor):
            raise ConfigError(f"data[{i}]", f"expected a torch.Tensor, got {show(t)}")
        tensors.append(t)
    X, y = tensors[0], tensors[1]
    if len(X) != len(y):
        raise ConfigError("data", f"X has {len(X)} examples but y has {len(y)}")
    X_test = y_test = None
    if len(tensors) == 4:
        if config.test is not None:
            raise ConfigError(
                "test", "data already holds a test part (X_test, y_test); remove 'test'"
            )
        X_test, y_test = tensors[2], tensors[3]
    elif config.test_fraction > 0:
        from optrace.problems.datasets import split_indices

        train, held = (
            torch.as_tensor(i)
            for i in split_indices(len(X), config.test_fraction, seed, "data", "test")
        )
        X, y, X_test, y_test = X[train], y[train], X[held], y[held]
    classes = None
    if not y.is_floating_point():
        classes = int(y.max()) + 1
    name = type(module).__name__
    return _checked(
        ModelProblem(
            name="your data",
            module=module,
            loss_fn=loss_fn,
            X=X,
            y=y,
            X_test=X_test,
            y_test=y_test,
            classes=classes,
            batch=None if config.batch == "full" else int(config.batch),
            description=f"your {name} on {len(X):,} examples",
        )
    )


def _checked(problem: ModelProblem) -> ModelProblem:
    """The problem, once its loss at the initial weights is a finite number."""
    weights = sum(p.numel() for p in problem.module.parameters())
    if weights < 2:
        raise ConfigError(
            "model", f"a plane needs a model of at least two weights; this one has {weights}"
        )
    try:
        with torch.no_grad():
            # On a copy: a module's buffers (a batch norm's statistics) stay as given.
            value = problem.loss_fn(copy.deepcopy(problem.module)(problem.X), problem.y)
    except Exception as exc:
        raise ConfigError(
            "model",
            f"the module's output does not fit the loss on the data: {str(exc).splitlines()[0]}",
        ) from None
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else show(value)
        raise ConfigError(
            "model", f"the loss must be one number per batch, got {shape}; average it"
        )
    if not np.isfinite(float(value)):
        raise ConfigError("model", "the loss at the initial weights is not finite")
    return problem


def accuracy(output: torch.Tensor, target: torch.Tensor) -> float:
    """The share of rows whose highest output is their target class."""
    return float((output.argmax(dim=-1) == target).double().mean())
