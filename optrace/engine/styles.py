"""Racer styles: matplotlib format strings such as ``ro`` or ``b<``, checked and assigned."""

from __future__ import annotations

from collections.abc import Sequence

from optrace._core.errors import ConfigError

#: The seed notebook's styles for its five optimizers.
SEED_STYLES = {"SGD": "ro", "Adam": "kp", "Adagrad": "b<", "Adadelta": "k*", "RMSprop": "rv"}

#: Styles for everything else, in order; each differs from the seed's in colour or marker.
POOL = (
    "gs",
    "mD",
    "c^",
    "C1o",
    "bh",
    "gP",
    "mX",
    "cd",
    "C5v",
    "C7>",
    "rs",
    "bo",
    "g^",
    "kD",
    "mo",
    "c*",
    "C1s",
    "bP",
    "gv",
    "rX",
)


def parse_style(fmt: str, path: str) -> str:
    """Check ``fmt`` as a matplotlib format string; add marker ``o`` when it names none."""
    # matplotlib's own parser of plot() format strings; it has no public alias.
    from matplotlib.axes._base import _process_plot_format  # type: ignore[attr-defined]

    try:
        _, marker, _ = _process_plot_format(fmt)
    except ValueError as exc:
        raise ConfigError(
            path,
            f"{exc}; use a matplotlib format string such as 'ro', 'b<' or 'k*'",
        ) from None
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
