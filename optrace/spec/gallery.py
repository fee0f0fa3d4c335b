"""The gallery config: optimizers x functions, each cell a race, validated like a race."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from optrace._core.errors import ConfigError
from optrace._core.keys import did_you_mean, show
from optrace.spec.fields import AtPath, Count, swarm
from optrace.spec.loading import error_message, read_document
from optrace.spec.model import AnimationConfig, BudgetConfig, RacerConfig, check_length
from optrace.spec.training import ModelConfig
from optrace.spec.tune import TuneConfig

#: Function groups a gallery may name instead of a list.
GROUPS = ("all-1d", "all-2d", "all")
#: What each cell may write; the index needs the still.
OUTPUTS = ("still", "gif", "html", "csv")


class GalleryConfig(BaseModel):
    """A gallery: every optimizer of a package or list on every function named."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(default="optimizer gallery", description="The page's title.")
    functions: list[str] | Literal["all-1d", "all-2d", "all"] = Field(
        default_factory=list, description="Built-in function names, or all-1d / all-2d / all."
    )
    models: dict[str, ModelConfig] = Field(
        default_factory=dict,
        description="Rows that are models, by name: {digits-mlp: {data: digits, net: [32]}}; "
        "each cell trains the network and draws it on its PCA plane.",
    )
    optimizers: str | list[RacerConfig] = Field(
        description="'torch.optim' or a package such as pytorch_optimizer (every optimizer "
        "of it that can race, at its defaults), or a list of racers written as in a race config."
    )
    epochs: Count | None = Field(
        default=None, ge=1, description="Optimizer steps per cell (or give 'budget')."
    )
    budget: BudgetConfig | None = Field(
        default=None,
        description="Instead of 'epochs': {evaluations: N} gradient evaluations per cell.",
    )
    starts: list[float] | list[tuple[float, float]] | dict[str, Count] | None = Field(
        default=None, description="A swarm per cell (as in a race); default: each function's start."
    )
    seed: Count = Field(default=0, ge=0, le=2**63 - 1, description="Seed of every random draw.")
    tolerance: float = Field(default=1e-3, gt=0, description="Within this of f* is 'reached'.")
    tune: TuneConfig | None = Field(
        default=None,
        description="Tune every cell with the same budget (as optrace tune: trials, objective, "
        "starts, space), then race it with its best values; needs the tune extra.",
    )
    animation: AnimationConfig = Field(
        default=AnimationConfig(size=(480, 480)), description="How each cell is drawn."
    )
    outputs: list[Literal["still", "gif", "html", "csv"]] = Field(
        default=["still", "gif"],
        min_length=1,
        description="What each cell writes: still (required for the index), gif, html, csv.",
    )

    @model_validator(mode="after")
    def _epochs_or_budget(self) -> GalleryConfig:
        check_length(self.epochs, self.budget)
        return self

    @model_validator(mode="after")
    def _some_rows(self) -> GalleryConfig:
        if not self.functions and not self.models:
            raise AtPath(
                "functions",
                "name at least one function, e.g. [rosenbrock], or a model under 'models'",
            )
        return self

    @property
    def length(self) -> dict[str, Any]:
        """A cell's race length as its config writes it: ``epochs`` or ``budget``."""
        if self.budget is not None:
            return {"budget": self.budget.model_dump()}
        return {"epochs": self.epochs}

    @field_validator("functions", mode="before")
    @classmethod
    def _functions_form(cls, v: Any) -> Any:
        if isinstance(v, str) and v not in GROUPS:
            raise ValueError(
                f"expected a list of names or one of {', '.join(GROUPS)}, got {show(v)}"
            )
        return v

    @field_validator("starts", mode="before")
    @classmethod
    def _starts_form(cls, v: Any) -> Any:
        return swarm(v, "starts")

    @field_validator("outputs")
    @classmethod
    def _still_first(cls, v: list[str]) -> list[str]:
        if "still" not in v:
            raise ValueError("the index shows each cell's still: add 'still' to outputs")
        if len(set(v)) != len(v):
            raise ValueError("each output once, e.g. [still, gif]")
        return v

    @field_validator("optimizers", mode="before")
    @classmethod
    def _optimizers_form(cls, v: Any) -> Any:
        if isinstance(v, list) and not v:
            raise ValueError("name at least one racer, e.g. [{optimizer: Adam, lr: 0.1}]")
        return v


def parse_gallery(data: Any) -> GalleryConfig:
    """Validate a read document into a :class:`GalleryConfig`."""
    if not isinstance(data, dict):
        raise ConfigError("", "the top level must be a mapping (title, functions, optimizers, ...)")
    try:
        return GalleryConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path, message = error_message(first, data)
        if first["type"] == "extra_forbidden" and len(first["loc"]) == 1:
            keys = list(GalleryConfig.model_fields)
            hint = did_you_mean(str(first["loc"][0]), keys)
            message = f"unknown key{hint}; valid keys are {', '.join(keys)}"
        raise ConfigError(path, message) from None


def load_gallery(path: Path) -> GalleryConfig:
    """Read and validate a gallery file; errors name the file and the key."""
    document = read_document(path)
    try:
        return parse_gallery(document)
    except ConfigError as exc:
        raise exc.in_file(str(path)) from None
