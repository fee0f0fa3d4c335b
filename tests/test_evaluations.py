"""Gradient evaluations, counted and budgeted: every count against a hand-written
torch loop that counts its own closure calls and Hessian-vector products."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.optim import Optimizer

import optrace
from optrace.results.axis import by_evaluations
from tests.conftest import ROOT

po = pytest.importorskip("pytorch_optimizer")

START = (-1.2, 1.0)


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    """The published Rosenbrock function, written out here."""
    x, y = p[..., 0], p[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


class Counted:
    """A plain loop's own count: one per backward() it calls, and one per
    ``torch.autograd.grad`` an optimizer calls inside its step (a Hessian-vector
    product)."""

    def __init__(self) -> None:
        self.total = 0

    @contextmanager
    def products(self) -> Iterator[None]:
        grad = torch.autograd.grad

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.total += 1
            return grad(*args, **kwargs)

        torch.autograd.grad = counting
        try:
            yield
        finally:
            torch.autograd.grad = grad


Step = Callable[[Optimizer, torch.Tensor, Counted], None]


def plain(opt: Optimizer, p: torch.Tensor, n: Counted) -> None:
    opt.zero_grad()
    rosenbrock(p).backward()
    n.total += 1
    opt.step()


def closure_only(opt: Optimizer, p: torch.Tensor, n: Counted) -> None:
    def closure() -> float:
        opt.zero_grad()
        loss = rosenbrock(p)
        loss.backward()
        n.total += 1
        return float(loss)

    opt.step(closure)


def gradient_then_closure(opt: Optimizer, p: torch.Tensor, n: Counted) -> None:
    plain_first = rosenbrock(p)
    opt.zero_grad()
    plain_first.backward()
    n.total += 1

    def closure() -> float:
        with torch.enable_grad():
            opt.zero_grad()
            loss = rosenbrock(p)
            loss.backward()
            n.total += 1
            return float(loss)

    opt.step(closure)


def second_order(opt: Optimizer, p: torch.Tensor, n: Counted) -> None:
    opt.zero_grad()
    rosenbrock(p).backward(create_graph=True)
    n.total += 1
    with n.products():
        opt.step()


def loop(
    make: Callable[[torch.Tensor], Optimizer],
    step: Step,
    epochs: int | None = None,
    budget: int | None = None,
) -> tuple[list[tuple[float, float, float]], list[int]]:
    """Places and losses after each step, and the loop's own count by each step:
    ``epochs`` steps, or steps until the count reaches ``budget``."""
    torch.manual_seed(0)
    p = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    opt = make(p)
    n = Counted()
    places = [(p[0].item(), p[1].item(), rosenbrock(p).item())]
    counts = [0]
    while (epochs is not None and len(counts) <= epochs) or (
        budget is not None and n.total < budget
    ):
        step(opt, p, n)
        places.append((p[0].item(), p[1].item(), rosenbrock(p).item()))
        counts.append(n.total)
    return places, counts


SEED = [
    ("SGD", {"lr": 0.001, "momentum": 0.9}),
    ("Adam", {"lr": 0.05}),
    ("Adagrad", {"lr": 1.0}),
    ("Adadelta", {"lr": 20}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9}),
]

#: (config racer, the optimizer a user builds, how the user steps it)
CASES: list[tuple[dict[str, Any], Callable[[torch.Tensor], Optimizer], Step]] = [
    *[
        (
            {"optimizer": name, **hyper},
            lambda p, n=name, h=hyper: getattr(torch.optim, n)([p], **h),
            plain,
        )  # type: ignore[misc]
        for name, hyper in SEED
    ],
    ({"optimizer": "LBFGS", "lr": 0.1}, lambda p: torch.optim.LBFGS([p], lr=0.1), closure_only),
    (
        {
            "optimizer": "pytorch_optimizer.SAM",
            "base_optimizer": "SGD",
            "lr": 0.001,
            "label": "SAM",
        },
        lambda p: po.SAM([p], torch.optim.SGD, lr=0.001),
        gradient_then_closure,
    ),
    (
        {"optimizer": "pytorch_optimizer.AdaHessian", "lr": 0.1, "label": "AdaHessian"},
        lambda p: po.AdaHessian([p], lr=0.1),
        second_order,
    ),
    (
        {
            "optimizer": "pytorch_optimizer.Lookahead",
            "wraps": {"optimizer": "Adam", "lr": 0.05},
            "label": "Lookahead",
        },
        lambda p: po.Lookahead(torch.optim.Adam([p], lr=0.05)),
        plain,
    ),
    (
        {"optimizer": "pytorch_optimizer.SophiaH", "lr": 0.01, "label": "SophiaH"},
        lambda p: po.SophiaH([p], lr=0.01),
        second_order,
    ),
]


def race(racers: list[dict[str, Any]], **length: Any) -> optrace.RaceRun:
    return optrace.Race(function="rosenbrock", start=list(START), racers=racers, **length).run()


def test_every_count_is_what_an_instrumented_plain_loop_counts() -> None:
    ran = race([c[0] for c in CASES], epochs=25)
    for (_racer, make, step), trace in zip(CASES, ran.result.traces, strict=True):
        places, counts = loop(make, step, epochs=25)
        assert trace.evaluations is not None
        assert trace.evaluations[0].tolist() == counts, trace.label
        # Counting changes no bit of the race.
        got = list(
            zip(trace.x[0].tolist(), trace.y[0].tolist(), trace.loss[0].tolist(), strict=True)
        )
        assert got == places, trace.label
    lbfgs = ran.traces["LBFGS"]
    # LBFGS evaluates up to max_iter (20) times in a step; SophiaH adds a
    # Hessian-vector product only every update_period (10) steps.
    assert lbfgs.evaluations is not None and lbfgs.evaluations[1] == 20
    sophia = ran.traces["SophiaH"].evaluations
    assert sophia is not None and sophia[:3].tolist() == [0, 2, 3]


def test_a_budget_of_evaluations_is_a_plain_loop_that_stops_at_it(tmp_path: Path) -> None:
    budget = 200
    cases = [CASES[1], CASES[5], CASES[6], CASES[7]]  # Adam, LBFGS, SAM, AdaHessian
    ran = optrace.Race(
        function="rosenbrock",
        start=list(START),
        racers=[c[0] for c in cases],
        budget={"evaluations": budget},
    ).run(save=[tmp_path / "t.csv"])
    summary = {r["label"]: r for r in ran.summary()}
    with (tmp_path / "t.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    longest = 0
    for (_racer, make, step), trace in zip(cases, ran.result.traces, strict=True):
        places, counts = loop(make, step, budget=budget)
        steps = len(counts) - 1
        longest = max(longest, steps)
        mine = [r for r in rows if r["racer"] == trace.label]
        assert [int(r["evaluations"]) for r in mine] == counts, trace.label
        assert [(float(r["x"]), float(r["y"]), float(r["loss"])) for r in mine] == places
        assert summary[trace.label]["epochs"] == steps
        assert summary[trace.label]["evaluations"] == counts[-1] >= budget
        assert summary[trace.label]["final_loss"] == places[-1][2]
        # After its last step a racer stands still, where the plain loop stopped.
        assert trace.x[0, -1] == places[-1][0] and trace.diverged_at == [None]
    assert ran.result.epochs == longest == budget  # Adam: one evaluation per step
    lbfgs = summary["LBFGS"]
    assert lbfgs["epochs"] <= 20 and lbfgs["reached_at"] is not None
    by_epoch = {int(r["epoch"]): int(r["evaluations"]) for r in rows if r["racer"] == "LBFGS"}
    assert lbfgs["reached_at_evaluations"] == by_epoch[lbfgs["reached_at"]]
    assert "epochs" in ran.table().splitlines()[0]


def test_frames_along_evaluations_show_each_racer_after_its_last_step_within_them() -> None:
    ran = race([CASES[5][0], CASES[1][0]], budget={"evaluations": 120})
    shown = by_evaluations(ran.result)
    lbfgs_places, lbfgs_counts = loop(CASES[5][1], closure_only, budget=120)
    adam_places, _ = loop(CASES[1][1], plain, budget=120)
    assert shown.epochs == 120 and shown.axis == "evaluation"
    lbfgs, adam = shown.traces
    for k in (0, 1, 19, 20, 21, 59, 60, 119, 120):
        step = max(i for i, c in enumerate(lbfgs_counts) if c <= k)
        assert (lbfgs.x[0, k], lbfgs.y[0, k]) == lbfgs_places[step][:2], k
        assert (adam.x[0, k], adam.loss[0, k]) == (adam_places[k][0], adam_places[k][2]), k


def test_a_racer_that_diverges_on_the_evaluations_axis_is_lost_from_its_step() -> None:
    ran = race(
        [{"optimizer": "LBFGS", "lr": 50.0, "max_iter": 4}, {"optimizer": "SGD", "lr": 0.001}],
        epochs=30,
    )
    lbfgs = ran.result.traces[0]
    (died,) = lbfgs.diverged_at
    assert died is not None and lbfgs.evaluations is not None
    shown = by_evaluations(ran.result)
    at = int(lbfgs.evaluations[0, died])
    before = int(lbfgs.evaluations[0, died - 1])
    assert np.isfinite(shown.traces[0].x[0, at - 1]) and at - 1 >= before
    assert np.isnan(shown.traces[0].x[0, at])
    assert shown.traces[0].diverged_at == [at]
    # SGD ran 30 evaluations; the picture spans LBFGS's, held at SGD's end.
    assert shown.epochs == int(lbfgs.evaluations[0, -1]) > 30
    assert shown.traces[1].x[0, -1] == ran.result.traces[1].x[0, -1]


def test_a_swarm_with_noise_and_a_schedule_races_to_its_budget(tmp_path: Path) -> None:
    config = {
        "function": "rosenbrock",
        "starts": {"random": 3},
        "repeats": 2,
        "noise": {"std": 0.5},
        "budget": {"evaluations": 40},
        "racers": [
            {"optimizer": "SGD", "lr": 0.001, "schedule": {"name": "StepLR", "step_size": 5}},
            {"optimizer": "LBFGS", "lr": 0.1, "max_iter": 3},
        ],
        "animation": {"axis": "evaluations", "frames": 11, "loss_panel": True, "size": [320, 320]},
    }
    ran = optrace.Race.from_dict(config).run(save=[tmp_path / "a.gif", tmp_path / "a.png"])
    sgd, lbfgs = ran.result.traces
    assert sgd.steps is not None and set(sgd.steps.tolist()) == {40}
    assert lbfgs.evaluations is not None and lbfgs.steps is not None
    rows = np.arange(6)
    # Every run of LBFGS stops at the step that reaches 40, never before.
    assert (lbfgs.evaluations[rows, lbfgs.steps] >= 40).all()
    assert (lbfgs.evaluations[rows, lbfgs.steps - 1] < 40).all()
    from PIL import Image

    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 11


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"budget": {"evaluations": 10}},
            "budget: give either 'epochs' or 'budget', not both",
        ),
        (
            {"epochs": None},
            "epochs: required key is missing; add e.g. 'epochs: 100', or "
            "'budget: {evaluations: 200}'",
        ),
        ({"epochs": None, "budget": {"evaluations": 0}}, "budget.evaluations: "),
        ({"epochs": None, "budget": {"evals": 5}}, "budget.evals: unknown key"),
        ({"animation": {"axis": "steps"}}, "animation.axis: "),
    ],
)
def test_a_bad_budget_is_one_line_that_names_the_key(
    change: dict[str, Any],
    message: str,
    invoke: Any,
    write_config: Callable[..., Path],
    tmp_path: Path,
) -> None:
    config: dict[str, Any] = {
        "function": "rosenbrock",
        "epochs": 10,
        "racers": [{"optimizer": "Adam", "lr": 0.1}],
        **change,
    }
    config = {k: v for k, v in config.items() if v is not None}
    gif = tmp_path / "a.gif"
    result = invoke("run", write_config(config), "--gif", gif)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert message in line, line
    assert not gif.exists()


def test_the_example_config_gives_lbfgs_far_fewer_steps(invoke: Any, tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    result = invoke("run", ROOT / "configs" / "evaluations.yaml", "--summary", out)
    assert result.exit_code == 0, result.stderr
    racers = {r["label"]: r for r in json.loads(out.read_text())["racers"]}
    assert racers["LBFGS"]["epochs"] <= 20 and racers["Adam"]["epochs"] == 200
    assert {r["evaluations"] for r in racers.values()} == {200}


def tuned_lbfgs(evaluations: int, objective: str) -> optrace.Race:
    """LBFGS on Rosenbrock with a budget of ``evaluations``, two trials of lr."""
    return optrace.Race(
        function="rosenbrock",
        start=list(START),
        budget={"evaluations": evaluations},
        racers=[{"optimizer": "LBFGS", "lr": 0.1}],
        tune={
            "trials": 2,
            "starts": [list(START)],
            "objective": objective,
            "space": {"lr": {"low": 0.05, "high": 0.5, "log": True}},
        },
    )


def test_tuning_races_each_trial_to_the_same_budget(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    race = tuned_lbfgs(60, "final-loss")
    tuning = race.tune()
    report = tuning.report()
    assert report["settings"]["budget"] == {"evaluations": 60}
    for trial in tuning.trials["LBFGS"]:
        lr = trial.params["lr"]
        places, _ = loop(lambda p, lr=lr: torch.optim.LBFGS([p], lr=lr), closure_only, budget=60)
        assert trial.objective == places[-1][2]


def test_along_epochs_a_racer_that_used_its_budget_stands_at_its_end() -> None:
    from matplotlib.figure import Figure

    from optrace.render.options import SceneOptions
    from optrace.render.scene import RaceScene

    race = optrace.Race(
        function="rosenbrock",
        start=list(START),
        budget={"evaluations": 100},
        racers=[CASES[5][0], CASES[1][0]],  # LBFGS, Adam
        animation={"loss_panel": True},
    )
    ran = race.run()
    places, counts = loop(CASES[5][1], closure_only, budget=100)
    steps = len(counts) - 1
    assert ran.result.epochs == 100 > steps
    scene = RaceScene(Figure(), ran.result, None, SceneOptions.of(race.config.animation, 2))
    last = scene.shown(100)
    # Not lost, no note: LBFGS is drawn where the plain loop stopped.
    assert last.notes == "" and not last.racers[0].diverged
    assert (last.racers[0].markers[0][0], last.racers[0].markers[1][0]) == places[-1][:2]
    # Its loss line ends at its last step; Adam's goes on to epoch 100.
    scene.update(100)
    assert scene.panel is not None
    lbfgs_line, adam_line = scene.panel.lines
    assert lbfgs_line.get_xdata()[-1] == steps and adam_line.get_xdata()[-1] == 100


def test_under_a_budget_epochs_to_tolerance_counts_evaluations() -> None:
    pytest.importorskip("optuna")
    race = tuned_lbfgs(200, "epochs-to-tolerance")
    for trial in race.tune().trials["LBFGS"]:
        lr = trial.params["lr"]
        places, counts = loop(
            lambda p, lr=lr: torch.optim.LBFGS([p], lr=lr), closure_only, budget=200
        )
        # The evaluations used by the first step that came within the tolerance of f* = 0.
        hit = next((c for (_, _, f), c in zip(places, counts, strict=True) if f <= 1e-3), 201)
        assert trial.objective == hit, lr


def test_a_gallery_gives_every_cell_the_same_evaluations() -> None:
    from optrace.gallery.cells import plan_cells, run_cell
    from optrace.spec.gallery import parse_gallery

    gallery = parse_gallery(
        {
            "functions": ["rosenbrock"],
            "optimizers": [{"optimizer": "LBFGS", "lr": 0.1}, {"optimizer": "Adam", "lr": 0.05}],
            "budget": {"evaluations": 60},
            "outputs": ["still"],
            "animation": {"size": [240, 240]},
        }
    )
    rows = {c.optimizer: run_cell(c).row for c in plan_cells(gallery)}
    _, lbfgs = loop(CASES[5][1], closure_only, budget=60)
    _, adam = loop(CASES[1][1], plain, budget=60)
    assert (rows["LBFGS"]["evaluations"], rows["Adam"]["evaluations"]) == (lbfgs[-1], adam[-1])
    assert rows["LBFGS"]["status"] == rows["Adam"]["status"] == "ok"


def test_along_evaluations_the_step_that_passes_the_budget_is_shown() -> None:
    ran = race([{"optimizer": "LBFGS", "lr": 0.1}], budget={"evaluations": 50})
    _, counts = loop(CASES[5][1], closure_only, budget=50)
    assert counts[-1] == 60  # three steps of 20
    shown = by_evaluations(ran.result)
    assert shown.epochs == 60
    assert shown.traces[0].loss[0, -1] == ran.summary()[0]["final_loss"]
