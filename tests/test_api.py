"""The Python API: every example of the issue runs as written, and its races are exact."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import optrace
from tests.conftest import ROOT


def quartic_well(x: torch.Tensor) -> torch.Tensor:
    return (x**2 - 1) ** 2


def plain_loop(
    fn: Any,
    cls: type[torch.optim.Optimizer],
    hyper: dict[str, Any],
    start: list[float],
    epochs: int,
) -> np.ndarray:
    """A hand-written torch loop: the place after each step, epoch 0 the start."""
    x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = cls([x], **hyper)
    places = [x.detach().clone().numpy()]
    for _ in range(epochs):
        opt.zero_grad()
        fn(x).sum().backward()
        opt.step()
        places.append(x.detach().clone().numpy())
    return np.stack(places)


def test_the_issue_examples_run_as_written(tmp_path: Path) -> None:
    race = optrace.Race.from_yaml(ROOT / "configs" / "seed.yaml")
    assert race.config.epochs == 100
    race = optrace.Race.from_dict(
        {"function": "rosenbrock", "epochs": 100, "racers": [{"optimizer": "Adam", "lr": 0.05}]},
        base_dir=".",
    )
    assert race.config.function.name == "rosenbrock"
    race = optrace.Race(
        function=lambda x: (x**2 - 1) ** 2,
        domain=(-2, 2),
        start=1.5,
        epochs=60,
        racers=[
            optrace.Racer(torch.optim.Adam, lr=0.1),
            optrace.Racer("SGD", lr=0.01, momentum=0.9, label="momentum"),
        ],
    )
    run = race.run()
    assert isinstance(run, optrace.RaceRun)
    assert sorted(run.traces) == ["Adam", "momentum"]
    adam = run.traces["Adam"]
    assert isinstance(adam, optrace.Trace)
    assert adam.x.shape == adam.loss.shape == (61,)
    assert adam.epoch.tolist() == list(range(61))
    rows = run.summary()
    assert [r["label"] for r in rows] == ["Adam", "momentum"]
    assert rows[0]["final_x"] == adam.x[-1] and rows[0]["final_loss"] == adam.loss[-1]
    gif, png = run.save(tmp_path / "race.gif", tmp_path / "race.png")
    with Image.open(gif) as im:
        assert im.n_frames == 61 and im.size == (640, 480)
    run.save(tmp_path / "early.png", epoch=40)
    with Image.open(png) as last, Image.open(tmp_path / "early.png") as early:
        assert last.size == (640, 480)
        assert np.asarray(last).tolist() != np.asarray(early).tolist()
    html = run._repr_html_()
    assert 'class="optrace-player' in html and "<html" not in html  # the player, for a cell
    assert run._repr_html_() is html  # rendered once, then cached


def test_a_callable_races_exactly_like_a_plain_loop() -> None:
    run = optrace.Race(
        function=quartic_well,
        domain=(-2, 2),
        start=1.5,
        epochs=40,
        racers=[optrace.Racer("SGD", lr=0.02, momentum=0.9)],
    ).run()
    want = plain_loop(quartic_well, torch.optim.SGD, {"lr": 0.02, "momentum": 0.9}, [1.5], 40)
    assert run.traces["SGD"].x.tolist() == want[:, 0].tolist()
    assert run.traces["SGD"].loss.tolist() == quartic_well(torch.from_numpy(want[:, 0])).tolist()
    # Its minima are found numerically, as for an expression: +1 and -1.
    assert sorted(round(m.x, 6) for m in run.result.minima) == [-1.0, 1.0]


def test_a_two_d_callable_races_exactly_like_a_plain_loop() -> None:
    def bowl(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x - 1) ** 2 + 3 * (y + 0.5) ** 2 + torch.sin(x * y)

    run = optrace.Race(
        function=bowl,
        domain=((-2, 2), (-2, 2)),
        start=(1.5, 1.0),
        epochs=30,
        racers=[{"optimizer": "Adam", "lr": 0.05}],
    ).run()
    want = plain_loop(lambda p: bowl(p[0], p[1]), torch.optim.Adam, {"lr": 0.05}, [1.5, 1.0], 30)
    trace = run.traces["Adam"]
    assert trace.x.tolist() == want[:, 0].tolist()
    assert trace.y is not None and trace.y.tolist() == want[:, 1].tolist()


STUDENT = """
import torch


class SignStep(torch.optim.Optimizer):
    \"\"\"A student's optimizer, as it would be written in a notebook cell.\"\"\"

    def __init__(self, params, lr=0.01):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                p.add_(p.grad.sign(), alpha=-group["lr"])
"""


def test_a_class_object_races_like_a_dotted_path(tmp_path: Path) -> None:
    cell: dict[str, Any] = {}
    exec(STUDENT, cell)  # the class defined "in a cell"
    (tmp_path / "student.py").write_text(STUDENT)  # and the same class in a file
    fields: dict[str, Any] = {"function": "quartic", "start": 2.0, "epochs": 25}
    path_before = list(sys.path)
    by_class = optrace.Race(**fields, racers=[optrace.Racer(cell["SignStep"], lr=0.05)]).run()
    by_path = optrace.Race(
        **fields, racers=[{"optimizer": "student.SignStep", "lr": 0.05}], base_dir=tmp_path
    ).run()
    assert sys.path == path_before
    assert list(by_class.traces) == ["SignStep"]
    want = plain_loop(lambda x: x**4 - 3 * x**2 + x, cell["SignStep"], {"lr": 0.05}, [2.0], 25)
    assert by_class.traces["SignStep"].x.tolist() == want[:, 0].tolist()
    assert by_path.traces["student.SignStep"].x.tolist() == want[:, 0].tolist()
    # A hyperparameter it does not take is refused as for any optimizer.
    with pytest.raises(optrace.ConfigError, match=r"^racers\[0\]\.beta: SignStep has no"):
        optrace.Race(**fields, racers=[optrace.Racer(cell["SignStep"], beta=0.5)]).run()
    with pytest.raises(optrace.ConfigError, match=r"^racers\[0\]\.optimizer: 'Path' is not a"):
        optrace.Race(**fields, racers=[optrace.Racer(Path)]).run()


def test_racer_label_is_the_class_name() -> None:
    run = optrace.Race(
        function="quartic", start=2.0, epochs=3, racers=[optrace.Racer(torch.optim.Adam, lr=0.1)]
    ).run()
    assert list(run.traces) == ["Adam"]
    assert run.result.traces[0].style == "kp"  # the seed's style for Adam, as by name


def test_three_constructors_give_identical_traces(tmp_path: Path) -> None:
    doc = {
        "function": "rosenbrock",
        "epochs": 30,
        "starts": [[-1.2, 1.0], [0.5, 0.5]],
        "racers": [{"optimizer": "Adam", "lr": 0.05}, {"optimizer": "SGD", "lr": 0.001}],
    }
    (tmp_path / "race.yaml").write_text(yaml.safe_dump(doc))
    runs = [
        optrace.Race.from_yaml(tmp_path / "race.yaml").run(),
        optrace.Race.from_dict(doc).run(),
        optrace.Race(**doc).run(),
    ]
    for label in ("Adam", "SGD"):
        xs = [r.traces[label].x.tolist() for r in runs]
        assert xs[0] == xs[1] == xs[2]
        assert np.asarray(xs[0]).shape == (2, 31)  # a swarm keeps its axis of starts


def test_api_traces_equal_the_cli_csv(tmp_path: Path, invoke: Any) -> None:
    config = ROOT / "configs" / "seed.yaml"
    run = optrace.Race.from_yaml(config).run()
    result = invoke("run", config, "--traces", tmp_path / "t.csv")
    assert result.exit_code == 0
    with open(tmp_path / "t.csv") as fh:
        rows = list(csv.DictReader(fh))
    for label, trace in run.traces.items():
        xs = [float(r["x"]) for r in rows if r["racer"] == label]
        assert xs == trace.x.tolist()


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (lambda x: 1 / 0, "function: calling a lambda failed: ZeroDivisionError: division by zero"),
        (lambda x: x.sum(), "function: a lambda returned shape () for 3 points; it must return"),
        (
            lambda x: float(x[0].detach()),
            "function: a lambda returned float; it must return a torch tensor",
        ),
        (
            lambda x: x.detach() ** 2,
            "function: a lambda is not differentiable by autograd (its result has no gradient)",
        ),
        (lambda x, y, z: x, "function: a callable function takes x (1-D) or x and y (2-D)"),
    ],
)
def test_a_broken_callable_is_one_line(function: Any, message: str) -> None:
    race = optrace.Race(function=function, domain=(-1, 1), start=0.5, epochs=3,
                        racers=[{"optimizer": "SGD", "lr": 0.1}])  # fmt: skip
    with pytest.raises(optrace.ConfigError) as caught:
        race.run()
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_callable_needs_a_domain() -> None:
    race = optrace.Race(function=quartic_well, start=0.5, epochs=3, racers=[{"optimizer": "SGD"}])
    with pytest.raises(optrace.ConfigError, match=r"^domain: a function given as a callable"):
        race.check()


def test_config_errors_carry_the_cli_message(tmp_path: Path, invoke: Any) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("function: peaks-slice\nepochs: 5\nracers: [{optimizer: Adamm}]\n")
    with pytest.raises(optrace.ConfigError) as caught:
        optrace.Race.from_yaml(bad).check()
    cli = invoke("run", bad)
    assert cli.exit_code == 2
    assert cli.stderr == f"Error: {caught.value}\n"
    with pytest.raises(optrace.ConfigError, match=r"^epochs: must be at least 1, got 0$"):
        optrace.Race(function="quartic", epochs=0, racers=[{"optimizer": "SGD"}])
    with pytest.raises(optrace.ConfigError, match=r"^epoch: unknown key"):
        optrace.Race(function="quartic", epoch=3, racers=[{"optimizer": "SGD"}])


def test_expression_strings_and_names() -> None:
    by_expr = optrace.Race(function="x**4 - 3*x**2 + x", domain=(-2.5, 2.5), start=2.0,
                           epochs=10, racers=[optrace.Racer("SGD", lr=0.01)]).run()  # fmt: skip
    by_name = optrace.Race(function="quartic", start=2.0, epochs=10,
                           racers=[optrace.Racer("SGD", lr=0.01)]).run()  # fmt: skip
    assert by_expr.traces["SGD"].x.tolist() == by_name.traces["SGD"].x.tolist()
    with pytest.raises(optrace.ConfigError, match=r"did you mean 'rosenbrock'"):
        optrace.Race(function="rosenbrok", epochs=3, racers=[{"optimizer": "SGD"}]).check()


def test_save_refuses_an_unknown_suffix_and_writes_nothing(tmp_path: Path) -> None:
    run = optrace.Race(function="quartic", start=2.0, epochs=3, racers=[{"optimizer": "SGD"}]).run()
    with pytest.raises(optrace.UsageError, match=r"unknown format '\.webm'"):
        run.save(tmp_path / "a.gif", tmp_path / "b.webm")
    with pytest.raises(optrace.UsageError, match=r"^epoch: 9 is not an epoch of this race"):
        run.save(tmp_path / "a.png", epoch=9)
    assert list(tmp_path.iterdir()) == []


def test_stills_in_every_format_are_deterministic(tmp_path: Path) -> None:
    run = optrace.Race.from_yaml(ROOT / "configs" / "rosenbrock.yaml").run()
    first = run.save(tmp_path / "a.png", tmp_path / "a.svg", tmp_path / "a.pdf")
    again = run.save(tmp_path / "b.png", tmp_path / "b.svg", tmp_path / "b.pdf")
    for one, two in zip(first, again, strict=True):
        assert one.read_bytes() == two.read_bytes(), one.suffix
    assert first[1].read_text().lstrip().startswith("<?xml")
    assert first[2].read_bytes().startswith(b"%PDF")
    with Image.open(first[0]) as im:
        assert im.size == tuple(run.race.config.animation.size)


class PlayerImages(HTMLParser):
    """The ``<img>`` elements inside the player's ``<div>``, as a browser that runs
    no script reads the markup (a script's text is not parsed as markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[bool] = []  # per open <div>: is it the player?
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div":
            self.open.append("optrace-player" in classes)
        elif tag == "img" and any(self.open):
            self.sources.append(dict(attrs).get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self.open.pop()


def test_the_inline_player_shows_the_still_where_no_script_runs(tmp_path: Path) -> None:
    import base64
    import io

    from optrace.export.still import write_still

    run = optrace.Race(
        function="rosenbrock",
        start=[-1.2, 1.0],
        epochs=12,
        racers=[{"optimizer": "SGD", "lr": 0.001}, {"optimizer": "Adam", "lr": 0.05}],
        animation={"size": [320, 360], "loss_panel": True},
    ).run()
    parser = PlayerImages()
    parser.feed(run._repr_html_())
    parser.close()
    (source,) = parser.sources
    assert source.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))) as image:
        assert image.format == "PNG"
        shown = np.asarray(image.convert("RGB")).astype(int)
    drawing = run.drawing()
    write_still(run.result, tmp_path / "still.png", drawing, run.result.epochs)
    with Image.open(tmp_path / "still.png") as image:
        still = np.asarray(image.convert("RGB")).astype(int)
    assert shown.shape == still.shape == (360, 320, 3)
    # The page's palette keeps the 255 commonest colours exactly, any other its
    # nearest (a marker's antialiased rim may land far off: the player's tolerance).
    differ = np.abs(shown - still).max(axis=2)
    assert (differ == 0).mean() > 0.9 and (differ > 64).mean() < 0.006, differ.mean()
    # The still of the race's last epoch, not its first: the loss panel is drawn.
    first = tmp_path / "first.png"
    write_still(run.result, first, drawing, 0)
    with Image.open(first) as image:
        assert (
            np.abs(shown - np.asarray(image.convert("RGB")).astype(int)).max(axis=2) > 64
        ).mean() > 0.01


def test_import_optrace_imports_no_torch_and_no_matplotlib() -> None:
    code = (
        "import sys, optrace\n"
        "assert optrace.Racer and optrace.OptraceError\n"
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_the_library_leaves_process_state_alone(tmp_path: Path) -> None:
    import signal

    import matplotlib

    path_before, backend = list(sys.path), matplotlib.get_backend()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    dtype, rng = torch.get_default_dtype(), torch.random.get_rng_state()
    run = optrace.Race.from_yaml(ROOT / "configs" / "own-optimizer.yaml").run()
    run.save(tmp_path / "a.gif", tmp_path / "a.png")
    assert sys.path == path_before
    assert matplotlib.get_backend() == backend
    assert {s: signal.getsignal(s) for s in handlers} == handlers
    assert torch.get_default_dtype() == dtype
    assert torch.equal(torch.random.get_rng_state(), rng)


def test_the_probe_limit_works_off_the_main_thread() -> None:
    import threading

    caught: list[BaseException] = []

    def check() -> None:
        try:
            optrace.Race(
                function="quartic", start=2.0, epochs=3,
                racers=[{"optimizer": "LBFGS", "max_iter": 10**9, "tolerance_grad": 0.0,
                         "tolerance_change": 0.0, "lr": 1e-12}],
            ).check()  # fmt: skip
        except BaseException as exc:
            caught.append(exc)

    worker = threading.Thread(target=check)
    worker.start()
    worker.join(60)
    assert not worker.is_alive()
    assert isinstance(caught[0], optrace.ConfigError)
    assert "one step of LBFGS took over 10 s" in str(caught[0])


PYTHON_BLOCKS = [
    (doc, block)
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for block in re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    if "optrace.Race" in block
]


def test_the_readme_and_the_python_page_show_the_api() -> None:
    assert {doc.name for doc, _ in PYTHON_BLOCKS} >= {"README.md", "python.md"}


@pytest.mark.parametrize(
    ("doc", "block"), PYTHON_BLOCKS, ids=[f"{d.name}-{i}" for i, (d, _) in enumerate(PYTHON_BLOCKS)]
)
def test_every_documented_python_block_runs_as_written(
    doc: Path, block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each block runs from the project's folder; every GIF and still it saves is the
    last race's, frame for frame and pixel for pixel of its size."""
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    scope: dict[str, Any] = {}
    exec(compile(block, str(doc), "exec"), scope)
    run = scope["run"]
    assert isinstance(run, optrace.RaceRun)
    saved = [p for p in tmp_path.iterdir() if p.name != "configs"]
    assert saved
    for path in saved:
        if path.suffix in (".gif", ".png"):
            with Image.open(path) as image:
                assert image.size == run.race.config.animation.pixels
                if path.suffix == ".gif":
                    assert image.n_frames == len(run.frame_epochs())


def test_run_with_save_writes_what_save_writes_after_the_run(tmp_path: Path) -> None:
    race = optrace.Race(
        function="quartic", start=2.0, epochs=8, racers=[optrace.Racer("SGD", lr=0.01)],
        animation={"size": [160, 120]},
    )  # fmt: skip
    ran = race.run(save=[tmp_path / "during.gif", tmp_path / "during.csv"])
    ran.save(tmp_path / "after.gif", tmp_path / "after.csv")
    for suffix in (".gif", ".csv"):
        during = (tmp_path / f"during{suffix}").read_bytes()
        assert during == (tmp_path / f"after{suffix}").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "after.csv", "after.gif", "during.csv", "during.gif",
    ]  # fmt: skip


def test_run_with_an_output_that_cannot_land_fails_before_racing(tmp_path: Path) -> None:
    race = optrace.Race(function="quartic", epochs=8, racers=[optrace.Racer("SGD", lr=0.01)])
    heard: list[int] = []
    with pytest.raises(optrace.OutputError, match="does not exist"):
        race.run(progress=heard.append, save=[tmp_path / "race.gif", tmp_path / "no" / "t.csv"])
    assert heard == []
    assert list(tmp_path.iterdir()) == []


def test_hyperparameters_are_the_constructors_defaults_then_the_racers_own() -> None:
    run = optrace.Race(
        function="quartic", epochs=2, racers=[optrace.Racer("Adam", lr=0.05, amsgrad=True)]
    ).run()
    defaults = {
        k: v.default
        for k, v in __import__("inspect").signature(torch.optim.Adam).parameters.items()
        if k not in ("params", "foreach", "fused", "capturable", "differentiable")
    }
    expected = {**defaults, "lr": 0.05, "amsgrad": True}
    expected["betas"] = list(expected["betas"])
    assert run.hyperparameters() == {"Adam": expected}
