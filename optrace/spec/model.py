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
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from optrace._core.frames import frame_count
from optrace._core.keys import show
from optrace._core.types import Box, Range
from optrace.spec.fields import AtPath, Count, Number, is_number, point, swarm
from optrace.spec.sweep import SweepRange, sweep_axes
from optrace.spec.training import ModelConfig, PlaneConfig
from optrace.spec.tune import RacerTune, TuneConfig

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
    "sweep",
)
#: The parameter dtypes a race may use.
DType = Literal["float32", "float64"]
#: Epochs of trail a 2-D race draws unless the config says otherwise.
TRAIL_2D = 30
#: Matplotlib's Agg canvas takes at most 2**15 - 1 pixels a side.
MAX_SIDE = 32_767

_DOMAIN_FORM = "[low, high] or [[x low, x high], [y low, y high]]"


def _range(v: Any, path: str) -> Range:
    if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(is_number(b) for b in v)):
        raise AtPath(path, f"expected {_DOMAIN_FORM}, got {show(v)}")
    low, high = float(v[0]), float(v[1])
    if not (math.isfinite(low) and math.isfinite(high)):
        raise AtPath(path, "both bounds must be finite numbers")
    if low >= high:
        raise AtPath(path, f"the lower bound must be below the upper, got [{v[0]}, {v[1]}]")
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
            raise AtPath("function", f"expected a name, an expression or a callable, got {show(v)}")
        return v

    @model_validator(mode="after")
    def _name_or_expr(self) -> FunctionConfig:
        if sum(v is not None for v in (self.name, self.expr, self.call)) != 1:
            raise ValueError(
                "give either 'name' (e.g. peaks-slice) or 'expr' (e.g. \"x**4 - 3*x**2 + x\")"
            )
        if self.expr is not None and self.model_extra:
            extra = next(iter(self.model_extra))
            raise AtPath(f"function.{extra}", "unknown key; an expression takes 'domain' only")
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


class BudgetConfig(BaseModel):
    """A race's length counted in work instead of steps: ``{evaluations: 200}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    evaluations: Count = Field(
        ge=1,
        le=10_000_000,
        description="Gradient evaluations per racer (each closure call or plain step, and "
        "each Hessian-vector product); the step that reaches them is its last.",
    )


def check_length(epochs: int | None, budget: BudgetConfig | None) -> None:
    """A race (or a gallery's cells) lasts ``epochs`` or a ``budget``: one of them."""
    if epochs is not None and budget is not None:
        raise AtPath("budget", "give either 'epochs' or 'budget', not both")
    if epochs is None and budget is None:
        raise AtPath(
            "epochs",
            "required key is missing; add e.g. 'epochs: 100', or 'budget: {evaluations: 200}'",
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
    sweep: Annotated[
        dict[str, Any] | None,
        WithJsonSchema(
            {
                "type": "object",
                "additionalProperties": {
                    "anyOf": [
                        {"type": "array", "items": {"type": "number"}, "minItems": 1},
                        SweepRange.model_json_schema(),
                    ]
                },
            }
        ),
    ] = Field(
        default=None,
        description="Race every combination of these keywords' values: {lr: [0.001, 0.01], "
        "momentum: {low: 0, high: 0.9, num: 4}}; the values as written must be among them.",
    )

    @model_validator(mode="after")
    def _sweep_on_the_grid(self) -> RacerConfig:
        if self.sweep is not None:
            self.swept  # noqa: B018 (checks the sweep)
        return self

    @property
    def swept(self) -> dict[str, tuple[float, ...]]:
        """Each swept keyword's values, in the order written (empty: no sweep)."""
        if self.sweep is None:
            return {}
        given: dict[str, Any] = {}
        for key, v in self.sweep.items():
            if isinstance(v, dict):
                try:
                    given[key] = SweepRange.model_validate(v)
                except ValidationError as exc:
                    error = exc.errors()[0]
                    where = ".".join(str(p) for p in error["loc"])
                    said = {"missing": "required key is missing", "extra_forbidden": "unknown key"}
                    raise AtPath(
                        f"sweep.{key}" + (f".{where}" if where else ""),
                        f"{said.get(error['type'], error['msg'])}; a range is "
                        "{low: 0.001, high: 0.1, num: 5, log: true}",
                        relative=True,
                    ) from None
            elif isinstance(v, list):
                given[key] = v
            else:
                raise AtPath(
                    f"sweep.{key}",
                    f"expected a list of values or {{low, high, num}}, got {show(v)}",
                    relative=True,
                )
        return sweep_axes(given, self.hyperparameters, RESERVED_RACER_KEYS)

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
    axis: Literal["epochs", "evaluations"] = Field(
        default="epochs",
        description="What the frames and the loss panel follow: epochs, or gradient "
        "evaluations (each racer where it stood after its last step within them).",
    )
    legend: bool = Field(
        default=True,
        description="Draw the legend of racers' names (false where the page around the "
        "picture names them, as a gallery's does).",
    )

    @model_validator(mode="after")
    def _one_length(self) -> AnimationConfig:
        if self.frames is not None and self.duration is not None:
            raise AtPath("animation.duration", "give either 'frames' or 'duration', not both")
        return self

    @model_validator(mode="after")
    def _whole_pixels(self) -> AnimationConfig:
        width, height = (side * self.scale for side in self.size)
        if not (width.is_integer() and height.is_integer()):
            raise AtPath(
                "animation.scale",
                f"{self.scale:g} x {self.size[0]}x{self.size[1]} is not a whole number of "
                "pixels; use a scale such as 2, or a size it divides evenly",
            )
        if max(width, height) > MAX_SIDE:
            raise AtPath(
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
    function: FunctionConfig | None = Field(
        default=None,
        description="A test function by name (peaks-slice), or {name: ..., and its parameters}.",
    )
    model: ModelConfig | None = Field(
        default=None,
        description="Instead of a function: a network's training loss, {data: digits, net: [32]}.",
    )
    plane: PlaneConfig | None = Field(
        default=None,
        description="A model race's plane: {kind: pca, grid: 41} (the default).",
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
    epochs: Count | None = Field(
        default=None, ge=1, description="Optimizer steps per racer (or give 'budget')."
    )
    budget: BudgetConfig | None = Field(
        default=None,
        description="Instead of 'epochs': {evaluations: N}, each racer steps until it has "
        "used N gradient evaluations.",
    )
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
        if is_number(v) or isinstance(v, (list, tuple)):
            return point(v, "start")
        raise ValueError(f"expected a number, [x, y] or 'random', got {show(v)}")

    @field_validator("starts", mode="before")
    @classmethod
    def _starts_form(cls, v: Any) -> Any:
        return swarm(v, "starts")

    @field_validator("domain", mode="before")
    @classmethod
    def _domain_form(cls, v: Any) -> Box | None:
        return _box(v, "domain")

    @model_validator(mode="after")
    def _function_or_model(self) -> RaceConfig:
        if self.function is not None and self.model is not None:
            raise AtPath("model", "give either 'function' or 'model', not both")
        if self.function is None and self.model is None:
            raise AtPath(
                "function",
                "required key is missing; add e.g. 'function: rosenbrock', or 'model: "
                "{data: digits}'",
            )
        if self.model is None:
            if self.plane is not None:
                raise AtPath("plane", "only a model race has a plane; remove it or add 'model'")
            return self
        # One initial point (the weights), drawn without noise or a sweep, for now.
        for key in ("start", "starts", "domain", "noise", "repeats"):
            if key in self.model_fields_set:
                raise AtPath(key, f"a model race starts from its initial weights; remove '{key}'")
        for i, racer in enumerate(self.racers):
            if racer.dtype is not None:
                raise AtPath(
                    f"racers[{i}].dtype",
                    "every racer of a model race trains the network in the race's dtype; "
                    "set 'dtype' at the top instead",
                )
            for key in ("sweep", "noise"):
                if getattr(racer, key) is not None:
                    raise AtPath(
                        f"racers[{i}].{key}", f"a model race takes no '{key}' yet; remove it"
                    )
        return self

    @property
    def planed(self) -> PlaneConfig:
        """The model race's plane: as written, else the default (pca, 41 x 41)."""
        return self.plane if self.plane is not None else PlaneConfig()

    @model_validator(mode="after")
    def _start_or_starts(self) -> RaceConfig:
        if self.starts is not None and "start" in self.model_fields_set:
            raise AtPath(
                "starts", "give either 'start' (one point) or 'starts' (a swarm), not both"
            )
        return self

    @model_validator(mode="after")
    def _epochs_or_budget(self) -> RaceConfig:
        check_length(self.epochs, self.budget)
        return self

    @property
    def steps(self) -> int:
        """The most steps a racer takes: ``epochs``, or with a budget of N evaluations
        N (every step evaluates at least once)."""
        if self.budget is not None:
            return self.budget.evaluations
        assert self.epochs is not None
        return self.epochs

    @property
    def evaluations(self) -> int | None:
        """The budget in gradient evaluations, if the race has one."""
        return None if self.budget is None else self.budget.evaluations

    @model_validator(mode="after")
    def _labels_unique(self) -> RaceConfig:
        seen: dict[str, int] = {}
        for i, racer in enumerate(self.racers):
            if racer.label is None:
                continue
            if racer.label in seen:
                raise AtPath(
                    f"racers[{i}].label",
                    f"'{racer.label}' is already the label of racers[{seen[racer.label]}]; "
                    "give each racer its own label",
                )
            seen[racer.label] = i
        return self
