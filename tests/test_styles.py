"""A racer's style is read without matplotlib, by matplotlib's grammar: the engine's
parser agrees with matplotlib's own ``_process_plot_format`` on every string."""

from __future__ import annotations

import itertools
import subprocess
import sys

import matplotlib.colors as mcolors
import matplotlib.lines as mlines
import pytest
from matplotlib.axes._base import _process_plot_format  # type: ignore[attr-defined]

from optrace._core.errors import ConfigError
from optrace.engine.styles import (
    FORMAT_COLOURS,
    FORMAT_LINESTYLES,
    FORMAT_MARKERS,
    parse_format,
    parse_style,
)

MARKERS = sorted(k for k in mlines.lineMarkers if isinstance(k, str) and len(k) == 1 and k != " ")
LINESTYLES = sorted(k for k in mlines.lineStyles if k in ("-", "--", "-.", ":"))
COLOURS = [*sorted(k for k in mcolors.get_named_colors_mapping() if len(k) == 1)] + [
    f"C{n}" for n in range(12)
]


def test_the_tables_are_matplotlibs() -> None:
    assert sorted(FORMAT_MARKERS) == MARKERS
    one_char = {k for k in mlines.lineStyles if len(k) == 1 and k != ""}
    assert set(FORMAT_LINESTYLES) == {k for k in mlines.lineStyles if len(k) == 2} | one_char
    assert sorted(FORMAT_COLOURS) == COLOURS[:8]


def matplotlibs(fmt: str) -> tuple[str | None, str | None, object] | str:
    """matplotlib's reading of ``fmt`` (None for what it does not name), or its error."""
    try:
        linestyle, marker, colour = _process_plot_format(fmt)
    except ValueError as exc:
        return str(exc)
    return (
        (None if linestyle == "None" else linestyle),
        (None if marker == "None" else marker),
        colour,
    )


def ours(fmt: str) -> tuple[str | None, str | None, object] | str:
    try:
        return parse_format(fmt)
    except ValueError as exc:
        return str(exc)


def agree(fmt: str) -> None:
    theirs, mine = matplotlibs(fmt), ours(fmt)
    if isinstance(theirs, str) or isinstance(mine, str):
        assert mine == theirs, fmt
        return
    assert mine[1] == theirs[1], fmt
    # matplotlib fills in its default linestyle where a string names neither.
    assert mine[0] == theirs[0] or (mine[0] is None and mine[1] is None), fmt
    if mine[2] is None:
        assert theirs[2] is None, fmt
    else:
        assert mcolors.to_rgba(mine[2]) == mcolors.to_rgba(theirs[2]), fmt


def test_every_combination_reads_as_matplotlib_reads_it() -> None:
    """Every order of at most one colour, one marker and one linestyle."""
    count = 0
    for colour, marker, linestyle in itertools.product(
        ["", *COLOURS], ["", *MARKERS], ["", *LINESTYLES]
    ):
        for parts in set(itertools.permutations((colour, marker, linestyle))):
            fmt = "".join(parts)
            if fmt:
                agree(fmt)
                count += 1
    assert count > 10_000


@pytest.mark.parametrize(
    "fmt",
    [
        "qq",
        "ro^",
        "rbo",
        "r--:",
        "-:",
        "C",
        "Cx",
        "xC",
        "o#",
        "0",
        "ro ",
        " o",
        "r o",
        "rC1o",
        "--o-.",
        "ó",
        "r\no",
    ],
)
def test_bad_and_odd_strings_read_as_matplotlib_reads_them(fmt: str) -> None:
    agree(fmt)


@pytest.mark.parametrize("fmt", ["red", "0.5", "none", "tab:blue", "#E69F00"])
def test_a_whole_colour_name_is_refused_as_plot_would_refuse_it_with_a_marker(fmt: str) -> None:
    """matplotlib reads these as a colour alone; a style gets marker 'o' after it,
    and matplotlib refuses that."""
    assert not isinstance(matplotlibs(fmt), str)
    with pytest.raises(ValueError):
        _process_plot_format(fmt + "o")
    with pytest.raises(ConfigError, match="is not a valid format string"):
        parse_style(fmt if fmt != "#E69F00" else "#E69F00red", "racers[0].style")


def test_a_style_gets_a_marker_and_a_hex_colour_takes_no_second() -> None:
    assert parse_style("r", "s") == "ro"
    assert parse_style("r--", "s") == "r--o"
    assert parse_style("#E69F00", "s") == "#E69F00o"
    assert parse_style("#E69F00s", "s") == "#E69F00s"
    with pytest.raises(ConfigError, match="names two colours"):
        parse_style("#E69F00rs", "s")
    with pytest.raises(ConfigError, match="names two colours"):
        parse_style("#E69F00C2", "s")


def test_planning_a_race_imports_no_matplotlib() -> None:
    code = (
        "import sys\n"
        "from optrace.engine.plan import prepare\n"
        "from optrace.spec.loading import parse_config\n"
        "prepare(parse_config({'function': 'peaks-slice', 'epochs': 2, 'start': 0.5,\n"
        "    'racers': [{'optimizer': 'SGD', 'lr': 0.1, 'style': 'C1--<'}]}))\n"
        "print('matplotlib' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "False"
