"""Third-party optimizers: closures, second-order steps, wrappers, dtype, and
never a traceback; each trace against a plain torch loop written from the
optimizer's own documentation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.optim import Optimizer

from optrace._core.errors import ConfigError
from optrace.engine.loop import run
from optrace.engine.plan import prepare
from optrace.results.report import warnings
from optrace.spec.loading import parse_config

po = pytest.importorskip("pytorch_optimizer")

START = (-1.2, 1.0)
Point3 = tuple[float, float, float]


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    """The published Rosenbrock function, written out here."""
    x, y = p[..., 0], p[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def race(racers: list[dict[str, Any]], epochs: int = 30, **extra: Any) -> Any:
    config = {"function": "rosenbrock", "epochs": epochs, "racers": racers, **extra}
    if "starts" not in extra:
        config["start"] = list(START)
    return run(prepare(parse_config(config)))


def points(trace: Any, start: int = 0) -> list[Point3]:
    return list(
        zip(
            trace.x[start].tolist(),
            trace.y[start].tolist(),
            trace.loss[start].tolist(),
            strict=True,
        )
    )


def loop(
    make: Callable[[torch.Tensor], Optimizer],
    step: Callable[[Optimizer, torch.Tensor], None],
    epochs: int = 30,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    start: tuple[float, float] = START,
) -> list[Point3]:
    """The loop a user writes by hand: torch seeded, the optimizer stepped ``epochs`` times."""
    torch.manual_seed(seed)
    p = torch.tensor(start, dtype=dtype, requires_grad=True)
    opt = make(p)
    out = [(p[0].item(), p[1].item(), rosenbrock(p).item())]
    for _ in range(epochs):
        step(opt, p)
        out.append((p[0].item(), p[1].item(), rosenbrock(p).item()))
    return out


def plain(opt: Optimizer, p: torch.Tensor) -> None:
    opt.zero_grad()
    rosenbrock(p).backward()
    opt.step()


def test_alig_gets_the_closure_its_documentation_shows() -> None:
    def documented(opt: Optimizer, p: torch.Tensor) -> None:
        opt.zero_grad()
        loss = rosenbrock(p)
        loss.backward()
        opt.step(lambda: float(loss))  # AliG's own example

    got = race([{"optimizer": "pytorch_optimizer.AliG"}])
    assert points(got.traces[0]) == loop(lambda p: po.AliG([p]), documented)


def test_adahessian_steps_with_create_graph_and_a_seeded_generator() -> None:
    def second_order(opt: Optimizer, p: torch.Tensor) -> None:
        opt.zero_grad()
        rosenbrock(p).backward(create_graph=True)
        opt.step()

    state = torch.get_rng_state()
    got = race([{"optimizer": "pytorch_optimizer.AdaHessian", "lr": 0.05}], seed=3)
    # Its Hutchinson estimate draws noise, from torch's generator seeded with
    # the race's seed; the caller's generator is left as it was.
    assert torch.equal(torch.get_rng_state(), state)
    expected = loop(lambda p: po.AdaHessian([p], lr=0.05), second_order, seed=3)
    assert points(got.traces[0]) == expected
    assert expected != loop(lambda p: po.AdaHessian([p], lr=0.05), second_order, seed=4)


def test_sam_with_a_base_optimizer_is_stepped_as_documented() -> None:
    def documented(opt: Optimizer, p: torch.Tensor) -> None:
        opt.zero_grad()

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = rosenbrock(p)
            loss.backward()
            return loss

        closure()
        opt.step(closure)

    got = race(
        [
            {
                "optimizer": "pytorch_optimizer.SAM",
                "base_optimizer": "SGD",
                "rho": 0.1,
                "lr": 0.001,
                "momentum": 0.5,
            }
        ]
    )
    expected = loop(
        lambda p: po.SAM([p], torch.optim.SGD, rho=0.1, lr=0.001, momentum=0.5), documented
    )
    assert points(got.traces[0]) == expected
    trace = got.traces[0]
    assert trace.hyperparameters == {
        "base_optimizer": "SGD",
        "rho": 0.1,
        "lr": 0.001,
        "momentum": 0.5,
    }
    assert trace.lr is None  # without a schedule no lr column, as for any racer


def test_lookahead_wraps_an_optimizer_built_first_on_the_same_parameter() -> None:
    got = race(
        [
            {
                "optimizer": "pytorch_optimizer.Lookahead",
                "wraps": {"optimizer": "Adam", "lr": 0.1},
                "k": 5,
            },
            {"optimizer": "Adam", "lr": 0.1},
        ]
    )
    expected = loop(lambda p: po.Lookahead(torch.optim.Adam([p], lr=0.1), k=5), plain)
    assert points(got.traces[0]) == expected
    assert points(got.traces[1]) == loop(lambda p: torch.optim.Adam([p], lr=0.1), plain)
    assert points(got.traces[0]) != points(got.traces[1])
    assert got.traces[0].hyperparameters == {"wraps": {"optimizer": "Adam", "lr": 0.1}, "k": 5}


def test_a2grad_races_without_an_lr() -> None:
    got = race([{"optimizer": "pytorch_optimizer.A2Grad"}, {"optimizer": "SGD", "lr": 1e-3}])
    assert points(got.traces[0]) == loop(lambda p: po.A2Grad([p]), plain)
    assert got.traces[0].failure is None and got.traces[0].lr is None


def test_a_schedule_on_an_optimizer_without_lr_is_refused_in_one_line() -> None:
    config = parse_config(
        {
            "function": "rosenbrock",
            "epochs": 5,
            "racers": [
                {
                    "optimizer": "pytorch_optimizer.A2Grad",
                    "schedule": {"name": "StepLR", "step_size": 2},
                }
            ],
        }
    )
    with pytest.raises(ConfigError) as caught:
        prepare(config)
    assert str(caught.value) == (
        "racers[0].schedule: pytorch_optimizer.A2Grad has no 'lr' for a schedule to drive; "
        "remove 'schedule'"
    )


class FailsOnItsThirdStep(torch.optim.SGD):
    """Steps like SGD twice (the probe's two steps), then raises."""

    def step(self, closure: Any = None) -> Any:
        self.steps = getattr(self, "steps", 0) + 1
        if self.steps == 3:
            raise RuntimeError("the third step is one too many\nsecond line")
        return super().step(closure)


class NeverSteps(Optimizer):
    """No lr, odd param groups, and a step that always raises."""

    def __init__(self, params: Any, width: float = 1.0) -> None:
        super().__init__(params, {"width": width})

    def step(self, closure: Any = None) -> Any:
        raise KeyError("lr")


def test_an_optimizer_raising_mid_race_stops_like_a_divergence_and_the_others_go_on() -> None:
    got = race(
        [
            {"optimizer": "tests.test_third_party.FailsOnItsThirdStep", "lr": 1e-3, "label": "x"},
            {"optimizer": "Adam", "lr": 0.1},
        ],
        epochs=10,
    )
    failing, adam = got.traces
    assert failing.diverged_at == [3]
    assert points(failing)[:3] == loop(lambda p: torch.optim.SGD([p], lr=1e-3), plain, 2)
    assert failing.failure == "the third step is one too many"
    assert points(adam) == loop(lambda p: torch.optim.Adam([p], lr=0.1), plain, 10)
    assert warnings(got)[0] == (
        "warning: racer 'x' stopped at epoch 3: its optimizer raised: "
        "the third step is one too many"
    )


def test_an_optimizer_that_never_steps_is_refused_in_one_line(
    invoke: Any, write_config: Callable[..., Path]
) -> None:
    config = write_config(
        "function: rosenbrock\nepochs: 5\n"
        "racers: [{optimizer: SGD}, {optimizer: tests.test_third_party.NeverSteps}]\n"
    )
    result = invoke("run", config)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {config}: racers[1].optimizer: tests.test_third_party.NeverSteps cannot race "
        "here: KeyError: 'lr'\n"
    )


def test_dtype_float32_per_race_and_per_racer_equals_a_float32_loop() -> None:
    got = race(
        [
            {"optimizer": "pytorch_optimizer.FAdam", "dtype": "float32"},
            {"optimizer": "Adam", "lr": 0.05},
            {"optimizer": "Adam", "lr": 0.05, "dtype": "float64", "label": "Adam 64"},
        ],
        dtype="float32",
    )
    fadam, adam32, adam64 = got.traces
    f32 = torch.float32
    assert points(fadam) == loop(lambda p: po.FAdam([p]), plain, dtype=f32)
    assert points(adam32) == loop(lambda p: torch.optim.Adam([p], lr=0.05), plain, dtype=f32)
    assert points(adam64) == loop(lambda p: torch.optim.Adam([p], lr=0.05), plain)
    assert points(adam32) != points(adam64)


def test_float32_swarms_and_schedules_stay_exact() -> None:
    starts = [[-1.2, 1.0], [0.5, -0.5], [1.5, 1.5]]
    schedule = {"name": "StepLR", "step_size": 5, "gamma": 0.5}
    got = race(
        [
            {"optimizer": "Adam", "lr": 0.05, "schedule": schedule},
            {"optimizer": "pytorch_optimizer.Lion", "lr": 0.01},
        ],
        epochs=12,
        dtype="float32",
        starts=starts,
    )
    adam, lion = got.traces

    def scheduled(p: torch.Tensor) -> Any:
        opt = torch.optim.Adam([p], lr=0.05)
        opt.sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)  # type: ignore[attr-defined]
        return opt

    def step_and_schedule(opt: Any, p: torch.Tensor) -> None:
        plain(opt, p)
        opt.sched.step()

    for i, start in enumerate(starts):
        at = (start[0], start[1])
        f32 = torch.float32
        assert points(adam, i) == loop(scheduled, step_and_schedule, 12, f32, start=at)
        assert points(lion, i) == loop(lambda p: po.Lion([p], lr=0.01), plain, 12, f32, start=at)
    assert adam.lr is not None and adam.lr[0].tolist()[:7] == [0.05] * 6 + [0.025]


@pytest.mark.parametrize(
    ("racer", "message"),
    [
        (
            {"optimizer": "pytorch_optimizer.Lookahead"},
            "racers[0].wraps: pytorch_optimizer.Lookahead wraps another optimizer: add it, "
            "e.g. 'wraps: {optimizer: Adam, lr: 0.1}'",
        ),
        (
            {"optimizer": "pytorch_optimizer.Lookahead", "wraps": {"optimizer": "Adam"}, "lr": 1},
            "racers[0].lr: pytorch_optimizer.Lookahead has no hyperparameter 'lr'; it takes: "
            "k, alpha, pullback_momentum; the wrapped optimizer's go under 'wraps'",
        ),
        (
            {"optimizer": "pytorch_optimizer.Lookahead", "wraps": {"optimizer": "Adamm"}},
            "racers[0].wraps.optimizer: unknown optimizer 'Adamm' (did you mean 'Adam'?); see "
            "'optrace list-optimizers', or give a dotted path such as 'mymodule.MyOptimizer'",
        ),
        (
            {"optimizer": "pytorch_optimizer.Lookahead", "wraps": {"optimizer": "Adam", "lr": -1}},
            "racers[0].wraps.lr: Adam rejects lr=-1: Invalid learning rate: -1",
        ),
        (
            {"optimizer": "Adam", "wraps": {"optimizer": "SGD"}},
            "racers[0].wraps: Adam takes parameters, not an optimizer; remove 'wraps'",
        ),
        (
            {"optimizer": "pytorch_optimizer.SAM"},
            "racers[0].base_optimizer: pytorch_optimizer.SAM needs 'base_optimizer'; add it",
        ),
        (
            {"optimizer": "pytorch_optimizer.SAM", "base_optimizer": "SDG"},
            "racers[0].base_optimizer: unknown optimizer 'SDG' (did you mean 'SGD'?); see "
            "'optrace list-optimizers', or give a dotted path such as 'mymodule.MyOptimizer'",
        ),
        (
            {"optimizer": "pytorch_optimizer.SAM", "base_optimizer": "SGD", "momentun": 0.9},
            "racers[0].momentun: SGD has no hyperparameter 'momentun' (did you mean 'momentum'?); "
            "it takes: lr, momentum, dampening, weight_decay, nesterov, maximize, foreach, "
            "differentiable, fused",
        ),
        (
            {"optimizer": "Adam", "base_optimizer": "SGD"},
            "racers[0].base_optimizer: Adam takes no base optimizer; remove 'base_optimizer'",
        ),
        (
            {"optimizer": "pytorch_optimizer.Ranger21"},
            "racers[0].num_iterations: pytorch_optimizer.Ranger21 needs 'num_iterations'; add it",
        ),
        (
            {"optimizer": "pytorch_optimizer.FAdam"},
            "racers[0].optimizer: pytorch_optimizer.FAdam cannot race here: expected dtype float "
            "for `end` but got dtype double; it races in float32: add 'dtype: float32'",
        ),
        (
            {"optimizer": "pytorch_optimizer.LOMO"},
            "racers[0].optimizer: pytorch_optimizer.LOMO cannot race here: it takes a model "
            "('model', a torch.nn.Module) instead of parameters, and a race has no model",
        ),
        (
            {"optimizer": "pytorch_optimizer.GSAM"},
            "racers[0].model: pytorch_optimizer.GSAM cannot race here: it needs 'model', a "
            "torch.nn.Module, and a race has no model",
        ),
    ],
)
def test_wrappers_bases_and_dtypes_are_checked_like_any_optimizer(
    racer: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        prepare(parse_config({"function": "rosenbrock", "epochs": 5, "racers": [racer]}))
    assert str(caught.value) == message


def test_a_bad_dtype_is_refused_by_the_config() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "function": "rosenbrock",
                "epochs": 5,
                "racers": [{"optimizer": "SGD", "dtype": "half"}],
            }
        )
    assert str(caught.value).startswith("racers[0].dtype:")


def test_list_optimizers_of_a_package(invoke: Any) -> None:
    result = invoke("list-optimizers", "--package", "pytorch_optimizer", "--json")
    assert result.exit_code == 0
    entries = {e["name"]: e for e in json.loads(result.stdout)}
    assert len(entries) == 139
    sam = entries["pytorch_optimizer.SAM"]
    assert sam["can_race"] is True and sam["needs"] == {"base_optimizer": "SGD"}
    assert sam["steps"] == "closure" and sam["defaults"]["rho"] == 0.05
    assert entries["pytorch_optimizer.Lookahead"]["needs"] == {"wraps": {"optimizer": "SGD"}}
    assert entries["pytorch_optimizer.AdaHessian"]["steps"] == "create_graph"
    assert entries["pytorch_optimizer.FAdam"]["needs"] == {"dtype": "float32"}
    lomo = entries["pytorch_optimizer.LOMO"]
    assert lomo["can_race"] is False and "a race has no model" in lomo["reason"]

    text = invoke("list-optimizers", "--package", "pytorch_optimizer")
    lines = {line.split()[0]: line for line in text.stdout.splitlines() if line.strip()}
    assert (
        lines["SAM"].startswith("SAM ")
        and "needs base_optimizer=SGD; steps with closure;" in (lines["SAM"])
    )
    assert "cannot race: SpectralSphere only supports 2D parameters" in lines["SpectralSphere"]
    # Defaults that are functions by their names, never a memory address.
    assert entries["pytorch_optimizer.ADOPT"]["defaults"]["clip_lambda"] == "ADOPT.<lambda>"
    assert entries["pytorch_optimizer.AdaShift"]["defaults"]["reduce_func"] == "torch.max"
    assert " clip_lambda=ADOPT.<lambda> " in lines["ADOPT"]
    assert " reduce_func=torch.max " in lines["AdaShift"]
    assert "0x" not in result.stdout and "0x" not in text.stdout


def test_list_optimizers_names_defaults_that_are_functions(
    invoke: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lambda_defaults.py").write_text(
        "import math\n"
        "from torch.optim import SGD as _SGD\n"
        "def halve(x):\n"
        "    return x / 2\n"
        "class Odd(_SGD):\n"
        "    def __init__(self, params, lr=0.1, clip=lambda step: step, shrink=halve,\n"
        "                 root=math.sqrt, marker=object()):\n"
        "        super().__init__(params, lr=lr)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    listed = invoke("list-optimizers", "--package", "lambda_defaults")
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == (
        "Odd  lr=0.1 clip=Odd.<lambda> shrink=lambda_defaults.halve root=math.sqrt "
        'marker="<object object>"'
    )
    as_json = invoke("list-optimizers", "--package", "lambda_defaults", "--json")
    (odd,) = json.loads(as_json.stdout)
    assert odd["defaults"] == {
        "lr": 0.1,
        "clip": "Odd.<lambda>",
        "shrink": "lambda_defaults.halve",
        "root": "math.sqrt",
        "marker": "<object object>",
    }


def test_list_optimizers_of_a_missing_package_is_one_line(invoke: Any) -> None:
    result = invoke("list-optimizers", "--package", "no_such_package_here")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: package: cannot import 'no_such_package_here': "
        "no module named 'no_such_package_here'\n"
    )


#: pytorch_optimizer 4.1.0's classes that cannot race, and why (the README's table).
CANNOT_RACE = {
    "AdaGO": "Tensor.__contains__",  # the Muon family: parameter groups of weight matrices
    "AdaMuon": "Tensor.__contains__",
    "DistributedMuon": "Tensor.__contains__",
    "Muon": "Tensor.__contains__",
    "MuonClip": "Tensor.__contains__",
    "NorMuon": "Tensor.__contains__",
    "SpectralSphere": "only supports 2D parameters",
    "AdaLOMO": "a race has no model",
    "AdamMini": "a race has no model",
    "LOMO": "a race has no model",
    "WSAM": "a race has no model",
    "GSAM": "a race has no model",
    "DeMo": "einops",
}


@pytest.fixture
def one_thread() -> Any:
    """One torch thread while the sweep runs (on a busy 2-core machine two threads
    contend and each small step costs ten times as much); restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_pytorch_optimizer_sweep(one_thread: Any) -> None:
    """One list-optimizers --package, then one race per class on rosenbrock with
    its defaults or the one key the listing says it needs."""
    import warnings as python_warnings

    from optrace.optim.catalog import catalog

    entries = catalog("pytorch_optimizer")
    assert len(entries) == 139
    raced, refused = [], {}
    for entry in entries:
        racer = {"optimizer": f"pytorch_optimizer.{entry.name}", **entry.needs}
        config = parse_config({"function": "rosenbrock", "epochs": 50, "racers": [racer]})
        try:
            with python_warnings.catch_warnings():
                python_warnings.simplefilter("ignore")
                result = run(prepare(config))
        except ConfigError as exc:
            assert "\n" not in str(exc)
            refused[entry.name] = str(exc)
            assert entry.cannot_race is not None and entry.cannot_race in str(exc)
            continue
        assert entry.cannot_race is None, entry.name
        assert len(entry.needs) <= 1, entry.name
        assert result.traces[0].failure is None, entry.name
        raced.append(entry.name)
    assert len(raced) == 126 and len(refused) == 13  # the README's numbers
    assert sum(not e.needs for e in entries if e.name in raced) == 114
    assert set(refused) == set(CANNOT_RACE)
    for name, why in CANNOT_RACE.items():
        assert why in refused[name], refused[name]
