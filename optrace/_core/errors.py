"""The errors optrace reports as one line: ``Error: ...`` and an exit code."""

from __future__ import annotations

from collections.abc import Mapping


class OptraceError(Exception):
    """An expected failure, reported without a traceback.

    Args:
        message: One line that names what is wrong and the fix.
        parameter: The API parameter the message begins with (``workers``), so that
            a caller with other words for it (the command line's ``--workers``) can
            say it in those.
    """

    exit_code = 1

    def __init__(self, message: str = "", *, parameter: str | None = None) -> None:
        self.parameter = parameter
        super().__init__(message)

    def worded(self, names: Mapping[str, str]) -> str:
        """The message, its leading parameter said as ``names`` says it.

        Examples:
            >>> UsageError("workers must be at least 1", parameter="workers").worded(
            ...     {"workers": "--workers"})
            '--workers must be at least 1'
        """
        text = str(self)
        name = self.parameter
        if name is not None and name in names and text.startswith(name):
            return names[name] + text[len(name) :]
        return text


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
