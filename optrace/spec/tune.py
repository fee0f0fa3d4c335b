"""The tune models: ``tune:`` blocks of a race (and a gallery), and a racer's own.

``optrace tune`` gives every racer the same budget, starts, horizon and
objective, and searches each racer's constructor keywords over their ranges.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from optrace._core.keys import did_you_mean, show
from optrace.spec.fields import AtPath, Count, Number, swarm

#: What ``optrace tune`` can minimise; all but ``final-loss`` need the lowest known minimum f*.
OBJECTIVES = (
    "final-gap",
    "best-gap",
    "mean-log-gap",
    "epochs-to-tolerance",
    "final-loss",
    "test-accuracy",
)
#: What a model race's trial may minimise: it has no known minimum.
MODEL_OBJECTIVES = ("final-loss", "test-accuracy")


class SearchRange(BaseModel):
    """How one constructor keyword is searched: ``{low, high}`` (``log: true`` or a
    ``step``), or ``{choices: [...]}`` for a whole-number, true/false or text keyword."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: Number | None = Field(default=None, description="The lowest value tried.")
    high: Number | None = Field(default=None, description="The highest value tried.")
    log: bool = Field(default=False, description="Search on a log scale (needs low > 0).")
    step: Number | None = Field(default=None, gt=0, description="Try only low + k * step.")
    choices: list[bool | int | float | str] | None = Field(
        default=None, min_length=1, description="Or: try exactly these values."
    )

    @model_validator(mode="after")
    def _bounds(self) -> SearchRange:
        if self.choices is not None:
            for key in ("low", "high", "step"):
                if getattr(self, key) is not None:
                    raise AtPath(
                        key, "give either 'choices' or 'low' and 'high', not both", relative=True
                    )
            if self.log:
                raise AtPath("log", "'log' applies to low and high, not to choices", relative=True)
            return self
        for key in ("low", "high"):
            if getattr(self, key) is None:
                raise AtPath(
                    key,
                    "required key is missing; give 'low' and 'high' (or 'choices')",
                    relative=True,
                )
        assert self.low is not None and self.high is not None
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise AtPath("", "low and high must be finite numbers", relative=True)
        if self.low >= self.high:
            raise AtPath(
                "high",
                f"must be above low, got low={self.low:g} and high={self.high:g}",
                relative=True,
            )
        if self.log and self.low <= 0:
            raise AtPath(
                "low",
                f"'log: true' needs low > 0, got {self.low:g}; use e.g. 1.0e-5",
                relative=True,
            )
        if self.log and self.step is not None:
            raise AtPath("step", "give either 'log: true' or 'step', not both", relative=True)
        return self

    def describe(self) -> str:
        """``log-uniform [0.0001, 10]``, ``uniform [0, 0.99] step 0.01`` or ``one of [...]``."""
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        kind = "log-uniform" if self.log else "uniform"
        step = f" step {self.step:g}" if self.step is not None else ""
        return f"{kind} [{self.low:g}, {self.high:g}]{step}"


_DEFAULT_SPACE = {"lr": SearchRange(low=1e-4, high=10.0, log=True)}


def _space_form(v: Any) -> Any:
    if isinstance(v, dict) and not v:
        raise ValueError(
            "needs at least one keyword, e.g. {lr: {low: 1.0e-4, high: 10, log: true}}"
        )
    return v


class RacerTune(BaseModel):
    """A racer's own ``tune:``: its search space (the budget is the same for everyone)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: dict[str, SearchRange] = Field(
        description="Constructor keywords of this racer's optimizer and their ranges; "
        "replaces the tune block's space for this racer."
    )

    _space = field_validator("space", mode="before")(_space_form)


class TuneConfig(BaseModel):
    """``optrace tune``: every racer gets the same budget, starts, horizon and objective."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trials: Count = Field(default=40, ge=1, le=100_000, description="Trials per racer.")
    objective: str = Field(
        default="final-gap",
        description="What a trial minimises, the mean over the starts: " + ", ".join(OBJECTIVES),
    )
    starts: list[float] | list[tuple[float, float]] | dict[str, Count] = Field(
        default={"random": 8},
        description="The starts each trial is scored over: a list of points, {grid: N} "
        "or {random: N} (drawn from seed).",
    )
    epochs: Count | None = Field(
        default=None, ge=1, description="The tuning horizon (default: the race's epochs)."
    )
    space: dict[str, SearchRange] = Field(
        default=_DEFAULT_SPACE,
        description="Constructor keywords and their ranges (default: lr, log-uniform over "
        "[1e-4, 10]).",
    )

    rerun: Count = Field(
        default=0,
        ge=0,
        le=10_000,
        description="Race each racer's chosen values this many more times, with the seeds "
        "seed+1, seed+2, ... (its noise and random starts drawn afresh), and report the "
        "median and interquartile range of the objective.",
    )

    _space = field_validator("space", mode="before")(_space_form)

    @field_validator("objective")
    @classmethod
    def _known_objective(cls, v: str) -> str:
        if v not in OBJECTIVES:
            raise ValueError(
                f"unknown objective {show(v)}{did_you_mean(v, OBJECTIVES)}; "
                f"choose one of {', '.join(OBJECTIVES)}"
            )
        return v

    @field_validator("starts", mode="before")
    @classmethod
    def _starts_form(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("expected a list of points, {grid: N} or {random: N}")
        return swarm(v, "tune.starts")
