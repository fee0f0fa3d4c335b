"""The JSON Schemas of the race config and the gallery config, for editors
(yaml-language-server) and tools."""

from __future__ import annotations

from typing import Any

from optrace.spec.gallery import GalleryConfig
from optrace.spec.model import RaceConfig

_COUNT = {"type": "integer", "minimum": 1}
_PAIR = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
#: A swarm as a race, a tune block or a gallery writes it.
_SWARM = [
    {"type": "array", "items": {"type": "number"}, "minItems": 1},
    {"type": "array", "items": _PAIR, "minItems": 1},
    {
        "type": "object",
        "properties": {"grid": _COUNT},
        "required": ["grid"],
        "additionalProperties": False,
    },
    {
        "type": "object",
        "properties": {"random": _COUNT},
        "required": ["random"],
        "additionalProperties": False,
    },
]


def _shared_defs(defs: dict[str, Any]) -> None:
    """The forms pydantic cannot state, in the models both configs use."""
    if "TuneConfig" in defs:
        defs["TuneConfig"]["properties"]["starts"]["anyOf"] = _SWARM
    defs["RacerConfig"]["properties"]["tune"]["anyOf"] = [
        {"$ref": "#/$defs/RacerTune"},
        {"const": False},
    ]


def _document(schema: dict[str, Any], title: str) -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": title}


def config_schema() -> dict[str, Any]:
    """A JSON Schema of the race config, for editors (yaml-language-server) and tools."""
    schema = RaceConfig.model_json_schema()
    props = schema["properties"]
    props["function"] = {
        "description": props["function"]["description"],
        "anyOf": [{"type": "string"}, {"$ref": "#/$defs/FunctionConfig"}],
    }
    box = {"anyOf": [_PAIR, {"type": "array", "items": _PAIR, "minItems": 2, "maxItems": 2}]}
    for model in (props, schema["$defs"]["FunctionConfig"]["properties"]):
        model["domain"]["anyOf"] = [*box["anyOf"], {"type": "null"}]
    props["start"]["anyOf"] = [{"type": "number"}, _PAIR, {"const": "random"}]
    props["starts"]["anyOf"] = [*_SWARM, {"type": "null"}]
    _shared_defs(schema["$defs"])
    return _document(schema, "optrace race config")


def gallery_schema() -> dict[str, Any]:
    """A JSON Schema of the gallery config (``optrace gallery``)."""
    schema = GalleryConfig.model_json_schema()
    props = schema["properties"]
    props["starts"]["anyOf"] = [*_SWARM, {"type": "null"}]
    props["functions"]["anyOf"][0]["minItems"] = 1
    props["optimizers"]["anyOf"][1]["minItems"] = 1
    props["outputs"]["uniqueItems"] = True
    props["outputs"]["contains"] = {"const": "still"}
    _shared_defs(schema["$defs"])
    return _document(schema, "optrace gallery config")
