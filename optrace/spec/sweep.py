"""A racer's sweep as written: ``sweep: {lr: [0.001, 0.01, 0.1], momentum: {low: 0,
high: 0.9, num: 4}}``, each key's values checked and made a grid axis."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from optrace._core.keys import show
from optrace.spec.fields import AtPath, Count, Number, is_number

#: Combinations one racer may sweep: each is a race.
MAX_COMBINATIONS = 10_000


class SweepRange(BaseModel):
    """Evenly spaced values: ``{low: 1e-3, high: 0.1, num: 5, log: true}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: Number = Field(description="The first value.")
    high: Number = Field(description="The last value.")
    num: Count = Field(ge=1, le=1000, description="How many values, low and high included.")
    log: bool = Field(default=False, description="Evenly spaced on a log scale (low > 0).")

    def values(self, path: str) -> tuple[float, ...]:
        """The values, low to high."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise AtPath(path, "low and high must be finite numbers", relative=True)
        if self.log:
            if self.low <= 0 or self.high <= 0:
                raise AtPath(path, "a log range needs low and high above 0", relative=True)
            drawn = np.geomspace(self.low, self.high, self.num)
        else:
            drawn = np.linspace(self.low, self.high, self.num)
        return tuple(float(v) for v in drawn)


def sweep_axes(
    sweep: Mapping[str, list[float] | SweepRange],
    written: Mapping[str, Any],
    reserved: tuple[str, ...],
) -> dict[str, tuple[float, ...]]:
    """Each swept key's values, checked: a non-empty list of numbers without repeats
    (or a range), on a keyword the racer writes, whose value as written is one of
    them (a range's value nearest it, within 1e-9 relatively, becomes exactly it).

    Raises:
        AtPath: At ``sweep.KEY`` (relative to the racer) for the first problem.

    Examples:
        >>> sweep_axes({"lr": SweepRange(low=1e-3, high=0.1, num=3, log=True)}, {"lr": 0.01}, ())
        {'lr': (0.001, 0.01, 0.1)}
    """
    axes: dict[str, tuple[float, ...]] = {}
    combinations = 1
    for key, given in sweep.items():
        path = f"sweep.{key}"
        if key in reserved:
            raise AtPath(
                path, f"'{key}' is not an optimizer keyword; only those can be swept", relative=True
            )
        if isinstance(given, SweepRange):
            values = list(given.values(path))
        else:
            if not given:
                raise AtPath(
                    path, "give at least one value, e.g. [0.001, 0.01, 0.1]", relative=True
                )
            for i, v in enumerate(given):
                if not is_number(v) or not math.isfinite(v):
                    raise AtPath(
                        f"{path}[{i}]", f"expected a finite number, got {show(v)}", relative=True
                    )
            # Whole numbers stay whole (max_iter: [5, 10, 20]).
            values = [v if isinstance(v, int) else float(v) for v in given]
        if key not in written:
            example = show(values[0])
            raise AtPath(
                path,
                f"write the racer's own {key} too, one of the values swept (it is the one the "
                f"GIF shows), e.g. '{key}: {example}'",
                relative=True,
            )
        own = written[key]
        exact = [i for i, v in enumerate(values) if is_number(own) and v == own]
        near = exact or [
            i for i, v in enumerate(values) if is_number(own) and math.isclose(v, own, rel_tol=1e-9)
        ]
        if not near:
            raise AtPath(
                path,
                f"the racer's own {key}, {show(own)}, is not one of the values swept "
                f"({', '.join(show(v) for v in values)}); sweep it too",
                relative=True,
            )
        values[near[0]] = own
        if len(set(values)) < len(values):
            raise AtPath(path, "each value may appear once", relative=True)
        axes[key] = tuple(values)
        combinations *= len(values)
    if combinations > MAX_COMBINATIONS:
        raise AtPath(
            "sweep",
            f"{combinations} combinations is more than {MAX_COMBINATIONS}; sweep fewer values",
            relative=True,
        )
    return axes


def sweep_with(sweep: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A sweep as written with ``values`` (a tuning's best) added among the values of
    the keys it sweeps, a range written out as its list, so that a racer whose values
    as written become ``values`` stays on its grid.

    Examples:
        >>> sweep_with({"lr": [0.1, 0.3], "momentum": [0.0, 0.9]}, {"lr": 0.2})
        {'lr': [0.1, 0.2, 0.3], 'momentum': [0.0, 0.9]}
    """
    out = dict(sweep)
    for key, value in values.items():
        given = out.get(key)
        if given is None:
            continue
        listed = (
            list(SweepRange(**given).values(key)) if isinstance(given, Mapping) else list(given)
        )
        out[key] = sorted({*listed, value})
    return out
