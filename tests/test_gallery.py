"""The gallery: cells raced in worker processes or on a real Dask cluster, one site."""

from __future__ import annotations

import csv
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from tests.conftest import ROOT

BOOM = '''import torch


class Boom(torch.optim.Optimizer):
    """Builds, then raises at every step."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        raise RuntimeError("boom at every step")
'''

SMALL = {
    "title": "a <small> gallery",
    "functions": ["rosenbrock", "himmelblau"],
    "optimizers": [
        {"optimizer": "SGD", "lr": 0.001},
        {"optimizer": "Adam", "lr": 0.05},
        {"optimizer": "RMSprop", "lr": 0.01},
        {"optimizer": "boom.Boom"},
    ],
    "epochs": 20,
    "animation": {"size": [200, 200], "trail": 5},
    "outputs": ["still", "gif"],
}
GOOD = [("SGD", f) for f in ("rosenbrock", "himmelblau")] + [
    (o, f) for o in ("Adam", "RMSprop") for f in ("rosenbrock", "himmelblau")
]


def cli(*args: str | Path, cwd: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optrace", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    here = tmp_path_factory.mktemp("gallery")
    (here / "boom.py").write_text(BOOM)
    (here / "small.yaml").write_text(yaml.safe_dump(SMALL, sort_keys=False))
    return here


@pytest.fixture(scope="module")
def built(folder: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The small gallery made once with two local workers."""
    done = cli("gallery", "small.yaml", "--out", "site", "--workers", "2", cwd=folder)
    return folder / "site", done


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real local Dask cluster, two worker processes, for the module's --dask runs.
    Its HTTP port and scratch folder are its own, not the 8787 and the
    /tmp/dask-scratch-space of every cluster on the machine."""
    distributed = pytest.importorskip("distributed", reason="the Dask test needs the dask extra")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",
        local_directory=str(tmp_path_factory.mktemp("dask")),
    ) as running:
        yield running


def copy_of(folder: Path, tmp_path: Path) -> Path:
    """The built gallery's inputs and site in a folder of the test's own, for a test
    that edits or rewrites them (cells are keyed by content, so the copy reuses them)."""
    here = tmp_path / "gallery"
    here.mkdir()
    for name in ("boom.py", "small.yaml"):
        shutil.copy2(folder / name, here / name)
    shutil.copytree(folder / "site", here / "site")
    return here


def rows_of(site: Path) -> list[dict[str, str]]:
    with open(site / "summary.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def without_seconds(site: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows_of(site)]


def test_a_small_gallery_writes_every_output(built: tuple[Path, Any]) -> None:
    site, done = built
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "8 cells: 6 ok, 0 diverged, 2 failed, 0 reused"
    rows = rows_of(site)
    assert [(r["optimizer"], r["function"]) for r in rows][:2] == [
        ("SGD", "rosenbrock"),
        ("SGD", "himmelblau"),
    ]
    for optimizer, function in GOOD:
        with Image.open(site / function / f"{optimizer}.png") as still:
            assert still.size == (200, 200)
        with Image.open(site / function / f"{optimizer}.gif") as gif:
            assert gif.n_frames == 21
    failed = [r for r in rows if r["status"] == "failed"]
    assert [(r["optimizer"], r["function"]) for r in failed] == [
        ("boom.Boom", "rosenbrock"),
        ("boom.Boom", "himmelblau"),
    ]
    assert all(r["final_loss"] == "" for r in failed)
    assert not (site / "rosenbrock" / "boom.Boom.png").exists()
    reason = "racers[0].optimizer: boom.Boom cannot race here: boom at every step"
    assert f"failed: boom.Boom on rosenbrock: {reason}" in done.stderr
    page = (site / "index.html").read_text()
    assert "a &lt;small&gt; gallery" in page and "<small>" not in page
    assert page.count('class="failed"') == 2 and "boom at every step" in page
    assert 'href="rosenbrock/Adam.gif"' in page and 'src="rosenbrock/Adam.png"' in page
    assert "http://" not in page and "https://" not in page
    with Image.open(site / "contact.png") as sheet:
        assert sheet.width > 2 * 200 and sheet.height > 4 * 200
    assert not list(site.rglob(".*.part*"))


def test_the_summary_row_matches_the_race_it_names(built: tuple[Path, Any]) -> None:
    import optrace

    site, _ = built
    row = next(
        r for r in rows_of(site) if (r["optimizer"], r["function"]) == ("Adam", "himmelblau")
    )
    run = optrace.Race(
        function="himmelblau", epochs=20, racers=[{"optimizer": "Adam", "lr": 0.05}]
    ).run()
    loss = run.traces["Adam"].loss
    lowest = run.result.minima[0].value
    assert float(row["final_loss"]) == loss[-1]
    assert float(row["final_gap"]) == loss[-1] - lowest
    assert float(row["best_gap"]) == loss.min() - lowest
    assert row["status"] == "ok" and '"lr": 0.05' in row["hyperparameters"]


def test_a_second_run_reuses_every_cell_and_an_edit_recomputes_its_cells(
    built: tuple[Path, Any], folder: Path, tmp_path: Path
) -> None:
    here = copy_of(folder, tmp_path)
    site = here / "site"
    before = {p: p.read_bytes() for p in site.rglob("*.png")}
    again = cli("gallery", "small.yaml", "--out", "site", "--workers", "1", cwd=here)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "8 cells: 0 ok, 0 diverged, 0 failed, 8 reused"
    assert {p: p.read_bytes() for p in site.rglob("*.png")} == before
    (here / "boom.py").write_text(BOOM.replace("boom at every step", "boom, edited"))
    edited = cli("gallery", "small.yaml", "--out", "site", "--workers", "1", cwd=here)
    assert edited.stdout.splitlines()[-1] == "8 cells: 0 ok, 0 diverged, 2 failed, 6 reused"
    assert "boom, edited" in (site / "index.html").read_text()


def test_strict_and_fail_fast(built: tuple[Path, Any], folder: Path, tmp_path: Path) -> None:
    folder = copy_of(folder, tmp_path)
    strict = cli("gallery", "small.yaml", "--out", "site", "--strict", cwd=folder)
    assert strict.returncode == 3
    assert strict.stderr.splitlines()[-1].startswith(
        "Error: --strict: boom.Boom on rosenbrock failed; boom.Boom on himmelblau failed"
    )
    only_boom = {**SMALL, "optimizers": [{"optimizer": "boom.Boom"}, {"optimizer": "Adam"}]}
    (folder / "boom-first.yaml").write_text(yaml.safe_dump(only_boom))
    fast = cli(
        "gallery", "boom-first.yaml", "--out", tmp_path / "s", "--workers", "1", "--fail-fast",
        cwd=folder,
    )  # fmt: skip
    assert fast.returncode == 3
    assert fast.stderr.splitlines()[-1] == "Error: --fail-fast: stopped at the first failed cell"
    assert "Adam" not in {r["optimizer"] for r in rows_of(tmp_path / "s")}


def test_two_runs_and_a_dask_cluster_give_the_same_site(
    built: tuple[Path, Any], folder: Path, cluster: Any, tmp_path: Path
) -> None:
    site, _ = built
    again, dask = tmp_path / "again", tmp_path / "dask"
    forced = cli("gallery", "small.yaml", "--out", again, "--workers", "2", cwd=folder)
    assert forced.returncode == 0, forced.stderr
    on_dask = cli(
        "gallery", "small.yaml", "--out", dask, "--dask", cluster.scheduler_address,
        cwd=folder,
    )  # fmt: skip
    assert on_dask.returncode == 0, on_dask.stderr
    assert on_dask.stdout.splitlines()[-1] == "8 cells: 6 ok, 0 diverged, 2 failed, 0 reused"
    for other in (again, dask):
        assert without_seconds(other) == without_seconds(site)
        for optimizer, function in GOOD:
            for suffix in (".png", ".gif"):
                name = f"{function}/{optimizer}{suffix}"
                assert (other / name).read_bytes() == (site / name).read_bytes(), name


def test_sigterm_then_a_second_run_gives_the_whole_site(
    built: tuple[Path, Any], folder: Path, tmp_path: Path
) -> None:
    site, _ = built
    out = tmp_path / "site"
    started = subprocess.Popen(
        [sys.executable, "-m", "optrace", "gallery", "small.yaml", "--out", str(out),
         "--workers", "1"],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("*/*.json")):
        time.sleep(0.2)
    started.send_signal(signal.SIGTERM)
    _, err = started.communicate(timeout=120)
    assert started.returncode == 143, err
    assert "Traceback" not in err
    assert not list(out.rglob(".*.part*"))
    done = cli("gallery", "small.yaml", "--out", out, "--workers", "2", cwd=folder)
    assert done.returncode == 0, done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith("8 cells: ") and not last.endswith(" 0 reused"), last
    assert without_seconds(out) == without_seconds(site)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({**SMALL, "epoch": 3}, "epoch: unknown key (did you mean 'epochs'?)"),
        (
            {**SMALL, "functions[0]": "beale"},
            "['functions[0]']: unknown key (did you mean 'functions'?); valid keys are title,",
        ),
        ({**SMALL, "outputs": ["gif"]}, "outputs: the index shows each cell's still"),
        (
            {**SMALL, "functions": ["rosenbrok"]},
            "functions[0]: unknown function 'rosenbrok' (did you mean 'rosenbrock'?)",
        ),
        ({**SMALL, "optimizers": "torch.optimm"}, "optimizers: cannot import 'torch.optimm'"),
    ],
)  # fmt: skip
def test_bad_gallery_configs_are_one_line_and_write_nothing(
    doc: dict[str, Any], message: str, tmp_path: Path
) -> None:
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(doc))
    done = cli("gallery", "bad.yaml", "--out", "site", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"Error: bad.yaml: {message}"), done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "site").exists()


def test_the_readme_gallery_commands_run(tmp_path: Path, cluster: Any) -> None:
    """configs/gallery.yaml renders; the documented --dask line runs against a real cluster."""
    from tests.test_configs import documented_commands

    lines = [
        c.split("#")[0].split() for c in documented_commands() if c.startswith("optrace gallery")
    ]
    assert len(lines) == 3
    for words in lines:
        args = [
            str(tmp_path / "site") if w == "site/" else
            cluster.scheduler_address if w.startswith("tcp://") else
            str(ROOT / w) if w.startswith("configs/") else w
            for w in words[1:]
        ]  # fmt: skip
        done = cli(*args, cwd=tmp_path)
        assert done.returncode == 0, (words, done.stderr)
    rows = rows_of(tmp_path / "site")
    assert {r["function"] for r in rows} == {"rosenbrock", "rastrigin", "himmelblau", "beale"}
    optimizers = {r["optimizer"] for r in rows}
    assert len(rows) == 4 * len(optimizers) and len(optimizers) >= 11
    assert all(r["status"] != "failed" for r in rows)
    assert done.stdout.splitlines()[-1].endswith(f"{len(rows)} reused")
    with Image.open(tmp_path / "site" / "contact.png") as sheet:
        assert sheet.format == "PNG"


def test_a_tuned_gallery_races_each_cell_with_its_tuned_values(tmp_path: Path) -> None:
    """tune: gives every cell the same budget; the cell then races its best values,
    exactly as a plain torch loop does with them."""
    pytest.importorskip("optuna", reason="tuning needs the 'tune' extra (optuna)")
    import json

    import numpy as np
    import torch

    import optrace

    # SGD's stable range here, below both defaults (1e-3): the values as written lie
    # outside it, so every cell races a tuned lr.
    space = {"lr": {"low": 1e-4, "high": 9e-4, "log": True}}
    tune = {"trials": 4, "starts": {"random": 3}, "space": space}
    doc = {
        "functions": ["rosenbrock"],
        "optimizers": [{"optimizer": "SGD"}, {"optimizer": "Adam"}],
        "epochs": 30,
        "tune": tune,
        "animation": {"size": [160, 160]},
        "outputs": ["still", "csv"],
    }
    (tmp_path / "tuned.yaml").write_text(yaml.safe_dump(doc))
    done = cli("gallery", "tuned.yaml", "--out", "site", "--workers", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "2 cells: 2 ok, 0 diverged, 0 failed, 0 reused"
    assert "Trial" not in done.stderr  # Optuna's per-trial log stays quiet
    defaults = {"SGD": 0.001, "Adam": 0.001}
    for row in rows_of(tmp_path / "site"):
        name = row["optimizer"]
        used = json.loads(row["hyperparameters"])
        # The same budget through optrace tune's own API picks the same value.
        best = optrace.Race(
            function="rosenbrock", epochs=30, racers=[{"optimizer": name, "label": name}],
            tune=tune,
        ).tune().best[name]  # fmt: skip
        assert used["lr"] == best["lr"] != defaults[name]
        assert 1e-4 <= used["lr"] <= 9e-4
        # The cell's trace is a plain torch loop with the tuned lr from the default start.
        x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
        opt = getattr(torch.optim, name)([x], lr=used["lr"])
        places = [x.detach().clone().numpy()]
        for _ in range(30):
            opt.zero_grad()
            ((1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2).backward()
            opt.step()
            places.append(x.detach().clone().numpy())
        with open(tmp_path / "site" / "rosenbrock" / f"{name}.csv", newline="") as fh:
            trace = list(csv.DictReader(fh))
        got = np.array([[float(r["x"]), float(r["y"])] for r in trace])
        assert np.array_equal(got, np.stack(places))
        page = (tmp_path / "site" / "index.html").read_text()
        assert f"tuned: lr={used['lr']:.3g}</div>" in page
    again = cli("gallery", "tuned.yaml", "--out", "site", "--workers", "1", cwd=tmp_path)
    assert again.stdout.splitlines()[-1] == "2 cells: 0 ok, 0 diverged, 0 failed, 2 reused"


def test_a_tuned_gallery_without_optuna_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    doc = {**SMALL, "optimizers": [{"optimizer": "Adam"}], "tune": {"trials": 2}}
    (tmp_path / "tuned.yaml").write_text(yaml.safe_dump(doc))
    without = (
        "import sys; sys.modules['optuna'] = None; sys.argv[0] = 'optrace'; "
        "from optrace.cli.commands import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", without, "gallery", "tuned.yaml", "--out", "site"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == "Error: tune: tuning needs Optuna: pip install 'optrace[tune]'\n"
    assert not (tmp_path / "site").exists()


def test_a_gallery_file_that_cannot_be_read_is_one_line_as_a_race_file_is(tmp_path: Path) -> None:
    (tmp_path / "latin.yaml").write_bytes("title: caf\xe9\n".encode("latin-1"))
    for name, message in (("latin.yaml", "is not UTF-8 text"), ("nope.yaml", "no such file")):
        done = cli("gallery", name, "--out", "site", cwd=tmp_path)
        assert done.returncode == 2
        assert done.stderr == f"Error: {name}: {message}\n"
    assert not (tmp_path / "site").exists()


# --- cells readable at 320 px, and the contact sheet's labels -----------------


def cell_run(doc: dict[str, Any], optimizer: str, function: str, **animation: Any) -> Any:
    """The race of one gallery cell, as the gallery plans it (``animation`` over it)."""
    import optrace
    from optrace.gallery.cells import plan_cells
    from optrace.spec.gallery import parse_gallery

    (cell,) = [
        c
        for c in plan_cells(parse_gallery(doc))
        if (c.optimizer, c.function) == (optimizer, function)
    ]
    config = {**cell.config, "animation": {**cell.config["animation"], **animation}}
    return optrace.Race.from_dict(config).run()


def cell_scene(run: Any, epoch: int) -> tuple[Any, Any]:
    """The cell's scene at ``epoch``, drawn as a still is: laid out, then drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from optrace.export.frames import new_figure
    from optrace.render.scene import RaceScene

    drawing = run.drawing()
    figure = new_figure(drawing.size)
    FigureCanvasAgg(figure)
    scene = RaceScene(figure, run.result, [epoch], drawing.options)
    scene.update(0)
    figure.canvas.draw()
    return figure, scene


GALLERY = yaml.safe_load((ROOT / "configs" / "gallery.yaml").read_text())


@pytest.mark.parametrize("function", GALLERY["functions"])
def test_a_cells_counter_is_inside_the_figure_and_clear_of_every_other_text(
    function: str,
) -> None:
    """configs/gallery.yaml's 320 px cells, at the last epoch, with ASGD (which
    diverges on rosenbrock, so its note shows): no legend, and the epoch counter
    overlaps no other text."""
    from matplotlib.legend import Legend
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    run = cell_run({**GALLERY, "optimizers": [{"optimizer": "ASGD"}]}, "ASGD", function)
    assert run.drawing().size == (320, 320)
    figure, scene = cell_scene(run, run.result.epochs)
    assert scene.axes.get_legend() is None and not figure.findobj(Legend)
    renderer = figure.canvas.get_renderer()
    counter = [scene.counter, *(t for t in scene.axes.texts if t.get_text().startswith("epoch"))]
    assert scene.counter.get_text() == str(run.result.epochs)
    box = Bbox.union([t.get_window_extent(renderer) for t in counter])
    assert figure.bbox.containsx(box.x0) and figure.bbox.containsx(box.x1)
    assert figure.bbox.containsy(box.y0) and figure.bbox.containsy(box.y1)
    assert box.width < scene.axes.get_window_extent(renderer).width
    others = [
        t
        for t in figure.findobj(Text)
        if t not in counter and t.get_visible() and t.get_text().strip()
    ]
    assert any(t.get_text() == f"ASGD on {function}" for t in others)  # the title is checked
    for text in others:
        assert not box.overlaps(text.get_window_extent(renderer)), text.get_text()
    if function == "rosenbrock":
        # Wrapped to the axes' width, not cut off by them.
        assert scene.notes.get_text().replace("\n", " ").startswith("x ASGD diverged at epoch")
        home = scene.axes.get_window_extent(renderer)
        notes = scene.notes.get_window_extent(renderer)
        assert home.x0 <= notes.x0 and notes.x1 <= home.x1


def test_a_cells_still_is_the_race_without_its_legend(
    built: tuple[Path, Any], tmp_path: Path
) -> None:
    """The site's still is the same race drawn with ``legend: false``, pixel for pixel,
    and differs from it drawn with its legend by more than a few pixels."""
    import numpy as np

    site, _ = built
    stills = {}
    for legend in (True, False):
        path = tmp_path / f"legend-{legend}.png"
        cell_run(SMALL, "Adam", "rosenbrock", legend=legend).save(path)
        with Image.open(path) as im:
            stills[legend] = np.asarray(im.convert("RGB"), dtype=int)
    with Image.open(site / "rosenbrock" / "Adam.png") as im:
        cell = np.asarray(im.convert("RGB"), dtype=int)
    assert np.array_equal(cell, stills[False])
    assert (np.abs(cell - stills[True]).sum(axis=2) > 30).sum() > 100


def ink_runs(ink: Any, gap: int = 1) -> list[tuple[int, int]]:
    """The runs of True in ``ink`` as (first, last), runs closer than ``gap`` joined."""
    runs: list[tuple[int, int]] = []
    for i in [int(i) for i in ink.nonzero()[0]]:
        if runs and i - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def test_the_contact_sheets_labels_are_readable() -> None:
    """Measured in the sheet's pixels, with plain pale stills so that only the labels
    are ink: the capitals of a row label (SGD) at least 12 px high, a column label's
    tallest letters too, the title's more; a long name cut short of the stills."""
    import io

    import numpy as np

    from optrace.gallery.cells import Cell, CellResult
    from optrace.gallery.site import contact_png

    pale = io.BytesIO()
    Image.new("RGB", (320, 320), (200, 220, 255)).save(pale, format="PNG")
    long_name = "AVeryLongOptimizerNameFromSomePackage.WithAClass"
    results = [
        CellResult(Cell(name, function, {}, ("still",)), {}, {".png": pale.getvalue()})
        for name in ("SGD", "Adam", long_name)
        for function in ("rosenbrock", "himmelblau")
    ]
    sheet = Image.open(
        io.BytesIO(
            contact_png("torch.optim at their defaults", results, ["rosenbrock", "himmelblau"])
        )
    )
    rgb = np.asarray(sheet.convert("RGB"), dtype=int)
    ink = rgb.sum(axis=2) < 3 * 110
    stills = (rgb == (200, 220, 255)).all(axis=2)
    first_still = int(stills.any(axis=0).nonzero()[0].min())
    under = int(stills.any(axis=1).nonzero()[0].min())
    assert stills.sum() == 6 * 220 * 220  # each still 220 px wide, whole
    # Above the stills: the title, then the column labels.
    title, heading = ink_runs(ink[:under].any(axis=1))
    assert title[1] - title[0] + 1 >= 16  # "torch.optim at their defaults": t, h, d, f
    assert heading[1] - heading[0] + 1 >= 12  # "rosenbrock himmelblau": b, k, h, l
    # Left of the stills: the row labels.
    rows = ink_runs(ink[under:, :first_still].any(axis=1))
    assert len(rows) == 3
    assert rows[0][1] - rows[0][0] + 1 >= 12  # "SGD": capitals only, so its ink is their height
    assert int(ink[under:].any(axis=0).nonzero()[0].max()) < first_still  # the long name, cut
