"""Racer styles: matplotlib format strings such as ``ro`` or ``b<`` (or a hex colour
and a marker, ``#E69F00s``), checked and assigned."""

from __future__ import annotations

import re
from collections.abc import Sequence

from optrace._core.errors import ConfigError

#: The seed notebook's styles for its five optimizers.
SEED_STYLES = {"SGD": "ro", "Adam": "kp", "Adagrad": "b<", "Adadelta": "k*", "RMSprop": "rv"}

#: Okabe and Ito's palette (2008), designed to stay apart under colour-vision
#: deficiency; black, the seed's own, comes last. Yellow, pale on white, comes late.
OKABE_ITO = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)
#: Markers the seed's styles do not use, one per palette colour.
MARKERS = ("s", "D", "^", "X", "h", "P", "d", ">")

#: Styles for everything else, in order: the eight colours with eight markers,
#: then the same colours with the markers shifted, so no two share both.
POOL = tuple(
    f"{colour}{MARKERS[(i + shift) % len(MARKERS)]}"
    for shift in (0, 3, 5)
    for i, colour in enumerate(OKABE_ITO)
)

_HEX = re.compile(r"#[0-9A-Fa-f]{6}")


def split_style(fmt: str) -> tuple[str | None, str]:
    """A style's hex colour (or None) and the format string after it.

    Examples:
        >>> split_style("#E69F00s")
        ('#E69F00', 's')
        >>> split_style("ro")
        (None, 'ro')
    """
    if _HEX.match(fmt):
        return fmt[:7], fmt[7:]
    return None, fmt


#: The one-character markers, linestyles and colours of a matplotlib format
#: string (``matplotlib.lines.lineMarkers``, ``lineStyles`` and the base colours);
#: tests/test_styles.py holds them to matplotlib's own.
FORMAT_MARKERS = frozenset(".,ov^<>12348sp*hH+xDd|_PX")
FORMAT_LINESTYLES = ("--", "-.", "-", ":", " ")
FORMAT_COLOURS = frozenset("bgrcmykw")
_CYCLE_COLOUR = re.compile(r"C\d+")


def parse_format(fmt: str) -> tuple[str | None, str | None, str | None]:
    """A format string's linestyle, marker and colour (None where it names none),
    read by matplotlib's grammar for ``plot(x, y, fmt)``: at most one of each, in
    any order; a colour is a base colour's letter or ``C`` and a number.

    Unlike matplotlib, a whole string that is only a colour's name (``red``,
    ``0.5``) is not taken: a racer's style gets a marker after it, and
    ``plot`` refuses ``redo``.

    Raises:
        ValueError: What matplotlib says of the same string.

    Examples:
        >>> parse_format("r--o")
        ('--', 'o', 'r')
        >>> parse_format("C1<")
        (None, '<', 'C1')
        >>> parse_format("ro^")
        Traceback (most recent call last):
        ...
        ValueError: 'ro^' is not a valid format string (two marker symbols)
    """
    linestyle = marker = colour = None
    i = 0
    while i < len(fmt):
        c = fmt[i]
        style = next((s for s in FORMAT_LINESTYLES if fmt.startswith(s, i)), None)
        cycle = _CYCLE_COLOUR.match(fmt, i)
        if style is not None:
            problem = "two linestyle symbols" if linestyle is not None else None
            linestyle, i = style, i + len(style)
        elif c in FORMAT_MARKERS:
            problem = "two marker symbols" if marker is not None else None
            marker, i = c, i + 1
        elif c in FORMAT_COLOURS:
            problem = "two color symbols" if colour is not None else None
            colour, i = c, i + 1
        elif cycle is not None:
            # matplotlib lets a C colour replace a colour before it.
            problem, colour, i = None, cycle[0], cycle.end()
        else:
            problem = "'C' must be followed by a number" if c == "C" else None
            problem = problem or f"unrecognized character {c!r}"
        if problem is not None:
            raise ValueError(f"{fmt!r} is not a valid format string ({problem})")
    return linestyle, marker, colour


def parse_style(fmt: str, path: str) -> str:
    """Check ``fmt`` as a matplotlib format string, or ``#RRGGBB`` followed by one
    without a colour; add marker ``o`` when it names none."""
    hint = "use a matplotlib format string such as 'ro', 'b<' or 'k*', or '#E69F00s'"
    colour, rest = split_style(fmt)
    try:
        _, marker, named = parse_format(rest)
    except ValueError as exc:
        raise ConfigError(path, f"{exc}; {hint}") from None
    if colour is not None and named is not None:
        raise ConfigError(path, f"'{fmt}' names two colours; {hint}")
    return fmt if marker is not None else fmt + "o"


def assign_styles(optimizers: Sequence[str], chosen: Sequence[str | None]) -> list[str]:
    """A style per racer: the chosen one, else the seed's for its optimizer if still free,
    else the first pool style nobody uses."""
    taken = {s for s in chosen if s is not None}
    styles: list[str] = []
    for name, style in zip(optimizers, chosen, strict=True):
        if style is None:
            seed = SEED_STYLES.get(name.rsplit(".", 1)[-1])
            if seed is not None and seed not in taken:
                style = seed
            else:
                style = next((s for s in POOL if s not in taken), POOL[len(styles) % len(POOL)])
            taken.add(style)
        styles.append(style)
    return styles
