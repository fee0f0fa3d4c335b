"""Optimizers on a model: each built as its documentation builds it and stepped by
optrace's one epoch step gives, to the bit, the losses of a plain torch loop written
from that documentation; what cannot race on a model says why in one line."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import pytorch_optimizer
import torch
from torch import nn

from optrace._core.errors import CannotRace, ConfigError
from optrace.optim.catalog import model_support
from optrace.optim.models import build_on_model, resolve_for_model
from optrace.optim.step import step
from optrace.problems.networks import build_mlp

EPOCHS = 5
_generator = torch.Generator().manual_seed(1)
INPUTS = torch.randn(16, 5, generator=_generator, dtype=torch.float64)
TARGETS = torch.randint(0, 3, (16,), generator=_generator)


def loss_of(module: nn.Module) -> torch.Tensor:
    return nn.functional.cross_entropy(module(INPUTS), TARGETS)


def evaluate_factory(module: nn.Module) -> Callable[[], torch.Tensor]:
    return lambda: loss_of(module)


def network() -> nn.Sequential:
    """An MLP 5-4-3 (tanh): two weight matrices and two biases."""
    return build_mlp(5, [4], 3, "tanh", 0, torch.float64)


@contextmanager
def seeded_alike() -> Iterator[None]:
    """Torch's generator, which Kron draws from, seeded alike for both loops and
    given back as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield


def race(
    name: str | type, module: nn.Module, given: dict[str, Any] | None = None, **keys: Any
) -> tuple[list[float], nn.Module]:
    """The losses after 0..EPOCHS epochs of ``name`` resolved for ``module`` and
    stepped by optrace's step, and the trained copy."""
    spec = resolve_for_model(name, given or {}, "racers[0]", module, evaluate_factory, **keys)
    trained = copy.deepcopy(module)
    evaluate = evaluate_factory(trained)
    params = list(trained.parameters())
    losses = []
    with seeded_alike():  # built inside too, as a race builds it
        optimizer = build_on_model(spec, trained)
        for _ in range(EPOCHS):
            loss = evaluate()
            losses.append(loss.item())
            step(optimizer, params, lambda _: evaluate(), spec.mode, loss=loss, evaluate=evaluate)
    losses.append(evaluate().item())
    return losses, trained


def by_hand(module: nn.Module, make: Callable[[nn.Module], Any]) -> tuple[list[float], nn.Module]:
    """The same epochs as a plain loop: zero_grad, loss, backward, step."""
    trained = copy.deepcopy(module)
    losses = []
    with seeded_alike():
        optimizer = make(trained)
        for _ in range(EPOCHS):
            optimizer.zero_grad()
            loss = loss_of(trained)
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
    losses.append(loss_of(trained).item())
    return losses, trained


def muon_groups(net: nn.Module) -> list[dict[str, Any]]:
    """The groups Muon's documentation writes: weight matrices on, biases off."""
    return [
        {"params": [net[0].weight, net[2].weight], "use_muon": True},
        {"params": [net[0].bias, net[2].bias], "use_muon": False},
    ]


def lomo_by_hand(module: nn.Module) -> tuple[list[float], nn.Module]:
    """LOMO as its trainer steps it: ``fused_backward(loss, lr)`` in place of
    backward() and step(), which it does not implement."""
    trained = copy.deepcopy(module)
    optimizer = pytorch_optimizer.LOMO(trained, lr=0.05)
    losses = []
    for _ in range(EPOCHS):
        loss = loss_of(trained)
        losses.append(loss.item())
        optimizer.fused_backward(loss, lr=0.05)
    losses.append(loss_of(trained).item())
    return losses, trained


PLAIN_LOOPS: dict[str, tuple[dict[str, Any], Callable[[nn.Module], Any]]] = {
    "Muon": ({}, lambda net: pytorch_optimizer.Muon(muon_groups(net))),
    "AdaMuon": ({}, lambda net: pytorch_optimizer.AdaMuon(muon_groups(net))),
    "SOAP": ({"lr": 0.01}, lambda net: pytorch_optimizer.SOAP(net.parameters(), lr=0.01)),
    "Shampoo": ({"lr": 0.01}, lambda net: pytorch_optimizer.Shampoo(net.parameters(), lr=0.01)),
    "Kron": ({"lr": 0.01}, lambda net: pytorch_optimizer.Kron(net.parameters(), lr=0.01)),
    "AdamMini": ({"lr": 0.01}, lambda net: pytorch_optimizer.AdamMini(net, lr=0.01)),
}


@pytest.mark.parametrize("name", sorted(PLAIN_LOOPS))
def test_a_model_optimizer_steps_as_its_documented_loop(name: str) -> None:
    given, make = PLAIN_LOOPS[name]
    net = network()
    raced, raced_net = race(f"pytorch_optimizer.{name}", net, given)
    plain, plain_net = by_hand(net, make)
    assert raced == plain
    assert raced[-1] < raced[0]  # it trained
    for a, b in zip(raced_net.parameters(), plain_net.parameters(), strict=True):
        assert torch.equal(a, b)
    # The probe stepped copies: the model as given is the initial point still.
    assert all(
        torch.equal(a, b) for a, b in zip(net.parameters(), network().parameters(), strict=True)
    )


def test_lomo_steps_in_backward_as_its_fused_backward_does() -> None:
    net = network()
    raced, raced_net = race("pytorch_optimizer.LOMO", net, {"lr": 0.05})
    plain, plain_net = lomo_by_hand(net)
    assert raced == plain and raced[-1] < raced[0]
    for a, b in zip(raced_net.parameters(), plain_net.parameters(), strict=True):
        assert torch.equal(a, b)


def test_the_muon_family_gets_use_muon_groups_even_when_wrapped() -> None:
    net = network()
    shapes = [[p.ndim for p in g["params"]] for g in muon_groups(net)]
    for name in ("Muon", "NorMuon", "AdaGO", "MuonClip"):
        spec = resolve_for_model(f"pytorch_optimizer.{name}", {}, "r", net, evaluate_factory)
        groups = build_on_model(spec, copy.deepcopy(net)).param_groups
        assert [g["use_muon"] for g in groups] == [True, False]
        assert [[p.ndim for p in g["params"]] for g in groups] == shapes
    wrapping = resolve_for_model(
        "pytorch_optimizer.Lookahead",
        {},
        "r",
        net,
        evaluate_factory,
        wraps={"optimizer": "pytorch_optimizer.Muon"},
    )
    lookahead = build_on_model(wrapping, copy.deepcopy(net))
    assert [g["use_muon"] for g in lookahead.param_groups] == [True, False]


def test_torch_muon_races_a_model_of_matrices_and_refuses_biases_in_one_line() -> None:
    matrices = nn.Sequential(
        nn.Linear(5, 4, bias=False, dtype=torch.float64),
        nn.Tanh(),
        nn.Linear(4, 3, bias=False, dtype=torch.float64),
    )
    raced, _ = race(torch.optim.Muon, matrices)
    plain, _ = by_hand(matrices, lambda net: torch.optim.Muon(net.parameters()))
    assert raced == plain and raced[-1] < raced[0]
    with pytest.raises(CannotRace) as caught:
        resolve_for_model(torch.optim.Muon, {}, "racers[0]", network(), evaluate_factory)
    assert str(caught.value) == (
        "racers[0].optimizer: Muon cannot race here: Muon only supports 2D parameters whereas "
        "we found a parameter with size: torch.Size([4])"
    )


@pytest.mark.parametrize(
    ("name", "given", "message"),
    [
        (
            "Muon",
            {"lr": -1.0},
            "racers[0].lr: pytorch_optimizer.Muon rejects lr=-1.0: learning rate must be "
            "positive. (-1.0 > 0)",
        ),
        (
            "LOMO",
            {"clip_grad_norm": 1.0},
            "racers[0].clip_grad_norm: pytorch_optimizer.LOMO rejects clip_grad_norm=1.0: its "
            "fused_backward(loss, lr) fails: clip_grad_norm is not None, but clip_coef is None. "
            "Please call optimizer.grad_norm() before optimizer.fused_backward()",
        ),
        (
            "AdaLOMO",
            {},
            "racers[0].optimizer: pytorch_optimizer.AdaLOMO cannot race here: it updates the "
            "weights in fused_backward(loss, lr), which a race's backward() and step() do not "
            "reproduce",
        ),
        (
            "AdamMini",
            {"model": 1},
            "racers[0].model: optrace supplies 'model' itself; remove it",
        ),
    ],
)
def test_what_a_model_optimizer_rejects_is_named_at_its_key(
    name: str, given: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_for_model(
            f"pytorch_optimizer.{name}", given, "racers[0]", network(), evaluate_factory
        )
    assert str(caught.value) == message


def test_model_support_steps_each_class_on_a_small_mlp() -> None:
    assert model_support(pytorch_optimizer.Muon) is None
    assert model_support(pytorch_optimizer.LOMO) is None
    assert model_support(pytorch_optimizer.SAM) is None  # with the stand-in base, SGD
    assert model_support(pytorch_optimizer.SpectralSphere) == (
        "SpectralSphere only supports 2D parameters"
    )


def test_list_optimizers_on_a_model(invoke: Any) -> None:
    result = invoke("list-optimizers", "--package", "pytorch_optimizer", "--model")
    assert result.exit_code == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    for name in ("Muon", "AdaMuon", "AdamMini", "LOMO", "SOAP", "Shampoo", "Kron"):
        assert "cannot race" not in lines[name], lines[name]
    assert lines["Muon"].startswith("Muon ") and " adamw_lr=0.0003 " in lines["Muon"]
    assert lines["AdaLOMO"].endswith(
        "cannot race: it updates the weights in fused_backward(loss, lr), which a race's "
        "backward() and step() do not reproduce"
    )
    assert result.stdout.splitlines()[-1].startswith("133 of 139 race on a model. ")
