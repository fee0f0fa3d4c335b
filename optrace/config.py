"""The race config: a YAML file read into frozen pydantic models.

``load_config`` never constructs Python objects from YAML tags and reports the
first problem as a :class:`ConfigError` naming the key path and the fix.
Whether an optimizer or a hyperparameter exists is checked later, against
torch, by :func:`optrace.race.prepare`.
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from optrace.errors import ConfigError

Number = Annotated[float, Strict()]
Count = Annotated[int, Strict()]

RESERVED_RACER_KEYS = ("optimizer", "label", "style", "schedule")
#: Epochs of trail a 2-D race draws unless the config says otherwise.
TRAIL_2D = 30
#: Matplotlib's Agg canvas takes at most 2**15 - 1 pixels a side.
MAX_SIDE = 32_767


Range = tuple[float, float]
#: One range (x; for a 2-D function both axes) or two (x, then y).
Box = tuple[Range, ...]
_DOMAIN_FORM = "[low, high] or [[x low, x high], [y low, y high]]"


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _range(v: Any, path: str) -> Range:
    if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(_number(b) for b in v)):
        raise _AtPath(path, f"expected {_DOMAIN_FORM}, got {_show(v)}")
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
    raise _AtPath(path, f"expected a number or [x, y], got {_show(v)}")


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

    @field_validator("domain", mode="before")
    @classmethod
    def _domain_form(cls, v: Any) -> Box | None:
        return _box(v, "function.domain")

    @model_validator(mode="after")
    def _name_or_expr(self) -> FunctionConfig:
        if (self.name is None) == (self.expr is None):
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


class RacerConfig(BaseModel):
    """One racer: an optimizer and its hyperparameters, plus how it is shown."""

    model_config = ConfigDict(extra="allow", frozen=True)

    optimizer: str = Field(
        min_length=1, description="A torch.optim name (Adam) or a dotted path (mymodule.MyAdam)."
    )
    label: str | None = Field(default=None, min_length=1, description="The name in the legend.")
    style: str | None = Field(
        default=None, min_length=1, description="A matplotlib format string such as 'ro' or 'b<'."
    )
    schedule: dict[str, Any] | None = Field(
        default=None,
        description="A learning-rate schedule: {name: a torch.optim.lr_scheduler class, ...}.",
    )

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

    @model_validator(mode="after")
    def _one_length(self) -> AnimationConfig:
        if self.frames is not None and self.duration is not None:
            raise _AtPath("animation.duration", "give either 'frames' or 'duration', not both")
        return self

    def trail_epochs(self, dims: int) -> int:
        """The trail's length for a race in ``dims`` dimensions."""
        if self.trail is not None:
            return self.trail
        return TRAIL_2D if dims == 2 else 0

    def frame_count(self, epochs: int) -> int:
        """Frames to show: every epoch unless ``frames`` or ``duration`` asks for fewer."""
        wanted = self.frames
        if self.duration is not None:
            wanted = max(2, round(self.duration * 1000 / self.interval))
        return epochs + 1 if wanted is None else min(wanted, epochs + 1)

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
    epochs: Count = Field(ge=1, description="Optimizer steps per racer.")
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

    @field_validator("function", mode="before")
    @classmethod
    def _function_shorthand(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v

    @field_validator("start", mode="before")
    @classmethod
    def _start_form(cls, v: Any) -> Any:
        if v == "random":
            return v
        if _number(v) or isinstance(v, (list, tuple)):
            return _point(v, "start")
        raise ValueError(f"expected a number, [x, y] or 'random', got {_show(v)}")

    @field_validator("starts", mode="before")
    @classmethod
    def _starts_form(cls, v: Any) -> Any:
        form = "a list of points, {grid: N} or {random: N}"
        if v is None:
            return v
        if isinstance(v, list):
            if not v:
                raise ValueError(f"expected {form}, got an empty list")
            points = [_point(item, f"starts[{i}]") for i, item in enumerate(v)]
            for i, point in enumerate(points):
                if type(point) is not type(points[0]):
                    like = "[x, y]" if isinstance(points[0], tuple) else "a number"
                    raise _AtPath(
                        f"starts[{i}]", f"expected {like} like starts[0], got {_show(v[i])}"
                    )
            return points
        if isinstance(v, dict) and len(v) == 1:
            ((key, count),) = v.items()
            if key not in ("grid", "random"):
                raise _AtPath(
                    child("starts", key),
                    f"unknown key{did_you_mean(str(key), ['grid', 'random'])}; expected {form}",
                )
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise _AtPath(
                    child("starts", key), f"expected a whole number, at least 1, got {_show(count)}"
                )
            return v
        raise ValueError(f"expected {form}, got {_show(v)}")

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
    """A model-level problem that belongs to one key path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


# --- YAML --------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and reads 1e-3 as a float (YAML 1.2)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<: *base' merges; its keys may be overridden here
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


MAX_VALUES = 200_000
MAX_BYTES = 4 * 2**20


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values ``node`` stands for once aliases are expanded (memoised, so a
    few anchors that would expand to billions are counted, not expanded)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = total
    return total


def _read_yaml(text: str) -> Any:
    if len(text) > MAX_BYTES:
        raise ConfigError("", f"the file is over {MAX_BYTES // 2**20} MiB; a config is a few lines")
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_VALUES:
            raise ConfigError(
                "YAML",
                f"the document stands for more than {MAX_VALUES} values (aliases that "
                "repeat aliases?); write a smaller config",
            )
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = exc.problem or exc.context or "cannot be read"
        if "constructor for the tag" in problem:
            tag = problem.split("tag", 1)[1].strip(" '")
            tag = tag.replace("tag:yaml.org,2002:", "!!")
            raise ConfigError(
                where,
                f"the tag '{tag}' is not allowed; a config holds plain values "
                "(numbers, strings, lists, mappings) only",
            ) from None
        raise ConfigError(where, f"YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise ConfigError(
            f"character {exc.position + 1}",
            f"the character {char!r} is not allowed in YAML; remove it",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError("YAML", f"YAML syntax error: {exc}") from None
    except RecursionError:
        raise ConfigError("YAML", "the document is nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


# --- errors --------------------------------------------------------------------


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def child(path: str, key: object) -> str:
    """The path of ``key`` under ``path``: ``racers[2]``, ``racers[2].lr``, or
    ``racers[2]['odd key']`` for a key that is not a plain name."""
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


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        lower = {c.lower(): c for c in choices}
        if word.lower() in lower:
            close = [lower[word.lower()]]
    return f" (did you mean '{close[0]}'?)" if close else ""


_MODELS: dict[tuple[str, ...], type[BaseModel]] = {
    (): RaceConfig,
    ("animation",): AnimationConfig,
}

_MISSING_HINTS = {
    "function": "add e.g. 'function: peaks-slice'",
    "epochs": "add e.g. 'epochs: 100'",
    "racers": "add a list such as 'racers: [{optimizer: Adam, lr: 0.1}]'",
    "optimizer": "name a torch.optim class (e.g. 'optimizer: Adam') or a dotted path",
    "name": "add e.g. 'name: peaks-slice'",
}


def _message(err: ErrorDetails) -> tuple[str, str]:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    # Drop the union branch names pydantic adds (e.g. 'float', "literal['random']").
    loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in {"float", "int"})))
    path = key_path(loc)
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx", {})
    if kind == "extra_forbidden":
        parent = tuple(str(p) for p in loc[:-1] if isinstance(p, str))
        model = _MODELS.get(parent)
        keys = list(model.model_fields) if model else []
        hint = did_you_mean(str(loc[-1]), keys)
        return path, f"unknown key{hint}; valid keys are {', '.join(keys)}"
    if kind == "missing" and loc and isinstance(loc[-1], int):
        path = key_path(loc[:-1])
        kind = "too_short"
    if kind == "missing":
        name = str(loc[-1]) if loc else ""
        return path, f"required key is missing; {_MISSING_HINTS.get(name, 'add it')}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return path, f"expected a whole number, got {_show(value)}"
    if kind in {"float_type", "float_parsing"}:
        return path, f"expected a number, got {_show(value)}"
    if kind in {"bool_type", "bool_parsing"}:
        return path, f"expected true or false, got {_show(value)}"
    if kind in {"string_type"}:
        return path, f"expected text, got {_show(value)}"
    if kind == "string_too_short":
        return path, "must not be empty"
    if kind in {"greater_than_equal", "greater_than"}:
        bound = ctx.get("ge", ctx.get("gt"))
        return path, f"must be at least {bound}, got {_show(value)}"
    if kind in {"less_than_equal", "less_than"}:
        bound = ctx.get("le", ctx.get("lt"))
        return path, f"must be at most {bound}, got {_show(value)}"
    if kind in {"tuple_type", "too_short", "too_long"} and path in {"domain", "animation.size"}:
        what = "[low, high]" if path == "domain" else "[width, height]"
        return path, f"expected a list of two numbers {what}, got {_show(value)}"
    if kind == "too_short" and path == "racers":
        return path, "needs at least one racer, e.g. '- optimizer: Adam'"
    if kind in {"list_type", "tuple_type"}:
        return path, f"expected a list, got {_show(value)}"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return path, f"expected a mapping of keys, got {_show(value)}"
    if kind == "value_error":
        exc = ctx.get("error")
        if isinstance(exc, _AtPath):
            return exc.path, exc.message
        return path, str(exc) if exc is not None else err["msg"]
    return path, err["msg"]


def parse_config(data: Any) -> RaceConfig:
    """Validate an already-read document (a mapping) into a :class:`RaceConfig`."""
    if data is None:
        raise ConfigError(
            "", "the config is empty; it needs at least 'function', 'epochs' and 'racers'"
        )
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        raise ConfigError(
            "",
            f"the top level must be a mapping of keys (function, epochs, racers, ...), got {kind}",
        )
    for key in data:
        if not isinstance(key, str):
            raise ConfigError(key_path((str(key),)), "keys must be text")
    racers = data.get("racers")
    if isinstance(racers, list):
        for i, racer in enumerate(racers):
            if isinstance(racer, dict):
                for key in racer:
                    if not isinstance(key, str):
                        raise ConfigError(f"racers[{i}][{key!r}]", "keys must be text")
    try:
        return RaceConfig.model_validate(data)
    except ValidationError as exc:
        path, message = _message(exc.errors()[0])
        raise ConfigError(path, message) from None


def load_config(path: Path) -> RaceConfig:
    """Read and validate a config file; errors name the file and the key path."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("", "no such file", source=source) from None
    except IsADirectoryError:
        raise ConfigError("", "is a folder, not a config file", source=source) from None
    except UnicodeDecodeError:
        raise ConfigError("", "is not UTF-8 text", source=source) from None
    except OSError as exc:
        raise ConfigError("", f"cannot be read ({exc.strerror})", source=source) from None
    try:
        return parse_config(_read_yaml(text))
    except ConfigError as exc:
        raise exc.in_file(source) from None


def config_schema() -> dict[str, Any]:
    """A JSON Schema of the config, for editors (yaml-language-server) and tools."""
    schema = RaceConfig.model_json_schema()
    props = schema["properties"]
    props["function"] = {
        "description": props["function"]["description"],
        "anyOf": [{"type": "string"}, {"$ref": "#/$defs/FunctionConfig"}],
    }
    count = {"type": "integer", "minimum": 1}
    pair = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
    box = {"anyOf": [pair, {"type": "array", "items": pair, "minItems": 2, "maxItems": 2}]}
    for model in (props, schema["$defs"]["FunctionConfig"]["properties"]):
        model["domain"]["anyOf"] = [*box["anyOf"], {"type": "null"}]
    props["start"]["anyOf"] = [{"type": "number"}, pair, {"const": "random"}]
    props["starts"]["anyOf"] = [
        {"type": "array", "items": {"type": "number"}, "minItems": 1},
        {"type": "array", "items": pair, "minItems": 1},
        {
            "type": "object",
            "properties": {"grid": count},
            "required": ["grid"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"random": count},
            "required": ["random"],
            "additionalProperties": False,
        },
        {"type": "null"},
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "optrace race config",
    }
