"""The HTML player in a real headless Chromium: it draws what the GIF draws.

One browser serves the whole module. Each race is exported twice from the same
result, as a GIF (decoded here with Pillow) and as the player; the player's
markers, screenshots, keys, legend clicks and read-outs are checked against
the GIF's pixels and the trace's own float64 values.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import CONFIGS, ROOT

webdriver = pytest.importorskip("selenium.webdriver", reason="the browser tests need selenium")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
HOSTILE = "</script><script>alert(1)</script>"
HOSTILE_TITLE = "</title><b>bold</b> & <img src=x onerror=alert(2)>"
#: A screenshot matches a GIF frame when at most this share of its pixels
#: differ by more than MISMATCH levels in a channel: edges antialiased by the
#: browser rather than by Agg, and text hinted differently (the browser's glyphs
#: are stretched to matplotlib's line widths); a small figure with a note has most.
MISMATCH, MISMATCH_SHARE = 64, 0.006

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and DRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (scripts/install-system-deps.sh)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    profile = tempfile.mkdtemp(prefix="optrace-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--force-device-scale-factor=1",
        "--window-size=1200,1100",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Race:
    """One race exported as a GIF and as a player."""

    result: Any
    frames: np.ndarray
    gif: Path
    html: Path
    size: tuple[int, int] = (640, 480)
    options: Any = None

    def gif_frame(self, k: int) -> np.ndarray:
        from PIL import Image, ImageSequence

        with Image.open(self.gif) as image:
            for i, frame in enumerate(ImageSequence.Iterator(image)):
                if i == k:
                    return np.asarray(frame.convert("RGB")).astype(int)
        raise IndexError(k)

    def all_gif_frames(self) -> list[np.ndarray]:
        from PIL import Image, ImageSequence

        with Image.open(self.gif) as image:
            return [np.asarray(f.convert("RGB")).astype(int) for f in ImageSequence.Iterator(image)]


def make_race(folder: Path, config: dict[str, Any]) -> Race:
    """Race ``config`` once; write its GIF and its player from the same result."""
    from optrace._core.atomic import AtomicFile
    from optrace._core.frames import frame_epochs
    from optrace.engine.loop import run
    from optrace.engine.plan import prepare
    from optrace.export.drawing import Drawing
    from optrace.export.frames import export
    from optrace.export.html import write_player
    from optrace.render.options import SceneOptions
    from optrace.spec.loading import parse_config

    folder.mkdir(parents=True, exist_ok=True)
    parsed = parse_config(config)
    result = run(prepare(parsed))
    animation = parsed.animation
    if animation.axis == "evaluations":
        from optrace.results.axis import by_evaluations

        result = by_evaluations(result)
    shown = frame_epochs(result.epochs, animation.frame_count(result.epochs))
    options = SceneOptions.of(animation, result.dims)

    gif = AtomicFile(folder / "race.gif")
    drawing = Drawing(animation.size, animation.interval, options=options)
    export(result, {"gif": gif}, drawing, shown)
    gif.commit()
    html = folder / "race.html"
    write_player(result, html, drawing, shown)
    return Race(result, shown, gif.target, html, animation.size, options)


@pytest.fixture(scope="module")
def line_race(tmp_path_factory: pytest.TempPathFactory) -> Race:
    return make_race(
        tmp_path_factory.mktemp("line"),
        {
            "title": HOSTILE_TITLE,
            "function": "peaks-slice",
            "start": -0.3,
            "epochs": 12,
            "racers": [
                {"optimizer": "SGD", "lr": 0.01, "style": "ro"},
                {"optimizer": "Adam", "lr": 0.3, "style": "bs"},
                {"optimizer": "SGD", "lr": 0.2, "momentum": 0.5, "style": "mD", "label": HOSTILE},
            ],
            "animation": {"interval": 100, "size": [400, 300]},
        },
    )


@pytest.fixture(scope="module")
def plane_race(tmp_path_factory: pytest.TempPathFactory) -> Race:
    return make_race(
        tmp_path_factory.mktemp("plane"),
        {
            "title": "a plane race",
            "function": "rosenbrock",
            "start": [-1.2, 1.0],
            "epochs": 30,
            "racers": [
                {"optimizer": "SGD", "lr": 0.001, "momentum": 0.9, "style": "ro"},
                {"optimizer": "Adam", "lr": 0.1, "style": "bs"},
                {"optimizer": "Adagrad", "lr": 1.0, "style": "mD"},
            ],
            "animation": {
                "interval": 100,
                "size": [420, 480],
                "loss_panel": True,
                "trail": 6,
            },
        },
    )


@pytest.fixture(scope="module")
def swarm_race(tmp_path_factory: pytest.TempPathFactory) -> Race:
    return make_race(
        tmp_path_factory.mktemp("swarm"),
        {
            "function": "peaks-slice",
            "starts": {"grid": 6},
            "epochs": 8,
            "racers": [
                {"optimizer": "SGD", "lr": 0.05, "momentum": 0.9},
                {"optimizer": "Adam", "lr": 0.5},
            ],
            "animation": {"size": [480, 320]},
        },
    )


@pytest.fixture(scope="module")
def diverging_race(tmp_path_factory: pytest.TempPathFactory) -> Race:
    return make_race(
        tmp_path_factory.mktemp("diverging"),
        {
            "function": "quartic",
            "start": 2.0,
            "epochs": 20,
            "racers": [
                {"optimizer": "SGD", "lr": 0.5, "style": "ro"},
                {"optimizer": "SGD", "lr": 0.01, "style": "bs"},
                {"optimizer": "Adam", "lr": 0.3, "style": "mD"},
            ],
            "animation": {"size": [400, 320], "loss_panel": True, "trail": 4},
        },
    )


@pytest.fixture(scope="module")
def evaluations_race(tmp_path_factory: pytest.TempPathFactory) -> Race:
    """LBFGS (up to 20 evaluations a step) against SGD, frames along the evaluations."""
    return make_race(
        tmp_path_factory.mktemp("evaluations"),
        {
            "function": "rosenbrock",
            "start": [-1.2, 1.0],
            "budget": {"evaluations": 60},
            "racers": [
                {"optimizer": "LBFGS", "lr": 0.1, "style": "ro"},
                {"optimizer": "SGD", "lr": 0.001, "momentum": 0.9, "style": "bs"},
            ],
            "animation": {"size": [400, 440], "loss_panel": True, "axis": "evaluations"},
        },
    )


def open_player(browser: Any, path: Path) -> None:
    """Load a page; fail on any console message of level SEVERE or any request
    other than the page itself and its data: URLs."""
    browser.get_log("browser")
    browser.get_log("performance")
    url = path.resolve().as_uri()
    browser.get(url)
    assert browser.execute_script("return document.readyState") == "complete"
    assert browser.execute_script("return window.optrace.players.length") >= 1
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    requested = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
    assert requested, "the performance log saw no request at all (not even the page)"
    assert [u for u in requested if u != url and not u.startswith("data:")] == []


def state(browser: Any, player: int | None = None) -> dict[str, Any]:
    target = "window.optrace" if player is None else f"window.optrace.players[{player}]"
    result: dict[str, Any] = browser.execute_script(f"return {target}.state()")
    return result


def seek(browser: Any, epoch: int) -> dict[str, Any]:
    browser.execute_script("window.optrace.seek(arguments[0])", epoch)
    return state(browser)


def marker_centre(
    race: Race, k: int, colour: tuple[int, int, int], rows: int
) -> tuple[float, float]:
    """The centre of the box around the pixels of ``colour`` in GIF frame ``k``
    (within the top ``rows``) that are not that colour in every frame (the
    legend's handle is). A marker's path is centred on its box, not on its
    centroid (a triangle's centroid lies a third of the way up)."""
    frames = race.all_gif_frames()
    hit = [(f == colour).all(axis=2) for f in frames]
    moving = hit[k] & ~np.logical_and.reduce(hit)
    moving[rows:] = False
    # A fading trail can take the marker's colour where the GIF's palette maps
    # it so; it is at most 3 pixels wide, so shrinking every blob by 2 pixels
    # each way leaves only the marker (whose box shrinks about its centre).
    core = moving.copy()
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            core &= np.roll(moving, (dy, dx), axis=(0, 1))
    ys, xs = np.nonzero(core)
    assert xs.size >= 4, f"no marker of colour {colour} in frame {k}"
    return float(xs.min() + xs.max() + 1) / 2, float(ys.min() + ys.max() + 1) / 2


def screenshot(browser: Any) -> np.ndarray:
    from io import BytesIO

    from PIL import Image

    stage = browser.find_element(By.CSS_SELECTOR, ".optrace-stage")
    with Image.open(BytesIO(stage.screenshot_as_png)) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def mismatch(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float((np.abs(a - b).max(axis=2) > MISMATCH).mean())


RED, BLUE, MAGENTA = (255, 0, 0), (0, 0, 255), (191, 0, 191)


# Frames where no two markers touch, so each can be found by its colour.
@pytest.mark.parametrize(("which", "frames"), [("line", (2, 5, 8)), ("plane", (20, 24, 30))])
def test_markers_sit_where_the_gif_draws_them(
    browser: Any, which: str, frames: tuple[int, ...], line_race: Race, plane_race: Race
) -> None:
    race = line_race if which == "line" else plane_race
    open_player(browser, race.html)
    height = race.gif_frame(0).shape[0]
    # The plane race has a loss panel below; its lines share the racers' colours.
    rows = height if which == "line" else int(height * 0.6)
    for k in frames:
        now = seek(browser, int(race.frames[k]))
        assert now["epoch"] == race.frames[k]
        for i, colour in enumerate((RED, BLUE, MAGENTA)):
            x, y = marker_centre(race, k, colour, rows)
            racer = now["racers"][i]
            assert abs(racer["px"] - x) <= 1 and abs(racer["py"] - y) <= 1, (k, i, racer, x, y)
            assert racer["x"] == race.result.traces[i].x[0, race.frames[k]]


@pytest.mark.parametrize("which", ["line", "plane", "swarm", "diverging", "evaluations"])
def test_a_screenshot_at_epoch_k_is_gif_frame_k(
    browser: Any,
    which: str,
    line_race: Race,
    plane_race: Race,
    swarm_race: Race,
    diverging_race: Race,
    evaluations_race: Race,
) -> None:
    race = {
        "line": line_race,
        "plane": plane_race,
        "swarm": swarm_race,
        "evaluations": evaluations_race,
    }.get(which, diverging_race)
    if which == "swarm":  # its last frame has a note: a start of Adam left the domain
        assert race.result.traces[1].outside(race.result.domain)[:, -1].any()
    if which == "diverging":  # a note, a ghost and a loss line that ends
        assert race.result.traces[0].diverged_at[0] is not None
    open_player(browser, race.html)
    last = len(race.frames) - 1
    for k in (0, 5, last):
        seek(browser, int(race.frames[k]))
        shot = screenshot(browser)
        share = mismatch(shot, race.gif_frame(k))
        print(f"{which} frame {k}: {share:.4%} of pixels differ by more than {MISMATCH}")
        assert share <= MISMATCH_SHARE, k
        # Each marker is drawn (a missing one is too small to fail the share),
        # in its exact colour, unless a later racer's marker covers its centre.
        racers = state(browser)["racers"] if which != "swarm" else []  # a swarm's are translucent
        for i, (racer, colour) in enumerate(zip(racers, (RED, BLUE, MAGENTA), strict=False)):
            covered = any(
                abs(o["px"] - racer["px"]) < 10 and abs(o["py"] - racer["py"]) < 10
                for o in racers[i + 1 :]
            )
            lo, hi = race.result.domain
            drawn = racer["x"] is not None and lo <= racer["x"] <= hi  # not a ghost or hollow
            if drawn and not covered:
                centre = shot[int(racer["py"]), int(racer["px"])]
                assert tuple(centre) == colour, (k, racer["label"])
    if which == "evaluations":
        # Frame k is k evaluations: LBFGS stands where its last step within them left it.
        assert (
            browser.execute_script("return document.querySelector('.optrace-epoch').textContent")
            == f"evaluation {race.frames[last]} / 60"
        )
        k = 30  # LBFGS: its first step used 20, its second 40
        now = seek(browser, k)
        assert now["racers"][0]["x"] == race.result.traces[0].x[0, 20]
        assert now["racers"][1]["x"] == race.result.traces[1].x[0, k]
    # And the check can tell frames apart: the last epoch is not the first frame.
    assert mismatch(shot, race.gif_frame(0)) > 2 * mismatch(shot, race.gif_frame(last))


@pytest.fixture(scope="module")
def seed_panel_race(tmp_path_factory: pytest.TempPathFactory) -> Race:
    """The seed's race with its loss panel: SGD and RMSprop share red, Adam and
    Adadelta black, told apart there by their line patterns and heads."""
    import yaml

    config = yaml.safe_load((ROOT / "configs" / "seed.yaml").read_text(encoding="utf-8"))
    config["epochs"] = 40
    config["animation"] = {"interval": 100, "size": [480, 420], "loss_panel": True}
    return make_race(tmp_path_factory.mktemp("seed-panel"), config)


@pytest.fixture(scope="module")
def band_race(tmp_path_factory: pytest.TempPathFactory) -> Race:
    """A noisy swarm: each racer's median loss in its interquartile band."""
    return make_race(
        tmp_path_factory.mktemp("band"),
        {
            "function": "peaks-slice",
            "starts": {"grid": 8},
            "epochs": 16,
            "seed": 3,
            "noise": {"std": 0.5},
            "racers": [
                {"optimizer": "SGD", "lr": 0.05, "style": "ro"},
                {"optimizer": "Adam", "lr": 0.3, "style": "bs"},
            ],
            "animation": {"size": [400, 360], "loss_panel": True},
        },
    )


def panel_region(race: Race) -> Any:
    """The loss panel's axes as rows and columns of a frame, laid out as the GIF is."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from optrace.export.frames import new_figure
    from optrace.render.scene import RaceScene

    figure = new_figure(race.size)
    FigureCanvasAgg(figure)
    scene = RaceScene(figure, race.result, race.frames, race.options)
    assert scene.panel is not None
    x0, y0, x1, y1 = scene.panel.ax.bbox.extents
    height = figure.bbox.height
    return np.s_[int(height - y1) : int(height - y0), int(x0) : int(x1)]


class Frames:
    """A sink that keeps every rendered frame (RGB), before any encoder."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def append(self, frame: np.ndarray) -> None:
        self.frames.append(frame[..., :3].astype(int))

    def close(self) -> None:
        pass


@pytest.mark.parametrize("which", ["seed", "band"])
def test_the_loss_panel_at_epoch_k_is_gif_frame_k(
    browser: Any, which: str, seed_panel_race: Race, band_race: Race
) -> None:
    from optrace.export.frames import render

    race = seed_panel_race if which == "seed" else band_race
    result = race.result
    assert len(race.frames) == result.epochs + 1  # frame k is epoch k
    if which == "seed":
        colours = [t.style[0] for t in result.traces]
        assert colours.count("r") == 2 and colours.count("k") == 2
    else:
        assert all(t.loss.shape[0] == 8 for t in result.traces)
    rendered = Frames()
    render(result, race.size, [rendered], race.frames, options=race.options)
    open_player(browser, race.html)
    region = panel_region(race)
    for k in (3, result.epochs // 2, result.epochs):
        seek(browser, k)
        shot, frame = screenshot(browser)[region], race.gif_frame(k)[region]
        drawn = rendered.frames[k][region]
        share, own = mismatch(shot, frame), mismatch(frame, drawn)
        print(
            f"{which} panel at epoch {k}: {share:.4%} of its pixels differ from the GIF's,"
            f" {mismatch(shot, drawn):.4%} from the rendered frame's; the GIF {own:.4%}"
        )
        # The GIF's palette can miss the antialiased shades of a line; what it
        # misses there is allowed on top, and the frame as drawn must match alone.
        assert share <= MISMATCH_SHARE + own, k
        assert mismatch(shot, drawn) <= MISMATCH_SHARE, k


def test_keys_step_play_and_pause(browser: Any, line_race: Race) -> None:
    open_player(browser, line_race.html)
    seek(browser, 5)
    player = browser.find_element(By.CSS_SELECTOR, ".optrace-player")
    player.click()  # the canvas hands the focus to the player
    keys = ActionChains(browser)
    keys.send_keys(Keys.ARROW_RIGHT).send_keys(Keys.ARROW_RIGHT).perform()
    assert state(browser)["epoch"] == 7
    ActionChains(browser).send_keys(Keys.ARROW_LEFT).perform()
    assert state(browser)["epoch"] == 6
    ActionChains(browser).send_keys(Keys.END).perform()
    assert state(browser)["epoch"] == line_race.result.epochs
    ActionChains(browser).send_keys(Keys.HOME).perform()
    assert state(browser)["epoch"] == 0
    ActionChains(browser).send_keys(Keys.SPACE).perform()
    assert state(browser)["playing"] is True
    ActionChains(browser).send_keys(Keys.SPACE).perform()
    assert state(browser)["playing"] is False
    # The scrubber, focused, steps one epoch per arrow and spans every epoch.
    scrubber = browser.find_element(By.CSS_SELECTOR, ".optrace-scrubber")
    assert scrubber.get_attribute("max") == str(line_race.result.epochs)
    seek(browser, 3)
    scrubber.send_keys(Keys.ARROW_RIGHT)
    assert state(browser)["epoch"] == 4


def test_playing_loops_or_stops_at_the_end(browser: Any, line_race: Race) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    open_player(browser, line_race.html)
    loop = browser.find_element(By.CSS_SELECTOR, ".optrace-loop input")
    assert loop.is_selected()  # the config's animation.loop, true by default
    browser.find_element(By.CSS_SELECTOR, ".optrace-speed select").send_keys("4x")
    browser.execute_script("window.optrace.seek(9); window.optrace.play()")
    # Looping: past the last epoch it starts over, still playing.
    WebDriverWait(browser, 10, poll_frequency=0.01).until(lambda b: state(b)["epoch"] < 9)
    assert state(browser)["playing"] is True
    loop.click()
    WebDriverWait(browser, 10).until(lambda b: not state(b)["playing"])
    assert state(browser)["epoch"] == line_race.result.epochs


def test_a_legend_click_hides_and_shows_a_racer(browser: Any, plane_race: Race) -> None:
    open_player(browser, plane_race.html)
    k = len(plane_race.frames) - 1
    before = seek(browser, int(plane_race.frames[k]))["racers"][0]
    px, py = round(before["px"] - 0.5), round(before["py"] - 0.5)
    assert tuple(screenshot(browser)[py, px]) == RED
    buttons = browser.find_elements(By.CSS_SELECTOR, ".optrace-legend")
    assert len(buttons) == 3
    buttons[0].click()
    assert state(browser)["racers"][0]["visible"] is False
    assert buttons[0].get_attribute("aria-pressed") == "false"
    assert tuple(screenshot(browser)[py, px]) != RED
    # The keyboard alone: the button has the focus now; Enter shows the racer again.
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    assert state(browser)["racers"][0]["visible"] is True
    assert tuple(screenshot(browser)[py, px]) == RED


def hover(browser: Any, fx: float, fy: float) -> str:
    stage = browser.find_element(By.CSS_SELECTOR, ".optrace-stage")
    size = stage.size
    ActionChains(browser).move_to_element_with_offset(
        stage, int(fx - size["width"] / 2), int(fy - size["height"] / 2)
    ).perform()
    tip = browser.find_element(By.CSS_SELECTOR, ".optrace-tip")
    text: str = tip.get_attribute("textContent")
    assert tip.is_displayed(), "no read-out shown"
    return text


def test_hovering_a_racer_reads_its_exact_values(browser: Any, plane_race: Race) -> None:
    open_player(browser, plane_race.html)
    epoch = int(plane_race.frames[-1])
    racer = seek(browser, epoch)["racers"][1]
    trace = plane_race.result.traces[1]
    lines = hover(browser, racer["px"], racer["py"]).split("\n")
    assert lines == [
        "Adam",
        f"epoch {epoch}",
        f"x = {float(trace.x[0, epoch])!r}",
        f"y = {float(trace.y[0, epoch])!r}",
        f"loss = {float(trace.loss[0, epoch])!r}",
        "lr = 0.1",
    ]


def test_hovering_the_loss_panel_reads_that_epoch(browser: Any, plane_race: Race) -> None:
    open_player(browser, plane_race.html)
    seek(browser, 30)
    point = panel_point(browser, 10, 0)
    text = hover(browser, *point).split("\n")
    trace = plane_race.result.traces[0]
    assert text[0] == "SGD" and text[1] == "epoch 10"
    assert text[2] == f"x = {float(trace.x[0, 10])!r}"


def panel_point(browser: Any, epoch: int, racer: int) -> tuple[float, float]:
    """The panel's point for ``racer`` at ``epoch``, by the page's own mapping; the
    screenshot there shows that racer's line (the screenshot test checks the rest)."""
    result: list[float] = browser.execute_script(
        "return window.optrace.players[0].panelPoint(arguments[0], arguments[1])", epoch, racer
    )
    fx, fy = result
    shot = screenshot(browser)
    near = shot[int(fy) - 1 : int(fy) + 2, int(fx) - 1 : int(fx) + 2].reshape(-1, 3)
    assert (near[:, 0] > 200).any() and (near[:, 2] < 80).any(), "no red line there"
    return fx, fy


def test_a_swarm_read_out_names_the_start(browser: Any, swarm_race: Race) -> None:
    open_player(browser, swarm_race.html)
    seek(browser, 2)
    points = browser.execute_script("return window.optrace.players[0].points()")
    fx, fy = points[1][2]
    lines = hover(browser, fx, fy).split("\n")
    trace = swarm_race.result.traces[1]
    assert lines[:3] == ["Adam", "start 2 of 6", "epoch 2"]
    assert lines[3] == f"x = {float(trace.x[2, 2])!r}"
    assert lines[4] == f"loss = {float(trace.loss[2, 2])!r}"


def test_a_hostile_label_is_text_and_runs_nothing(browser: Any, line_race: Race) -> None:
    open_player(browser, line_race.html)
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert browser.execute_script("return document.scripts.length") == 2
    assert browser.title == HOSTILE_TITLE
    assert browser.find_elements(By.CSS_SELECTOR, "b") == []
    assert len(browser.find_elements(By.CSS_SELECTOR, "img")) == 1  # the background
    assert (
        browser.find_element(By.CSS_SELECTOR, ".optrace-bg").get_attribute("alt") == HOSTILE_TITLE
    )
    assert state(browser)["racers"][2]["label"] == HOSTILE
    labels = [
        b.get_attribute("aria-label")
        for b in browser.find_elements(By.CSS_SELECTOR, ".optrace-legend")
    ]
    assert labels[2] == f"hide {HOSTILE}"
    racer = seek(browser, 6)["racers"][2]
    assert hover(browser, racer["px"], racer["py"]).split("\n")[0] == HOSTILE
    assert HOSTILE not in line_race.html.read_text(encoding="utf-8")


def test_the_markup_shows_the_still_until_the_script_mounts(
    browser: Any, plane_race: Race, tmp_path: Path
) -> None:
    from io import BytesIO

    from PIL import Image

    from optrace.export.drawing import Drawing
    from optrace.export.still import write_still

    drawing = Drawing(plane_race.size, options=plane_race.options)
    write_still(plane_race.result, tmp_path / "still.png", drawing, plane_race.result.epochs)
    with Image.open(tmp_path / "still.png") as image:
        want = np.asarray(image.convert("RGB")).astype(int)
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.get(plane_race.html.resolve().as_uri())
        (still,) = browser.find_elements(By.CSS_SELECTOR, ".optrace-player > img.optrace-still")
        assert still.is_displayed()
        assert browser.find_elements(By.CSS_SELECTOR, ".optrace-stage") == []  # no script ran
        with Image.open(BytesIO(still.screenshot_as_png)) as image:
            shown = np.asarray(image.convert("RGB")).astype(int)
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
    share = mismatch(shown, want)
    print(f"the still without scripts: {share:.4%} of pixels differ by more than {MISMATCH}")
    assert share <= MISMATCH_SHARE
    # With scripts, the player takes its place: the still is gone, the player works.
    open_player(browser, plane_race.html)
    assert browser.find_elements(By.CSS_SELECTOR, ".optrace-still") == []
    assert [i.get_attribute("class") for i in browser.find_elements(By.TAG_NAME, "img")] == [
        "optrace-bg"
    ]
    assert seek(browser, 7)["epoch"] == 7


def test_the_policy_refuses_any_request(browser: Any, line_race: Race) -> None:
    open_player(browser, line_race.html)
    outcome = browser.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "fetch('http://127.0.0.1:9/x').then(function () { done('fetched'); },"
        " function () { done('refused'); });"
    )
    assert outcome == "refused"
    violations = [
        e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]
    ]
    assert violations, "the refusal came from the policy"


def test_two_players_on_one_page_keep_to_themselves(
    browser: Any, line_race: Race, plane_race: Race, tmp_path: Path
) -> None:
    from optrace.export.drawing import Drawing
    from optrace.export.html import player_html

    page = tmp_path / "two.html"
    fragments = [
        player_html(race.result, Drawing((400, 300), 100), race.frames, page=False)
        for race in (line_race, plane_race)
    ]
    page.write_text("<!DOCTYPE html><html><body>" + "".join(fragments) + "</body></html>")
    open_player(browser, page)
    assert browser.execute_script("return window.optrace.players.length") == 2
    assert browser.find_elements(By.CSS_SELECTOR, ".optrace-still") == []  # each mounted
    browser.execute_script("window.optrace.players[1].seek(20)")
    assert state(browser, 0)["epoch"] == 0 and state(browser, 1)["epoch"] == 20
    second = browser.find_elements(By.CSS_SELECTOR, ".optrace-player")[1]
    browser.execute_script("arguments[0].focus()", second)
    ActionChains(browser).send_keys(Keys.ARROW_RIGHT).perform()
    assert state(browser, 0)["epoch"] == 0 and state(browser, 1)["epoch"] == 21
    browser.execute_script("window.optrace.players[0].seek(4)")
    assert state(browser)["epoch"] == 4  # window.optrace acts on the first player


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_config_writes_a_player_that_loads(
    browser: Any, config: Path, tmp_path: Path
) -> None:
    from optrace.cli import app

    html = tmp_path / "race.html"
    args = ["run", str(config), "--html", str(html)]
    sized = config.stem in ("seed", "rosenbrock")
    if sized:
        args += ["--gif", str(tmp_path / "race.gif")]
    done = CliRunner().invoke(app, args, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "a temporary file left"
    open_player(browser, html)
    import yaml

    racers = yaml.safe_load(config.read_text(encoding="utf-8"))["racers"]
    last = browser.execute_script("window.optrace.seek(1e9); return window.optrace.state()")
    assert len(last["racers"]) == len(racers)
    assert last["epoch"] == browser.execute_script(
        "return Number(document.querySelector('.optrace-scrubber').max)"
    )
    if sized:
        assert html.stat().st_size < (tmp_path / "race.gif").stat().st_size


def test_html_into_a_missing_folder_is_one_line_before_the_race(
    invoke: Any, write_config: Any, small_config: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "missing" / "race.html"
    result = invoke("run", write_config(small_config), "--html", target)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: cannot write '{target}': folder '{target.parent}' does not exist\n"
    )
    assert result.stdout == ""  # refused before racing: no summary table


def test_html_and_gif_cannot_name_the_same_file(
    invoke: Any, write_config: Any, small_config: dict[str, Any], tmp_path: Path
) -> None:
    # One name cannot end in both suffixes: the GIF's is refused first.
    same = tmp_path / "race.html"
    result = invoke("run", write_config(small_config), "--html", same, "--gif", same)
    assert result.exit_code == 2
    assert result.stderr == f"Error: --gif {same}: a GIF's name ends in .gif\n"
    assert not same.exists()


def test_a_still_and_the_basins_map_cannot_name_the_same_file(
    invoke: Any, write_config: Any, tmp_path: Path
) -> None:
    config = {
        "function": "himmelblau",
        "starts": {"grid": 2},
        "epochs": 3,
        "racers": [{"optimizer": "Adam", "lr": 0.1}],
        "animation": {"size": [160, 120]},
    }
    same = tmp_path / "basins.png"
    result = invoke("run", write_config(config), "--still", same, "--basins", same)
    assert result.exit_code == 2
    assert result.stderr == "Error: two outputs name the same file; give each its own path\n"
    assert not same.exists()
