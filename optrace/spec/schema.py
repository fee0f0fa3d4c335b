"""The JSON Schema of the config, for editors (yaml-language-server) and tools."""

from __future__ import annotations

from typing import Any

from optrace.spec.model import RaceConfig


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
    swarm = [
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
    ]
    props["starts"]["anyOf"] = [*swarm, {"type": "null"}]
    defs = schema["$defs"]
    defs["TuneConfig"]["properties"]["starts"]["anyOf"] = swarm
    defs["RacerConfig"]["properties"]["tune"]["anyOf"] = [
        {"$ref": "#/$defs/RacerTune"},
        {"const": False},
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "optrace race config",
    }
