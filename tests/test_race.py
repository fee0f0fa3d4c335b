"""The race gives exactly what a plain torch loop gives."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from optrace.engine.loop import run
from optrace.engine.plan import prepare
from optrace.engine.starts import draw_start
from optrace.optim.classes import torch_optimizers
from optrace.spec.loading import parse_config
from tests.conftest import CONFIGS, ROOT, peaks_slice

SEED_RACERS = [
    ("Adadelta", {"lr": 2}),
    ("Adagrad", {"lr": 0.1}),
    ("SGD", {"lr": 0.01, "momentum": 0.9}),
    ("Adam", {"lr": 0.1}),
    ("RMSprop", {"lr": 0.1, "alpha": 0.9}),
]


def torch_refuses(cls: type[torch.optim.Optimizer], size: int) -> str | None:
    """What torch raises when ``cls``, with its defaults, takes two steps on a parameter
    of ``size`` float64 numbers with its dense gradient, or None. It steps with a
    closure, which every torch optimizer takes and LBFGS needs."""
    x = torch.full((size,), 0.5, dtype=torch.float64, requires_grad=True)
    try:
        opt = cls([x])

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = peaks_slice(x).sum()
            loss.backward()
            return loss

        for _ in range(2):
            opt.step(closure)
    except Exception as exc:
        return str(exc)
    return None


#: Every public optimizer class of the installed torch, found in torch.optim itself.
TORCH = sorted(
    name
    for name, cls in vars(torch.optim).items()
    if isinstance(cls, type)
    and issubclass(cls, torch.optim.Optimizer)
    and cls is not torch.optim.Optimizer
    and not name.startswith("_")
)
#: Those that torch itself will not step on the one-number parameter of a 1-D race
#: (torch 2.13: SparseAdam wants sparse gradients, Muon 2-D parameters).
CANNOT_RACE = {n for n in TORCH if torch_refuses(getattr(torch.optim, n), 1) is not None}
RACEABLE = sorted(set(TORCH) - CANNOT_RACE)


def plain_loop(
    name: str, hyper: dict[str, Any], start: float, epochs: int
) -> list[tuple[float, float]]:
    """The loop a user would write by hand."""
    x = torch.tensor([start], dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, name)([x], **hyper)
    points = [(start, peaks_slice(x).item())]
    for _ in range(epochs):
        if name == "LBFGS":

            def closure() -> torch.Tensor:
                opt.zero_grad()
                loss = peaks_slice(x)
                loss.backward()
                return loss

            opt.step(closure)
        else:
            opt.zero_grad()
            loss = peaks_slice(x)
            loss.backward()
            opt.step()
        points.append((x.item(), peaks_slice(x).item()))
    return points


def race(racers: list[dict[str, Any]], start: float | str, epochs: int, **extra: Any) -> Any:
    return run(
        prepare(
            parse_config(
                {
                    "function": "peaks-slice",
                    "start": start,
                    "epochs": epochs,
                    "racers": racers,
                    **extra,
                }
            )
        )
    )


def test_seed_race_matches_plain_loop_bit_for_bit() -> None:
    result = race([{"optimizer": n, **h} for n, h in SEED_RACERS], start=-0.35, epochs=100)
    for trace, (name, hyper) in zip(result.traces, SEED_RACERS, strict=True):
        expected = plain_loop(name, hyper, -0.35, 100)
        assert list(zip(trace.x[0].tolist(), trace.loss[0].tolist(), strict=True)) == expected


@pytest.mark.parametrize("name", RACEABLE)
def test_every_raceable_torch_optimizer_matches_plain_loop_with_defaults(name: str) -> None:
    result = race([{"optimizer": name}], start=1.3, epochs=25)
    expected = plain_loop(name, {}, 1.3, 25)
    got = list(zip(result.traces[0].x[0].tolist(), result.traces[0].loss[0].tolist(), strict=True))
    assert got == expected


def test_the_catalog_knows_which_torch_optimizers_cannot_race() -> None:
    from optrace.optim.catalog import catalog

    refused = {e.name: e.cannot_race for e in catalog() if e.cannot_race}
    assert set(refused) == CANNOT_RACE
    for name in CANNOT_RACE:
        # The catalog probes on a 2-D start and passes on torch's own reason.
        said = torch_refuses(getattr(torch.optim, name), 2)
        assert said is not None and said.splitlines()[0] in str(refused[name])


def test_optrace_lists_every_optimizer_of_torch() -> None:
    assert sorted(torch_optimizers()) == TORCH


def test_global_default_dtype_is_left_alone() -> None:
    race([{"optimizer": "Adam"}], start=0.0, epochs=3)
    assert torch.get_default_dtype() == torch.float32


def test_random_start_is_a_seeded_standard_normal_draw() -> None:
    g = torch.Generator().manual_seed(7)
    assert draw_start(7) == torch.randn(1, generator=g, dtype=torch.float64).item()
    result = race([{"optimizer": "SGD"}], start="random", epochs=1, seed=7)
    assert result.traces[0].x[0, 0] == draw_start(7)


def test_a_diverging_racer_stops_and_the_others_go_on() -> None:
    result = race(
        [{"optimizer": "SGD", "lr": 1e300, "label": "wild"}, {"optimizer": "Adam", "lr": 0.1}],
        start=-0.3,
        epochs=10,
    )
    wild, calm = result.traces
    assert wild.diverged_at == [1]
    assert wild.x[0, 0] == -0.3 and math.isnan(wild.x[0, 1])
    assert calm.diverged_at == [None]
    assert calm.x[0].tolist() == [p[0] for p in plain_loop("Adam", {"lr": 0.1}, -0.3, 10)]


def plan_of(racers: list[dict[str, Any]]) -> Any:
    """The plan of a one-epoch race of ``racers`` from 0."""
    config = {"function": "peaks-slice", "start": 0.0, "epochs": 1, "racers": racers}
    return prepare(parse_config(config))


def test_default_labels_gain_the_hyperparameters_that_differ() -> None:
    plan = plan_of(
        [
            {"optimizer": "SGD", "lr": 0.1},
            {"optimizer": "SGD", "lr": 0.01},
            {"optimizer": "SGD", "lr": 0.01},
            {"optimizer": "Adam"},
            {"optimizer": "Adagrad", "label": "RMSprop"},
            {"optimizer": "RMSprop"},
        ]
    )
    assert [r.label for r in plan.racers] == [
        "SGD lr=0.1",
        "SGD lr=0.01",
        "SGD lr=0.01 #2",
        "Adam",
        "RMSprop",
        "RMSprop #2",
    ]


def test_default_labels_compare_against_constructor_defaults() -> None:
    plan = plan_of([{"optimizer": "SGD"}, {"optimizer": "SGD", "momentum": 0.9}])
    assert [r.label for r in plan.racers] == ["SGD momentum=0", "SGD momentum=0.9"]


def test_seed_styles_by_default_and_distinct_styles_otherwise() -> None:
    names = ["SGD", "Adam", "SGD", "NAdam", "Adagrad", "Adadelta", "RMSprop"]
    plan = plan_of([{"optimizer": n} for n in names])
    styles = [r.style for r in plan.racers]
    assert styles[:2] == ["ro", "kp"] and styles[4:] == ["b<", "k*", "rv"]
    assert len(set(styles)) == len(styles)


def test_own_optimizer_from_the_config_folder_races(tmp_path: Path) -> None:
    (tmp_path / "halfstep.py").write_text(
        "import torch\n"
        "class Half(torch.optim.SGD):\n"
        "    def __init__(self, params, lr=0.02):\n"
        "        super().__init__(params, lr=lr / 2)\n"
    )
    config = parse_config(
        {
            "function": "peaks-slice",
            "start": 0.9,
            "epochs": 20,
            "racers": [{"optimizer": "halfstep.Half", "lr": 0.2}],
        }
    )
    result = run(prepare(config, tmp_path))
    assert result.traces[0].x[0].tolist() == [p[0] for p in plain_loop("SGD", {"lr": 0.1}, 0.9, 20)]


def test_cli_traces_csv_equal_the_plain_loop(invoke: Any, tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    result = invoke("run", ROOT / "configs" / "seed.yaml", "--traces", out)
    assert result.exit_code == 0, result.stderr
    with out.open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["racer", "epoch", "evaluations", "x", "loss"]
    start = draw_start(0)
    labels = {"Adadelta", "Adagrad", "SGD", "Adam", "RMSprop"}
    assert {r[0] for r in rows[1:]} == labels and len(rows) == 1 + 5 * 101
    for name, hyper in SEED_RACERS:
        mine = [(float(r[3]), float(r[4])) for r in rows[1:] if r[0] == name]
        assert [int(r[1]) for r in rows[1:] if r[0] == name] == list(range(101))
        # One gradient per plain step.
        assert [int(r[2]) for r in rows[1:] if r[0] == name] == list(range(101))
        assert mine == plain_loop(name, hyper, start, 100)


def test_every_example_config_is_valid() -> None:
    from optrace.spec.loading import load_config

    assert len(CONFIGS) >= 4
    for path in CONFIGS:
        config = load_config(path)
        plan = prepare(config, path.parent)
        assert len(plan.racers) == len(config.racers)
        assert len({r.label for r in plan.racers}) == len(plan.racers)
