"""The optrace command line: parse, call the core, report.

Expected failures print one line, ``Error: ...``, and exit 2 (bad usage or
config) or 1 (anything else). torch and matplotlib load only inside the
commands that need them, so ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from optrace import __version__
from optrace._core.errors import ConfigError, OptraceError, StrictFailure, UsageError

if TYPE_CHECKING:
    from optrace.engine.plan import RacePlan
    from optrace.render.options import SceneOptions
    from optrace.results.trace import RaceResult
    from optrace.spec.model import AnimationConfig

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


class _Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C, so that temporary files are removed."""


@contextmanager
def _reporting() -> Iterator[None]:
    """Turn expected failures into one ``Error:`` line and their exit code."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except OptraceError as exc:
        raise _fail(str(exc), exc.exit_code) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; no output was written", 130) from None
    except _Terminated:
        raise _fail("terminated; no output was written", 143) from None
    except MemoryError:
        raise _fail("out of memory; make the race smaller (epochs, starts, size)", 1) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


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


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty() or total < 1:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="The race config (YAML).")],
    gif: Annotated[Path | None, typer.Option(help="Write the animation as a GIF.")] = None,
    mp4: Annotated[Path | None, typer.Option(help="Write the animation as an MP4 (H.264).")] = None,
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
    """Run a race; write a GIF, an MP4 or the traces, or show it in a window."""
    with _reporting():
        from optrace._core.atomic import AtomicFile, check_distinct
        from optrace.engine.plan import load as load_plan
        from optrace.results.files import check_traces_path, open_traces
        from optrace.spec.loading import load_config

        loaded = load_config(config)
        animation = loaded.animation
        outputs = {fmt: p for fmt, p in (("gif", gif), ("mp4", mp4)) if p is not None}
        if traces is not None:
            check_traces_path(traces)
        if summary is not None and summary.suffix.lower() != ".json":
            raise UsageError(f"--summary: '{summary}' must end in .json")
        check_distinct([p for p in (gif, mp4, traces, summary) if p is not None])
        if mp4 is not None:
            from optrace.export.mp4 import check_mp4_size

            check_mp4_size(animation.size)
        if show:
            from optrace.export.window import check_display

            check_display()
        plan = load_plan(config, loaded, limits=not no_limits)
        if frames is not None and not no_limits:
            from optrace.engine import cost

            try:
                cost.check_animation(min(frames, plan.epochs + 1), animation.size)
            except ConfigError as exc:
                raise UsageError(f"--frames: {exc.message}") from None

        files: dict[str, AtomicFile] = {}
        try:
            for fmt, path in outputs.items():
                files[fmt] = AtomicFile(path)
            trace_file = open_traces(traces) if traces is not None else None
            if trace_file is not None:
                files["traces"] = trace_file
            if summary is not None:
                files["summary"] = AtomicFile(summary)
            result = _race(plan)
            if trace_file is not None:
                from optrace.results.files import write_traces

                write_traces(result, trace_file)
            if summary is not None:
                from optrace.results.report import write_summary

                write_summary(result, files["summary"])
            from optrace._core.frames import frame_epochs

            shown = frame_epochs(result.epochs, frames or animation.frame_count(result.epochs))
            if outputs:
                from optrace.export.frames import export

                with _progress("rendering", len(shown)) as progress:
                    export(
                        result,
                        {fmt: files[fmt] for fmt in outputs},
                        animation.interval,
                        animation.size,
                        loop=animation.loop,
                        frame_epochs=shown,
                        progress=progress,
                        options=_scene_options(animation, result.dims),
                    )
            for out in files.values():
                out.commit()
        finally:
            for out in files.values():
                out.discard()

        from optrace.results import report

        for line in report.warnings(result):
            typer.echo(line, err=True)
        typer.echo(report.summary_table(result))
        for out in files.values():
            typer.echo(f"wrote {out.target}", err=True)
        failed = report.strict_failures(result) if strict else []
        if show:
            from optrace.export.window import show as show_window

            show_window(
                result,
                animation.interval,
                animation.size,
                frame_epochs=shown,
                options=_scene_options(animation, result.dims),
            )
        if failed:
            raise StrictFailure(f"--strict: {'; '.join(failed)}")


def _scene_options(animation: AnimationConfig, dims: int) -> SceneOptions:
    from optrace.render.options import SceneOptions

    return SceneOptions.of(animation, dims)


def _race(plan: RacePlan) -> RaceResult:
    from optrace.engine.loop import run as run_race

    total = len(plan.racers) * len(plan.starts) * plan.epochs
    with _progress("racing", total) as progress:
        return run_race(plan, progress)


@app.command()
def tune(
    config: Annotated[Path, typer.Argument(help="The race config (YAML) with a tune: block.")],
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
        int, typer.Option(min=1, help="Processes running trials (needs --storage journal:FILE).")
    ] = 1,
    no_limits: Annotated[
        bool,
        typer.Option("--no-limits", help="Tune a race larger than the usual safety limits."),
    ] = False,
) -> None:
    """Tune every racer with the same budget of trials (Optuna); write the tuned config."""
    with _reporting():
        from optrace._core.atomic import AtomicFile, check_distinct
        from optrace.spec.loading import load_document

        document, loaded = load_document(config)
        for option, path, suffixes in (
            ("--out", out, (".yaml", ".yml")),
            ("--plot", plot, (".png",)),
            ("--report", report, (".json",)),
        ):
            if path is not None and path.suffix.lower() not in suffixes:
                raise UsageError(f"{option}: '{path}' must end in {' or '.join(suffixes)}")
        outputs = {k: p for k, p in (("out", out), ("plot", plot), ("report", report)) if p}
        check_distinct(list(outputs.values()))
        try:
            import optuna
        except ModuleNotFoundError:
            raise UsageError("tuning needs Optuna: pip install 'optrace[tune]'") from None
        from optrace.tune import outputs as tuned_outputs
        from optrace.tune.tuner import prepare_tuning, run_tuning

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            plan = prepare_tuning(loaded, config.parent, limits=not no_limits)
        except ConfigError as exc:
            raise exc.in_file(str(config)) from None
        files: dict[str, AtomicFile] = {}
        try:
            for kind, path in outputs.items():
                files[kind] = AtomicFile(path)
            total = plan.settings.trials * len(plan.targets)
            with _progress("tuning", total) as progress:
                tuning = run_tuning(plan, storage, study or config.stem, workers, progress=progress)
            if "out" in files:
                files["out"].path.write_text(
                    tuned_outputs.tuned_yaml(tuning, document), encoding="utf-8"
                )
            if "report" in files:
                files["report"].path.write_text(tuned_outputs.report_json(tuning), encoding="utf-8")
            if "plot" in files:
                tuned_outputs.plot(tuning, files["plot"].path)
            for file in files.values():
                file.commit()
        finally:
            for file in files.values():
                file.discard()
        typer.echo(tuned_outputs.table(tuning))
        for file in files.values():
            typer.echo(f"wrote {file.target}", err=True)


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="The race config (YAML).")],
    no_limits: Annotated[
        bool, typer.Option("--no-limits", help="Skip the checks of the race's size.")
    ] = False,
) -> None:
    """Check a config without running it."""
    with _reporting():
        from optrace.engine.plan import load as load_plan

        plan = load_plan(config, limits=not no_limits)
        labels = ", ".join(r.label for r in plan.racers)
        first = plan.starts[0]
        at = (
            f"(x, y) = ({first[0]!r}, {first[1]!r})"
            if isinstance(first, tuple)
            else f"x = {first!r}"
        )
        where = at if len(plan.starts) == 1 else f"{len(plan.starts)} starts"
        typer.echo(
            f"ok: {config}: {len(plan.racers)} racers ({labels}) on "
            f"{plan.objective.name}, {plan.epochs} epochs from {where}"
        )


@app.command("list-functions")
def list_functions(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List the built-in test functions with their domains and minima."""
    with _reporting():
        from optrace._core.jsonable import jsonable
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
            typer.echo(json.dumps(doc, indent=1))
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


STARTER = """\
# An optrace race. Run it:  optrace run {name} --gif race.gif
# Check it without running: optrace validate {name}
title: my first race
# A built-in function (optrace list-functions), or your own:
#   function: {{expr: "x**4 - 3*x**2 + x", domain: [-2.5, 2.5]}}
# In 2-D, e.g. function: rosenbrock with start: [-1.2, 1.0]
function: quartic
start: 2.0            # a number, or random; or a swarm: starts: {{grid: 20}}
epochs: 60
racers:               # any torch.optim optimizer (optrace list-optimizers)
  - optimizer: SGD    # every other key is a constructor keyword
    lr: 0.01
    momentum: 0.9
  - optimizer: Adam
    lr: 0.1
  - optimizer: RMSprop
    lr: 0.01
    label: RMSprop (slow)   # optional; so is style, e.g. style: gs
animation:
  interval: 100       # ms per frame
  size: [640, 480]
  # trail: 10         # a fading trail of each racer's last 10 epochs
"""


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the config.")] = Path("race.yaml"),
) -> None:
    """Write a commented starter config that runs as written."""
    with _reporting():
        from optrace._core.atomic import AtomicFile

        if path.exists():
            raise UsageError(f"'{path}' exists; give another path, or remove it first")
        out = AtomicFile(path)
        try:
            out.path.write_text(STARTER.format(name=path), encoding="utf-8")
            out.commit()
        finally:
            out.discard()
        typer.echo(f"wrote {path}; run it with: optrace run {path} --gif race.gif")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the config (for editors: yaml-language-server)."""
    from optrace.spec.schema import config_schema

    typer.echo(json.dumps(config_schema(), indent=2))


_FLAGS = ("foreach", "fused", "capturable", "differentiable")


@app.command("list-optimizers")
def list_optimizers(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List torch.optim's optimizers with their defaults, and which cannot race."""
    with _reporting():
        from optrace._core.jsonable import jsonable
        from optrace.optim.catalog import catalog

        entries = catalog()
        if as_json:
            doc = [
                {
                    "name": e.name,
                    "defaults": {k: jsonable(v) for k, v in e.defaults.items()},
                    "can_race": e.cannot_race is None,
                    "reason": e.cannot_race,
                }
                for e in entries
            ]
            typer.echo(json.dumps(doc, indent=1))
            return
        width = max(len(e.name) for e in entries)
        for e in entries:
            if e.cannot_race is not None:
                text = f"cannot race: {e.cannot_race}"
            else:
                text = " ".join(
                    f"{k}={json.dumps(jsonable(v))}"
                    for k, v in e.defaults.items()
                    if k not in _FLAGS
                )
            typer.echo(f"{e.name.ljust(width)}  {text}")
        typer.echo(
            f"\n(not shown: {', '.join(_FLAGS)}, which choose torch's implementation; "
            "--json lists every default)"
        )


def main() -> None:
    """Entry point of the ``optrace`` console script."""
    app()
