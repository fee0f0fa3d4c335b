"""Test functions at published points, their minima, and your own expressions."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from optrace.engine.loop import run
from optrace.engine.plan import prepare
from optrace.problems.functions import FUNCTIONS, build_function, peaks
from optrace.spec.loading import parse_config


def value(name: str, x: float) -> float:
    return float(build_function(name, {}).fn(torch.tensor([x], dtype=torch.float64)))


def test_peaks_at_matlabs_published_extrema() -> None:
    # MATLAB's peaks: maximum 8.1062 at (-0.0093, 1.5814), minimum -6.5511 at (0.2283, -1.6255).
    t = torch.tensor
    assert float(peaks(t(-0.0093, dtype=torch.float64), 1.5814)) == pytest.approx(8.1062, abs=1e-4)
    assert float(peaks(t(0.2283, dtype=torch.float64), -1.6255)) == pytest.approx(-6.5511, abs=1e-4)
    assert float(peaks(t(0.0, dtype=torch.float64), 0.0)) == pytest.approx((3 - 1 / 3) / math.e)


@pytest.mark.parametrize(
    "name, x, expected",
    [
        ("rastrigin-1d", 0.0, 0.0),
        ("rastrigin-1d", 1.0, 1.0),
        ("rastrigin-1d", 0.5, 20.25),
        ("forrester", 0.75724876, -6.02074),
        ("forrester", 0.0, 4 * math.sin(-4)),
        ("gramacy-lee", 0.548563444, -0.869011135),
        ("quartic", 1.0, -1.0),
    ],
)
def test_values_at_published_points(name: str, x: float, expected: float) -> None:
    assert value(name, x) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(
    "name, x, f",
    [
        ("forrester", 0.757249, -6.02074),  # Forrester, Sobester and Keane (2008)
        ("gramacy-lee", 0.548563, -0.869011),  # Gramacy and Lee (2012)
        ("rastrigin-1d", 0.0, 0.0),
        ("peaks-slice", -1.590778, -1.252690),
    ],
)
def test_lowest_minimum_is_the_published_one(name: str, x: float, f: float) -> None:
    lowest = build_function(name, {}).minima[0]
    assert lowest.x == pytest.approx(x, abs=1e-5) and lowest.value == pytest.approx(f, abs=1e-5)


def test_quartic_minima_are_the_roots_of_its_derivative() -> None:
    roots = np.sort(np.roots([4, 0, -6, 1]).real)  # d/dx (x^4 - 3x^2 + x)
    found = sorted(m.x for m in build_function("quartic", {}).minima)
    assert found == pytest.approx([roots[0], roots[2]], abs=1e-7)


def test_rastrigin_has_a_minimum_near_every_integer() -> None:
    xs = sorted(m.x for m in build_function("rastrigin-1d", {}).minima)
    assert np.round(xs).tolist() == list(range(-5, 6))


def test_every_function_has_minima_and_its_start_inside_its_domain() -> None:
    for name in FUNCTIONS:
        f = build_function(name, {})
        box = [f.domain] if f.ydomain is None else [f.domain, f.ydomain]
        assert f.minima or name == "saddle"
        for m in f.minima:
            point = [m.x] if m.y is None else [m.x, m.y]
            assert all(lo < c < hi for c, (lo, hi) in zip(point, box, strict=True)), (name, m)
        start = f.default_start
        if start is None:
            assert name == "peaks-slice"  # keeps the seed's random start
            continue
        point = [start] if isinstance(start, float) else list(start)
        assert all(lo <= c <= hi for c, (lo, hi) in zip(point, box, strict=True)), name


def test_an_expression_races_exactly_like_the_same_torch_code() -> None:
    config = {
        "function": {"expr": "x**4 - 3*x**2 + x + sin(2*x)/3", "domain": [-2.5, 2.5]},
        "start": 1.9,
        "epochs": 40,
        "racers": [{"optimizer": "Adam", "lr": 0.05}],
    }
    trace = run(prepare(parse_config(config))).traces[0]
    x = torch.tensor([1.9], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([x], lr=0.05)

    def f(t: torch.Tensor) -> torch.Tensor:
        return t**4 - 3 * t**2 + t + torch.sin(2 * t) / 3

    xs = [1.9]
    for _ in range(40):
        opt.zero_grad()
        f(x).backward()
        opt.step()
        xs.append(x.item())
    assert trace.x[0].tolist() == xs


def test_default_start_is_the_functions_own() -> None:
    plan = prepare(
        parse_config({"function": "quartic", "epochs": 1, "racers": [{"optimizer": "SGD"}]})
    )
    assert plan.starts == (2.0,)
    seed = prepare(
        parse_config({"function": "peaks-slice", "epochs": 1, "racers": [{"optimizer": "SGD"}]})
    )
    assert seed.starts[0] != 2.0  # peaks-slice keeps the seeded random start


BAD_EXPRESSIONS = {
    "__import__('os').system('touch pwned')": "column 1: attribute access (a.b) is not allowed",
    "__import__('os')": "column 1: '__import__' is not an allowed function",
    "x.__class__": "column 1: attribute access (a.b) is not allowed",
    "(x + 1": "column 1: not a valid expression ('(' was never closed)",
    "x + z": "column 5: unknown name 'z'",
    "sinn(x)": "column 1: 'sinn' is not an allowed function",
    "open('pwned', 'w')": "column 1: 'open' is not an allowed function",
    "x[0]": "column 1: subscripts (a[b]) is not allowed",
    "(lambda: 1)()": "column 1: only a function named in the expression may be called",
    "x if x else 1": "column 1: if/else is not allowed",
    "sin(x, 2)": "column 1: sin() takes exactly one argument",
    "'text'": "column 1: 'text' is not a number",
    "x // 2": "column 1: only + - * / ** are allowed between terms",
}


@pytest.mark.parametrize("expr, message", BAD_EXPRESSIONS.items(), ids=list(BAD_EXPRESSIONS))
def test_bad_expression_is_one_line_exit_2_and_runs_nothing(
    invoke: Any,
    tmp_path: Path,
    write_config: Callable[..., Path],
    expr: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    config = write_config(
        {"function": {"expr": expr}, "epochs": 3, "racers": [{"optimizer": "SGD"}]}
    )
    result = invoke("run", config, "--gif", tmp_path / "a.gif")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {config}: function.expr: {message}")
    assert len(result.stderr.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.yaml"]


def test_function_needs_a_name_or_an_expression(
    invoke: Any, write_config: Callable[..., Path]
) -> None:
    config = write_config(
        {"function": {"domain": [0, 1]}, "epochs": 3, "racers": [{"optimizer": "SGD"}]}
    )
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {config}: function: give either 'name'")


def test_list_functions_json(invoke: Any) -> None:
    result = invoke("list-functions", "--json")
    assert result.exit_code == 0
    doc = {f["name"]: f for f in json.loads(result.stdout)}
    assert set(doc) == set(FUNCTIONS)
    assert doc["forrester"]["minima"][0]["f"] == pytest.approx(-6.02074, abs=1e-5)
    assert doc["peaks-slice"]["parameters"] == {"y": -0.5}
    text = invoke("list-functions")
    assert text.exit_code == 0 and "gramacy-lee (1-D): sin(10*pi*x)" in text.stdout


def test_init_writes_a_starter_that_runs_and_never_overwrites(invoke: Any, tmp_path: Path) -> None:
    path = tmp_path / "race.yaml"
    result = invoke("init", path)
    assert result.exit_code == 0
    assert invoke("run", path, "--gif", tmp_path / "race.gif").exit_code == 0
    before = path.read_text()
    again = invoke("init", path)
    assert again.exit_code == 2
    assert again.stderr == f"Error: '{path}' exists; give another path, or remove it first\n"
    assert path.read_text() == before
