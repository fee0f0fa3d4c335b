"""The plane of a model race: its directions, coordinates and grid, checked against
numpy's SVD, hand-trained paths and a plain loop of ``functional_call``."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from optrace.engine import landscape as L
from optrace.problems.networks import LOSSES, build_mlp

CE = LOSSES["cross_entropy"]
MSE = LOSSES["mse"]


def digits_like(
    examples: int = 300, features: int = 64, classes: int = 10, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    X = torch.randn(examples, features, generator=g, dtype=dtype)
    y = torch.randint(0, classes, (examples,), generator=g)
    return X, y


def train(
    module: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    make: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    epochs: int,
) -> np.ndarray:
    """A plain full-batch loop on a copy of ``module``: the flat weights after each step."""
    net = copy.deepcopy(module)
    params = list(net.parameters())
    opt = make(params)
    path = [L.flatten(params)]
    for _ in range(epochs):
        opt.zero_grad()
        loss_fn(net(X), y).backward()
        opt.step()
        path.append(L.flatten(params))
    return np.stack(path)


def race_paths(module: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn, epochs: int = 15):
    """Two racers (SGD with momentum, Adam) from the module's weights."""
    return [
        train(module, X, y, loss_fn, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), epochs),
        train(module, X, y, loss_fn, lambda p: torch.optim.Adam(p, lr=0.02), epochs),
    ]


def close(ours: np.ndarray, reference: np.ndarray, rel: float = 1e-5) -> bool:
    return bool(np.all(np.abs(ours - reference) <= rel * np.abs(reference)))


def grid_points(alphas: np.ndarray, betas: np.ndarray) -> np.ndarray:
    a, b = np.meshgrid(alphas, betas)
    return np.stack([a.ravel(), b.ravel()], axis=1)


@pytest.mark.parametrize(
    ("widths", "activation", "dtype"),
    [([32], "tanh", torch.float64), ([8, 6], "relu", torch.float64), ([16], "gelu", torch.float32)],
)
def test_fast_grid_equals_the_serial_loop_for_an_mlp(widths, activation, dtype) -> None:
    X, y = digits_like(dtype=dtype)
    net = build_mlp(64, widths, 10, activation, 0, dtype)
    assert L.affine_chain(net) is not None
    origin = L.flatten(list(net.parameters()))
    directions = L.random_directions(list(net.parameters()), 3)
    alphas, betas = np.linspace(-1.5, 1.0, 7), np.linspace(-0.5, 2.0, 5)
    # A small chunk so that several chunks and a ragged last one are exercised.
    grid = L.grid_losses(net, CE, X, y, origin, directions, alphas, betas, chunk_bytes=20_000)
    serial = L.plane_losses_serial(net, CE, X, y, origin, directions, grid_points(alphas, betas))
    assert grid.shape == (5, 7)
    assert close(grid.ravel(), serial)
    # losses[j, i] is at (alphas[i], betas[j]).
    (corner,) = L.plane_losses_serial(
        net, CE, X, y, origin, directions, np.array([[alphas[6], betas[1]]])
    )
    assert grid[1, 6] == pytest.approx(corner, rel=1e-5)


def test_fast_grid_equals_the_serial_loop_for_regression_and_a_linear_model() -> None:
    X, _ = digits_like(examples=120, features=5)
    y = torch.randn(120, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    for widths in ([], [4]):
        net = build_mlp(5, widths, 1, "tanh", 0, torch.float64)
        origin = L.flatten(list(net.parameters()))
        directions = L.random_directions(list(net.parameters()), 0)
        directions[:, -1] = [0.3, -0.2]  # the output bias moves too
        points = np.random.default_rng(0).normal(size=(23, 2))
        ours = L.plane_losses(net, MSE, X, y, origin, directions, points)
        assert close(ours, L.plane_losses_serial(net, MSE, X, y, origin, directions, points))


def test_fast_grid_equals_the_serial_loop_without_biases_and_after_an_output_activation() -> None:
    X, y = digits_like(examples=90, features=12, classes=4)
    torch.manual_seed(0)
    for net in (
        nn.Sequential(
            nn.Linear(12, 6, dtype=torch.float64),
            nn.Tanh(),
            nn.Linear(6, 4, bias=False, dtype=torch.float64),
        ),
        nn.Sequential(nn.Linear(12, 4, bias=False, dtype=torch.float64), nn.Sigmoid()),
    ):
        assert L.affine_chain(net) is not None
        origin = L.flatten(list(net.parameters()))
        directions = L.random_directions(list(net.parameters()), 0)
        points = np.random.default_rng(1).normal(size=(13, 2))
        ours = L.plane_losses(net, CE, X, y, origin, directions, points, chunk_bytes=10_000)
        assert close(ours, L.plane_losses_serial(net, CE, X, y, origin, directions, points))


class Residual(nn.Module):
    """A custom forward: the fast path does not apply."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(6, 6, dtype=torch.float64)
        self.b = nn.Linear(6, 3, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(x + torch.sin(self.a(x)))


class Branching(Residual):
    """A forward that branches on its data, which ``vmap`` cannot run."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.b(x + torch.sin(self.a(x)))
        return out if float(out.sum()) > 0 else -out


@pytest.mark.parametrize("kind", [Residual, Branching])
def test_generic_grid_equals_the_serial_loop(kind: type[nn.Module]) -> None:
    torch.manual_seed(0)
    net = kind()
    assert L.affine_chain(net) is None
    X, y = digits_like(examples=50, features=6, classes=3)
    origin = L.flatten(list(net.parameters()))
    directions = L.random_directions(list(net.parameters()), 1)
    alphas, betas = np.linspace(-1, 1, 5), np.linspace(-2, 2, 4)
    grid = L.grid_losses(net, CE, X, y, origin, directions, alphas, betas)
    serial = L.plane_losses_serial(net, CE, X, y, origin, directions, grid_points(alphas, betas))
    assert close(grid.ravel(), serial)
    # The module's own weights are untouched.
    assert np.array_equal(L.flatten(list(net.parameters())), origin)


def test_a_sequential_that_shares_a_layer_takes_the_generic_path() -> None:
    shared = nn.Linear(4, 4, dtype=torch.float64)
    net = nn.Sequential(shared, nn.Tanh(), shared)
    assert L.affine_chain(net) is None
    X, y = digits_like(examples=30, features=4, classes=4)
    origin = L.flatten(list(net.parameters()))
    directions = L.random_directions(list(net.parameters()), 0)
    points = np.array([[0.5, -0.5], [1.0, 2.0]])
    ours = L.plane_losses(net, CE, X, y, origin, directions, points)
    assert close(ours, L.plane_losses_serial(net, CE, X, y, origin, directions, points))


def test_pca_directions_match_numpys_svd_and_every_path_starts_at_the_origin() -> None:
    X, y = digits_like(examples=80, features=8, classes=3)
    net = build_mlp(8, [5], 3, "tanh", 0, torch.float64)
    paths = race_paths(net, X, y, CE)
    origin = paths[0][0]
    displacements = np.vstack([p - origin for p in paths])
    directions, explained = L.pca_directions(displacements)
    assert np.allclose(directions @ directions.T, np.eye(2), atol=1e-12)
    _, sigma, vt = np.linalg.svd(displacements, full_matrices=False)
    assert np.allclose(explained, sigma[:2] ** 2 / (sigma**2).sum(), rtol=1e-10)
    assert 0 < explained.sum() <= 1 and explained[0] >= explained[1]
    for k in range(2):
        assert np.allclose(np.abs(directions[k] @ vt[k]), 1.0, atol=1e-10)
        along = displacements @ directions[k]
        assert along[np.argmax(np.abs(along))] > 0  # the documented sign
    for path in paths:
        coords = L.coordinates(path - origin, directions)
        assert np.array_equal(coords[0], [0.0, 0.0])
        assert L.off_plane(path - origin, directions, coords)[0] == 0.0


def test_pca_of_more_rows_than_weights_matches_numpys_svd() -> None:
    d = np.random.default_rng(0).normal(size=(40, 5)) * [5.0, 3.0, 1.0, 0.5, 0.1]
    directions, explained = L.pca_directions(d)
    _, sigma, vt = np.linalg.svd(d, full_matrices=False)
    assert np.allclose(np.abs(np.sum(directions * vt[:2], axis=1)), 1.0, atol=1e-12)
    assert np.allclose(explained, sigma[:2] ** 2 / (sigma**2).sum(), rtol=1e-12)


def test_pca_of_a_path_on_a_line_gives_an_orthogonal_second_direction_explaining_nothing() -> None:
    line = np.array([1.0, -2.0, 0.5, 3.0])
    d = np.outer(np.linspace(0, 2, 9), line)
    directions, explained = L.pca_directions(d)
    assert np.allclose(directions @ directions.T, np.eye(2), atol=1e-12)
    assert np.allclose(directions[0], line / np.linalg.norm(line), atol=1e-12)
    assert explained.tolist() == pytest.approx([1.0, 0.0])
    assert explained[1] == 0.0
    again, _ = L.pca_directions(d)
    assert np.array_equal(again, directions)
    one, share = L.pca_directions(np.array([[0.0, -2.0]]))
    assert one.tolist() == [[0.0, -1.0], [1.0, 0.0]] and share.tolist() == [1.0, 0.0]
    still, nothing = L.pca_directions(np.zeros((3, 4)))
    assert np.array_equal(still, np.eye(2, 4)) and nothing.tolist() == [0.0, 0.0]


def test_a_two_parameter_model_lies_on_its_plane() -> None:
    X = torch.linspace(-1, 1, 40, dtype=torch.float64)[:, None]
    y = 3 * X[:, 0] - 0.5
    net = nn.Sequential(nn.Linear(1, 1, dtype=torch.float64))
    paths = race_paths(net, X, y, MSE, epochs=20)
    origin = paths[0][0]
    displacements = np.vstack([p - origin for p in paths])
    for directions in (
        L.pca_directions(displacements)[0],
        L.endpoint_directions(origin, paths[0][-1], paths[1][-1]),
    ):
        coords = L.coordinates(displacements, directions)
        assert np.abs(L.off_plane(displacements, directions, coords)).max() < 1e-10
        true = []
        for theta in np.vstack(paths):
            w = torch.from_numpy(theta)
            true.append(float(MSE(X @ w[:1, None] + w[1], y)))
        on_plane = L.plane_losses(net, MSE, X, y, origin, directions, coords)
        assert np.allclose(on_plane, true, rtol=1e-10, atol=1e-14)


def test_filter_normalisation_holds_row_by_row() -> None:
    params = [
        torch.randn(5, 3, dtype=torch.float64),
        torch.randn(5, dtype=torch.float64),
        torch.randn(4, 3, 2, 2, dtype=torch.float32),
        torch.zeros(2, 6),
        torch.randn(4, dtype=torch.float32),
    ]
    params[3][1] = 1.0
    state = torch.random.get_rng_state()
    directions = L.random_directions(params, 7)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert directions.shape == (2, sum(p.numel() for p in params))
    for row in directions:
        for part, p in zip(
            L.unflatten(torch.from_numpy(row), L.shapes(params)), params, strict=True
        ):
            if p.dim() == 1:
                assert torch.count_nonzero(part) == 0
            else:
                want = p.double().reshape(len(p), -1).norm(dim=1)
                got = part.reshape(len(p), -1).norm(dim=1)
                assert torch.allclose(got, want, rtol=1e-12, atol=0)
    assert not np.allclose(directions[0], directions[1])
    assert np.array_equal(L.random_directions(params, 7), directions)
    assert not np.array_equal(L.random_directions(params, 8), directions)


def test_endpoints_put_the_two_racers_at_one_zero_and_zero_one() -> None:
    X, y = digits_like(examples=60, features=6, classes=3)
    net = build_mlp(6, [4], 3, "tanh", 0, torch.float64)
    a, b = race_paths(net, X, y, CE)
    origin = a[0]
    directions = L.endpoint_directions(origin, a[-1], b[-1])
    coords = L.coordinates(np.stack([a[-1], b[-1], a[0]]) - origin, directions)
    assert np.allclose(coords, [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], atol=1e-10)
    with pytest.raises(ValueError, match="one line"):
        L.endpoint_directions(origin, a[-1], origin + 2 * (a[-1] - origin))
    with pytest.raises(ValueError, match="where it started"):
        L.endpoint_directions(origin, a[-1], origin)


def test_least_squares_recovers_the_coordinates_of_a_point_on_the_plane() -> None:
    rng = np.random.default_rng(3)
    directions = rng.normal(size=(2, 50)) * [[1.0], [0.01]]
    assert not L.orthonormal(directions)
    want = np.array([[0.3, -1.7], [120.0, 4e4], [0.0, 0.0]])
    coords = L.coordinates(want @ directions, directions)
    assert np.allclose(coords, want, rtol=1e-10, atol=1e-12)
    assert np.abs(L.off_plane(want @ directions, directions, coords)).max() < 1e-10
    # Off the plane: the distance over the length.
    normal = rng.normal(size=50)
    normal -= np.linalg.lstsq(directions.T, normal, rcond=None)[0] @ directions
    point = 0.3 * directions[0] + normal
    off = L.off_plane(point[None], directions, L.coordinates(point[None], directions))
    assert off[0] == pytest.approx(np.linalg.norm(normal) / np.linalg.norm(point), rel=1e-9)


def test_grid_axes_cover_the_start_and_every_finite_point_with_a_margin() -> None:
    coords = np.array([[0.0, 0.0], [2.0, 0.5], [3.0, 1.0], [np.nan, 50.0], [np.inf, 0.0]])
    alphas, betas = L.grid_axes(coords, 41)
    assert len(alphas) == len(betas) == 41 and np.all(np.diff(alphas) > 0)
    assert alphas[0] == pytest.approx(-0.45) and alphas[-1] == pytest.approx(3.45)
    assert betas[0] == pytest.approx(-0.15) and betas[-1] == pytest.approx(1.15)
    # A path that barely leaves the first direction still gets some height.
    _, thin = L.grid_axes(np.array([[0.0, 0.0], [1.0, 1e-9]]), 5)
    assert thin[-1] - thin[0] >= 0.1
    # A path that never moves: a square around the start.
    still = L.grid_axes(np.zeros((3, 2)), 3)
    assert [a.tolist() for a in still] == [[-1.3, 0.0, 1.3], [-1.3, 0.0, 1.3]]
    span = ((-1.0, 2.0), (0.5, 1.5))
    given = L.grid_axes(coords, 4, span)
    assert given[0].tolist() == [-1.0, 0.0, 1.0, 2.0] and given[1][[0, -1]].tolist() == [0.5, 1.5]


def test_subset_is_seeded_fixed_and_capped() -> None:
    X = torch.arange(6000.0)[:, None]
    y = torch.arange(6000)
    sx, sy = L.subset(X, y, None, 0)
    assert len(sx) == L.GRID_EXAMPLES and torch.equal(sx[:, 0].long(), sy)
    assert torch.equal(L.subset(X, y, None, 0)[1], sy)
    assert not torch.equal(L.subset(X, y, None, 1)[1], sy)
    assert L.subset(X, y, 10_000, 0)[0] is X
