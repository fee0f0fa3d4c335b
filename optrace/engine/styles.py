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


def parse_style(fmt: str, path: str) -> str:
    """Check ``fmt`` as a matplotlib format string, or ``#RRGGBB`` followed by one
    without a colour; add marker ``o`` when it names none."""
    # matplotlib's own parser of plot() format strings; it has no public alias.
    from matplotlib.axes._base import _process_plot_format  # type: ignore[attr-defined]

    hint = "use a matplotlib format string such as 'ro', 'b<' or 'k*', or '#E69F00s'"
    colour, rest = split_style(fmt)
    try:
        _, marker, named = _process_plot_format(rest) if rest else (None, None, None)
    except ValueError as exc:
        raise ConfigError(path, f"{exc}; {hint}") from None
    if colour is not None and named is not None:
        raise ConfigError(path, f"'{fmt}' names two colours; {hint}")
    return fmt if marker not in (None, "None", "") else fmt + "o"


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
