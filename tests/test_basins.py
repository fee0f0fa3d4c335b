"""The basins map: where each start of a swarm ends, against a hand-written loop and the
published minima, in the summary JSON, the table and the picture's pixels."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from PIL import Image

import optrace
from optrace._core.atomic import AtomicFile, opened
from optrace._core.errors import UsageError
from optrace._core.types import Minimum
from optrace.export.frames import new_figure
from optrace.export.outputs import Output, kind_of, write_outputs
from optrace.render.basins import BASIN_COLOURS, NONE_COLOUR, basins_size, draw_basins
from optrace.render.options import SceneOptions
from optrace.results.basins import shown_minima
from optrace.results.report import write_summary
from optrace.results.trace import RaceResult
from tests.conftest import peaks_slice

#: Himmelblau's four minima, as published (all of value 0).
HIMMELBLAU = [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)]
GRID, EPOCHS, TOLERANCE = 6, 40, 0.05
RACERS = [
    {"optimizer": "SGD", "lr": 0.01},
    {"optimizer": "Adam", "lr": 0.05},
    {"optimizer": "SGD", "lr": 0.02, "label": "SGD 0.02"},
    {"optimizer": "SGD", "lr": 0.028, "label": "SGD 0.028"},
]


def himmelblau(p: torch.Tensor) -> torch.Tensor:
    x, y = p[0], p[1]
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def hand_basins(racer: dict[str, Any]) -> list[int | str]:
    """Per start of the grid, row by row from the lowest y: the index in HIMMELBLAU
    of the minimum it ends at, "none" or "lost", from a plain torch loop."""
    cells = [-5 + (i + 0.5) * 10 / GRID for i in range(GRID)]
    out: list[int | str] = []
    for y0 in cells:
        for x0 in cells:
            p = torch.tensor([x0, y0], dtype=torch.float64, requires_grad=True)
            opt = getattr(torch.optim, racer["optimizer"])([p], lr=racer["lr"])
            for _ in range(EPOCHS):
                opt.zero_grad()
                himmelblau(p).backward()
                opt.step()
            x, y = (float(v) for v in p.detach())
            loss = float(himmelblau(p.detach()))
            if not all(map(math.isfinite, (x, y, loss))) or max(abs(x), abs(y)) > 5:
                out.append("lost")
                continue
            near = min(range(4), key=lambda i: math.dist((x, y), HIMMELBLAU[i]))
            out.append(near if loss <= TOLERANCE else "none")
    return out


@pytest.fixture(scope="module")
def swarm() -> optrace.RaceRun:
    race = optrace.Race(
        title="basins",
        function="himmelblau",
        starts={"grid": GRID},
        epochs=EPOCHS,
        tolerance=TOLERANCE,
        racers=RACERS,
    )
    return race.run()


@pytest.fixture(scope="module")
def expected() -> list[list[int | str]]:
    return [hand_basins(r) for r in RACERS]


def published(point: list[float]) -> int:
    """The index in HIMMELBLAU of the published minimum at ``point``."""
    (index,) = [i for i, m in enumerate(HIMMELBLAU) if math.dist(m, point) < 1e-5]
    return index


def test_basin_counts_match_a_hand_written_loop(
    swarm: optrace.RaceRun, expected: list[list[int | str]]
) -> None:
    kinds = set()
    for racer, hand in zip(swarm.summary(), expected, strict=True):
        basins = racer["basins"]
        counted = {published(b["minimum"]): b["starts"] for b in basins[:-1]}
        assert counted == {i: hand.count(i) for i in range(4) if hand.count(i)}
        none = basins[-1]
        assert none["minimum"] is None
        assert none["starts"] == hand.count("none") + hand.count("lost")
        assert none["diverged"] + none["outside"] == hand.count("lost")
        assert sum(b["starts"] for b in basins) == GRID * GRID == len(racer["starts"])
        kinds |= set(hand)
    # The race holds every kind of ending: each minimum, none and lost.
    assert kinds == {0, 1, 2, 3, "none", "lost"}


def test_the_summary_json_carries_the_basins(swarm: optrace.RaceRun, tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    out = AtomicFile(path)
    write_summary(swarm.result, out)
    out.commit()
    racers = json.loads(path.read_text())["racers"]
    assert [r["basins"] for r in racers] == [r["basins"] for r in swarm.summary()]
    assert all(len(b["minimum"]) == 2 for r in racers for b in r["basins"][:-1])


def test_the_table_prints_the_basins_in_the_maps_order(
    swarm: optrace.RaceRun, expected: list[list[int | str]]
) -> None:
    lines = swarm.table().splitlines()
    heading = lines.index(
        f"where each of the {GRID * GRID} starts ends (its final loss within "
        f"{TOLERANCE:g} of the nearest known minimum's):"
    )
    # Nearest the domain's centre first, as the map colours them.
    order = sorted(range(4), key=lambda i: math.hypot(*HIMMELBLAU[i]))
    for racer, hand, line in zip(RACERS, expected, lines[heading + 2 :], strict=True):
        label = racer.get("label", racer["optimizer"])
        assert line.startswith(label)
        counts = [int(c) for c in line[len(label) :].split()]
        want = [hand.count(i) for i in order] + [hand.count("none"), hand.count("lost")]
        assert counts == want


def test_one_d_basins_against_the_formulas_own_minima() -> None:
    # peaks-slice's tails are flat: lr 3 throws some starts far out, still finite.
    run = optrace.Race(
        function="peaks-slice",
        starts={"grid": 20},
        epochs=60,
        racers=[{"optimizer": "SGD", "lr": 0.05}, {"optimizer": "SGD", "lr": 3.0, "label": "far"}],
    ).run()
    xs = torch.linspace(-5, 5, 200001, dtype=torch.float64)
    f = peaks_slice(xs).numpy()
    inner = np.flatnonzero((f[1:-1] < f[:-2]) & (f[1:-1] < f[2:])) + 1
    minima = [(float(xs[i]), float(f[i])) for i in inner]
    assert len(minima) == 2
    outside = 0
    for racer in run.summary():
        hand = {}
        for start in racer["starts"]:
            x, loss = start["final_x"], start["final_loss"]
            if start["diverged_at"] is not None or abs(x) > 5:
                outside += abs(x) > 5
                continue
            near = min(minima, key=lambda m: abs(m[0] - x))
            if abs(loss - near[1]) <= 1e-3:
                hand[round(near[0], 3)] = hand.get(round(near[0], 3), 0) + 1
        basins = racer["basins"]
        assert {round(b["minimum"][0], 3): b["starts"] for b in basins[:-1]} == hand
        assert all(len(b["minimum"]) == 1 for b in basins[:-1])
        assert sum(b["starts"] for b in basins) == 20
    assert outside > 0
    assert run.summary()[1]["basins"][-1]["outside"] == outside


def test_a_single_start_has_one_count_and_no_table_lines() -> None:
    run = optrace.Race(
        function="quartic", start=2.0, epochs=200, racers=[{"optimizer": "SGD", "lr": 0.01}]
    ).run()
    (basins,) = [r["basins"] for r in run.summary()]
    assert basins[0]["starts"] == 1 and basins[0]["minimum"] == [pytest.approx(1.1309, abs=1e-3)]
    assert basins[-1] == {"minimum": None, "starts": 0, "diverged": 0, "outside": 0}
    assert "where each" not in run.table()


def test_many_minima_show_whole_rings_nearest_the_centre() -> None:
    # Rastrigin's 121 minima lie near the integer lattice.
    lattice = [(0.995 * i, 0.995 * j) for i in range(-5, 6) for j in range(-5, 6)]
    minima = tuple(Minimum(x, 10 * (x * x + y * y) / 100, y) for x, y in lattice)
    result = RaceResult("", "", (-5.12, 5.12), np.empty(0), np.empty(0), 1, (), minima,
                        ydomain=(-5.12, 5.12))  # fmt: skip
    shown = [minima[i] for i in shown_minima(result)]
    # The centre and its four neighbours; the next ring, four more, would make nine.
    assert [round(math.hypot(m.x, m.y or 0), 3) for m in shown] == [0, 0.995, 0.995, 0.995, 0.995]
    assert len(shown_minima(result, most=9)) == 9


def test_each_start_is_drawn_in_its_basins_colour(
    swarm: optrace.RaceRun, expected: list[list[int | str]], tmp_path: Path
) -> None:
    (path,) = swarm.save(tmp_path / "basins.png")
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    size = basins_size(swarm.race.config.animation.size, len(RACERS))
    assert size == (1536, 480)
    assert image.shape == (size[1], size[0], 3)
    # The same map, drawn again, tells where each panel's data lie in pixels.
    figure = new_figure(size)
    FigureCanvasAgg(figure)
    drawn = draw_basins(figure, swarm.result)
    order = sorted(range(4), key=lambda i: math.hypot(*HIMMELBLAU[i]))
    colour = {i: BASIN_COLOURS[order.index(i)] for i in range(4)} | {"none": NONE_COLOUR}
    cells = [-5 + (i + 0.5) * 10 / GRID for i in range(GRID)]
    starts = [(x, y) for y in cells for x in cells]
    checked = 0
    for ax, hand in zip(drawn.axes, expected, strict=True):
        stars = [ax.transData.transform(m) for m in HIMMELBLAU]
        for (x, y), basin in zip(starts, hand, strict=True):
            px, py = ax.transData.transform((x, y))
            if min(math.dist((px, py), s) for s in stars) < 14:
                continue  # under a star
            rgb = image[int(size[1] - py), int(px)]
            if basin == "lost":
                assert rgb.max() < 90, (x, y, rgb)  # a black cross
            else:
                want = np.array(to_rgb(colour[basin])) * 255
                assert np.abs(rgb - want).max() <= 2, (x, y, basin, rgb, want)
            checked += 1
    assert checked > 0.8 * len(RACERS) * len(starts)


def text_boxes(figure: Any) -> dict[str, Any]:
    """The extents of the map's texts: titles, axis labels with their ticks, legend."""
    renderer = figure.canvas.get_renderer()
    boxes = {"title": figure._suptitle.get_window_extent(renderer)}
    for i, ax in enumerate(figure.axes):
        boxes[f"panel {i} title"] = ax.title.get_window_extent(renderer)
        boxes[f"panel {i} axes"] = ax.get_tightbbox(renderer, for_layout_only=False)
    boxes["legend"] = figure.legends[0].get_window_extent(renderer)
    return boxes


@pytest.mark.parametrize("size", [(320, 320), (1920, 1080)])
@pytest.mark.parametrize("font_scale", [1.0, 2.0])
def test_nothing_is_clipped_or_covered(
    swarm: optrace.RaceRun, size: tuple[int, int], font_scale: float
) -> None:
    shape = basins_size(size, len(RACERS), font_scale)
    figure = new_figure(shape)
    FigureCanvasAgg(figure)
    draw_basins(figure, swarm.result, SceneOptions(font_scale=font_scale))
    figure.canvas.draw()
    boxes = text_boxes(figure)
    for name, box in boxes.items():
        assert box.x0 >= 0 and box.y0 >= 0, name
        assert box.x1 <= shape[0] and box.y1 <= shape[1], name
    for (a, box), (b, other) in itertools.combinations(boxes.items(), 2):
        # A panel's title sits on its own axes' box; any other pair keeps apart.
        if a.split(" ")[:2] != b.split(" ")[:2] or "panel" not in a:
            assert not box.overlaps(other), (a, b)


def test_a_basins_map_is_byte_stable_as_svg(swarm: optrace.RaceRun, tmp_path: Path) -> None:
    first = swarm.save(tmp_path / "a_basins.svg")[0].read_bytes()
    second = swarm.save(tmp_path / "a_basins.svg")[0].read_bytes()
    assert first == second and b"<svg" in first
    assert kind_of(Path("race-basins.pdf")) == "basins" and kind_of(Path("mybasins.png")) == "still"


def test_an_interrupted_write_leaves_the_old_map(swarm: optrace.RaceRun, tmp_path: Path) -> None:
    target = tmp_path / "basins.png"
    target.write_bytes(b"old")
    outputs = [Output("basins", target), Output("gif", tmp_path / "race.gif")]

    def interrupt(_: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the GIF renders, after the map is drawn

    with pytest.raises(KeyboardInterrupt), opened(outputs) as files:
        drawing, shown = swarm.drawing(), swarm.frame_epochs(3)
        write_outputs(swarm.result, files, drawing, shown, progress=interrupt)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["basins.png"]


def test_save_refuses_a_basins_map_of_one_start(tmp_path: Path) -> None:
    run = optrace.Race(function="quartic", start=2.0, epochs=3, racers=[{"optimizer": "SGD"}]).run()
    with pytest.raises(UsageError, match="a basins map needs a swarm"):
        run.save(tmp_path / "race.gif", tmp_path / "basins.png")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("config", "option", "message"),
    [
        (
            {"function": "quartic", "start": 2.0},
            "basins.png",
            "Error: --basins: a basins map needs a swarm (starts: a list, {grid: N} or "
            "{random: N})",
        ),
        # However the suffix refusal is worded, it names the option and the suffixes.
        ({"function": "quartic", "starts": {"grid": 4}}, "basins.gif", "Error: --basins"),
    ],
)
def test_cli_refuses_in_one_line_and_writes_nothing(
    invoke: Callable[..., Any],
    write_config: Callable[..., Path],
    tmp_path: Path,
    config: dict[str, Any],
    option: str,
    message: str,
) -> None:
    path = write_config({**config, "epochs": 3, "racers": [{"optimizer": "SGD"}]})
    out = tmp_path / "out"
    out.mkdir()
    result = invoke("run", path, "--basins", out / option, "--summary", out / "s.json")
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert option.endswith(".png") or ".png" in result.stderr  # it says what to write
    assert result.stdout == ""
    assert list(out.iterdir()) == []


def test_cli_writes_the_map(
    invoke: Callable[..., Any], write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = {"function": "quartic", "starts": {"grid": 8}, "epochs": 30}
    path = write_config({**config, "racers": [{"optimizer": "SGD", "lr": 0.01}]})
    result = invoke("run", path, "--basins", tmp_path / "map.pdf")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "map.pdf").read_bytes().startswith(b"%PDF")
    assert "where each of the 8 starts ends" in result.stdout
