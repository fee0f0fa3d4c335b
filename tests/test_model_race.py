"""Model races against hand-written torch training loops, and their bad input.

Every racer trains its own copy of a network from the same initial weights; the
losses it records are the ones a plain loop computes, to the bit.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import optrace
from optrace._core.atomic import Output
from optrace._core.errors import ConfigError

pytest.importorskip("sklearn")


def _data(n: int = 120, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 5, generator=generator, dtype=torch.float64)
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).long() + (X[:, 2] > 0.8).long()
    return X, y


def _net(seed: int = 1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def _plain(
    module: nn.Module,
    make: Callable[[Any], torch.optim.Optimizer],
    X: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    closure: bool = False,
) -> list[float]:
    """The loop a user writes: zero_grad, loss, backward, step; the loss after t steps."""
    model = copy.deepcopy(module)
    opt = make(model.parameters())
    losses = []
    for _ in range(epochs):
        if closure:

            def again() -> float:
                opt.zero_grad()
                value = nn.functional.cross_entropy(model(X), y)
                value.backward()
                return float(value)

            losses.append(float(nn.functional.cross_entropy(model(X), y)))
            opt.step(again)
        else:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(X), y)
            losses.append(float(loss))
            loss.backward()
            opt.step()
    losses.append(float(nn.functional.cross_entropy(model(X), y)))
    return losses


RACERS: dict[str, tuple[dict[str, Any], Callable[[Any], torch.optim.Optimizer], bool]] = {
    "SGD": (
        {"optimizer": "SGD", "lr": 0.1, "momentum": 0.9},
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        False,
    ),
    "Adam": ({"optimizer": "Adam", "lr": 0.01}, lambda p: torch.optim.Adam(p, lr=0.01), False),
    "RMSprop": (
        {"optimizer": "RMSprop", "lr": 0.001},
        lambda p: torch.optim.RMSprop(p, lr=0.001),
        False,
    ),
    "Adafactor": (
        {"optimizer": "Adafactor", "lr": 0.01},
        lambda p: torch.optim.Adafactor(p, lr=0.01),
        False,
    ),
    "LBFGS": (
        {"optimizer": "LBFGS", "lr": 0.5, "max_iter": 4},
        lambda p: torch.optim.LBFGS(p, lr=0.5, max_iter=4),
        True,
    ),
}


@pytest.fixture(scope="module")
def own_run() -> tuple[optrace.RaceRun, nn.Module, torch.Tensor, torch.Tensor]:
    X, y = _data()
    module = _net()
    before = [p.detach().clone() for p in module.parameters()]
    run = optrace.Race(
        model=module,
        data=(X, y),
        loss=nn.functional.cross_entropy,
        racers=[entry for entry, _, _ in RACERS.values()],
        epochs=25,
        plane={"grid": 9},
    ).run()
    # The module as given is the initial point, and is left as it was.
    assert all(torch.equal(a, p) for a, p in zip(before, module.parameters(), strict=True))
    return run, module, X, y


def test_every_racer_s_loss_is_a_plain_loop_s_to_the_bit(own_run: Any) -> None:
    run, module, X, y = own_run
    for label, (_, make, closure) in RACERS.items():
        expected = _plain(module, make, X, y, 25, closure)
        assert run.traces[label].loss.tolist() == expected, label


def test_every_path_starts_at_the_origin_on_orthonormal_pca_directions(own_run: Any) -> None:
    run = own_run[0]
    land = run.landscape
    assert land.kind == "pca"
    gram = land.directions @ land.directions.T
    assert np.allclose(gram, np.eye(2), atol=1e-12)
    for trace in run.traces.values():
        assert (trace.x[0], trace.y[0], trace.off_plane[0]) == (0.0, 0.0, 0.0)
        assert trace.plane_loss[0] == pytest.approx(trace.loss[0], rel=1e-12)
    assert land.losses.shape == (len(land.betas), len(land.alphas)) == (9, 9)
    # The origin is the module's weights as given.
    flat = torch.cat([p.detach().reshape(-1) for p in own_run[1].parameters()]).numpy()
    assert np.array_equal(land.origin, flat)


def test_the_coordinates_are_the_displacements_dot_the_directions(own_run: Any) -> None:
    """Recomputed independently: train Adam by hand, project its weights."""
    run, module, X, y = own_run
    land = run.landscape
    model = copy.deepcopy(module)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(25):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    end = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()
    moved = end - land.origin
    a, b = land.directions @ moved
    trace = run.traces["Adam"]
    assert (trace.x[-1], trace.y[-1]) == pytest.approx((a, b), rel=1e-9)
    rest = np.linalg.norm(moved - a * land.directions[0] - b * land.directions[1])
    assert trace.off_plane[-1] == pytest.approx(rest / np.linalg.norm(moved), rel=1e-9)


def test_the_explained_shares_are_the_singular_values_of_every_displacement(
    own_run: Any,
) -> None:
    run, module, X, y = own_run
    land = run.landscape
    # Rebuild the displacement matrix from the projections and residuals is not
    # possible; instead check against an SVD of every path rebuilt by hand loops.
    rows = []
    for _, make, closure in RACERS.values():
        model = copy.deepcopy(module)
        opt = make(model.parameters())
        rows.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy())
        for _ in range(25):

            def again(opt: Any = opt, model: nn.Module = model) -> torch.Tensor:
                opt.zero_grad()
                value = nn.functional.cross_entropy(model(X), y)
                value.backward()
                return value

            if closure:
                opt.step(again)
            else:
                again()
                opt.step()
            rows.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy())
    moved = np.array(rows) - land.origin
    s = np.linalg.svd(moved, compute_uv=False)
    assert land.explained == pytest.approx((s[:2] ** 2) / (s**2).sum(), rel=1e-6)


def test_the_summary_names_the_plane_and_each_racer_s_test_and_off_plane(
    tmp_path: Path,
) -> None:
    X, y = _data(200)
    run = optrace.Race(
        model=_net(),
        data=(X, y),
        loss="cross_entropy",
        test=0.25,
        racers=[{"optimizer": "Adam", "lr": 0.02}, {"optimizer": "SGD", "lr": 0.5}],
        epochs=30,
        plane={"grid": 7},
    ).run(save=[Output("summary", tmp_path / "s.json"), tmp_path / "t.csv"])
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["plane"]["kind"] == "pca"
    off = [r["max_off_plane"] for r in summary["racers"]]
    assert summary["plane"]["max_off_plane"] == max(off)
    adam = run.traces["Adam"]
    entry = summary["racers"][0]
    assert entry["test_loss"] == adam.test_loss[-1]
    assert entry["test_accuracy"] == adam.test_accuracy[-1]
    assert entry["max_off_plane"] == float(np.nanmax(adam.off_plane))
    # The held-out part: 50 of 200 examples, classified as a hand computation says.
    head = (tmp_path / "t.csv").read_text().splitlines()[0].split(",")
    assert head == [
        "racer", "epoch", "evaluations", "x", "y", "loss",
        "plane_loss", "off_plane", "test_loss", "test_accuracy",
    ]  # fmt: skip
    assert all(0 <= a <= 1 for a in adam.test_accuracy)


def test_a_two_parameter_model_lies_on_its_plane() -> None:
    """With two weights the plane is the whole space: off_plane 0, plane_loss = loss."""
    X = torch.linspace(-2, 2, 40, dtype=torch.float64)[:, None]
    y = 0.7 * X[:, 0] - 0.3
    module = nn.Linear(1, 1).double()
    run = optrace.Race(
        model=module,
        data=(X, y),
        loss="mse",
        racers=[{"optimizer": "SGD", "lr": 0.1}, {"optimizer": "Adam", "lr": 0.1}],
        epochs=20,
        plane={"grid": 5},
    ).run()
    for trace in run.traces.values():
        assert np.allclose(trace.off_plane, 0, atol=1e-9)
        assert trace.plane_loss == pytest.approx(trace.loss, rel=1e-9)


def test_a_digits_config_trains_as_the_loop_on_its_split_and_mlp() -> None:
    from optrace.problems.datasets import load_dataset
    from optrace.problems.networks import build_mlp

    race = optrace.Race(
        model={"data": "digits", "net": [16]},
        epochs=12,
        seed=3,
        racers=[{"optimizer": "Adam", "lr": 0.01}, {"optimizer": "SGD", "lr": 0.2}],
        plane={"grid": 5, "kind": "random"},
    )
    run = race.run()
    data = load_dataset("digits", seed=3, test=0.2)
    net = build_mlp(64, [16], 10, "tanh", 3, torch.float64)
    X, y = torch.tensor(data.X), torch.tensor(data.y)
    expected = _plain(net, lambda p: torch.optim.Adam(p, lr=0.01), X, y, 12)
    assert run.traces["Adam"].loss.tolist() == expected
    assert run.landscape.kind == "random" and run.landscape.explained is None


def test_minibatches_are_the_same_for_every_racer_and_the_loss_is_the_whole_set_s() -> None:
    X, y = _data(100)
    module = _net()
    run = optrace.Race(
        model=module,
        data=(X, y),
        loss="cross_entropy",
        batch=32,
        seed=5,
        racers=[{"optimizer": "SGD", "lr": 0.3}],
        epochs=7,
        plane={"grid": 5},
    ).run()
    # By hand: passes over shuffles of a generator seeded 5, whole batches of 32.
    generator = torch.Generator().manual_seed(5)
    batches: list[torch.Tensor] = []
    while len(batches) < 7:
        order = torch.randperm(100, generator=generator)
        batches += [order[i : i + 32] for i in range(0, 100 - 32 + 1, 32)]
    model = copy.deepcopy(module)
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    losses = [float(nn.functional.cross_entropy(model(X), y))]
    for index in batches[:7]:
        opt.zero_grad()
        nn.functional.cross_entropy(model(X[index]), y[index]).backward()
        opt.step()
        with torch.no_grad():
            losses.append(float(nn.functional.cross_entropy(model(X), y)))
    assert run.traces["SGD"].loss.tolist() == losses


def test_an_endpoints_plane_puts_its_racers_ends_at_one_zero_and_zero_one() -> None:
    X, y = _data()
    run = optrace.Race(
        model=_net(),
        data=(X, y),
        loss="cross_entropy",
        racers=[{"optimizer": "SGD", "lr": 0.2}, {"optimizer": "Adam", "lr": 0.01}],
        epochs=10,
        plane={"kind": "endpoints", "racers": ["Adam", "SGD"], "grid": 5},
    ).run()
    adam, sgd = run.traces["Adam"], run.traces["SGD"]
    assert (adam.x[-1], adam.y[-1]) == pytest.approx((1, 0), abs=1e-9)
    assert (sgd.x[-1], sgd.y[-1]) == pytest.approx((0, 1), abs=1e-9)
    assert adam.off_plane[-1] == pytest.approx(0, abs=1e-9)


BAD_PYTHON = {
    "output shape": (
        {"model": nn.Linear(5, 1).double(), "loss": "cross_entropy"},
        "model: the module's output does not fit the loss on the data",
    ),
    "plane racer": (
        {"plane": {"kind": "endpoints", "racers": ["Adam", "Adamm"]}},
        "plane.racers[1]: no racer is labelled 'Adamm' (did you mean 'Adam'?)",
    ),
    "data without module": (
        {"model": {"data": _data()}},
        "model: data as tensors needs your module: model=module",
    ),
}


@pytest.mark.parametrize("case", list(BAD_PYTHON), ids=list(BAD_PYTHON))
def test_bad_python_input_is_one_config_error(case: str) -> None:
    fields, message = BAD_PYTHON[case]
    given: dict[str, Any] = {
        "model": _net(),
        "data": _data(),
        "loss": "cross_entropy",
        "racers": [{"optimizer": "SGD"}, {"optimizer": "Adam"}],
        "epochs": 3,
        **fields,
    }
    if isinstance(given["model"], dict):
        given.pop("data")
        given.pop("loss")
    with pytest.raises(ConfigError) as raised:
        optrace.Race(**given).run()
    assert str(raised.value).startswith(message), str(raised.value)
    assert "\n" not in str(raised.value)


MODEL = "epochs: 5\nracers: [{optimizer: SGD}, {optimizer: Adam}]\n"
BAD_FILES = {
    "unknown data set": (
        "model: {data: digit}\n" + MODEL,
        "model.data: unknown data set 'digit' (did you mean 'digits'?)",
    ),
    "net not widths": (
        "model: {data: iris, net: [32, 0]}\n" + MODEL,
        "model.net: expected a list of positive whole numbers such as [32]",
    ),
    "net not a list": (
        "model: {data: iris, net: 32}\n" + MODEL,
        "model.net: expected a list of positive whole numbers",
    ),
    "batch not a size": (
        "model: {data: iris, batch: 0}\n" + MODEL,
        "model.batch: expected 'full' or a minibatch size of at least 1 such as 64, got 0",
    ),
    "cross entropy on values": (
        "model: {data: diabetes, loss: cross_entropy}\n" + MODEL,
        "model.loss: cross_entropy needs class labels; diabetes's target is real-valued: use 'mse'",
    ),
    "plane racer": (
        "model: {data: iris}\nplane: {kind: endpoints, racers: [SGD, Adamm]}\n" + MODEL,
        "plane.racers[1]: no racer is labelled 'Adamm' (did you mean 'Adam'?)",
    ),
    "csv without target": (
        "model: {data: {csv: d.csv, target: label}}\n" + MODEL,
        "model.data.target: no column 'label' in d.csv; its columns: a, b, kind",
    ),
    "csv with text": (
        "model: {data: {csv: e.csv, target: label}}\n" + MODEL,
        "model.data.csv: line 3 of e.csv, column 'a': 'x' is not a number",
    ),
    "function and model": (
        "function: rosenbrock\nmodel: {data: iris}\n" + MODEL,
        "model: give either 'function' or 'model', not both",
    ),
    "a start": (
        "model: {data: iris}\nstart: [0, 1]\n" + MODEL,
        "start: a model race starts from its initial weights; remove 'start'",
    ),
    "a racer's own dtype": (
        "model: {data: iris}\nepochs: 5\nracers: [{optimizer: SGD, dtype: float32}]\n",
        "racers[0].dtype: every racer of a model race trains the network in the race's dtype",
    ),
    "plane without model": (
        "function: rosenbrock\nplane: {grid: 9}\n" + MODEL,
        "plane: only a model race has a plane",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_a_bad_model_config_is_one_line_exit_2_and_nothing_written(
    case: str, invoke: Any, tmp_path: Path
) -> None:
    text, message = BAD_FILES[case]
    (tmp_path / "d.csv").write_text("a,b,kind\n1,2,0\n3,4,1\n")
    (tmp_path / "e.csv").write_text("a,b,label\n1,2,0\nx,4,1\n")
    config = tmp_path / "race.yaml"
    config.write_text(text)
    out = tmp_path / "out"
    out.mkdir()
    result = invoke("run", config, "--gif", out / "r.gif", "--summary", out / "s.json")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0], lines[0]
    assert list(out.iterdir()) == []


def test_a_budget_of_evaluations_ends_each_racer_where_a_loop_counting_them_would(
    tmp_path: Path,
) -> None:
    X, y = _data()
    module = _net()
    run = optrace.Race(
        model=module,
        data=(X, y),
        loss="cross_entropy",
        racers=[RACERS["LBFGS"][0], RACERS["Adam"][0]],
        budget={"evaluations": 24},
        plane={"grid": 5},
        animation={"axis": "evaluations", "size": [320, 240], "loss_panel": True},
    ).run(save=[tmp_path / "b.gif"])
    adam, lbfgs = run.traces["Adam"], run.traces["LBFGS"]
    # Adam: one gradient a step, 24 steps; LBFGS: each step's closure calls counted.
    assert adam.evaluations[24] == 24 and adam.loss[:25].tolist() == _plain(
        module, RACERS["Adam"][1], X, y, 24
    )
    steps = int(np.argmax(lbfgs.evaluations >= 24))
    assert 0 < steps < 24
    assert lbfgs.loss[: steps + 1].tolist() == _plain(module, RACERS["LBFGS"][1], X, y, steps, True)
    pictured = run.pictured.traces[0]
    assert pictured.plane_loss is not None and pictured.plane_loss.shape == pictured.x.shape


def test_a_racer_that_blows_up_is_left_out_of_the_plane_and_named() -> None:
    """Adam at lr 1e3 ends higher than it began: the PCA plane and the grid are the
    steady racers' alone, as a plane fitted to SGD by hand."""
    X, y = _data()
    module = _net()
    run = optrace.Race(
        model=module,
        data=(X, y),
        loss="cross_entropy",
        racers=[{"optimizer": "SGD", "lr": 0.3}, {"optimizer": "Adam", "lr": 1000.0}],
        epochs=15,
        plane={"grid": 5},
    ).run()
    land = run.landscape
    assert land.left_out == ("Adam",)
    assert "fitted without Adam" in land.describe()
    # SGD's own displacements, by hand: the plane is theirs alone.
    model = copy.deepcopy(module)
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    rows = [torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()]
    for _ in range(15):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
        rows.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy())
    s = np.linalg.svd(np.array(rows) - land.origin, compute_uv=False)
    assert land.explained == pytest.approx((s[:2] ** 2) / (s**2).sum(), rel=1e-6)
    sgd = run.traces["SGD"]
    assert land.alphas[0] <= np.nanmin(sgd.x) and np.nanmax(sgd.x) <= land.alphas[-1]


def test_an_endpoints_plane_refuses_a_racer_that_diverged_in_one_line() -> None:
    X, y = _data()
    with pytest.raises(ConfigError) as raised:
        optrace.Race(
            model=_net(),
            data=(X, y),
            loss="cross_entropy",
            racers=[
                {"optimizer": "SGD", "lr": 0.3, "label": "steady"},
                {"optimizer": "SGD", "lr": 1e308, "label": "wild"},
            ],
            epochs=5,
            plane={"kind": "endpoints", "racers": ["steady", "wild"]},
        ).run()
    assert str(raised.value).startswith("plane.racers[1]: wild diverged at epoch"), raised.value


def test_a_budget_s_held_epochs_are_not_counted_twice_in_the_plane() -> None:
    X, y = _data()
    run = optrace.Race(
        model=_net(),
        data=(X, y),
        loss="cross_entropy",
        racers=[RACERS["LBFGS"][0], RACERS["Adam"][0]],
        budget={"evaluations": 24},
        plane={"grid": 5},
    ).run()
    land = run.landscape
    rows = []
    for trace in run.traces.values():
        steps = int(np.argmax(trace.evaluations >= 24))
        # Each epoch's point on the plane plus its part off it: the displacement's norm.
        rows += [steps + 1]
    assert rows[0] < rows[1] == 25
    # The shares come from one row per epoch stepped: rebuilt from the coordinates of
    # a plane that fits only two directions, the first share matches the projection.
    total = 0.0
    for trace, count in zip(run.traces.values(), rows, strict=True):
        a, b, off = trace.x[:count], trace.y[:count], trace.off_plane[:count]
        on = a**2 + b**2
        with np.errstate(invalid="ignore", divide="ignore"):
            total += float(np.nansum(on / np.where(off < 1, 1 - off**2, np.nan)))
        assert np.nansum(a**2) > 0
    first = sum(float(np.sum(t.x[:c] ** 2)) for t, c in zip(run.traces.values(), rows, strict=True))
    assert land.explained[0] == pytest.approx(first / total, rel=1e-6)


def test_the_module_given_is_left_as_it_was_buffers_and_all() -> None:
    X, y = _data()
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3)).double()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    optrace.Race(
        model=module,
        data=(X, y),
        loss="cross_entropy",
        test=0.25,
        racers=[{"optimizer": "Adam", "lr": 0.01}],
        epochs=4,
        plane={"grid": 5},
    ).run()
    after = module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"test": 0.001}, "test: 0.001 of data's 120 examples holds out none"),
        (
            {
                "model": nn.Linear(1, 1, bias=False).double(),
                "data": (torch.ones(4, 1), torch.ones(4)),
            },
            "model: a plane needs a model of at least two weights; this one has 1",
        ),
        (
            {"data": (*_data(), *_data(20)), "test": 0.2},
            "test: data already holds a test part (X_test, y_test); remove 'test'",
        ),
    ],
)
def test_own_data_that_cannot_make_a_plane_or_a_split_is_one_line(
    fields: dict[str, Any], message: str
) -> None:
    given: dict[str, Any] = {
        "model": _net(),
        "data": _data(),
        "loss": "mse" if "model" in fields else "cross_entropy",
        "racers": [{"optimizer": "SGD"}],
        "epochs": 2,
        **fields,
    }
    if "model" in fields:
        given["data"] = (torch.ones(4, 1, dtype=torch.float64), torch.ones(4, dtype=torch.float64))
    with pytest.raises(ConfigError) as raised:
        optrace.Race(**given).run()
    assert str(raised.value).startswith(message), str(raised.value)
