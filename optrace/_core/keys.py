"""Key paths (``racers[2].lr``) and the hints that error messages share."""

from __future__ import annotations

import difflib
import re
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def child(path: str, key: object) -> str:
    """The path of ``key`` under ``path``: ``racers[2]``, ``racers[2].lr``, or
    ``racers[2]['odd key']`` for a key that is not a plain name.

    Examples:
        >>> child("racers", 2)
        'racers[2]'
        >>> child("racers[2]", "lr")
        'racers[2].lr'
    """
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]"
    if not isinstance(key, str) or not _PLAIN_KEY.fullmatch(key):
        return f"{path}[{key!r}]"
    return f"{path}.{key}" if path else key


def key_path(loc: tuple[object, ...]) -> str:
    """``('racers', 2, 'lr')`` -> ``racers[2].lr``."""
    out = ""
    for part in loc:
        out = child(out, part)
    return out


def show(value: Any) -> str:
    """A value as an error message quotes it: its repr, cut at 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """``" (did you mean 'x'?)"`` for the closest choice, or an empty string.

    Examples:
        >>> did_you_mean("Adamm", ["Adam", "SGD"])
        " (did you mean 'Adam'?)"
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        lower = {c.lower(): c for c in choices}
        if word.lower() in lower:
            close = [lower[word.lower()]]
    return f" (did you mean '{close[0]}'?)" if close else ""
