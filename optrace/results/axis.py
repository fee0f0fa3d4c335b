"""Traces laid out along gradient evaluations instead of epochs, for pictures that
follow the work each racer has done (``animation: {axis: evaluations}``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from optrace.results.trace import RaceResult, Trace

#: What the traces' last axis counts once laid out along evaluations.
EVALUATION = "evaluation"


def evaluations_spanned(result: RaceResult) -> int:
    """The evaluations a picture along them spans: the most any run used (with a
    budget, at least the budget; an LBFGS step may pass it)."""
    most = result.evaluations or 0
    for trace in [*result.traces, *(t for s in result.sweeps for t in s.traces)]:
        if trace.evaluations is not None:
            rows = np.arange(trace.x.shape[0])
            most = max(most, int(trace.evaluations[rows, trace.raced].max()))
    return most


def by_evaluations(result: RaceResult) -> RaceResult:
    """``result`` with one value per gradient evaluation ``k = 0, 1, ..., K``: where
    each run stood after its last step within ``k`` evaluations (an LBFGS step of 20
    evaluations holds its place for 20). A run that diverged is NaN from the count
    its diverging step reached; a run that ended sooner stands at its end.

    Examples:
        >>> import numpy as np
        >>> from optrace.results.trace import Trace
        >>> x = np.array([[0.0, 1.0, 2.0]])
        >>> trace = Trace("LBFGS", "LBFGS", {}, "b-", x, x**2,
        ...               evaluations=np.array([[0, 3, 5]]))
        >>> result = RaceResult("t", "x**2", (0.0, 2.0), x[0], x[0] ** 2, 2, (trace,))
        >>> by_evaluations(result).traces[0].x
        array([[0., 0., 0., 1., 1., 2.]])
    """
    spanned = evaluations_spanned(result)
    k = np.arange(spanned + 1)
    return replace(
        result,
        epochs=spanned,
        traces=tuple(_laid_out(trace, k) for trace in result.traces),
        sweeps=tuple(
            replace(s, traces=tuple(_laid_out(t, k) for t in s.traces)) for s in result.sweeps
        ),
        axis=EVALUATION,
    )


def steps_within(counts: np.ndarray, raced: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Per run and each count in ``k``, the last epoch (up to the run's end, ``raced``)
    whose cumulative evaluations ``counts`` are within it.

    Examples:
        >>> steps_within(np.array([[0, 3, 5]]), np.array([2]), np.arange(6))
        array([[0, 0, 0, 1, 1, 2]])
    """
    return np.stack(
        [
            np.searchsorted(counts[s, : raced[s] + 1], k, side="right") - 1
            for s in range(counts.shape[0])
        ]
    )


def _laid_out(trace: Trace, k: np.ndarray) -> Trace:
    runs = trace.x.shape[0]
    if trace.evaluations is None:
        counts = np.broadcast_to(np.arange(trace.x.shape[1]), trace.x.shape)
    else:
        counts = trace.evaluations
    raced = trace.raced
    at = steps_within(counts, raced, k)
    rows = np.arange(runs)[:, None]

    def along(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else values[rows, at]

    ends = counts[np.arange(runs), raced]
    return replace(
        trace,
        x=trace.x[rows, at],
        loss=trace.loss[rows, at],
        lr=along(trace.lr),
        y=along(trace.y),
        evaluations=counts[rows, at],
        steps=np.minimum(ends, k[-1]),
        plane_loss=along(trace.plane_loss),
        off_plane=along(trace.off_plane),
        test_loss=along(trace.test_loss),
        test_accuracy=along(trace.test_accuracy),
    )
