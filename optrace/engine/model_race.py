"""A model race: every racer trains its own copy of the network from the same
initial weights, each epoch exactly as a plain torch training loop; then every
path is drawn on one plane (:mod:`optrace.engine.landscape`)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from optrace.engine.landscape import flatten
from optrace.engine.plan import RacerPlan
from optrace.optim.models import build_on_model
from optrace.optim.optimizers import learning_rate
from optrace.optim.probe import first_line, seeded
from optrace.optim.step import Evaluations, step
from optrace.problems.model import ModelProblem, accuracy
from optrace.problems.networks import LossFn


@dataclass(frozen=True)
class ModelRun:
    """One racer's training, each array one value per epoch ``0..epochs``.

    Attributes:
        weights: ``(epochs + 1, P)``: the flattened parameters after each epoch's step
            (float64), NaN from the epoch the loss or a weight became non-finite.
        loss: The training loss at those weights.
        evaluations: The gradients used by each epoch.
        steps: The steps taken (fewer than ``epochs`` where it diverged or a budget
            of evaluations ended it; from there on everything is held).
        lr: The learning rate each epoch's step used (None without a schedule, or
            without a learning rate).
        failure: What the optimizer raised, if it stopped the racer.
        test_loss: With a held-out part: its loss at those weights.
        test_accuracy: And with classes: its share classified right.
    """

    weights: np.ndarray
    loss: np.ndarray
    evaluations: np.ndarray
    steps: int
    lr: np.ndarray | None = None
    failure: str | None = None
    test_loss: np.ndarray | None = None
    test_accuracy: np.ndarray | None = None


def flat(module: nn.Module) -> np.ndarray:
    """The module's parameters, flattened in ``parameters()`` order, as float64."""
    return flatten(list(module.parameters()))


def race_model(
    racer: RacerPlan,
    problem: ModelProblem,
    epochs: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    budget: int | None = None,
) -> ModelRun:
    """Train a copy of ``problem.module`` with ``racer``'s optimizer.

    Full batch, each epoch is ``opt.zero_grad(); loss_fn(module(X), y).backward();
    opt.step()`` (with a closure, or ``create_graph``, where the optimizer needs
    them), and ``loss[t]`` the training loss after ``t`` steps exactly as that loop
    computes it: the forward pass that the next step differentiates. With
    minibatches, each epoch steps on the next batch of ``problem.batches(seed)`` and
    ``loss[t]`` is the whole training part's loss. Torch's generator is seeded with
    ``seed`` for the run (and left as it was), so every racer draws alike.
    """
    module = copy.deepcopy(problem.module)
    params = [p for p in module.parameters() if p.requires_grad]
    X, y, loss_fn = problem.X, problem.y, problem.loss_fn
    batches = problem.batches(seed, epochs)
    size = len(flat(module))
    weights = np.full((epochs + 1, size), np.nan)
    losses = np.full(epochs + 1, np.nan)
    used = np.zeros(epochs + 1, dtype=np.int64)
    held = problem.X_test is not None and problem.y_test is not None
    test_loss = np.full(epochs + 1, np.nan) if held else None
    test_accuracy = np.full(epochs + 1, np.nan) if held and problem.classes else None
    lrs = np.full(epochs + 1, np.nan)

    def training_loss() -> torch.Tensor:
        value: torch.Tensor = loss_fn(module(X), y)
        return value

    def record(epoch: int, loss: torch.Tensor) -> bool:
        value = float(loss.detach())
        place = flat(module)
        if not (np.isfinite(value) and np.isfinite(place).all()):
            return False
        weights[epoch], losses[epoch] = place, value
        if test_loss is not None:
            # Evaluated as a user evaluates a model: in eval mode (no dropout drawn, a
            # batch norm's running statistics), then back to training.
            training = module.training
            module.eval()
            with torch.no_grad():
                out = module(problem.X_test)
            module.train(training)
            with torch.no_grad():
                assert problem.y_test is not None
                test_loss[epoch] = float(loss_fn(out, problem.y_test))
                if test_accuracy is not None:
                    test_accuracy[epoch] = accuracy(out, problem.y_test)
        return True

    steps, failure = epochs, None
    with seeded(seed):
        loss = training_loss()
        alive = record(0, loss)
        try:
            optimizer = build_on_model(racer.optimizer, module)
            schedule = racer.schedule
            scheduler = schedule.build(optimizer) if schedule is not None else None
        except Exception as exc:
            return ModelRun(weights, losses, used, 0, None, first_line(exc))
        lrs[0] = learning_rate(optimizer) or np.nan
        counted = Evaluations(params[0])
        for epoch in range(1, epochs + 1):
            if not alive:
                steps = epoch - 1
                break
            lrs[epoch] = learning_rate(optimizer) or np.nan
            try:
                if batches is None:
                    step(
                        optimizer,
                        params,
                        _no_fn,
                        racer.optimizer.mode,
                        loss,
                        evaluate=training_loss,
                    )
                    loss = training_loss()
                else:
                    index = batches[epoch - 1]
                    step(
                        optimizer,
                        params,
                        _no_fn,
                        racer.optimizer.mode,
                        evaluate=_batch_loss(module, loss_fn, X[index], y[index]),
                    )
                    with torch.no_grad():
                        loss = training_loss()
                if scheduler is not None and schedule is not None:
                    schedule.step(scheduler, loss.detach())
                alive = record(epoch, loss)
            except Exception as exc:
                failure, alive = first_line(exc), False
            used[epoch] = counted.total
            if progress is not None:
                progress(1)
            if not alive:
                steps = epoch
                if progress is not None:
                    progress(epochs - epoch)
                break
            if budget is not None and counted.total >= budget:
                steps = epoch
                for values in (weights, losses, lrs, test_loss, test_accuracy):
                    if values is not None:
                        values[epoch + 1 :] = values[epoch]
                if progress is not None:
                    progress(epochs - epoch)
                break
        counted.close()
    used[steps + 1 :] = used[steps]
    return ModelRun(
        weights,
        losses,
        used,
        steps,
        lrs if racer.schedule is not None else None,
        failure,
        test_loss,
        test_accuracy,
    )


def _batch_loss(
    module: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor
) -> Callable[[], torch.Tensor]:
    """The loss of ``module`` on one minibatch, as a closure."""
    return lambda: loss_fn(module(X), y)


def _no_fn(x: torch.Tensor) -> torch.Tensor:
    """A model's step evaluates the model, never a function of stacked tensors."""
    raise AssertionError("a model race evaluates its module")
