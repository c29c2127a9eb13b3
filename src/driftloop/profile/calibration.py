"""Leave-one-chunk-out nulls for a profile's columns (the procedure itself is in :mod:`driftloop.thresholds.null`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from driftloop.profile.bins import bin_counts
from driftloop.profile.columns import CategoricalColumn, NumericColumn
from driftloop.profile.statistics import Pair, Statistic, sorted_pair
from driftloop.thresholds import DriftThresholds, NullSample, chunk_bounds, leave_one_chunk_out


def largest_size(column: NumericColumn | CategoricalColumn, policy: DriftThresholds) -> int:
    """Largest sample drawn from a chunk: half of the smallest chunk (so that draws differ), at least 1; 0 when the
    reference is too small to be cut into ``n_chunks`` chunks."""
    n = len(column.calibration)
    if n < 2 * policy.n_chunks:
        return 0
    smallest = min(b - a for a, b in chunk_bounds(n, policy.n_chunks))
    return max(1, smallest // 2)


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
) -> NullSample:
    """Null of the column's distance ``statistics`` at ``size`` rows (one column of ``values`` per statistic)."""
    seed = policy.seed
    if isinstance(column, NumericColumn):
        edges, std = column.edges, column.std

        def prepare(rest: NDArray[np.float64]) -> Any:
            ordered = np.sort(rest)
            return ordered, bin_counts(ordered, edges)

        def evaluate(prepared: Any, sample: NDArray[np.float64]) -> list[float]:
            ordered_rest, rest_counts = prepared
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

    return leave_one_chunk_out(
        column.calibration, prepare, evaluate,
        n_chunks=policy.n_chunks, draws=policy.draws, sample_size=size, seed=seed,
    )
