"""The errors optrace reports as one line: ``Error: ...`` and an exit code."""

from __future__ import annotations


class OptraceError(Exception):
    """An expected failure, reported without a traceback."""

    exit_code = 1


class ConfigError(OptraceError):
    """The config is invalid: names the key path and the fix."""

    exit_code = 2

    def __init__(self, path: str, message: str, *, source: str | None = None) -> None:
        self.path = path
        self.message = " ".join(message.split())  # always one line
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.source, self.path) if p)
        return f"{where}: {self.message}" if where else self.message

    def in_file(self, source: str) -> ConfigError:
        """The same error, naming the file it came from."""
        return ConfigError(self.path, self.message, source=source)


class CannotRace(ConfigError):
    """An optimizer that cannot race at all, whatever its hyperparameters;
    ``reason`` is the why, without the key path or the optimizer's name."""

    def __init__(self, path: str, name: str, reason: str) -> None:
        self.reason = " ".join(reason.split())
        super().__init__(path, f"{name} cannot race here: {self.reason}")


class UsageError(OptraceError):
    """The command line asks for something that cannot be done."""

    exit_code = 2


class OutputError(OptraceError):
    """An output could not be written (I/O or encoder failure)."""

    exit_code = 1


class StrictFailure(OptraceError):
    """A strict run, and a racer diverged or left the domain (the outputs are written)."""

    exit_code = 3
