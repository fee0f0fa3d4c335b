"""A model race's plane: its directions (PCA of the paths, two racers' ends, or
filter-normalised random), a point's coordinates and distance from it, the grid's
axes, and the training loss over it.

Weights are flattened into one float64 vector in ``module.parameters()`` order; a
point ``(a, b)`` of the plane is the weights ``origin + a * directions[0] + b *
directions[1]``. The losses are those of ``torch.func.functional_call`` at each
point (``plane_losses_serial``), computed faster for an ``nn.Sequential`` of
``Linear`` layers and elementwise activations (``plane_losses``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from optrace.problems.networks import LOSSES, LossFn
from optrace.spec import training

#: ``subset``'s default: the grid averages over at most this many training examples.
GRID_EXAMPLES = training.GRID_EXAMPLES
#: ``grid_axes``: the margin beyond the paths on each side, as a share of their extent.
MARGIN = 0.15
#: ``grid_axes``: each axis spans at least this share of the other's extent.
MIN_SHARE = 0.1
#: A singular value squared at most this share of the largest one's is taken as zero.
RANK_TOL = 1e-20
#: Bytes of one chunk's hidden activations in the fast grid: small enough to stay in
#: cache, large enough that a chunk's few big operations outweigh their overhead.
CHUNK_BYTES = 8 << 20
#: Points per chunk of the generic (``vmap``) evaluation.
GENERIC_CHUNK = 16

#: Activations applied elementwise, so a chunk of points goes through them at once.
ELEMENTWISE: tuple[type[nn.Module], ...] = (
    nn.Tanh,
    nn.ReLU,
    nn.GELU,
    nn.Sigmoid,
    nn.SiLU,
    nn.ELU,
    nn.LeakyReLU,
    nn.Softplus,
    nn.Identity,
)

#: Activations applied in place to a chunk's own intermediate, sparing a copy.
IN_PLACE: dict[type[nn.Module], Callable[[torch.Tensor], torch.Tensor]] = {
    nn.Tanh: torch.tanh_,
    nn.ReLU: torch.relu_,
}


def flatten(params: Sequence[torch.Tensor]) -> np.ndarray:
    """Parameters as one float64 vector, in the order given.

    Args:
        params: Tensors, e.g. ``list(module.parameters())``.

    Returns:
        ``(P,)``: their entries, each tensor's in row-major order, one after another.

    Examples:
        >>> flatten([torch.ones(2, 2), torch.tensor([5.0])]).tolist()
        [1.0, 1.0, 1.0, 1.0, 5.0]
    """
    if not params:
        return np.zeros(0)
    return torch.cat([p.detach().reshape(-1).to(torch.float64) for p in params]).cpu().numpy()


def shapes(params: Sequence[torch.Tensor]) -> list[torch.Size]:
    """Each parameter's shape, for ``unflatten``.

    Examples:
        >>> shapes([torch.ones(2, 3), torch.ones(4)])
        [torch.Size([2, 3]), torch.Size([4])]
    """
    return [p.shape for p in params]


def unflatten(vector: torch.Tensor, sizes: Sequence[torch.Size]) -> list[torch.Tensor]:
    """A flat vector cut back into tensors of the given shapes (views of it).

    Args:
        vector: ``(P,)``, or ``(K, P)`` for K vectors at once (each tensor then
            gets a leading axis of K).
        sizes: The shapes, from ``shapes``; they must add up to ``P``.

    Returns:
        One tensor per shape.

    Examples:
        >>> parts = unflatten(torch.arange(5.0), [torch.Size([2, 2]), torch.Size([1])])
        >>> [t.tolist() for t in parts]
        [[[0.0, 1.0], [2.0, 3.0]], [4.0]]
    """
    lead = vector.shape[:-1]
    out, at = [], 0
    for size in sizes:
        count = size.numel()
        out.append(vector[..., at : at + count].reshape(*lead, *size))
        at += count
    if at != vector.shape[-1]:
        raise ValueError(f"{vector.shape[-1]} numbers do not fill shapes adding up to {at}")
    return out


def _other_unit(first: np.ndarray) -> np.ndarray:
    """A unit vector orthogonal to the unit vector ``first``: the coordinate axis
    ``first`` leans on least (the first such), less its component along ``first``."""
    axis = int(np.argmin(np.abs(first)))
    other = -first[axis] * first
    other[axis] += 1.0
    unit: np.ndarray = other / np.linalg.norm(other)
    return unit


def pca_directions(displacements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two directions through the origin that fit the displacements best.

    The top two right singular vectors of the matrix of displacements, not mean
    centred (the plane passes through the start). Found from the Gram matrix on
    the smaller side, then refined by one Rayleigh-Ritz step on a few leading
    vectors, so the cost is ``O(min(R, P)^2 max(R, P))`` and the directions as
    exact as an SVD's.

    Each direction's sign is fixed so that the displacement reaching furthest
    along it (the largest absolute coordinate; the first of equals) has a
    positive coordinate. When the displacements span fewer than two dimensions
    the missing direction is a unit vector orthogonal to the other (the
    coordinate axis it leans on least, orthogonalised), with ``explained`` 0;
    with none at all, the first two coordinate axes.

    Args:
        displacements: ``(R, P)``: every racer's ``theta_t - theta_0`` at every
            epoch, stacked; ``P >= 2``.

    Returns:
        ``directions (2, P)``, orthonormal, and ``explained (2,)``: each one's
        squared singular value over the sum of all of them (the squared
        Frobenius norm).

    Examples:
        >>> d = np.array([[3.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
        >>> directions, explained = pca_directions(d)
        >>> directions.tolist(), explained.tolist()
        ([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]], [0.9, 0.1])
    """
    d = np.asarray(displacements, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] < 2:
        raise ValueError(f"displacements must be (R, P) with P >= 2, not {d.shape}")
    largest = float(np.abs(d).max()) if d.size else 0.0
    if np.isfinite(largest) and largest > 0:
        # Scaled by a power of two (exactly), so that weights that grew to 1e154
        # do not overflow the squares; the directions and the shares are the same.
        d = d / _power_of_two(largest)
    total = float(np.einsum("ij,ij->", d, d))
    rows, size = d.shape
    if total == 0.0 or not np.isfinite(total):
        if not np.isfinite(total):
            raise ValueError("displacements must be finite")
        return np.eye(2, size), np.zeros(2)
    keep = min(rows, size, 6)
    # The leading right singular vectors, roughly: from the Gram matrix's eigenvectors.
    if rows <= size:
        _, u = np.linalg.eigh(d @ d.T)
        basis = d.T @ u[:, ::-1][:, :keep]
    else:
        _, v = np.linalg.eigh(d.T @ d)
        basis = v[:, ::-1][:, :keep]
    # Rayleigh-Ritz on that subspace: the Gram matrix squares the condition number,
    # the SVD of d restricted to the subspace does not.
    q, _ = np.linalg.qr(basis)
    _, sigma, vt = np.linalg.svd(d @ q, full_matrices=False)
    directions = (q @ vt.T).T[:2]
    squares = np.zeros(2)
    squares[: len(sigma[:2])] = sigma[:2] ** 2
    directions = np.vstack([directions, np.zeros((2 - len(directions), size))])
    if squares[1] <= RANK_TOL * squares[0]:
        squares[1] = 0.0
        directions[1] = _other_unit(directions[0])
    for k in range(2):
        directions[k] /= np.linalg.norm(directions[k])
        along = d @ directions[k]
        if squares[k] > 0 and along[int(np.argmax(np.abs(along)))] < 0:
            directions[k] = -directions[k]
    return directions, squares / total


def endpoint_directions(origin: np.ndarray, end_a: np.ndarray, end_b: np.ndarray) -> np.ndarray:
    """The plane through the origin and two racers' final points.

    Args:
        origin: ``(P,)``: the initial weights.
        end_a: ``(P,)``: racer a's final weights, which land at ``(1, 0)``.
        end_b: ``(P,)``: racer b's, at ``(0, 1)``.

    Returns:
        ``(2, P)``: the two displacements themselves, not orthonormalised.

    Raises:
        ValueError: If a racer did not move, or both moved along one line.

    Examples:
        >>> endpoint_directions(np.zeros(2), np.array([2.0, 0.0]), np.array([1.0, 1.0])).tolist()
        [[2.0, 0.0], [1.0, 1.0]]
    """
    a = np.asarray(end_a, dtype=np.float64) - origin
    b = np.asarray(end_b, dtype=np.float64) - origin
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if not (np.isfinite(na) and np.isfinite(nb)):
        raise ValueError("an endpoint racer's final weights are not finite")
    if na == 0.0 or nb == 0.0:
        raise ValueError("an endpoint racer ends where it started, so spans no direction")
    cosine = float(a @ b) / (na * nb)
    if 1.0 - abs(cosine) < 1e-12:
        raise ValueError("the endpoint racers end on one line through the start, so span no plane")
    return np.stack([a, b])


def random_directions(params: Sequence[torch.Tensor], seed: int) -> np.ndarray:
    """Two filter-normalised Gaussian directions (Li et al. 2018).

    As ``normalize_directions_for_weights`` with ``norm='filter'`` and
    ``ignore='biasbn'`` in tomgoldstein/loss-landscape: each direction draws a
    Gaussian tensor per parameter, then scales each slice along dim 0 of a
    parameter with two or more dimensions (a weight matrix's row, a convolution's
    filter) to the norm of the same slice of the parameter, and zeroes
    one-dimensional parameters (biases, norms). The draws are float64 from a
    ``torch.Generator`` seeded with ``seed``, so the global RNG is untouched.

    Args:
        params: The initial weights, e.g. ``list(module.parameters())``.
        seed: The generator's seed.

    Returns:
        ``(2, P)`` float64.

    Examples:
        >>> w = [torch.tensor([[3.0, 4.0], [0.0, 1.0]]), torch.ones(2)]
        >>> d = random_directions(w, 0)
        >>> np.linalg.norm(d[:, :4].reshape(2, 2, 2), axis=2).round(6).tolist()
        [[5.0, 1.0], [5.0, 1.0]]
        >>> d[:, 4:].tolist()
        [[0.0, 0.0], [0.0, 0.0]]
    """
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(2):
        parts = []
        for p in params:
            draw = torch.randn(p.shape, generator=generator, dtype=torch.float64)
            if p.dim() <= 1:
                draw.zero_()
            else:
                weight = p.detach().to(torch.float64).reshape(p.shape[0], -1)
                draw = draw.reshape(p.shape[0], -1)
                scale = weight.norm(dim=1) / draw.norm(dim=1)
                draw = draw * torch.nan_to_num(scale, nan=0.0, posinf=0.0)[:, None]
            parts.append(draw.reshape(-1))
        rows.append(torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64))
    return torch.stack(rows).numpy()


def orthonormal(directions: np.ndarray, tol: float = 1e-10) -> bool:
    """Whether the rows of ``directions`` are orthonormal (within ``tol``).

    Examples:
        >>> orthonormal(np.eye(2, 3)), orthonormal(np.array([[1.0, 0.0], [1.0, 1.0]]))
        (True, False)
    """
    gram = directions @ directions.T
    return bool(np.abs(gram - np.eye(len(directions))).max() <= tol)


def coordinates(displacements: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Where displacements from the origin land on the plane.

    Args:
        displacements: ``(R, P)``: ``theta - origin`` per row.
        directions: ``(2, P)``.

    Returns:
        ``(R, 2)``: the dot products with the directions when they are
        orthonormal, else the least-squares coordinates (the plane's point nearest
        each displacement).

    Examples:
        >>> coordinates(np.array([[3.0, 2.0, 7.0]]), np.eye(2, 3)).tolist()
        [[3.0, 2.0]]
        >>> skew = np.array([[1.0, 0, 0], [1.0, 1.0, 0]])
        >>> coordinates(np.array([[3.0, 2.0, 7.0]]), skew).round(9).tolist()
        [[1.0, 2.0]]
    """
    d = np.atleast_2d(np.asarray(displacements, dtype=np.float64))
    if orthonormal(directions):
        dots: np.ndarray = d @ directions.T
        return dots
    solution, *_ = np.linalg.lstsq(directions.T, d.T, rcond=None)
    return np.asarray(solution.T)


def _power_of_two(value: Any) -> Any:
    """The power of two at or below ``value`` (positive, finite): dividing by it is exact."""
    return np.exp2(np.floor(np.log2(value)))


def off_plane(displacements: np.ndarray, directions: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Each displacement's distance from its point on the plane, over its length.

    Args:
        displacements: ``(R, P)``.
        directions: ``(2, P)``.
        coords: ``(R, 2)``, from ``coordinates``.

    Returns:
        ``(R,)``: ``||d - coords @ directions|| / ||d||``; 0 where ``d`` is 0.

    Examples:
        >>> d = np.array([[3.0, 0.0, 4.0], [0.0, 0.0, 0.0]])
        >>> off_plane(d, np.eye(2, 3), coordinates(d, np.eye(2, 3))).tolist()
        [0.8, 0.0]
    """
    d = np.atleast_2d(np.asarray(displacements, dtype=np.float64))
    # Each row scaled by its largest element, so that huge weights do not overflow.
    largest = np.abs(d).max(axis=1, keepdims=True) if d.size else np.ones((len(d), 1))
    usable = (largest > 0) & np.isfinite(largest)
    scale = np.where(usable, _power_of_two(np.where(usable, largest, 1.0)), 1.0)
    residual = np.linalg.norm((d - coords @ directions) / scale, axis=1)
    length = np.linalg.norm(d / scale, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(length > 0, residual / np.where(length > 0, length, 1.0), 0.0)


def grid_axes(
    coords: np.ndarray,
    grid: int,
    span: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The grid's two axes: ``grid`` evenly spaced values each.

    Without ``span``, each axis covers the origin and every finite path point,
    widened to at least ``MIN_SHARE`` of the other axis's extent (a path that
    barely leaves one direction still gets a readable picture; a path that never
    moves gets ``[-1, 1]``), plus ``MARGIN`` of its extent on each side.

    Args:
        coords: ``(R, 2)``: the paths' plane coordinates.
        grid: Values per axis, at least 2.
        span: ``((alpha_lo, alpha_hi), (beta_lo, beta_hi))`` to use instead.

    Returns:
        ``(alphas, betas)``, each ``(grid,)``, increasing.

    Examples:
        >>> alphas, betas = grid_axes(np.array([[0.0, 0.0], [1.0, 0.5]]), 3)
        >>> alphas.round(9).tolist(), betas.round(9).tolist()
        ([-0.15, 0.5, 1.15], [-0.075, 0.25, 0.575])
    """
    if grid < 2:
        raise ValueError(f"a grid needs at least 2 points per axis, not {grid}")
    if span is None:
        points = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
        points = np.vstack([points[np.isfinite(points).all(axis=1)], np.zeros((1, 2))])
        lo, hi = points.min(axis=0), points.max(axis=0)
        extent = hi - lo
        widest = float(extent.max())
        if widest == 0.0:
            lo, hi, extent, widest = lo - 1.0, hi + 1.0, extent + 2.0, 2.0
        grow = np.maximum(MIN_SHARE * widest - extent, 0.0)
        lo, hi = lo - grow / 2, hi + grow / 2
        extent = hi - lo
        lo, hi = lo - MARGIN * extent, hi + MARGIN * extent
        span = ((float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])))
    (a0, a1), (b0, b1) = span
    if not (a0 < a1 and b0 < b1):
        raise ValueError(f"a span's ranges must increase, not {span}")
    return np.linspace(a0, a1, grid), np.linspace(b0, b1, grid)


def subset(
    X: torch.Tensor, y: torch.Tensor, examples: int | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, seeded subset of the training examples for the grid.

    Args:
        X: ``(N, ...)`` inputs.
        y: ``(N, ...)`` targets.
        examples: How many to keep; None for all of them up to ``GRID_EXAMPLES``.
        seed: Seeds the choice (a ``torch.Generator``; the global RNG is untouched).

    Returns:
        ``(X, y)`` themselves when they are no more than asked for, else the chosen
        examples in their original order.

    Examples:
        >>> X, y = subset(torch.arange(10.0)[:, None], torch.arange(10), 3, 0)
        >>> len(X), bool((X[:, 0].long() == y).all()), bool((y.diff() > 0).all())
        (3, True, True)
    """
    keep = GRID_EXAMPLES if examples is None else examples
    if keep < 1:
        raise ValueError(f"the grid needs at least one example, not {keep}")
    if len(X) <= keep:
        return X, y
    chosen = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))[:keep]
    chosen = chosen.sort().values.to(X.device)
    return X[chosen], y[chosen]


def _dtype(module: nn.Module) -> torch.dtype:
    """The dtype the module's weights (and so the grid) work in."""
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float64


def plane_losses_serial(
    module: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    origin: np.ndarray,
    directions: np.ndarray,
    points: np.ndarray,
) -> np.ndarray:
    """The training loss at each point of the plane, one ``functional_call`` at a time.

    The reference that ``plane_losses`` is checked against; works for any module.

    Args:
        module: The architecture; its own weights are not used or changed.
        loss_fn: ``loss_fn(output, y)`` -> a scalar.
        X: The inputs.
        y: The targets.
        origin: ``(P,)``.
        directions: ``(2, P)``.
        points: ``(K, 2)``: ``(a, b)`` per point.

    Returns:
        ``(K,)`` float64: the loss with weights ``origin + a d1 + b d2``, computed
        in the module's dtype.
    """
    names = [name for name, _ in module.named_parameters()]
    sizes = shapes(list(module.parameters()))
    dtype = _dtype(module)
    out = np.empty(len(points))
    with torch.no_grad():
        for k, (a, b) in enumerate(np.asarray(points, dtype=np.float64).reshape(-1, 2)):
            weights = torch.from_numpy(origin + a * directions[0] + b * directions[1])
            tensors = unflatten(weights.to(dtype), sizes)
            output = functional_call(module, dict(zip(names, tensors, strict=True)), (X,))
            out[k] = float(loss_fn(output, y))
    return out


def affine_chain(module: nn.Module) -> tuple[nn.Module, ...] | None:
    """The layers of a module the fast grid can evaluate, or None.

    The fast grid takes an ``nn.Sequential`` (exactly, not a subclass with its own
    forward) of ``nn.Linear`` layers and elementwise activations (``ELEMENTWISE``),
    without hooks, whose parameters are all the Linear layers' own, unshared.

    Examples:
        >>> len(affine_chain(nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1))))
        3
        >>> affine_chain(nn.Linear(3, 2)) is None
        True
    """
    if type(module) is not nn.Sequential:
        return None
    layers = tuple(module)  # children() would hide a layer that appears twice
    counted = 0
    for layer in (module, *layers):
        if layer._forward_hooks or layer._forward_pre_hooks:
            return None
    for layer in layers:
        if type(layer) is nn.Linear:
            counted += 1 + (layer.bias is not None)
        elif type(layer) not in ELEMENTWISE:
            return None
    if counted != len(list(module.parameters())) or not any(
        type(layer) is nn.Linear for layer in layers
    ):
        return None
    return layers


#: A batch of outputs ``(C, N, O)`` and the targets in, ``(C,)`` losses out.
BatchedLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _cross_entropy(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # Classes on dim 1 is torch's fast layout for a few classes over many examples.
    chunk, examples = outputs.shape[:2]
    per = nn.functional.cross_entropy(
        outputs.transpose(1, 2), y.expand(chunk, examples), reduction="none"
    )
    return per.mean(dim=1)


def _mse(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    chunk, examples = outputs.shape[:2]
    per = nn.functional.mse_loss(outputs.squeeze(-1), y.expand(chunk, examples), reduction="none")
    return per.mean(dim=1)


def _batched_loss(loss_fn: LossFn, y: torch.Tensor, classes: int) -> BatchedLoss:
    """``loss_fn`` over a chunk of points' outputs at once: the known losses in one
    call each, any other by ``vmap`` (or, if that fails, one call per point)."""
    plain_ce = isinstance(loss_fn, nn.CrossEntropyLoss) and (
        loss_fn.weight is None and loss_fn.reduction == "mean" and loss_fn.label_smoothing == 0.0
    )
    if (loss_fn is nn.functional.cross_entropy or plain_ce) and (
        y.dim() == 1 and not y.is_floating_point() and bool(((y >= 0) & (y < classes)).all())
    ):
        return _cross_entropy
    if loss_fn is LOSSES["mse"] and y.dim() == 1 and y.is_floating_point():
        return _mse

    def each(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        try:
            result: torch.Tensor = torch.vmap(lambda o: loss_fn(o, target))(outputs)
            return result
        except Exception:
            return torch.stack([loss_fn(o, target) for o in outputs])

    return each


def _chain_losses(
    layers: tuple[nn.Module, ...],
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    origin: torch.Tensor,
    directions: torch.Tensor,
    points: torch.Tensor,
    chunk_bytes: int,
) -> torch.Tensor:
    """The fast grid over a chain of Linear layers and elementwise activations.

    Until the first activation the output is affine in ``(a, b)``: a Linear layer
    of a point-independent input ``H`` gives ``H W0^T + b0 + a (H D1^T + e1) + b (H
    D2^T + e2)``, three matrices computed once. From there each chunk of points
    combines them with ``[1, a, b]`` in one matrix product, applies the
    activation to the whole chunk, and each later Linear layer multiplies by its
    per-point weights, formed the same way, in one batched product.
    """
    stacked = torch.stack([origin, directions[0], directions[1]])  # (3, P)
    # Per Linear layer: weights (3, out, in) and bias (3, out) of origin, d1, d2.
    params: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    at = 0
    for layer in layers:
        if isinstance(layer, nn.Linear):
            count = layer.weight.numel()
            weight = stacked[:, at : at + count].reshape(3, *layer.weight.shape)
            at += count
            bias = None
            if layer.bias is not None:
                bias = stacked[:, at : at + layer.out_features]
                at += layer.out_features
            params.append((weight, bias))
    # The point-independent head of the chain: parameter-free layers on X, then the
    # first Linear's three parts.
    first = next(i for i, layer in enumerate(layers) if isinstance(layer, nn.Linear))
    h = X
    for layer in layers[:first]:
        h = layer(h)
    weight, bias = params[0]
    rows = h.reshape(-1, h.shape[-1])
    parts = torch.einsum("ni,koi->kno", rows, weight)
    if bias is not None:
        parts = parts + bias[:, None, :]
    examples, width = parts.shape[1], parts.shape[2]
    parts = parts.reshape(3, -1)
    widest = max(width, *(w.shape[1] for w, _ in params))
    per_point = examples * widest * parts.element_size()
    chunk = max(1, min(len(points), chunk_bytes // max(per_point, 1)))
    batched = _batched_loss(loss_fn, y, params[-1][0].shape[1])
    ones = torch.ones(len(points), 1, dtype=points.dtype)
    coefficients = torch.cat([ones, points], dim=1)  # (K, 3)
    out = []
    for start in range(0, len(points), chunk):
        c = coefficients[start : start + chunk]
        z = (c @ parts).view(len(c), examples, width)
        linear = 1
        for at, layer in enumerate(layers[first + 1 :], start=first + 1):
            if isinstance(layer, nn.Linear):
                weight, bias = params[linear]
                linear += 1
                w = (c @ weight.reshape(3, -1)).view(len(c), *weight.shape[1:])
                if at == len(layers) - 1 and batched is _cross_entropy:
                    # Classes first, as the cross-entropy reads them, without a copy.
                    z = (
                        torch.bmm(w, z.transpose(1, 2))
                        if bias is None
                        else torch.baddbmm((c @ bias)[:, :, None], w, z.transpose(1, 2))
                    ).transpose(1, 2)
                elif bias is None:
                    z = torch.bmm(z, w.transpose(1, 2))
                else:
                    z = torch.baddbmm((c @ bias)[:, None, :], z, w.transpose(1, 2))
            elif type(layer) in IN_PLACE:
                z = IN_PLACE[type(layer)](z)  # z is this chunk's own intermediate
            else:
                z = layer(z)
        out.append(batched(z.reshape(len(c), *h.shape[:-1], z.shape[-1]), y))
    return torch.cat(out)


def _generic_losses(
    module: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    origin: torch.Tensor,
    directions: torch.Tensor,
    points: torch.Tensor,
) -> torch.Tensor | None:
    """Any module's losses by ``vmap`` of ``functional_call`` over chunks of points;
    None if the module or loss does not run under ``vmap``."""
    names = [name for name, _ in module.named_parameters()]
    sizes = shapes(list(module.parameters()))

    def one(weights: torch.Tensor) -> torch.Tensor:
        tensors = dict(zip(names, unflatten(weights, sizes), strict=True))
        loss: torch.Tensor = loss_fn(functional_call(module, tensors, (X,)), y)
        return loss

    out = []
    try:
        for start in range(0, len(points), GENERIC_CHUNK):
            c = points[start : start + GENERIC_CHUNK]
            weights = origin + c[:, :1] * directions[0] + c[:, 1:] * directions[1]
            out.append(torch.vmap(one)(weights))
    except Exception:
        return None
    return torch.cat(out)


def plane_losses(
    module: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    origin: np.ndarray,
    directions: np.ndarray,
    points: np.ndarray,
    chunk_bytes: int = CHUNK_BYTES,
) -> np.ndarray:
    """The training loss at each point of the plane, as ``plane_losses_serial``
    computes it, faster.

    A chain of Linear layers and elementwise activations (``affine_chain``) is
    evaluated a chunk of points at a time, sharing the first layer's products;
    any other module by ``vmap`` over chunks, or point by point where ``vmap``
    cannot run it. Works in the module's dtype.

    Args:
        module: The architecture; its own weights are not used or changed.
        loss_fn: ``loss_fn(output, y)`` -> a scalar (a mean over the examples).
        X: The inputs.
        y: The targets.
        origin: ``(P,)``.
        directions: ``(2, P)``.
        points: ``(K, 2)``: ``(a, b)`` per point, e.g. the racers' coordinates.
        chunk_bytes: The fast path's working memory per chunk (its hidden
            activations).

    Returns:
        ``(K,)`` float64.

    Examples:
        >>> net = nn.Sequential(nn.Linear(1, 1, dtype=torch.float64))
        >>> X, y = torch.ones(4, 1, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
        >>> mse = lambda out, y: ((out[:, 0] - y) ** 2).mean()
        >>> plane_losses(net, mse, X, y, np.zeros(2), np.eye(2), np.array([[1.0, 2.0]])).tolist()
        [9.0]
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return np.zeros(0)
    dtype = _dtype(module)
    device = X.device
    o = torch.from_numpy(np.asarray(origin, dtype=np.float64)).to(device, dtype)
    d = torch.from_numpy(np.asarray(directions, dtype=np.float64)).to(device, dtype)
    p = torch.from_numpy(pts).to(device, dtype)
    with torch.no_grad():
        layers = affine_chain(module)
        if layers is not None:
            losses = _chain_losses(layers, loss_fn, X, y, o, d, p, chunk_bytes)
        else:
            found = _generic_losses(module, loss_fn, X, y, o, d, p)
            if found is None:
                return plane_losses_serial(module, loss_fn, X, y, origin, directions, pts)
            losses = found
    return losses.detach().to(torch.float64).cpu().numpy()


def grid_losses(
    module: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    origin: np.ndarray,
    directions: np.ndarray,
    alphas: np.ndarray,
    betas: np.ndarray,
    chunk_bytes: int = CHUNK_BYTES,
) -> np.ndarray:
    """The training loss over the grid ``alphas x betas`` (``plane_losses``).

    Args:
        module: The architecture.
        loss_fn: ``loss_fn(output, y)`` -> a scalar.
        X: The inputs.
        y: The targets.
        origin: ``(P,)``.
        directions: ``(2, P)``.
        alphas: ``(I,)``: the first direction's values.
        betas: ``(J,)``: the second's.
        chunk_bytes: As ``plane_losses``.

    Returns:
        ``(J, I)``: ``losses[j, i]`` at ``(alphas[i], betas[j])``.

    Examples:
        >>> net = nn.Sequential(nn.Linear(1, 1, bias=False, dtype=torch.float64))
        >>> X, y = torch.ones(3, 1, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
        >>> mse = lambda out, y: ((out[:, 0] - y) ** 2).mean()
        >>> grid_losses(net, mse, X, y, np.zeros(1), np.array([[1.0], [0.0]]),
        ...             np.array([1.0, 2.0, 3.0]), np.array([0.0, 5.0])).tolist()
        [[1.0, 4.0, 9.0], [1.0, 4.0, 9.0]]
    """
    a, b = np.meshgrid(np.asarray(alphas, np.float64), np.asarray(betas, np.float64))
    points = np.stack([a.ravel(), b.ravel()], axis=1)
    losses = plane_losses(module, loss_fn, X, y, origin, directions, points, chunk_bytes)
    return losses.reshape(len(betas), len(alphas))
