"""The value forms every config shares: strict numbers, points and swarms, and the
error a validator raises to name the key path a problem belongs to."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Strict

from optrace._core.keys import child, did_you_mean, show

#: A number as written: true and false are not numbers, nor is "1.5".
Number = Annotated[float, Strict()]
#: A whole number as written.
Count = Annotated[int, Strict()]


class AtPath(ValueError):
    """A model-level problem that belongs to one key path (``relative``: a path
    under the model that raised it)."""

    def __init__(self, path: str, message: str, relative: bool = False) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.relative = relative


def is_number(v: Any) -> bool:
    """Whether ``v`` is a number as YAML reads one (not true or false)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def point(v: Any, path: str) -> float | tuple[float, float]:
    """A number, or ``[x, y]``."""
    if is_number(v):
        return float(v)
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(is_number(c) for c in v):
        return float(v[0]), float(v[1])
    raise AtPath(path, f"expected a number or [x, y], got {show(v)}")


def swarm(v: Any, path: str) -> Any:
    """A swarm: a list of points, ``{grid: N}`` or ``{random: N}``, checked."""
    form = "a list of points, {grid: N} or {random: N}"
    if v is None:
        return v
    if isinstance(v, list):
        if not v:
            raise ValueError(f"expected {form}, got an empty list")
        points = [point(item, f"{path}[{i}]") for i, item in enumerate(v)]
        for i, each in enumerate(points):
            if type(each) is not type(points[0]):
                like = "[x, y]" if isinstance(points[0], tuple) else "a number"
                raise AtPath(f"{path}[{i}]", f"expected {like} like {path}[0], got {show(v[i])}")
        return points
    if isinstance(v, dict) and len(v) == 1:
        ((key, count),) = v.items()
        if key not in ("grid", "random"):
            raise AtPath(
                child(path, key),
                f"unknown key{did_you_mean(str(key), ['grid', 'random'])}; expected {form}",
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise AtPath(
                child(path, key), f"expected a whole number, at least 1, got {show(count)}"
            )
        return v
    raise ValueError(f"expected {form}, got {show(v)}")
