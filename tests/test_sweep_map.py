"""The sweep map: every combination's cell against a plain torch loop with its values,
lost combinations marked, the values as written outlined, and its refusals."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm, to_rgb
from PIL import Image

import optrace
from optrace._core.errors import UsageError
from optrace._core.types import Minimum
from optrace.export.frames import new_figure
from optrace.export.outputs import kind_of
from optrace.render.options import SceneOptions
from optrace.render.sweep_map import (
    DIVERGED,
    LOST_AT,
    LOST_COLOURS,
    OUTSIDE,
    SweepMap,
    draw_sweep_map,
    sweep_cells,
    sweep_size,
)
from optrace.results.trace import RaceResult, Sweep, Trace

EPOCHS = 60
#: Rosenbrock's start, domain and minimum (value 0), as optrace's rosenbrock has them.
START, DOMAIN, YDOMAIN = (-1.2, 1.0), (-2.0, 2.0), (-1.0, 3.0)
SGD = {"optimizer": "SGD", "lr": 0.001, "momentum": 0.9}
SGD_GRID = {"lr": [0.0005, 0.001, 0.002, 0.004], "momentum": [0.0, 0.9, 0.99]}
ADAM = {"optimizer": "Adam", "lr": 0.05, "label": "Adam 0.05"}
ADAM_GRID = {"lr": [0.01, 0.05, 0.2, 1.0, 5.0]}


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def hand(optimizer: str, **values: float) -> tuple[float, str | None]:
    """The final gap and how it was lost, by a plain loop: ``div.`` (it diverged),
    ``out`` (it left the domain at some epoch) or None."""
    p = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, optimizer)([p], **values)
    finite, inside = True, True
    for _ in range(EPOCHS):
        opt.zero_grad()
        rosenbrock(p).backward()
        opt.step()
        x, y = (float(v) for v in p.detach())
        finite = finite and bool(torch.isfinite(p).all() and torch.isfinite(rosenbrock(p)))
        inside = inside and DOMAIN[0] <= x <= DOMAIN[1] and YDOMAIN[0] <= y <= YDOMAIN[1]
    if not finite:
        return math.nan, DIVERGED
    return float(rosenbrock(p.detach())), None if inside else OUTSIDE


@pytest.fixture(scope="module")
def run() -> optrace.RaceRun:
    racers = [{**SGD, "sweep": SGD_GRID}, {**ADAM, "sweep": ADAM_GRID}]
    return optrace.Race(title="sweeps", function="rosenbrock", epochs=EPOCHS, racers=racers).run()


def redraw(result: RaceResult, options: SceneOptions | None = None) -> SweepMap:
    """The map drawn again, at the size a save draws it: where each cell lies in pixels."""
    options = options or SceneOptions()
    figure = new_figure(sweep_size((640, 480), len(result.sweeps), options.font_scale))
    FigureCanvasAgg(figure)
    return draw_sweep_map(figure, result, options)


def pixel(image: np.ndarray, x: float, y: float) -> np.ndarray:
    """The RGB at display point (x, y), y up from the bottom."""
    return image[int(image.shape[0] - y), int(x)]


def close(rgb: np.ndarray, colour: Any, within: int = 2) -> bool:
    return bool(np.abs(rgb - np.array(to_rgb(colour)) * 255).max() <= within)


def test_the_cells_match_a_plain_loop_and_the_summary(run: optrace.RaceRun) -> None:
    (sgd, adam) = (sweep_cells(s, run.result) for s in run.result.sweeps)
    summaries = [r["sweep"] for r in run.summary()]
    lost = set()
    for cells, optimizer, grid, summary in zip(
        (sgd, adam), ("SGD", "Adam"), (SGD_GRID, ADAM_GRID), summaries, strict=True
    ):
        combos = list(itertools.product(*grid.values()))
        assert [c.params for c in cells] == [dict(zip(grid, v, strict=True)) for v in combos]
        for cell, entry in zip(cells, summary, strict=True):
            # Rosenbrock's minimum is 0: the gap is the summary's final loss.
            assert cell.params == entry["params"] and cell.gap == entry["final_loss"]
            said = DIVERGED if entry["diverged"] else OUTSIDE if entry["left_domain"] else None
            assert cell.lost == said
        for cell, combo in zip(cells, combos, strict=True):
            gap, how = hand(optimizer, **dict(zip(grid, combo, strict=True)))
            assert cell.lost == how, combo
            if how is None:
                assert cell.gap == pytest.approx(gap, rel=1e-9, abs=1e-12), combo
            lost.add(how)
    # The race holds every kind of cell: coloured, diverged and out.
    assert lost == {None, DIVERGED, OUTSIDE}


def test_each_cell_is_drawn_in_its_gaps_colour(run: optrace.RaceRun, tmp_path: Path) -> None:
    (path,) = run.save(tmp_path / "race-sweep.png")
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    drawn = redraw(run.result)
    assert image.shape == (480, 984, 3)
    heat, curve = drawn.panels
    assert heat.grid and not curve.grid
    assert isinstance(drawn.norm, LogNorm)
    combos = list(itertools.product(*SGD_GRID.values()))
    outlined = []
    for i, combo in enumerate(combos):
        gap, how = hand("SGD", **dict(zip(SGD_GRID, combo, strict=True)))
        box = heat.cell_box(i)
        if how is None:
            want = drawn.cmap(drawn.norm(min(max(gap, drawn.norm.vmin), drawn.norm.vmax)))
            assert close(pixel(image, *box.p0 + box.size / 2), want), (combo, gap)
        else:
            # Grey, not coloured (below the cell's centre, where its word is).
            assert close(
                pixel(image, box.x0 + box.width / 2, box.y0 + box.height / 5), LOST_COLOURS["light"]
            ), combo
        # The outline: dark just inside each side's middle.
        sides = [
            (box.x0 + box.width / 2, box.y0 + 0.04 * box.height),
            (box.x0 + box.width / 2, box.y1 - 0.04 * box.height),
            (box.x0 + 0.04 * box.width, box.y0 + box.height / 2),
            (box.x1 - 0.04 * box.width, box.y0 + box.height / 2),
        ]
        if all(pixel(image, x, y).max() < 60 for x, y in sides):
            outlined.append(combo)
    assert outlined == [(SGD["lr"], SGD["momentum"])]
    assert sum(c.lost is not None for c in heat.cells) == 4  # each checked grey above
    # The curve: each point in its colour at its gap, lost values away from the scale.
    ax = curve.ax
    lost = []
    for lr, cell in zip(ADAM_GRID["lr"], curve.cells, strict=True):
        gap, how = hand("Adam", lr=lr)
        assert cell.lost == how, lr
        if how is not None:
            # A cross at the top instead, in the text's colour.
            x = ax.transData.transform((lr, 1.0))[0]
            y = ax.transAxes.transform((0, LOST_AT))[1]
            assert pixel(image, x, y).max() < 60, lr
            lost.append(lr)
            continue
        x, y = ax.transData.transform((lr, gap))
        assert close(pixel(image, x, y), drawn.colour(gap), 3), (lr, gap)
        # The ring: black somewhere 8 to 13 px out, in each of four directions.
        ring = [
            min(pixel(image, x + r * dx, y + r * dy).max() for r in range(8, 14))
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))
        ]
        assert all(v < 40 for v in ring) == (lr == ADAM["lr"]), (lr, ring)
    assert lost == [1.0, 5.0]


def test_one_colour_scale_spans_every_panel(run: optrace.RaceRun) -> None:
    drawn = redraw(run.result)
    gaps = [c.gap for p in drawn.panels for c in p.cells if c.lost is None]
    assert drawn.norm.vmin == pytest.approx(min(gaps)) and drawn.norm.vmax == pytest.approx(
        max(gaps)
    )
    assert len(drawn.panels[0].ax.figure.axes) == 3  # two panels and one colour bar
    titles = [p.ax.get_title() for p in drawn.panels]
    assert titles[0].startswith("SGD\n") and titles[1].startswith("Adam 0.05 (Adam)\n")
    assert [p.ax.get_xlabel() for p in drawn.panels] == ["momentum", "lr"]
    assert drawn.panels[0].ax.get_ylabel() == "lr"
    ticks = [t.get_text() for t in drawn.panels[0].ax.get_yticklabels()]
    assert ticks == ["0.0005", "0.001", "0.002", "0.004"]


def text_boxes(figure: Any) -> dict[str, Any]:
    """The extents of the map's texts: titles, and each axis's label with its ticks."""
    renderer = figure.canvas.get_renderer()
    boxes = {"title": figure._suptitle.get_window_extent(renderer)}
    for i, ax in enumerate(figure.axes):
        if ax.get_title():
            boxes[f"panel {i} title"] = ax.title.get_window_extent(renderer)
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            box = axis.get_tightbbox(renderer)
            if box is not None:  # the colour bar's x axis shows nothing
                boxes[f"panel {i} {name}"] = box
    return boxes


@pytest.mark.parametrize(("size", "font_scale"), [((320, 240), 1.0), ((640, 480), 2.0)])
def test_nothing_is_clipped_or_covered(
    run: optrace.RaceRun, size: tuple[int, int], font_scale: float
) -> None:
    shape = sweep_size(size, 2, font_scale)
    figure = new_figure(shape)
    FigureCanvasAgg(figure)
    draw_sweep_map(figure, run.result, SceneOptions(font_scale=font_scale))
    boxes = text_boxes(figure)
    for name, box in boxes.items():
        assert box.x0 >= 0 and box.y0 >= 0, name
        assert box.x1 <= shape[0] and box.y1 <= shape[1], name
    for (a, box), (b, other) in itertools.combinations(boxes.items(), 2):
        assert not box.overlaps(other), (a, b)


def flat(label: str, hyperparameters: dict[str, Any], end: float) -> Trace:
    x = np.array([[1.0, end]])
    return Trace(label, "SGD", hyperparameters, "ro", x, x**2)


def test_a_three_key_sweep_shows_two_at_the_others_written_value() -> None:
    values = ((0.1, 0.2), (0.0, 0.9), (False, True))
    combos = list(itertools.product(*values))
    # Each combination ends at its own place: its gap tells it apart.
    traces = tuple(
        flat("SGD", dict(zip("abc", v, strict=True)), 0.1 * (i + 1)) for i, v in enumerate(combos)
    )
    written = combos.index((0.2, 0.9, True))
    sweep = Sweep("SGD", ("a", "b", "c"), values, traces, written)
    minimum = Minimum(0.0, 0.0)
    result = RaceResult(
        "three",
        "x**2",
        (-5.0, 5.0),
        np.zeros(2),
        np.zeros(2),
        1,
        (traces[written],),
        (minimum,),
        sweeps=(sweep,),
    )
    (panel,) = redraw(result).panels
    assert panel.keys == ("a", "b") and panel.fixed == {"c": True}
    assert panel.shown == ((1, 3), (5, 7))
    assert "at c True as written" in panel.ax.get_title()


def test_save_refuses_a_sweep_map_without_a_sweep(tmp_path: Path) -> None:
    run = optrace.Race(function="quartic", start=2.0, epochs=3, racers=[{"optimizer": "SGD"}]).run()
    with pytest.raises(UsageError, match=r"^'.*sweep.png': a sweep map needs a racer with a sweep"):
        run.save(tmp_path / "race.gif", tmp_path / "sweep.png")
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_map_is_byte_stable_as_svg(run: optrace.RaceRun, tmp_path: Path) -> None:
    first = run.save(tmp_path / "x-sweep.svg")[0].read_bytes()
    second = run.save(tmp_path / "x-sweep.svg")[0].read_bytes()
    assert first == second and b"<svg" in first
    (pdf,) = run.save(tmp_path / "x_sweep.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert [kind_of(Path(p)) for p in ("sweep.PNG", "a_sweep.svg", "mysweep.png")] == [
        "sweep",
        "sweep",
        "still",
    ]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "sweep.png",
            "Error: --sweep: a sweep map needs a racer with a sweep (sweep: {lr: [...]})",
        ),
        # However the suffix refusal is worded, it names the option and the suffixes.
        ("sweep.gif", "Error: --sweep"),
    ],
)
def test_cli_refuses_in_one_line_and_writes_nothing(
    invoke: Callable[..., Any],
    write_config: Callable[..., Path],
    tmp_path: Path,
    option: str,
    message: str,
) -> None:
    path = write_config({"function": "quartic", "epochs": 3, "racers": [{"optimizer": "SGD"}]})
    out = tmp_path / "out"
    out.mkdir()
    result = invoke("run", path, "--sweep", out / option, "--summary", out / "s.json")
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert option.endswith(".png") or ".png" in result.stderr
    assert result.stdout == ""
    assert list(out.iterdir()) == []


def test_cli_writes_the_map(
    invoke: Callable[..., Any], write_config: Callable[..., Path], tmp_path: Path
) -> None:
    racer = {"optimizer": "SGD", "lr": 0.1, "sweep": {"lr": [0.01, 0.1, 1.0]}}
    path = write_config({"function": "quartic", "start": 2.0, "epochs": 20, "racers": [racer]})
    result = invoke("run", path, "--sweep", tmp_path / "lr-sweep.png")
    assert result.exit_code == 0, result.stderr
    assert Image.open(tmp_path / "lr-sweep.png").size == (640, 480)
    assert f"wrote {tmp_path / 'lr-sweep.png'}" in result.stderr
