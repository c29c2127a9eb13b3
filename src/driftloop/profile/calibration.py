"""Leave-one-chunk-out nulls for a profile's columns (the procedure itself is in :mod:`driftloop.thresholds.null`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from driftloop.profile.bins import bin_counts, quantile_edges
from driftloop.profile.columns import CategoricalColumn, NumericColumn
from driftloop.profile.statistics import Pair, Statistic, sorted_pair
from driftloop.thresholds import DriftThresholds, NullSample, chunk_bounds, leave_one_chunk_out, random_splits


def largest_size(column: NumericColumn | CategoricalColumn, policy: DriftThresholds) -> int:
    """Largest sample drawn from a chunk: half of the smallest chunk (so that draws differ), at least 1; 0 when the
    reference is too small to be cut into ``n_chunks`` chunks."""
    n = len(column.calibration)
    if n < 2 * policy.n_chunks:
        return 0
    smallest = min(b - a for a, b in chunk_bounds(n, policy.n_chunks))
    return max(1, smallest // 2)


def largest_split(column: NumericColumn | CategoricalColumn) -> int:
    """Largest window drawn by random splits of the calibration rows: half of them (0 below 2 rows)."""
    return len(column.calibration) // 2


def calibration_size(n_window: int, largest: int) -> int:
    """Size at which a window of ``n_window`` rows is calibrated: the largest power of two <= ``n_window``, capped at
    ``largest`` (beyond it, the size-scaling law takes over).

    >>> calibration_size(1000, 1250), calibration_size(10**6, 1250), calibration_size(1, 1250)
    (512, 1250, 1)
    """
    if n_window >= largest:
        return largest
    return 1 << (max(int(n_window), 1).bit_length() - 1)


def column_null(
    column: NumericColumn | CategoricalColumn,
    statistics: Sequence[Statistic],
    size: int,
    policy: DriftThresholds,
    n_bins: int,
    *,
    exchangeable: bool = False,
) -> NullSample:
    """Null of the column's distance ``statistics`` at ``size`` rows (one column of ``values`` per statistic).

    Leave-one-chunk-out (:func:`~driftloop.thresholds.leave_one_chunk_out`), or with ``exchangeable`` random splits
    of the calibration rows at ``size`` (:func:`~driftloop.thresholds.random_splits`, ``n_chunks * draws`` of them,
    as many as leave-one-chunk-out draws).

    Each comparison repeats what :meth:`ReferenceProfile.compare` does, with the reference-without-the-chunk in the
    reference's place: its own ``n_bins`` quantile bins (so that a draw, like a window, can fall below or above the
    range of the reference it is compared with: with the full reference's edges the underflow and overflow bins were
    always empty in the null, and the few window values beyond the reference's range that exchangeable data give
    were judged as drift). Wasserstein is scaled by the full reference's standard deviation, as the window's is.
    """
    seed = policy.seed
    if isinstance(column, NumericColumn):
        std = column.std

        def prepare(rest: NDArray[np.float64]) -> Any:
            ordered = np.sort(rest)
            edges = quantile_edges(ordered, n_bins)
            return ordered, edges, bin_counts(ordered, edges)

        def evaluate(prepared: Any, sample: NDArray[np.float64]) -> list[float]:
            ordered_rest, edges, rest_counts = prepared
            ordered = np.sort(sample)
            pair = sorted_pair(ordered_rest, ordered, rest_counts, bin_counts(ordered, edges), len(ordered_rest), std,
                               statistics)
            return [s.compute(pair)[0] for s in statistics]
    else:
        width = len(column.categories) + 1

        def prepare(rest: NDArray[np.int64]) -> Any:
            return np.bincount(rest, minlength=width)

        def evaluate(prepared: Any, sample: NDArray[np.int64]) -> list[float]:
            pair = Pair(None, None, prepared, np.bincount(sample, minlength=width), int(prepared.sum()), float("nan"))
            return [s.compute(pair)[0] for s in statistics]

    if exchangeable:
        return random_splits(np.sort(column.calibration), prepare, evaluate,
                             draws=policy.n_chunks * policy.draws, sample_size=size, seed=seed)
    return leave_one_chunk_out(
        column.calibration, prepare, evaluate,
        n_chunks=policy.n_chunks, draws=policy.draws, sample_size=size, seed=seed,
    )
