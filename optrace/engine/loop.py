"""The race loop: a plan run into traces, every racer (and every combination of its
sweep) exactly as a plain torch loop."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from optrace.engine.plan import RacePlan, RacerPlan
from optrace.engine.race import Run, race_one
from optrace.engine.sweep import race_sweep
from optrace.optim.noise import NoiseSpec
from optrace.results.trace import RaceResult, Surface, Sweep, Trace


def run(plan: RacePlan, progress: Callable[[int], None] | None = None) -> RaceResult:
    """Run every racer from each of the plan's starts, ``plan.repeats`` times, and
    every combination of a racer's sweep; ``progress`` hears of each racer-epoch of
    each run."""
    if plan.model is not None:
        from optrace.engine.model_loop import run_model

        return run_model(plan, progress)
    traces: list[Trace] = []
    sweeps: list[Sweep] = []
    repeats = plan.repeats
    starts = [s for s in plan.starts for _ in range(repeats)]
    streams = tuple((i, r) for i in range(len(plan.starts)) for r in range(repeats))
    for racer in plan.racers:
        noise = racer.noise
        drawn = (
            None
            if noise is None or noise.std == 0
            else NoiseSpec(noise.std, noise.relative, plan.seed, streams)
        )
        fn, epochs, schedule = plan.function.fn, plan.epochs, racer.schedule
        if racer.sweep is None:
            ran = [
                race_one(
                    racer.optimizer,
                    fn,
                    starts,
                    epochs,
                    progress,
                    schedule,
                    plan.seed,
                    drawn,
                    budget=plan.evaluations,
                )
            ]
            combinations: list[dict[str, float]] = [{}]
        else:
            ran = race_sweep(
                racer.optimizer,
                fn,
                starts,
                epochs,
                racer.sweep,
                progress,
                schedule,
                plan.seed,
                drawn,
                plan.evaluations,
            )
            combinations = racer.sweep.combinations
        each = [
            _trace(racer, run, values, repeats, plan.evaluations is not None)
            for run, values in zip(ran, combinations, strict=True)
        ]
        if racer.sweep is None:
            traces.append(each[0])
        else:
            traces.append(each[racer.sweep.written])
            sweeps.append(
                Sweep(
                    racer.label,
                    racer.sweep.keys,
                    racer.sweep.values,
                    tuple(each),
                    racer.sweep.written,
                )
            )
    epochs = plan.epochs
    if plan.evaluations is not None:
        # Held from their last step on, the traces lose nothing past the longest run.
        epochs = max(int(t.raced.max()) for t in [*traces, *(t for s in sweeps for t in s.traces)])
        traces = [_cut(t, epochs) for t in traces]
        sweeps = [replace(s, traces=tuple(_cut(t, epochs) for t in s.traces)) for s in sweeps]
    objective = plan.function
    if objective.ydomain is None:
        curve_x, curve_y = objective.curve(plan.domain)
        surface = None
    else:
        curve_x = curve_y = np.empty(0)
        surface = Surface(*objective.surface(plan.domain, objective.ydomain))
    return RaceResult(
        title=plan.title,
        function=objective.formula,
        domain=plan.domain,
        curve_x=curve_x,
        curve_y=curve_y,
        epochs=epochs,
        traces=tuple(traces),
        minima=objective.minima,
        tolerance=plan.tolerance,
        ydomain=objective.ydomain,
        surface=surface,
        evaluations=plan.evaluations,
        sweeps=tuple(sweeps),
    )


def _trace(
    racer: RacerPlan, ran: Run, values: Mapping[str, float], repeats: int, budgeted: bool
) -> Trace:
    """The trace of one run of ``racer`` (with ``values`` over its own, for a sweep)."""
    noise = racer.noise
    return Trace(
        label=racer.label,
        optimizer=racer.optimizer.name,
        hyperparameters={**racer.optimizer.keywords(), **values},
        style=racer.style,
        x=ran.x,
        loss=ran.loss,
        lr=ran.lr if racer.schedule is not None else None,
        failure=ran.failure,
        schedule=racer.schedule.name if racer.schedule is not None else None,
        y=ran.y,
        repeats=repeats,
        noise=None if noise is None else noise.model_dump(),
        evaluations=ran.evaluations,
        steps=ran.steps if budgeted else None,
    )


def _cut(trace: Trace, epochs: int) -> Trace:
    """``trace`` through ``epochs`` only."""

    def cut(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else values[:, : epochs + 1]

    return replace(
        trace,
        x=trace.x[:, : epochs + 1],
        loss=trace.loss[:, : epochs + 1],
        lr=cut(trace.lr),
        y=cut(trace.y),
        evaluations=cut(trace.evaluations),
    )
