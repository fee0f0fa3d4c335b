"""The command line: Typer commands that parse options, call the API and print."""

from optrace.cli.commands import app, main

__all__ = ["app", "main"]
