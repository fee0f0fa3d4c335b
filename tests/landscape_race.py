"""A model race's result built by hand, from a small real computation: a tiny torch
MLP trained by a plain loop with a few optimizers from one initial point, the PCA
(or endpoints, or random) plane of every racer's displacements by numpy's SVD, and
the grid of training losses evaluated point by point with ``functional_call``.

It has the shape the model race's result has (see ``RaceResult.landscape``), so the
pictures can be drawn and checked without the engine that races a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from optrace.results.landscape import Landscape
from optrace.results.trace import RaceResult, Surface, Trace

#: (optimizer, keywords, style) of each racer, by default.
RACERS: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("SGD", {"lr": 0.1, "momentum": 0.9}, "ro"),
    ("Adam", {"lr": 0.05}, "bs"),
    ("RMSprop", {"lr": 0.01}, "mD"),
)


def blobs(seed: int, count: int = 300, features: int = 4, classes: int = 3) -> tuple[Any, Any]:
    """Seeded Gaussian blobs: ``count`` examples of ``features`` in ``classes``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.5, (classes, features))
    labels = rng.integers(0, classes, count)
    points = centres[labels] + rng.normal(0, 1.0, (count, features))
    return points, labels


def landscape_race(
    racers: Sequence[tuple[str, dict[str, Any], str]] = RACERS,
    epochs: int = 60,
    kind: str = "pca",
    grid: int = 41,
    test: bool = True,
    examples: int | None = None,
    seed: int = 0,
    title: str = "blobs, MLP [8]",
) -> RaceResult:
    """Race ``racers`` on a tiny MLP and draw them on one plane, by hand.

    Args:
        racers: (optimizer in ``torch.optim``, keywords, style) of each.
        epochs: Full-batch steps.
        kind: ``pca``, ``endpoints`` (the first two racers' ends) or ``random``.
        grid: Points along each side of the grid.
        test: Whether a fifth of the examples is held out (test loss and accuracy).
        examples: Evaluate the grid on only this many training examples.
        seed: The data, the initial weights and a random plane.
        title: The race's title.

    Returns:
        A model race's result: traces at plane coordinates, with true, plane and
        test losses; the grid as its surface.
    """
    import torch

    threads = torch.get_num_threads()
    # A network this small trains fastest on one thread (more fight over shared cores).
    torch.set_num_threads(1)
    try:
        return _race(racers, epochs, kind, grid, test, examples, seed, title)
    finally:
        torch.set_num_threads(threads)


def _race(
    racers: Sequence[tuple[str, dict[str, Any], str]],
    epochs: int,
    kind: str,
    grid: int,
    test: bool,
    examples: int | None,
    seed: int,
    title: str,
) -> RaceResult:
    import torch
    from torch.func import functional_call

    from optrace.problems.networks import build_mlp

    points, labels = blobs(seed)
    X = torch.tensor(points, dtype=torch.float64)
    y = torch.tensor(labels)
    cut = int(0.8 * len(X)) if test else len(X)
    X_train, y_train, X_test, y_test = X[:cut], y[:cut], X[cut:], y[cut:]
    loss_fn = torch.nn.functional.cross_entropy
    initial = build_mlp(X.shape[1], [8], 3, "tanh", seed, torch.float64)
    names = [name for name, _ in initial.named_parameters()]
    shapes = [p.shape for p in initial.parameters()]
    origin = torch.cat([p.detach().reshape(-1) for p in initial.parameters()])

    def unflat(flat: torch.Tensor) -> dict[str, torch.Tensor]:
        out, at = {}, 0
        for name, shape in zip(names, shapes, strict=True):
            size = int(np.prod(shape))
            out[name] = flat[at : at + size].reshape(shape)
            at += size
        return out

    def loss_at(flat: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        with torch.no_grad():
            return float(loss_fn(functional_call(initial, unflat(flat), (inputs,)), targets))

    thetas, losses, tests, accuracies = [], [], [], []
    for optimizer, keywords, _ in racers:
        net = build_mlp(X.shape[1], [8], 3, "tanh", seed, torch.float64)
        opt = getattr(torch.optim, optimizer)(net.parameters(), **keywords)
        path, loss, test_loss, accuracy = [], [], [], []
        for t in range(epochs + 1):
            path.append(torch.cat([p.detach().reshape(-1) for p in net.parameters()]))
            opt.zero_grad()
            value = loss_fn(net(X_train), y_train)
            loss.append(float(value.detach()))
            if test:
                with torch.no_grad():
                    out = net(X_test)
                    test_loss.append(float(loss_fn(out, y_test)))
                    accuracy.append(float((out.argmax(1) == y_test).double().mean()))
            if t < epochs:
                value.backward()
                opt.step()
        thetas.append(torch.stack(path).numpy())
        losses.append(np.array(loss))
        tests.append(np.array(test_loss))
        accuracies.append(np.array(accuracy))

    theta0 = origin.numpy()
    displacements = np.concatenate([p - theta0 for p in thetas])
    explained = None
    used: tuple[str, ...] = ()
    if kind == "pca":
        _, sing, vt = np.linalg.svd(displacements, full_matrices=False)
        directions = vt[:2]
        explained = sing[:2] ** 2 / (sing**2).sum()
    elif kind == "endpoints":
        directions = np.stack([thetas[0][-1] - theta0, thetas[1][-1] - theta0])
        used = (racers[0][0], racers[1][0])
    else:
        rng = np.random.default_rng(seed)
        rows = []
        for p in initial.parameters():
            w = p.detach().numpy()
            d = rng.normal(size=w.shape)
            if w.ndim < 2:
                d[:] = 0
            else:
                d *= np.linalg.norm(w, axis=1, keepdims=True) / np.linalg.norm(
                    d, axis=1, keepdims=True
                )
            rows.append(d.ravel())
        directions = np.stack([np.concatenate(rows), rng.normal(size=len(theta0))])
    # Least squares is the dot products where the directions are orthonormal.
    coords = [np.linalg.lstsq(directions.T, (p - theta0).T, rcond=None)[0].T for p in thetas]
    every = np.concatenate(coords)
    low, high = every.min(axis=0), every.max(axis=0)
    pad = 0.2 * np.maximum(high - low, 1e-3)
    alphas = np.linspace(low[0] - pad[0], high[0] + pad[0], grid)
    betas = np.linspace(low[1] - pad[1], high[1] + pad[1], grid)
    subset = slice(None) if examples is None else slice(examples)
    gx, gy = X_train[subset], y_train[subset]
    dirs = torch.tensor(directions)
    surface = np.array(
        [[loss_at(origin + a * dirs[0] + b * dirs[1], gx, gy) for a in alphas] for b in betas]
    )

    traces = []
    for (optimizer, keywords, style), c, path, loss, tl, acc in zip(
        racers, coords, thetas, losses, tests, accuracies, strict=True
    ):
        flat_plane = [origin + a * dirs[0] + b * dirs[1] for a, b in c]
        plane_loss = np.array([loss_at(f, X_train, y_train) for f in flat_plane])
        on = c @ directions
        moved = np.linalg.norm(path - theta0, axis=1)
        off = np.divide(
            np.linalg.norm(path - theta0 - on, axis=1),
            moved,
            out=np.zeros(len(moved)),
            where=moved > 0,
        )
        traces.append(
            Trace(
                label=optimizer,
                optimizer=optimizer,
                hyperparameters=dict(keywords),
                style=style,
                x=c[None, :, 0].copy(),
                y=c[None, :, 1].copy(),
                loss=loss[None],
                plane_loss=plane_loss[None],
                off_plane=off[None],
                test_loss=tl[None] if test else None,
                test_accuracy=acc[None] if test else None,
            )
        )
    total = len(X_train)
    landscape = Landscape(
        kind=kind,
        origin=theta0,
        directions=directions,
        explained=explained,
        alphas=alphas,
        betas=betas,
        losses=surface,
        examples=min(total, examples or total),
        total=total,
        racers=used,
    )
    return RaceResult(
        title=title,
        function="model",
        domain=(float(alphas[0]), float(alphas[-1])),
        curve_x=np.array([]),
        curve_y=np.array([]),
        epochs=epochs,
        traces=tuple(traces),
        ydomain=(float(betas[0]), float(betas[-1])),
        surface=Surface(alphas, betas, surface),
        minima=(),
        landscape=landscape,
    )


def with_plane_loss(result: RaceResult, label: str, plane_loss: np.ndarray) -> RaceResult:
    """``result`` with racer ``label``'s plane loss replaced (to build a case on
    either side of the figure's faithfulness threshold)."""
    traces = tuple(
        replace(t, plane_loss=plane_loss) if t.label == label else t for t in result.traces
    )
    return replace(result, traces=traces)
