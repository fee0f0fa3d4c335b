"""A model race's config: the data, the network and its loss (``model:``), and the
plane its racers are drawn on (``plane:``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Ge
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

from optrace._core.keys import show
from optrace.spec.fields import AtPath, Count, Number, is_number

#: The grid's points per axis unless ``plane: {grid: N}`` says otherwise.
GRID = 41
#: The training examples the grid averages over at most, unless ``plane: {examples: N}``.
GRID_EXAMPLES = 5_000
#: The held-out fraction of a named data set unless ``model: {test: f}`` says otherwise.
TEST = 0.2

_DATA_SCHEMA = {
    "anyOf": [
        {"type": "string", "description": "digits, iris, wine, breast_cancer, diabetes or moons"},
        {
            "type": "object",
            "properties": {
                "csv": {"type": "string"},
                "target": {"type": "string"},
                "task": {"type": "string", "enum": ["classification", "regression"]},
            },
            "required": ["csv", "target"],
            "additionalProperties": False,
        },
    ]
}


class ModelConfig(BaseModel):
    """``model:``: race the optimizers on a network's training loss instead of a function.

    From a file: a data set and an MLP built from it. From Python: your own module,
    data and loss (``Race(model=module, data=(X, y), loss=fn)``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    data: Annotated[Any, WithJsonSchema(_DATA_SCHEMA)] = Field(
        description="A data set bundled with scikit-learn (digits, iris, wine, breast_cancer, "
        "diabetes), moons (make_moons, seeded), or {csv: FILE, target: COLUMN}."
    )
    net: list[Any] = Field(
        default_factory=lambda: [32],
        description="The hidden layers' widths of an MLP; [] is linear or logistic regression.",
    )
    activation: Literal["tanh", "relu", "gelu"] = Field(
        default="tanh", description="The MLP's activation between layers."
    )
    loss: Annotated[Any, WithJsonSchema({"type": "string", "enum": ["cross_entropy", "mse"]})] = (
        Field(
            default=None,
            description="cross_entropy (the default for classes) or mse (for a real-valued "
            "target).",
        )
    )
    batch: Literal["full"] | Annotated[int, Strict(), Ge(1)] = Field(
        default="full",
        description="full: every step on the whole training part; or an integer: minibatches "
        "of that size, shuffled with the race's seed, the same for every racer.",
    )
    test: Number | None = Field(
        default=None,
        ge=0,
        lt=1,
        description=f"The held-out fraction, split with the seed (default {TEST} for a data "
        "set; 0 for none, the default for your own tensors); features are standardised on "
        "the training part.",
    )
    target: Number | None = Field(
        default=None,
        gt=0,
        description="A training loss to reach: the summary's epoch each racer first reached "
        "it (default: within 'tolerance' of the best loss any racer reached).",
    )
    module: SkipJsonSchema[Any] = Field(
        default=None, exclude=True, description="From Python only: your torch.nn.Module."
    )

    @field_validator("net", mode="before")
    @classmethod
    def _widths(cls, v: Any) -> Any:
        if not isinstance(v, list) or not all(
            isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in v
        ):
            raise AtPath(
                "model.net",
                "expected a list of positive whole numbers such as [32] or [64, 32], "
                f"got {show(v)}",
            )
        return v

    @field_validator("batch", mode="before")
    @classmethod
    def _batch_form(cls, v: Any) -> Any:
        if v == "full" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
            return v
        raise AtPath(
            "model.batch",
            f"expected 'full' or a minibatch size of at least 1 such as 64, got {show(v)}",
        )

    @field_validator("data", mode="before")
    @classmethod
    def _data_form(cls, v: Any) -> Any:
        if isinstance(v, str) and v:
            return v
        if isinstance(v, dict):
            return v
        if (
            isinstance(v, (tuple, list))
            and len(v) in (2, 4)
            and all(hasattr(t, "shape") for t in v)
        ):
            return tuple(v)  # tensors, from Python
        raise AtPath(
            "model.data",
            f"expected a data set's name (digits), {{csv: FILE, target: COLUMN}}, or from "
            f"Python (X, y), got {show(v)}",
        )

    @field_validator("loss", mode="before")
    @classmethod
    def _loss_form(cls, v: Any) -> Any:
        if v is None or callable(v) or v in ("cross_entropy", "mse"):
            return v
        raise AtPath(
            "model.loss",
            f"expected cross_entropy or mse (or, from Python, a callable), got {show(v)}",
        )

    @model_validator(mode="after")
    def _module_and_tensors(self) -> ModelConfig:
        own = isinstance(self.data, tuple)
        if self.module is not None and not own:
            raise AtPath("data", "a module of your own needs its data as tensors: data=(X, y)")
        if own and self.module is None:
            raise AtPath("model", "data as tensors needs your module: model=module")
        if self.module is not None and self.loss is None:
            raise AtPath(
                "loss",
                "a module of your own needs its loss: loss=fn, e.g. "
                "torch.nn.functional.cross_entropy",
            )
        return self

    @property
    def own(self) -> bool:
        """Whether the module and data are the user's own (from Python)."""
        return self.module is not None

    @property
    def test_fraction(self) -> float:
        """The held-out fraction: as written, else :data:`TEST` for a data set and 0
        for tensors of your own."""
        if self.test is not None:
            return self.test
        return 0.0 if self.own else TEST


class PlaneConfig(BaseModel):
    """``plane:``: the plane through the initial weights that every racer is drawn on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["pca", "endpoints", "random"] = Field(
        default="pca",
        description="pca: the two directions that fit every racer's path best; endpoints: "
        "through two racers' final weights; random: filter-normalised random directions.",
    )
    grid: Count = Field(default=GRID, ge=3, le=401, description="Grid points per axis.")
    seed: Count | None = Field(
        default=None, ge=0, description="The random plane's seed (default: the race's)."
    )
    span: Annotated[
        tuple[tuple[float, float], tuple[float, float]] | None,
        WithJsonSchema(
            {
                "type": "array",
                "items": {
                    "type": "array",
                    "items": {"type": "number"},
                    "minItems": 2,
                    "maxItems": 2,
                },
                "minItems": 2,
                "maxItems": 2,
            }
        ),
    ] = Field(
        default=None,
        description="[[a low, a high], [b low, b high]]: the grid's extent (default: every "
        "path with a margin).",
    )
    examples: Count | None = Field(
        default=None,
        ge=1,
        description=f"Evaluate the grid (not the race) on a seeded subset of this many "
        f"training examples (default: all, up to {GRID_EXAMPLES:,}).",
    )
    racers: list[str] | None = Field(
        default=None, description="For endpoints: the two racers (labels) whose ends span it."
    )

    @field_validator("span", mode="before")
    @classmethod
    def _span_form(cls, v: Any) -> Any:
        if v is None:
            return v
        ok = (
            isinstance(v, (list, tuple))
            and len(v) == 2
            and all(
                isinstance(r, (list, tuple)) and len(r) == 2 and all(is_number(b) for b in r)
                for r in v
            )
        )
        if not ok:
            raise AtPath(
                "plane.span", f"expected [[a low, a high], [b low, b high]], got {show(v)}"
            )
        for i, (low, high) in enumerate(v):
            if not low < high:
                raise AtPath(
                    f"plane.span[{i}]",
                    f"the lower bound must be below the upper, got {show(list(v[i]))}",
                )
        return v

    @model_validator(mode="after")
    def _endpoints_name_two(self) -> PlaneConfig:
        if self.kind == "endpoints":
            if self.racers is None or len(self.racers) != 2 or len(set(self.racers)) != 2:
                raise AtPath(
                    "plane.racers",
                    "an endpoints plane needs two racers' labels: racers: [SGD, Adam]",
                )
        elif self.racers is not None:
            raise AtPath(
                "plane.racers", f"only an endpoints plane takes racers; this one is {self.kind}"
            )
        return self
