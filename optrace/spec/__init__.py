"""The config: its model, YAML loading with key-path errors, and its JSON schema."""

from optrace.spec.loading import load_config, parse_config
from optrace.spec.model import AnimationConfig, FunctionConfig, RaceConfig, RacerConfig
from optrace.spec.schema import config_schema

__all__ = [
    "AnimationConfig",
    "FunctionConfig",
    "RaceConfig",
    "RacerConfig",
    "config_schema",
    "load_config",
    "parse_config",
]
