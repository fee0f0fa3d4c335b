"""The race config as frozen pydantic models: what a YAML file, a dict or the
``Race(...)`` keywords are validated into.

Whether an optimizer or a hyperparameter exists is checked later, against
torch, by :func:`optrace.engine.plan.prepare`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from optrace._core.frames import frame_count
from optrace._core.keys import child, did_you_mean, show
from optrace._core.types import Box, Range

Number = Annotated[float, Strict()]
Count = Annotated[int, Strict()]

RESERVED_RACER_KEYS = (
    "optimizer",
    "label",
    "style",
    "schedule",
    "base_optimizer",
    "wraps",
    "dtype",
    "noise",
    "tune",
)
#: The parameter dtypes a race may use.
DType = Literal["float32", "float64"]
#: Epochs of trail a 2-D race draws unless the config says otherwise.
TRAIL_2D = 30
#: Matplotlib's Agg canvas takes at most 2**15 - 1 pixels a side.
MAX_SIDE = 32_767

_DOMAIN_FORM = "[low, high] or [[x low, x high], [y low, y high]]"


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _range(v: Any, path: str) -> Range:
    if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(_number(b) for b in v)):
        raise _AtPath(path, f"expected {_DOMAIN_FORM}, got {show(v)}")
    low, high = float(v[0]), float(v[1])
    if not (math.isfinite(low) and math.isfinite(high)):
        raise _AtPath(path, "both bounds must be finite numbers")
    if low >= high:
        raise _AtPath(path, f"the lower bound must be below the upper, got [{v[0]}, {v[1]}]")
    return low, high


def _box(v: Any, path: str) -> Box | None:
    """``[low, high]`` or ``[[x low, x high], [y low, y high]]``, checked."""
    if v is None:
        return None
    if (
        isinstance(v, (list, tuple))
        and len(v) == 2
        and all(isinstance(r, (list, tuple)) for r in v)
    ):
        return _range(v[0], f"{path}[0]"), _range(v[1], f"{path}[1]")
    return (_range(v, path),)


def _point(v: Any, path: str) -> float | tuple[float, float]:
    """A number, or ``[x, y]``."""
    if _number(v):
        return float(v)
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(_number(c) for c in v):
        return float(v[0]), float(v[1])
    raise _AtPath(path, f"expected a number or [x, y], got {show(v)}")


def _swarm(v: Any, path: str) -> Any:
    """A swarm: a list of points, ``{grid: N}`` or ``{random: N}``, checked."""
    form = "a list of points, {grid: N} or {random: N}"
    if v is None:
        return v
    if isinstance(v, list):
        if not v:
            raise ValueError(f"expected {form}, got an empty list")
        points = [_point(item, f"{path}[{i}]") for i, item in enumerate(v)]
        for i, point in enumerate(points):
            if type(point) is not type(points[0]):
                like = "[x, y]" if isinstance(points[0], tuple) else "a number"
                raise _AtPath(f"{path}[{i}]", f"expected {like} like {path}[0], got {show(v[i])}")
        return points
    if isinstance(v, dict) and len(v) == 1:
        ((key, count),) = v.items()
        if key not in ("grid", "random"):
            raise _AtPath(
                child(path, key),
                f"unknown key{did_you_mean(str(key), ['grid', 'random'])}; expected {form}",
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _AtPath(
                child(path, key), f"expected a whole number, at least 1, got {show(count)}"
            )
        return v
    raise ValueError(f"expected {form}, got {show(v)}")


class FunctionConfig(BaseModel):
    """``function: NAME``, ``{name: NAME, param: value, ...}`` or ``{expr: "...", domain: ...}``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str | None = Field(default=None, description="A built-in function (list-functions).")
    expr: str | None = Field(
        default=None, description="Or your own: an expression in x, or in x and y."
    )
    domain: Box | None = Field(
        default=None,
        description="[low, high], or [[x low, x high], [y low, y high]] in 2-D; "
        "the top-level domain wins.",
    )

    call: SkipJsonSchema[Any] = Field(
        default=None,
        exclude=True,
        description="From Python only: a callable on torch tensors, f(x) or f(x, y).",
    )

    @field_validator("domain", mode="before")
    @classmethod
    def _domain_form(cls, v: Any) -> Box | None:
        return _box(v, "function.domain")

    @field_validator("call", mode="before")
    @classmethod
    def _callable(cls, v: Any) -> Any:
        if v is not None and not callable(v):
            raise _AtPath(
                "function", f"expected a name, an expression or a callable, got {show(v)}"
            )
        return v

    @model_validator(mode="after")
    def _name_or_expr(self) -> FunctionConfig:
        if sum(v is not None for v in (self.name, self.expr, self.call)) != 1:
            raise ValueError(
                "give either 'name' (e.g. peaks-slice) or 'expr' (e.g. \"x**4 - 3*x**2 + x\")"
            )
        if self.expr is not None and self.model_extra:
            extra = next(iter(self.model_extra))
            raise _AtPath(f"function.{extra}", "unknown key; an expression takes 'domain' only")
        return self

    @property
    def params(self) -> dict[str, Any]:
        """The function's parameters as written (e.g. ``y`` for peaks-slice)."""
        return dict(self.model_extra or {})


class NoiseConfig(BaseModel):
    """Gaussian noise added to the gradient at every evaluation: ``{std: 0.5}``, or
    ``{std: 0.2, relative: true}`` to scale it by the gradient's size, element by element."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    std: Number = Field(
        ge=0,
        allow_inf_nan=False,
        description="Standard deviation of the noise added to each gradient element (0: none).",
    )
    relative: Annotated[bool, Strict()] = Field(
        default=False,
        description="Scale the noise by |gradient|, element by element (std is then a fraction).",
    )


class WrappedConfig(BaseModel):
    """The optimizer a wrapper (Lookahead, OrthoGrad...) wraps: ``{optimizer: Adam, lr: 0.1}``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    optimizer: str = Field(
        min_length=1, description="A torch.optim name (Adam) or a dotted path (mymodule.MyAdam)."
    )
    base_optimizer: str | None = Field(
        default=None, min_length=1, description="Its base optimizer class, if it is SAM-like."
    )
    wraps: WrappedConfig | None = Field(
        default=None, description="The optimizer it wraps, if it is a wrapper itself."
    )

    def as_mapping(self) -> dict[str, Any]:
        """As written: ``optimizer``, ``base_optimizer`` and ``wraps`` where given,
        then the hyperparameters."""
        found: dict[str, Any] = {"optimizer": self.optimizer}
        if self.base_optimizer is not None:
            found["base_optimizer"] = self.base_optimizer
        if self.wraps is not None:
            found["wraps"] = self.wraps.as_mapping()
        found.update(self.model_extra or {})
        return found


#: What ``optrace tune`` can minimise; all but ``final-loss`` need the lowest known minimum f*.
OBJECTIVES = ("final-gap", "best-gap", "mean-log-gap", "epochs-to-tolerance", "final-loss")


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
                    raise _AtPath(
                        key, "give either 'choices' or 'low' and 'high', not both", relative=True
                    )
            if self.log:
                raise _AtPath("log", "'log' applies to low and high, not to choices", relative=True)
            return self
        for key in ("low", "high"):
            if getattr(self, key) is None:
                raise _AtPath(
                    key,
                    "required key is missing; give 'low' and 'high' (or 'choices')",
                    relative=True,
                )
        assert self.low is not None and self.high is not None
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise _AtPath("", "low and high must be finite numbers", relative=True)
        if self.low >= self.high:
            raise _AtPath(
                "high",
                f"must be above low, got low={self.low:g} and high={self.high:g}",
                relative=True,
            )
        if self.log and self.low <= 0:
            raise _AtPath(
                "low",
                f"'log: true' needs low > 0, got {self.low:g}; use e.g. 1.0e-5",
                relative=True,
            )
        if self.log and self.step is not None:
            raise _AtPath("step", "give either 'log: true' or 'step', not both", relative=True)
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
        return _swarm(v, "tune.starts")


class RacerConfig(BaseModel):
    """One racer: an optimizer and its hyperparameters, plus how it is shown."""

    model_config = ConfigDict(extra="allow", frozen=True)

    optimizer: Annotated[
        str | type,
        WithJsonSchema({"type": "string", "minLength": 1}),
    ] = Field(
        title="Optimizer",
        description="A torch.optim name (Adam) or a dotted path (mymodule.MyAdam).",
    )
    label: str | None = Field(default=None, min_length=1, description="The name in the legend.")
    style: str | None = Field(
        default=None,
        min_length=1,
        description="A matplotlib format string such as 'ro' or 'b<', or a hex colour "
        "and a marker such as '#E69F00s'.",
    )
    schedule: dict[str, Any] | None = Field(
        default=None,
        description="A learning-rate schedule: {name: a torch.optim.lr_scheduler class, ...}.",
    )
    noise: NoiseConfig | None = Field(
        default=None, description="This racer's gradient noise, instead of the race's."
    )
    base_optimizer: str | None = Field(
        default=None,
        min_length=1,
        description="For a SAM-like optimizer: its base optimizer class, a name (SGD) or "
        "a dotted path; the racer's other keys it does not take go to the base.",
    )
    wraps: WrappedConfig | None = Field(
        default=None,
        description="For a wrapper (Lookahead, OrthoGrad...): the optimizer it wraps, "
        "built first on the same parameter: {optimizer: Adam, lr: 0.1}.",
    )
    dtype: DType | None = Field(
        default=None, description="This racer's parameter dtype (default: the race's)."
    )
    tune: RacerTune | Literal[False] | None = Field(
        default=None,
        description="For optrace tune: false races this racer as written; "
        "{space: ...} searches its own space.",
    )

    @field_validator("tune", mode="before")
    @classmethod
    def _tune_form(cls, v: Any) -> Any:
        if v is not None and v is not False and not isinstance(v, (dict, RacerTune)):
            raise ValueError(
                f"expected false or {{space: ...}}, got {show(v)}; leave it out to tune "
                "this racer over the tune block's space"
            )
        return v

    @field_validator("optimizer", mode="plain")
    @classmethod
    def _optimizer_form(cls, v: Any) -> str | type:
        # A class object comes from Python (an Optimizer defined in a notebook
        # cell); whether it subclasses Optimizer is checked with torch, later.
        if isinstance(v, type):
            return v
        if not isinstance(v, str):
            raise PydanticCustomError("string_type", "Input should be a valid string")
        if not v:
            raise PydanticCustomError("string_too_short", "String should not be empty")
        return v

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """Every key that is not reserved, as written, in file order."""
        return dict(self.model_extra or {})


class AnimationConfig(BaseModel):
    """How the race is animated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: Count = Field(default=200, ge=1, le=60_000, description="Milliseconds per frame.")
    size: tuple[Count, Count] = Field(default=(640, 480), description="[width, height] in pixels.")
    loop: bool = Field(default=True, description="Whether the GIF plays in a loop.")
    loss_panel: bool = Field(
        default=False,
        description="Show each racer's loss (and lr) over the epochs, under the race.",
    )
    frames: Count | None = Field(
        default=None, ge=2, description="Show this many evenly spaced epochs (default: all)."
    )
    duration: Number | None = Field(
        default=None, gt=0, le=86_400, description="Or: as many frames as fit in these seconds."
    )
    trail: Count | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="Epochs of each racer's recent path drawn as a fading trail "
        f"(default: {TRAIL_2D} in 2-D, none in 1-D; 0 for none).",
    )
    view: Literal["contour", "surface"] = Field(
        default="contour",
        description="A 2-D race seen from above (contour) or as a 3-D surface.",
    )
    scale: Number = Field(
        default=1.0,
        gt=0,
        le=8,
        description="Render at this multiple of size's pixels with the same layout "
        "(e.g. 2 for high-density screens).",
    )
    font_scale: Number = Field(
        default=1.0,
        gt=0,
        le=5,
        description="Multiply every text's size (e.g. 1.5 for a projector or a paper).",
    )
    theme: Literal["light", "dark"] = Field(
        default="light", description="light, or dark: a dark background for slides."
    )
    legend: bool = Field(
        default=True,
        description="Draw the legend of racers' names (false where the page around the "
        "picture names them, as a gallery's does).",
    )

    @model_validator(mode="after")
    def _one_length(self) -> AnimationConfig:
        if self.frames is not None and self.duration is not None:
            raise _AtPath("animation.duration", "give either 'frames' or 'duration', not both")
        return self

    @model_validator(mode="after")
    def _whole_pixels(self) -> AnimationConfig:
        width, height = (side * self.scale for side in self.size)
        if not (width.is_integer() and height.is_integer()):
            raise _AtPath(
                "animation.scale",
                f"{self.scale:g} x {self.size[0]}x{self.size[1]} is not a whole number of "
                "pixels; use a scale such as 2, or a size it divides evenly",
            )
        if max(width, height) > MAX_SIDE:
            raise _AtPath(
                "animation.scale",
                f"{self.scale:g} x {self.size[0]}x{self.size[1]} is {width:.0f}x{height:.0f}; "
                f"each side must be at most {MAX_SIDE} pixels",
            )
        return self

    @property
    def pixels(self) -> tuple[int, int]:
        """The frames' width and height in pixels: ``size`` times ``scale``."""
        return round(self.size[0] * self.scale), round(self.size[1] * self.scale)

    def trail_epochs(self, dims: int) -> int:
        """The trail's length for a race in ``dims`` dimensions."""
        if self.trail is not None:
            return self.trail
        return TRAIL_2D if dims == 2 else 0

    def frame_count(self, epochs: int) -> int:
        """Frames to show: every epoch unless ``frames`` or ``duration`` asks for fewer."""
        return frame_count(epochs, self.frames, self.duration, self.interval)

    @field_validator("size")
    @classmethod
    def _size_in_range(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not all(16 <= side <= MAX_SIDE for side in v):
            raise ValueError(f"width and height must each be between 16 and {MAX_SIDE} pixels")
        return v


class RaceConfig(BaseModel):
    """A whole race: the function, the start, the racers and the animation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(default="optimizer analysis", description="The animation's title.")
    function: FunctionConfig = Field(
        description="A test function by name (peaks-slice), or {name: ..., and its parameters}."
    )
    domain: Box | None = Field(
        default=None,
        description="[low, high] drawn on the x axis (in 2-D, on both), or "
        "[[x low, x high], [y low, y high]]; default: the function's own.",
    )
    start: float | tuple[float, float] | Literal["random"] = Field(
        default="random",
        description="The start point (x, or [x, y] in 2-D), or 'random': seeded standard "
        "normal draws. Default: the function's own start, else random.",
    )
    starts: list[float] | list[tuple[float, float]] | dict[str, Count] | None = Field(
        default=None,
        description="A swarm instead of one start: a list of points, {grid: N} "
        "(N per axis) or {random: N}.",
    )
    seed: Count = Field(default=0, ge=0, le=2**63 - 1, description="Seed of every random draw.")
    noise: NoiseConfig | None = Field(
        default=None,
        description="Gaussian noise on every racer's gradient: {std: 0.5} or "
        "{std: 0.2, relative: true}; seeded by 'seed', the same for every racer.",
    )
    repeats: Count = Field(
        default=1,
        ge=1,
        description="Race each start this many times, each with its own noise "
        "(a swarm over the noise).",
    )
    epochs: Count = Field(ge=1, description="Optimizer steps per racer.")
    dtype: DType = Field(
        default="float64",
        description="The dtype of every racer's parameter (float32 for optimizers that "
        "need it); the function's curve and minima stay float64.",
    )
    tolerance: Number = Field(
        default=1e-3,
        gt=0,
        description="A racer has reached the minimum once its loss is within this of it.",
    )
    racers: list[RacerConfig] = Field(
        min_length=1,
        description="The optimizers: 'optimizer', optional 'label' and 'style', and any "
        "constructor keyword of the optimizer.",
    )
    animation: AnimationConfig = Field(default=AnimationConfig(), description="How it is drawn.")
    tune: TuneConfig | None = Field(
        default=None,
        description="How optrace tune gives every racer the same budget (trials, objective, "
        "starts, epochs, space).",
    )

    @field_validator("function", mode="before")
    @classmethod
    def _function_shorthand(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"name": v}
        if callable(v) and not isinstance(v, (dict, FunctionConfig)):
            return {"call": v}
        return v

    @field_validator("start", mode="before")
    @classmethod
    def _start_form(cls, v: Any) -> Any:
        if v == "random":
            return v
        if _number(v) or isinstance(v, (list, tuple)):
            return _point(v, "start")
        raise ValueError(f"expected a number, [x, y] or 'random', got {show(v)}")

    @field_validator("starts", mode="before")
    @classmethod
    def _starts_form(cls, v: Any) -> Any:
        return _swarm(v, "starts")

    @field_validator("domain", mode="before")
    @classmethod
    def _domain_form(cls, v: Any) -> Box | None:
        return _box(v, "domain")

    @model_validator(mode="after")
    def _start_or_starts(self) -> RaceConfig:
        if self.starts is not None and "start" in self.model_fields_set:
            raise _AtPath(
                "starts", "give either 'start' (one point) or 'starts' (a swarm), not both"
            )
        return self

    @model_validator(mode="after")
    def _labels_unique(self) -> RaceConfig:
        seen: dict[str, int] = {}
        for i, racer in enumerate(self.racers):
            if racer.label is None:
                continue
            if racer.label in seen:
                raise _AtPath(
                    f"racers[{i}].label",
                    f"'{racer.label}' is already the label of racers[{seen[racer.label]}]; "
                    "give each racer its own label",
                )
            seen[racer.label] = i
        return self


class _AtPath(ValueError):
    """A model-level problem that belongs to one key path (``relative``: a path
    under the model that raised it)."""

    def __init__(self, path: str, message: str, relative: bool = False) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.relative = relative
