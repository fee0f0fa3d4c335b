"""optrace: race PyTorch optimizers on a test function and watch the race.

Examples:
    >>> import optrace
    >>> race = optrace.Race.from_yaml("configs/seed.yaml")
    >>> run = race.run()
    >>> [row["label"] for row in run.summary()]
    ['SGD', 'Adam', 'Adagrad', 'Adadelta', 'RMSprop']

The public names load lazily (PEP 562): ``import optrace`` imports neither
torch nor matplotlib, so the command line starts at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "Race": "optrace.api",
    "Racer": "optrace.api",
    "RaceRun": "optrace.api",
    "Tuning": "optrace.api",
    "Trace": "optrace.results.trace",
    "RaceResult": "optrace.results.trace",
    "OptraceError": "optrace._core.errors",
    "ConfigError": "optrace._core.errors",
    "UsageError": "optrace._core.errors",
    "OutputError": "optrace._core.errors",
    "StrictFailure": "optrace._core.errors",
}

__all__ = [
    "ConfigError",
    "OptraceError",
    "OutputError",
    "Race",
    "RaceResult",
    "RaceRun",
    "Racer",
    "StrictFailure",
    "Trace",
    "Tuning",
    "UsageError",
    "__version__",
]

if TYPE_CHECKING:
    from optrace._core.errors import (
        ConfigError,
        OptraceError,
        OutputError,
        StrictFailure,
        UsageError,
    )
    from optrace.api import Race, Racer, RaceRun, Tuning
    from optrace.results.trace import RaceResult, Trace


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'optrace' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
