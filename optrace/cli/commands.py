"""The optrace command line: each command parses its options, calls the Python API
(:mod:`optrace.api`) once, and prints.

Expected failures print one line, ``Error: ...``, and exit 2 (bad usage or
config) or 1 (anything else); a message that names an API parameter names the
command's option instead (``workers`` -> ``--workers``). The API (and with it
torch) loads only inside the commands that race, so ``--help`` and ``--version``
answer at once.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, get_args, get_type_hints

import typer
from typer.models import OptionInfo

from optrace import __version__
from optrace._core.atomic import Output
from optrace._core.errors import ConfigError, OptraceError, StrictFailure, UsageError
from optrace._core.jsonable import function_name, jsonable
from optrace._core.signals import Terminated

app = typer.Typer(
    name="optrace",
    help="Race PyTorch optimizers on a test function and animate the race.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


class _Signals:
    """SIGTERM and SIGINT during one command.

    They unwind as exceptions (``Terminated``, ``KeyboardInterrupt``), except
    while the window is open: an exception raised there would surface inside a
    Qt callback, which prints it and carries on. So there a signal is only
    recorded; the window polls for it, closes, and it unwinds once the window has.
    """

    def __init__(self) -> None:
        self.window_open = False
        self.received: int | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.window_open:
            self.received = signum
            return
        raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt

    @contextmanager
    def window(self) -> Iterator[Callable[[], bool]]:
        """While the window is open: yield its ``stop_requested``; afterwards
        unwind for the signal that closed it, if one did."""
        self.window_open = True
        try:
            yield lambda: self.received is not None
        finally:
            self.window_open = False
        if self.received is not None:
            raise Terminated if self.received == signal.SIGTERM else KeyboardInterrupt


@contextmanager
def _reporting() -> Iterator[_Signals]:
    """Turn expected failures into one ``Error:`` line and their exit code."""
    signals = _Signals()
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, signals.handle)}
    # An inherited "ignore" (a shell's background job) stays; a custom handler too.
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signals.handle)
    try:
        yield signals
    except OptraceError as exc:
        raise _fail(_worded(exc), exc.exit_code) from None
    except KeyboardInterrupt:
        raise _fail(f"interrupted; {_after(signals)}", 130) from None
    except Terminated:
        raise _fail(f"terminated; {_after(signals)}", 143) from None
    except MemoryError:
        raise _fail("out of memory; make the race smaller (epochs, starts, size)", 1) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


#: The API's words for what a command line says with an option.
_SAID = {"limits=False": "--no-limits"}


def _worded(exc: OptraceError) -> str:
    """The library's message in the command line's words: its parameters as options."""
    text = exc.worded(_options())
    for api, option in _SAID.items():
        text = text.replace(api, option)
    return text


def _options() -> dict[str, str]:
    """Every command's options by the API parameter each stands for (``workers`` ->
    ``--workers``): the option as declared, else its parameter spelled as a flag."""
    options = {}
    for command in app.registered_commands:
        if command.callback is None:
            continue
        for name, hint in get_type_hints(command.callback, include_extras=True).items():
            for meta in get_args(hint):
                if isinstance(meta, OptionInfo):
                    # Annotated options take their declarations positionally: the
                    # first lands in ``default``.
                    decls = (meta.default, *(meta.param_decls or ()))
                    declared = [d for d in decls if isinstance(d, str) and d.startswith("--")]
                    options[name] = declared[0] if declared else "--" + name.replace("_", "-")
    return options


def _after(signals: _Signals) -> str:
    return "the window was closed" if signals.received is not None else "no output was written"


def _command(name: str | None = None) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command; the top-level help lists it with its docstring's first
    paragraph in full (click would cut it at 45 characters)."""

    def register(function: Callable[..., None]) -> Callable[..., None]:
        first = " ".join((function.__doc__ or "").strip().split("\n\n")[0].split())
        return app.command(name, short_help=first)(function)

    return register


def _version(value: bool) -> None:
    if value:
        typer.echo(f"optrace {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Race PyTorch optimizers on a test function and animate the race."""


@_command()
def run(
    config: Annotated[Path, typer.Argument(help="The race config (YAML).")],
    gif: Annotated[Path | None, typer.Option(help="Write the animation as a GIF.")] = None,
    mp4: Annotated[Path | None, typer.Option(help="Write the animation as an MP4 (H.264).")] = None,
    still: Annotated[
        Path | None,
        typer.Option(help="Write the last frame with each racer's whole path: .png, .svg or .pdf."),
    ] = None,
    html: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML player (.html).")
    ] = None,
    basins: Annotated[
        Path | None,
        typer.Option(
            help="Write a swarm's basins map: each start coloured by the known minimum it "
            "reached; .png, .svg or .pdf."
        ),
    ] = None,
    sweep: Annotated[
        Path | None,
        typer.Option(
            help="Write the sweep map: each racer's final gap for every combination of "
            "its sweep: values; .png, .svg or .pdf."
        ),
    ] = None,
    show: Annotated[bool, typer.Option("--show", help="Play the race in a Qt window.")] = False,
    traces: Annotated[
        Path | None, typer.Option(help="Write every racer's (x, loss) per epoch: .csv or .json.")
    ] = None,
    summary: Annotated[
        Path | None,
        typer.Option(help="Write the finish line per racer and start as JSON (.json)."),
    ] = None,
    no_limits: Annotated[
        bool,
        typer.Option("--no-limits", help="Run a race larger than the usual safety limits."),
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Exit with code 3 if a racer diverged or left the domain (for CI)."
        ),
    ] = False,
    frames: Annotated[
        int | None,
        typer.Option(
            min=2, help="Show N evenly spaced epochs (default: animation.frames, else every epoch)."
        ),
    ] = None,
) -> None:
    """Run a race and write its GIF, MP4, still, HTML player, basins map, sweep map,
    traces or summary, or play it in a window.

    Example: optrace run configs/seed.yaml --gif seed.gif --summary summary.json
    """
    wanted = {"gif": gif, "mp4": mp4, "still": still, "html": html, "basins": basins}
    wanted |= {"sweep": sweep, "traces": traces, "summary": summary}
    outputs = [Output(kind, path, f"--{kind}") for kind, path in wanted.items() if path]
    with _reporting() as signals:
        # The API loads torch: only commands that race import it, so --help answers at once.
        from optrace.api import Race

        ran = Race.from_yaml(config).run(
            progress=True, limits=not no_limits, save=outputs, frames=frames, display=show
        )
        for line in ran.warnings():
            typer.echo(line, err=True)
        typer.echo(ran.table())
        for out in outputs:
            typer.echo(f"wrote {out.path}", err=True)
        failed = ran.strict_failures() if strict else []
        if show:
            with signals.window() as stop_requested:
                ran.show(frames, stop_requested=stop_requested)
        if failed:
            raise StrictFailure(f"--strict: {'; '.join(failed)}")


@_command()
def tune(
    config: Annotated[
        Path, typer.Argument(help="The race config (YAML); its tune: block, if any, says how.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Write the config with the tuned values (.yaml).")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Plot each racer's objective against lr (.png).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write every trial, the best and the baseline (.json).")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="An Optuna storage: sqlite:///FILE, journal:FILE or a database URL; "
            "a stored study goes on where it stopped."
        ),
    ] = None,
    study: Annotated[
        str | None, typer.Option(help="The studies' name (default: the config's file name).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes running trials; more than one shares a --storage "
            "journal:FILE or database.",
        ),
    ] = 1,
    no_limits: Annotated[
        bool,
        typer.Option("--no-limits", help="Tune a race larger than the usual safety limits."),
    ] = False,
) -> None:
    """Tune every racer of a race config with the same budget of Optuna trials (as its
    tune: block says, else by the defaults), and write the tuned config, a report or a plot.

    Example: optrace tune configs/fair-rosenbrock.yaml --out tuned.yaml --report report.json
    """
    wanted = {"tuned": (out, "--out"), "plot": (plot, "--plot"), "report": (report, "--report")}
    outputs = [Output(kind, path, flag) for kind, (path, flag) in wanted.items() if path]
    with _reporting():
        from optrace.api import Race  # loads torch (see run)

        _quiet_optuna()
        tuning = Race.from_yaml(config).tune(
            storage=storage,
            study=study,
            workers=workers,
            limits=not no_limits,
            progress=True,
            save=outputs,
        )
        typer.echo(tuning.table())
        for output in outputs:
            typer.echo(f"wrote {output.path}", err=True)


def _quiet_optuna() -> None:
    """Optuna logs every trial at INFO; the command prints its own table instead."""
    try:
        import optuna  # the tune extra; Race.tune says how to install it when missing
    except ModuleNotFoundError:
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@_command()
def validate(
    config: Annotated[Path, typer.Argument(help="The race config (YAML).")],
    no_limits: Annotated[
        bool, typer.Option("--no-limits", help="Skip the checks of the race's size.")
    ] = False,
) -> None:
    """Check a race config without running the race: its keys, the function, the starts,
    and every optimizer built and stepped once.

    Example: optrace validate configs/seed.yaml
    """
    with _reporting():
        from optrace.api import Race

        plan = Race.from_yaml(config).plan(limits=not no_limits)
        typer.echo(f"ok: {config}: {plan.describe()}")


@_command("list-functions")
def list_functions(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List the built-in test functions with their formulas, domains and known minima.

    Example: optrace list-functions --json
    """
    with _reporting():
        # The functions load torch, the report numpy: --help stays quick.
        from optrace.problems.functions import FUNCTIONS, build_function
        from optrace.results.report import minimum_json

        built = [build_function(name, {}) for name in FUNCTIONS]
        if as_json:
            doc = [
                {
                    "name": f.name,
                    "dimensions": f.dims,
                    "formula": f.formula,
                    "domain": jsonable(f.domain if f.ydomain is None else (f.domain, f.ydomain)),
                    "parameters": dict(f.params),
                    "minima": [minimum_json(m) for m in f.minima],
                    "default_start": jsonable(f.default_start),
                }
                for f in built
            ]
            typer.echo(json.dumps(doc, indent=1, allow_nan=False))
            return
        for f in built:
            params = "".join(f", {k}={v:g}" for k, v in f.params.items())
            box = f"[{f.domain[0]:g}, {f.domain[1]:g}]"
            if f.ydomain is not None:
                box += f" x [{f.ydomain[0]:g}, {f.ydomain[1]:g}]"
            if f.minima:
                low = f.minima[0]
                at = f"{low.x:.6g}" if low.y is None else f"{low.x:.6g}, {low.y:.6g}"
                count = f"{len(f.minima)} local minim{'um' if len(f.minima) == 1 else 'a'}"
                minima = f"lowest minimum f({at}) = {low.value:.6g}; {count}"
            else:
                minima = "no minimum inside the domain"
            typer.echo(f"{f.name} ({f.dims}-D): {f.formula}\n    domain {box}{params}; {minima}")
        typer.echo(
            '\nYour own: function: {expr: "x**4 - 3*x**2 + x", domain: [-2.5, 2.5]}'
            '\n      or: function: {expr: "x**2 + 3*y**2", domain: [[-2, 2], [-2, 2]]}'
        )


@_command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the config.")] = Path("race.yaml"),
) -> None:
    """Write a commented starter race config that runs as written.

    Example: optrace init race.yaml
    """
    with _reporting():
        from optrace.spec.starter import write_starter  # the spec loads pydantic (see schema)

        write_starter(path)
        typer.echo(f"wrote {path}; run it with: optrace run {path} --gif race.gif")


@_command()
def schema(
    gallery: Annotated[
        bool, typer.Option("--gallery", help="The gallery config's schema instead.")
    ] = False,
) -> None:
    """Print the JSON Schema of the race config, or of the gallery config, for editors
    (yaml-language-server).

    Example: optrace schema --gallery
    """
    from optrace.spec.schema import config_schema, gallery_schema  # pydantic: --help stays quick

    typer.echo(
        json.dumps(gallery_schema() if gallery else config_schema(), indent=2, allow_nan=False)
    )


@_command("list-optimizers")
def list_optimizers(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    package: Annotated[
        str | None,
        typer.Option(
            help="List every Optimizer subclass of this package instead of torch.optim "
            "(e.g. pytorch_optimizer)."
        ),
    ] = None,
    model: Annotated[
        bool,
        typer.Option(
            "--model",
            help="Say which race on a model (a small MLP) rather than on a function, "
            "and why the rest cannot.",
        ),
    ] = False,
) -> None:
    """List torch.optim's optimizers, or another package's, with their defaults, and say
    which cannot race and why.

    Example: optrace list-optimizers --package pytorch_optimizer --model
    """
    with _reporting():
        # The catalog loads torch (and the package asked for): --help stays quick.
        import torch

        from optrace.optim.catalog import catalog
        from optrace.optim.hyperparameters import IMPLEMENTATION

        # Each probe steps a few numbers (or a 4-3-2 MLP), where a second torch
        # thread only contends (on a busy machine, for most of the time).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            entries = catalog(package, model=model)
        except ConfigError as exc:
            raise UsageError(f"{exc.path}: {exc.message}", parameter=exc.path) from None
        finally:
            torch.set_num_threads(threads)
        if as_json:
            doc = [
                {
                    "name": e.name if package is None else f"{package}.{e.name}",
                    "defaults": {k: jsonable(v) for k, v in e.defaults.items()},
                    "can_race": e.cannot_race is None,
                    "needs": {k: jsonable(v) for k, v in e.needs.items()},
                    "steps": e.steps,
                    "reason": e.cannot_race,
                }
                for e in entries
            ]
            typer.echo(json.dumps(doc, indent=1, allow_nan=False))
            return
        if not entries:
            typer.echo(f"{package} has no torch.optim.Optimizer subclasses")
            return
        width = max(len(e.name) for e in entries)
        for e in entries:
            if e.cannot_race is not None:
                text = f"cannot race: {e.cannot_race}"
            else:
                needs = "".join(f"needs {k}={_shown(v)}; " for k, v in e.needs.items())
                steps = "" if e.steps in (None, "plain") else f"steps with {e.steps}; "
                text = (
                    needs
                    + steps
                    + " ".join(
                        f"{k}={_default(v)}"
                        for k, v in e.defaults.items()
                        if k not in IMPLEMENTATION
                    )
                )
            typer.echo(f"{e.name.ljust(width)}  {text}".rstrip())
        racing = sum(e.cannot_race is None for e in entries)
        where = " on a model" if model else ""
        typer.echo(
            f"\n{racing} of {len(entries)} race{where}. (not shown: {', '.join(IMPLEMENTATION)}, "
            "which choose torch's implementation; --json lists every default)"
        )


def _default(value: object) -> str:
    """A default as the listing prints it: a function by its name, unquoted
    (``ADOPT.<lambda>``), infinity as ``inf``, anything else as JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    name = function_name(value)
    return name if name is not None else json.dumps(jsonable(value))


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) + "}"
    return str(value)


@_command()
def gallery(
    config: Annotated[Path, typer.Argument(help="The gallery config (YAML).")],
    out: Annotated[Path, typer.Option("--out", help="The folder of the site.")],
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Local worker processes (default: the number of cores)."),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(help="Run the cells on this Dask scheduler (tcp://host:8786)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Recompute every cell, even unchanged ones.")
    ] = False,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first cell that fails.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Exit with code 3 if a cell failed, diverged or escaped."),
    ] = False,
) -> None:
    """Race every optimizer of a gallery config on every function, and write a site of
    stills, GIFs and a table.

    Example: optrace gallery configs/gallery.yaml --out site --workers 2
    """
    with _reporting():
        # The gallery's cells race through the API, which loads torch (see run).
        from optrace.gallery.run import build_gallery

        if workers is not None and dask is not None:
            raise UsageError("give either --workers (this machine) or --dask (a cluster)")
        report = build_gallery(config, out, workers, dask, force, fail_fast, progress=True)
        for result in report.results:
            if result.status == "failed":
                typer.echo(
                    f"failed: {result.cell.optimizer} on {result.cell.function}: {result.reason}",
                    err=True,
                )
        typer.echo(report.line())
        typer.echo(f"wrote {out / 'index.html'}", err=True)
        if report.stopped:
            raise StrictFailure("--fail-fast: stopped at the first failed cell")
        if strict and report.failures:
            raise StrictFailure(f"--strict: {'; '.join(report.failures)}")


def main() -> None:
    """Entry point of the ``optrace`` console script."""
    try:
        app()
    except SystemExit as exc:
        if exc.code in (130, 143):
            # Stopped by a signal, and every temporary file is already removed:
            # skip the interpreter's teardown (seconds once torch and Qt are
            # loaded), as the signal's default action would.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exc.code)
        raise
