"""Reading a config: YAML read safely, validated into :class:`RaceConfig`, and the
first problem reported as a :class:`ConfigError` naming the key path and the fix.

The loader never constructs Python objects from YAML tags.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from optrace._core.errors import ConfigError
from optrace._core.keys import child, did_you_mean, key_path, show
from optrace.spec.fields import AtPath
from optrace.spec.model import AnimationConfig, NoiseConfig, RaceConfig
from optrace.spec.tune import RacerTune, SearchRange, TuneConfig

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


# --- messages --------------------------------------------------------------------


_MODELS: dict[tuple[str, ...], type[BaseModel]] = {
    (): RaceConfig,
    ("animation",): AnimationConfig,
    ("noise",): NoiseConfig,
    ("racers", "noise"): NoiseConfig,
    ("tune",): TuneConfig,
    ("tune", "space", "*"): SearchRange,
    ("racers", "tune"): RacerTune,
    ("racers", "tune", "space", "*"): SearchRange,
}


def _model_at(parent: tuple[str, ...]) -> type[BaseModel] | None:
    """The model whose keys live at ``parent`` (any keyword under ``space``)."""
    shape = tuple("*" if i and parent[i - 1] == "space" else p for i, p in enumerate(parent))
    return _MODELS.get(shape)


_MISSING_HINTS = {
    "function": "add e.g. 'function: peaks-slice'",
    "epochs": "add e.g. 'epochs: 100'",
    "racers": "add a list such as 'racers: [{optimizer: Adam, lr: 0.1}]'",
    "optimizer": "name a torch.optim class (e.g. 'optimizer: Adam') or a dotted path",
    "name": "add e.g. 'name: peaks-slice'",
}


def _is_branch(part: object) -> bool:
    """Whether a place in pydantic's error is a name it adds, not a key: a union
    branch ('float', "literal['random']") or a validator ('function-after[...]')."""
    return isinstance(part, str) and (
        "[" in part or part.startswith("function-") or part in {"float", "int", "bool", "RacerTune"}
    )


def _keys(loc: tuple[int | str, ...], document: Any) -> tuple[int | str, ...]:
    """The keys of ``loc`` that name places in the document: every key the document
    holds there (even one like 'racers[0]'), without the branch names pydantic adds."""
    kept: list[int | str] = []
    node = document
    for part in loc:
        held = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if held:
            node = node[part]
        elif _is_branch(part):
            continue
        else:
            node = None  # a place a validator made; from here on only the names say
        kept.append(part)
    return tuple(kept)


def error_message(err: ErrorDetails, document: Any = None) -> tuple[str, str]:
    """The key path and the message for pydantic's error ``err`` on ``document``."""
    loc = _keys(err["loc"], document)
    path = key_path(loc)
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx", {})
    if kind == "extra_forbidden":
        parent = tuple(str(p) for p in loc[:-1] if isinstance(p, str))
        model = _model_at(parent)
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
        return path, f"expected a whole number, got {show(value)}"
    if kind in {"float_type", "float_parsing"}:
        return path, f"expected a number, got {show(value)}"
    if kind == "finite_number":
        return path, f"expected a finite number, got {show(value)}"
    if kind in {"bool_type", "bool_parsing"}:
        return path, f"expected true or false, got {show(value)}"
    if kind in {"string_type"}:
        return path, f"expected text, got {show(value)}"
    if kind == "literal_error":
        choices = ctx.get("expected", "one of the listed values")
        return path, f"expected {choices}, got {show(value)}"
    if kind == "string_too_short":
        return path, "must not be empty"
    if kind == "greater_than_equal":
        return path, f"must be at least {ctx.get('ge')}, got {show(value)}"
    if kind == "greater_than":
        return path, f"must be above {ctx.get('gt'):g}, got {show(value)}"
    if kind in {"less_than_equal", "less_than"}:
        bound = ctx.get("le", ctx.get("lt"))
        return path, f"must be at most {bound}, got {show(value)}"
    if kind in {"tuple_type", "too_short", "too_long"} and path in {"domain", "animation.size"}:
        what = "[low, high]" if path == "domain" else "[width, height]"
        return path, f"expected a list of two numbers {what}, got {show(value)}"
    if kind == "too_short" and path == "racers":
        return path, "needs at least one racer, e.g. '- optimizer: Adam'"
    if kind in {"list_type", "tuple_type"}:
        return path, f"expected a list, got {show(value)}"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return path, f"expected a mapping of keys, got {show(value)}"
    if kind == "value_error":
        exc = ctx.get("error")
        if isinstance(exc, AtPath):
            return (_under(path, exc.path) if exc.path else path) if exc.relative else exc.path, (
                exc.message
            )
        return path, str(exc) if exc is not None else err["msg"]
    return path, err["msg"]


def _under(path: str, relative: str) -> str:
    """``relative`` (a key, or a path such as ``sweep.lr[1]``) under ``path``."""
    head, _, rest = relative.partition(".")
    if "[" in head and not rest:
        name, _, index = head.partition("[")
        return f"{child(path, name)}[{index}"
    joined = child(path, head)
    return _under(joined, rest) if rest else joined


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
        errors = exc.errors()
        first = errors[0]
        if first["type"] == "missing":
            # A misspelt key beside the missing one says more: 'sd' for 'std'.
            first = next(
                (
                    e
                    for e in errors
                    if e["type"] == "extra_forbidden" and e["loc"][:-1] == first["loc"][:-1]
                ),
                first,
            )
        path, message = error_message(first, data)
        raise ConfigError(path, message) from None


def load_config(path: Path) -> RaceConfig:
    """Read and validate a config file; errors name the file and the key path."""
    return load_document(path)[1]


def load_document(path: Path) -> tuple[Any, RaceConfig]:
    """Read a config file: the YAML document as read (keys in file order) and its
    validated config; errors name the file and the key path."""
    document = read_document(path)
    try:
        return document, parse_config(document)
    except ConfigError as exc:
        raise exc.in_file(str(path)) from None


def read_document(path: Path) -> Any:
    """Read a YAML file (a race's or a gallery's) into its document; errors name the file."""
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
        return _read_yaml(text)
    except ConfigError as exc:
        raise exc.in_file(source) from None
