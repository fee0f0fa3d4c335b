"""The player's sliders, in a real headless Chromium: a racer's sweep, one combination
drawn at a time, is drawn where the GIF of that combination alone draws it.

The sweeps here are raced here, each combination as its own racer of one race, so
the page is checked against traces that the sweep's own racing did not make. The
browser is the one of tests/test_player.py's fixture, started once for this module.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.test_player import (
    HOSTILE,
    MISMATCH_SHARE,
    RED,
    Race,
    browser,
    make_race,
    marker_centre,
    mismatch,
    open_player,
    screenshot,
    state,
)

webdriver = pytest.importorskip("selenium.webdriver", reason="the browser tests need selenium")
from selenium.common.exceptions import JavascriptException, NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

__all__ = ["browser"]  # the module's browser, as tests/test_player.py starts it

pytestmark = pytest.mark.skipif(
    not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()),
    reason="needs Debian's chromium and chromium-driver (scripts/install-system-deps.sh)",
)

#: SGD with momentum on Rosenbrock, lr x momentum, beside an Adam without a sweep.
CONFIG: dict[str, Any] = {
    "function": "rosenbrock",
    "start": [-1.2, 1.0],
    "epochs": 30,
    "racers": [
        {"optimizer": "SGD", "lr": 0.001, "momentum": 0.9, "style": "ro"},
        {"optimizer": "Adam", "lr": 0.1, "style": "bs"},
    ],
    "animation": {"interval": 100, "size": [420, 480], "loss_panel": True, "trail": 6},
}
GRID = {"lr": [0.0005, 0.001, 0.002], "momentum": [0.0, 0.9]}
#: Without the loss panel, whose range (and so the figure's margins) follows the
#: traces: the race of one combination alone is laid out as the sweep's page.
PLAIN = dict(CONFIG, animation={"interval": 100, "size": [420, 360], "trail": 6})


def swept(config: dict[str, Any], grid: dict[str, list[Any]], racer: int = 0) -> Any:
    """The race of ``config`` with ``racer`` swept over ``grid``: every combination
    raced as a racer of its own in one race, then given the racer's label."""
    import optrace
    from optrace.results.trace import Sweep

    keys, combos = tuple(grid), list(itertools.product(*grid.values()))
    written = config["racers"][racer]
    result = optrace.Race(**config).run().pictured
    own = result.traces[racer]
    unlabelled = {k: v for k, v in written.items() if k != "label"}  # labels are unique
    each = dict(config, racers=[{**unlabelled, **dict(zip(keys, c, strict=True))} for c in combos])
    traces = tuple(
        dataclasses.replace(t, label=own.label) for t in optrace.Race(**each).run().result.traces
    )
    at = combos.index(tuple(written[k] for k in keys))
    sweep = Sweep(own.label, keys, tuple(tuple(v) for v in grid.values()), traces, at)
    return dataclasses.replace(result, sweeps=(sweep,))


def write(result: Any, config: dict[str, Any], path: Path, page: bool = True) -> Path:
    """The player of ``result``, drawn as ``config``'s animation says (as make_race)."""
    from optrace._core.frames import frame_epochs
    from optrace.export.drawing import Drawing
    from optrace.export.html import write_player
    from optrace.render.options import SceneOptions
    from optrace.spec.loading import parse_config

    animation = parse_config(config).animation
    drawing = Drawing(animation.size, animation.interval, options=SceneOptions.of(animation, 2))
    write_player(
        result, path, drawing, frame_epochs(result.epochs, animation.frame_count(result.epochs))
    )
    return path


@pytest.fixture(scope="module")
def sweep_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    folder = tmp_path_factory.mktemp("sweep")
    result = swept(CONFIG, GRID)
    return result, write(result, CONFIG, folder / "sweep.html")


@pytest.fixture(scope="module")
def plain_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    folder = tmp_path_factory.mktemp("plain")
    result = swept(PLAIN, GRID)
    return result, write(result, PLAIN, folder / "sweep.html")


def alone(folder: Path, **values: Any) -> Race:
    """The race with SGD's values as ``values`` say, written as its GIF and player."""
    racers = [{**PLAIN["racers"][0], **values}, PLAIN["racers"][1]]
    return make_race(folder, dict(PLAIN, racers=racers))


def choose(browser: Any, label: str, params: dict[str, Any]) -> Any:
    return browser.execute_script(
        "return window.optrace.choose(arguments[0], arguments[1])", label, params
    )


def test_choosing_a_combination_draws_it_where_its_own_gif_does(
    browser: Any, plain_page: tuple[Any, Path], tmp_path: Path
) -> None:
    result, page = plain_page
    sweep = result.sweeps[0]
    open_player(browser, page)
    assert [r["params"] for r in state(browser)["racers"]] == [{"lr": 0.001, "momentum": 0.9}, {}]
    for values in ({"lr": 0.002, "momentum": 0.9}, {"lr": 0.0005, "momentum": 0.9}):
        race = alone(tmp_path / f"{values['lr']}-{values['momentum']}", **values)
        assert list(race.frames) == list(range(31))  # GIF frame k is epoch k
        trace = sweep.traces[sweep.index(values)]
        np.testing.assert_array_equal(trace.x, race.result.traces[0].x)
        height = race.gif_frame(0).shape[0]
        for k in (12, 30):
            browser.execute_script("window.optrace.choose('SGD', {lr: 0.001, momentum: 0.9})")
            browser.execute_script("window.optrace.seek(arguments[0])", k)
            before = screenshot(browser)
            assert choose(browser, "SGD", values) == values
            now = state(browser)["racers"]
            assert now[0]["params"] == values and now[1]["params"] == {}
            assert now[0]["x"] == trace.x[0, k] and now[0]["loss"] == trace.loss[0, k]
            x, y = marker_centre(race, k, RED, height)
            assert abs(now[0]["px"] - x) <= 1 and abs(now[0]["py"] - y) <= 1, (values, k)
            # The marker and its trail, over the same background, are that GIF's.
            share = mismatch(screenshot(browser), race.gif_frame(k))
            assert share <= MISMATCH_SHARE, (values, k, share)
            assert mismatch(before, race.gif_frame(k)) > 2 * share


def test_choosing_a_combination_draws_its_loss_line(
    browser: Any, sweep_page: tuple[Any, Path]
) -> None:
    result, page = sweep_page
    sweep = result.sweeps[0]
    open_player(browser, page)
    written = sweep.traces[sweep.written]
    browser.execute_script("window.optrace.players[0].setVisible(1, false)")  # Adam's line
    # The one combination whose line leaves the others' (they run together).
    for values in ({"lr": 0.002, "momentum": 0.9},):
        trace = sweep.traces[sweep.index(values)]
        for k in (12, 20, 30):
            browser.execute_script("window.optrace.choose('SGD', {lr: 0.001, momentum: 0.9})")
            browser.execute_script("window.optrace.seek(arguments[0])", k)
            before = screenshot(browser)
            choose(browser, "SGD", values)
            # Each gap to f* at epoch k where matplotlib's own mapping of the page's
            # figure puts it: the combination's line is there now, the written one's gone.
            px, py = panel_pixel(result, trace, k)
            wx, wy = panel_pixel(result, written, k)
            assert abs(py - wy) > 3, "the two lines are told apart at epoch k"
            shot = screenshot(browser)
            assert reddish(shot, px, py) and not reddish(before, px, py), (values, k)
            assert reddish(before, wx, wy) and not reddish(shot, wx, wy), (values, k)


def panel_pixel(result: Any, trace: Any, epoch: int) -> tuple[int, int]:
    """Where the loss panel of the page's figure puts ``trace``'s gap at ``epoch``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from optrace.export.frames import new_figure
    from optrace.render.options import SceneOptions
    from optrace.render.scene import RaceScene
    from optrace.spec.loading import parse_config

    size = tuple(CONFIG["animation"]["size"])
    figure = new_figure(size)
    FigureCanvasAgg(figure)
    options = SceneOptions.of(parse_config(CONFIG).animation, 2)
    scene = RaceScene(figure, result, None, options)
    assert scene.panel is not None
    gap = max(float(trace.loss[0, epoch]) - result.minima[0][1], 1e-16)
    x, y = scene.panel.ax.transData.transform((epoch, gap))
    return int(x), int(size[1] - y)


def reddish(shot: np.ndarray, px: int, py: int) -> bool:
    near = shot[py - 1 : py + 2, px - 1 : px + 2].reshape(-1, 3)
    return bool(((near[:, 0] > 200) & (near[:, 1] < 90) & (near[:, 2] < 90)).any())


def test_a_slider_moves_with_the_keys_while_playing(
    browser: Any, sweep_page: tuple[Any, Path]
) -> None:
    result, page = sweep_page
    sweep = result.sweeps[0]
    open_player(browser, page)
    rows = browser.find_elements(By.CSS_SELECTOR, ".optrace-sweep")
    names = [r.find_element(By.CSS_SELECTOR, ".optrace-sweep-name").text for r in rows]
    assert names == ["SGD lr", "SGD momentum"]
    lr, momentum = (r.find_element(By.TAG_NAME, "input") for r in rows)
    assert [lr.get_attribute("max"), momentum.get_attribute("max")] == ["2", "1"]
    shown = [r.find_element(By.CSS_SELECTOR, ".optrace-sweep-value").text for r in rows]
    assert shown == ["0.001", "0.9"]  # the values as written
    browser.execute_script("window.optrace.seek(20)")
    before = state(browser)["racers"][0]
    # Focused, the slider takes the arrow keys: the epoch stays where it was.
    lr.send_keys(Keys.ARROW_RIGHT)
    now = state(browser)
    assert now["epoch"] == 20 and now["racers"][0]["params"] == {"lr": 0.002, "momentum": 0.9}
    assert now["racers"][0]["x"] == sweep.traces[sweep.index(now["racers"][0]["params"])].x[0, 20]
    assert (now["racers"][0]["px"], now["racers"][0]["py"]) != (before["px"], before["py"])
    assert rows[0].find_element(By.CSS_SELECTOR, ".optrace-sweep-value").text == "0.002"
    assert lr.get_attribute("aria-valuetext") == "0.002"
    lr.send_keys(Keys.HOME)
    assert state(browser)["racers"][0]["params"]["lr"] == 0.0005
    assert state(browser)["epoch"] == 20
    # While playing: the chosen combination is drawn at the epoch it has reached.
    browser.execute_script(
        "document.querySelector('.optrace-speed select').value = '0.25';"
        "document.querySelector('.optrace-speed select').dispatchEvent(new Event('change'));"
        "window.optrace.seek(0); window.optrace.play()"
    )
    momentum.send_keys(Keys.ARROW_LEFT)
    now = browser.execute_script("return window.optrace.state()")
    assert now["playing"] is True
    racer = now["racers"][0]
    assert racer["params"] == {"lr": 0.0005, "momentum": 0.0}
    trace = sweep.traces[sweep.index(racer["params"])]
    assert racer["x"] == trace.x[0, now["epoch"]]
    browser.execute_script("window.optrace.pause()")
    # choose() moves the sliders too.
    choose(browser, "SGD", {"lr": 0.002})
    assert lr.get_attribute("value") == "2" and momentum.get_attribute("value") == "0"


def test_choose_names_what_it_refuses(browser: Any, sweep_page: tuple[Any, Path]) -> None:
    _, page = sweep_page
    open_player(browser, page)
    refusals = [
        ("Nadam", {"lr": 0.001}, 'no racer "Nadam" (racers: "SGD", "Adam")'),
        ("SGD", {"betas": 0.9}, 'racer "SGD" sweeps no "betas" (it sweeps "lr", "momentum")'),
        (
            "SGD",
            {"lr": 0.003},
            '0.003 is not one of the values of "lr" for racer "SGD" (0.0005, 0.001, 0.002)',
        ),
        ("SGD", {"lr": "0.001"}, '0.001 is not one of the values of "lr"'),
        ("Adam", {"lr": 0.1}, 'racer "Adam" sweeps no "lr"'),
    ]
    for label, params, message in refusals:
        with pytest.raises(JavascriptException, match=re.escape("optrace: " + message)):
            choose(browser, label, params)
    # A refusal changes nothing, even where the keys before the bad one were good.
    with pytest.raises(JavascriptException, match='"momentum"'):
        choose(browser, "SGD", {"lr": 0.002, "momentum": 0.5})
    assert state(browser)["racers"][0]["params"] == {"lr": 0.001, "momentum": 0.9}
    assert choose(browser, "Adam", {}) == {}
    # Each player of the page has its own choose.
    assert browser.execute_script(
        "return window.optrace.players[0].choose('SGD', {momentum: 0.0})"
    ) == {"lr": 0.001, "momentum": 0.0}


def test_a_hostile_key_and_value_are_text(browser: Any, tmp_path: Path) -> None:

    key, values = "<b>key</b>", ("<i>one</i>", "<img src=x onerror=alert(3)>")
    config = {
        "function": "peaks-slice",
        "start": -0.3,
        "epochs": 6,
        "racers": [{"optimizer": "SGD", "lr": 0.05, "style": "ro", "label": HOSTILE}],
        "animation": {"size": [400, 300]},
    }
    result = swept(config, {"lr": [0.05, 0.1]})
    sweep = dataclasses.replace(result.sweeps[0], keys=(key,), values=(values,))
    page = write(dataclasses.replace(result, sweeps=(sweep,)), config, tmp_path / "p.html")
    assert key not in page.read_text(encoding="utf-8")
    open_player(browser, page)
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert browser.find_elements(By.CSS_SELECTOR, "b, i") == []
    assert len(browser.find_elements(By.CSS_SELECTOR, "img")) == 1  # the background
    name = browser.find_element(By.CSS_SELECTOR, ".optrace-sweep-name")
    assert name.get_attribute("textContent") == f"{HOSTILE} {key}"
    assert choose(browser, HOSTILE, {key: values[1]}) == {key: values[1]}
    value = browser.find_element(By.CSS_SELECTOR, ".optrace-sweep-value")
    assert value.get_attribute("textContent") == values[1]
    browser.execute_script("window.optrace.seek(6)")
    assert state(browser)["racers"][0]["x"] == result.sweeps[0].traces[1].x[0, 6]


def test_the_notebook_view_has_the_sliders(
    browser: Any, sweep_page: tuple[Any, Path], tmp_path: Path
) -> None:
    from optrace.export.drawing import Drawing
    from optrace.export.html import player_html

    result, _ = sweep_page
    plain = dataclasses.replace(result, sweeps=())
    fragments = [player_html(r, Drawing((420, 480), 100), page=False) for r in (plain, result)]
    page = tmp_path / "two.html"
    page.write_text("<!DOCTYPE html><html><body>" + "".join(fragments) + "</body></html>")
    open_player(browser, page)
    players = browser.find_elements(By.CSS_SELECTOR, ".optrace-player")
    assert [len(p.find_elements(By.CSS_SELECTOR, ".optrace-sweep input")) for p in players] == [
        0,
        2,
    ]
    with pytest.raises(JavascriptException, match='racer "SGD" sweeps no "lr"'):
        browser.execute_script("window.optrace.choose('SGD', {lr: 0.002})")  # the first player's
    players[1].find_elements(By.CSS_SELECTOR, ".optrace-sweep input")[1].send_keys(Keys.ARROW_LEFT)
    assert state(browser, 1)["racers"][0]["params"] == {"lr": 0.001, "momentum": 0.0}
    assert state(browser, 0)["racers"][0]["params"] == {}


def test_a_five_by_four_sweep_of_300_epochs_is_at_most_2_mb(browser: Any, tmp_path: Path) -> None:
    import optrace

    config = {
        "function": "rosenbrock",
        "start": [-1.2, 1.0],
        "epochs": 300,
        "racers": [
            {
                "optimizer": "SGD",
                "lr": 0.001,
                "momentum": 0.9,
                "sweep": {
                    "lr": [0.0001, 0.0003, 0.001, 0.002, 0.003],
                    "momentum": [0.0, 0.5, 0.9, 0.99],
                },
            }
        ],
        "animation": {"loss_panel": True, "trail": 10},
    }
    run = optrace.Race(**config).run()
    result = run.pictured
    page = run.save(tmp_path / "sweep.html")[0]
    size = page.stat().st_size
    print(f"a 5 x 4 sweep of 300 epochs on Rosenbrock: {size / 1e6:.3f} MB of HTML")
    assert size <= 2_000_000
    open_player(browser, page)
    browser.execute_script("window.optrace.seek(300)")
    sweep = result.sweeps[0]
    for i in (0, 7, 19):
        params = sweep.params(i)
        assert choose(browser, "SGD", params) == params
        x = float(sweep.traces[i].x[0, 300])
        assert state(browser)["racers"][0]["x"] == (x if np.isfinite(x) else None)
    assert sweep.traces[19].diverged_at[0] is not None  # a combination that diverged


def test_a_race_with_a_sweep_shows_its_sliders_inline(browser: Any, tmp_path: Path) -> None:
    import optrace

    config = dict(CONFIG, epochs=10)
    config["racers"] = [{**CONFIG["racers"][0], "sweep": GRID}, CONFIG["racers"][1]]
    run = optrace.Race(**config).run()
    (sweep,) = run.pictured.sweeps
    page = tmp_path / "inline.html"
    page.write_text("<!DOCTYPE html><html><body>" + run._repr_html_() + "</body></html>")
    open_player(browser, page)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".optrace-sweep input")) == 2
    browser.execute_script("window.optrace.seek(10)")
    for i in range(len(sweep.traces)):
        assert choose(browser, "SGD", sweep.params(i)) == sweep.params(i)
        assert state(browser)["racers"][0]["x"] == sweep.traces[i].x[0, 10]
