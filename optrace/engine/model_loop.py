"""A whole model race: every racer trained (:mod:`optrace.engine.model_race`), one
plane chosen for all of them, every path projected onto it and the training loss
evaluated over its grid, into a :class:`RaceResult` that every picture draws."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from optrace._core.errors import ConfigError
from optrace.engine import landscape as plane_math
from optrace.engine.model_race import ModelRun, race_model
from optrace.engine.plan import RacePlan, RacerPlan
from optrace.results.landscape import Landscape
from optrace.results.trace import RaceResult, Surface, Trace


def run_model(plan: RacePlan, progress: Callable[[int], None] | None = None) -> RaceResult:
    """Train every racer of ``plan`` (a model race), then draw them on one plane."""
    problem = plan.model
    assert problem is not None, "a model race has a problem"
    runs = [
        race_model(racer, problem, plan.epochs, plan.seed, progress, plan.evaluations)
        for racer in plan.racers
    ]
    epochs = plan.epochs
    if plan.evaluations is not None:
        epochs = max(r.steps for r in runs)
        runs = [_cut(r, epochs) for r in runs]
    labels = [r.label for r in plan.racers]
    land, coords, off = _plane(plan, runs, labels)
    finite = [np.isfinite(r.loss) for r in runs]
    points = np.concatenate([c[f] for c, f in zip(coords, finite, strict=True)])
    module = copy.deepcopy(problem.module)  # its buffers, if any, stay as they were
    flat_losses = plane_math.plane_losses(
        module, problem.loss_fn, problem.X, problem.y, land.origin, land.directions, points
    )
    plane_loss, at = [], 0
    for c, f in zip(coords, finite, strict=True):
        values = np.full(len(c), np.nan)
        values[f] = flat_losses[at : at + int(f.sum())]
        at += int(f.sum())
        plane_loss.append(values)
    traces = tuple(
        _trace(racer, run, c, pl, o, plan.evaluations is not None)
        for racer, run, c, pl, o in zip(plan.racers, runs, coords, plane_loss, off, strict=True)
    )
    alphas, betas = land.alphas, land.betas
    target = plan.target
    if target is None:
        bests = [float(np.nanmin(r.loss)) for r in runs if np.isfinite(r.loss).any()]
        target = min(bests) + plan.tolerance if bests else None
    return RaceResult(
        title=plan.title,
        function=problem.description,
        domain=(float(alphas[0]), float(alphas[-1])),
        curve_x=np.empty(0),
        curve_y=np.empty(0),
        epochs=epochs,
        traces=traces,
        tolerance=plan.tolerance,
        ydomain=(float(betas[0]), float(betas[-1])),
        surface=Surface(alphas, betas, land.losses),
        evaluations=plan.evaluations,
        landscape=land,
        target=target,
    )


def _plane(
    plan: RacePlan, runs: list[ModelRun], labels: list[str]
) -> tuple[Landscape, list[np.ndarray], list[np.ndarray]]:
    """The plane, each racer's coordinates ``(epochs + 1, 2)`` on it and its
    distance off it (relative to its distance from the start)."""
    problem, config = plan.model, plan.plane
    assert problem is not None and config is not None
    origin = runs[0].weights[0]
    # Every epoch a racer stepped to, once each (not those held after a budget ended it).
    moved = [_stepped(r) - origin for r in runs]
    fitted = [i for i, r in enumerate(runs) if _steady(r)] or list(range(len(runs)))
    left_out = tuple(labels[i] for i in range(len(runs)) if i not in fitted)
    explained = None
    chosen: tuple[str, ...] = ()
    if config.kind == "pca":
        directions, explained = plane_math.pca_directions(
            np.concatenate([moved[i] for i in fitted])
        )
    elif config.kind == "endpoints":
        assert config.racers is not None
        chosen = tuple(config.racers)
        for j, name in enumerate(chosen):
            run = runs[labels.index(name)]
            if not _steady(run):
                raise ConfigError(
                    f"plane.racers[{j}]",
                    f"{name} {_why_unsteady(run)}, so its end cannot span the plane; name two "
                    "racers that finish, or use 'kind: pca'",
                )
        ends = [moved[labels.index(name)][-1] + origin for name in chosen]
        try:
            directions = plane_math.endpoint_directions(origin, ends[0], ends[1])
        except ValueError as exc:
            raise ConfigError("plane.racers", str(exc)) from None
    else:
        seed = plan.seed if config.seed is None else config.seed
        directions = plane_math.random_directions(list(problem.module.parameters()), seed)
    coords, off = [], []
    for run in runs:
        finite = np.isfinite(run.loss)
        c = np.full((len(run.loss), 2), np.nan)
        o = np.full(len(run.loss), np.nan)
        d = run.weights[finite] - origin
        c[finite] = plane_math.coordinates(d, directions)
        o[finite] = plane_math.off_plane(d, directions, c[finite])
        coords.append(c)
        off.append(o)
    span = config.span
    # The grid spans the racers the plane was fitted to: one that blew up would
    # shrink every other path to a dot (it is drawn at the grid's edge).
    alphas, betas = plane_math.grid_axes(
        np.concatenate([coords[i] for i in fitted]), config.grid, span
    )
    X, y = plane_math.subset(problem.X, problem.y, config.examples, plan.seed)
    losses = plane_math.grid_losses(
        copy.deepcopy(problem.module), problem.loss_fn, X, y, origin, directions, alphas, betas
    )
    land = Landscape(
        kind=config.kind,
        origin=origin,
        directions=directions,
        explained=explained,
        alphas=alphas,
        betas=betas,
        losses=losses,
        examples=int(X.shape[0]),
        total=problem.examples,
        racers=chosen,
        left_out=left_out,
    )
    return land, coords, off


def _stepped(run: ModelRun) -> np.ndarray:
    """The weights of each epoch ``run`` reached, finite ones only."""
    weights, loss = run.weights[: run.steps + 1], run.loss[: run.steps + 1]
    finite: np.ndarray = weights[np.isfinite(loss)]
    return finite


def _steady(run: ModelRun) -> bool:
    """Whether the plane may be fitted to ``run``: it did not diverge or fail, and its
    training loss ended no higher than it began."""
    last = run.loss[run.steps]
    return run.failure is None and bool(np.isfinite(last)) and last <= run.loss[0]


def _why_unsteady(run: ModelRun) -> str:
    if run.failure is not None:
        return f"stopped at epoch {run.steps}: its optimizer raised"
    if not np.isfinite(run.loss[run.steps]):
        return f"diverged at epoch {run.steps}"
    return "ended with a higher training loss than it began with"


def _trace(
    racer: RacerPlan,
    run: ModelRun,
    coords: np.ndarray,
    plane_loss: np.ndarray,
    off: np.ndarray,
    budgeted: bool,
) -> Trace:
    def row(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else values[None, :]

    return Trace(
        label=racer.label,
        optimizer=racer.optimizer.name,
        hyperparameters=racer.optimizer.keywords(),
        style=racer.style,
        x=coords[None, :, 0],
        loss=run.loss[None, :],
        lr=row(run.lr),
        failure=run.failure,
        schedule=racer.schedule.name if racer.schedule is not None else None,
        y=coords[None, :, 1],
        evaluations=run.evaluations[None, :],
        steps=np.array([run.steps]) if budgeted else None,
        plane_loss=plane_loss[None, :],
        off_plane=off[None, :],
        test_loss=row(run.test_loss),
        test_accuracy=row(run.test_accuracy),
    )


def _cut(run: ModelRun, epochs: int) -> ModelRun:
    """``run`` through ``epochs`` only."""

    def cut(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else values[: epochs + 1]

    return ModelRun(
        run.weights[: epochs + 1],
        run.loss[: epochs + 1],
        run.evaluations[: epochs + 1],
        run.steps,
        cut(run.lr),
        run.failure,
        cut(run.test_loss),
        cut(run.test_accuracy),
    )
