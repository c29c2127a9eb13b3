r"""Lower and upper bounds of an estimate, measured on the reference with the leave-one-chunk-out machinery.

An estimate :math:`\hat m` of a window's metric misses the realised :math:`m` for two reasons: the window's labels
are a random draw given the model's outputs (sampling error, shrinking as :math:`1/\sqrt{n}`), and the calibration
or nuisance model fitted on the reference is itself off (the calibration's own error: a noise part that shrinks with
the reference's size, and a systematic part that does not). Both are measured on the reference, the way the drift
thresholds measure their nulls (:func:`driftloop.thresholds.leave_one_chunk_out`):

1. the reference (row order) is cut into ``n_chunks`` contiguous chunks; for each, the calibration or nuisance
   model is refitted *without the chunk* (cross-fitting: a chunk is never judged by a model fitted on it);
2. ``draws`` samples are drawn from the chunk at the largest calibrated size (half the smallest chunk); the nested
   prefixes of each sample give samples at every smaller size of :func:`band_sizes` (a prefix of a uniform sample
   without replacement is one too), and for each the error :math:`d = m - \hat m` of every metric is recorded;
3. per size and metric, :math:`z = n_{\mathrm{eff}} d^2` is fitted by a scaled chi-squared
   :math:`c\,\chi^2_\nu` (:func:`driftloop.thresholds.fit_null`, power 2), with
   :math:`n_{\mathrm{eff}} = n_w n_r / (n_w + n_r)`: the window's label noise and the reference's calibration noise
   add up like a two-sample difference;
4. a window of :math:`n` rows uses the null of the largest calibrated size :math:`\le n` (the smallest below it),
   and its half-width is

   .. math:: h(n) = \sqrt{c\,\chi^2_\nu.\mathrm{isf}(1 - \gamma) / n_{\mathrm{eff}}(n, n_r)} + |\bar d|,

   at coverage :math:`\gamma` (default 0.95), where :math:`\bar d`, the mean error of the cross-fitted model at
   the largest size, is the calibration's systematic error, which more rows do not remove.

The bounds are :math:`\hat m \mp h(n)`, cut to the metric's range. ``tests/estimate`` checks the coverage: windows
drawn like the reference hold the realised metric inside the band at the stated rate. A window that moves to where
the reference had few rows adds the fitted model's error *there*, which the reference cannot measure: the band does
not claim to cover it (at the edge of a simulated regressor's inputs, DLE's MAE was 2.4 % low, outside its band).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats as _scipy_stats

from driftloop.errors import DriftloopError
from driftloop.thresholds import NullModel, chunk_bounds, effective_size, fit_null, leave_one_chunk_out

#: Smallest window size calibrated directly; smaller windows use its null scaled by the size law.
SMALLEST_SIZE = 32


def band_sizes(n_rows: int, n_chunks: int) -> list[int]:
    """Calibrated window sizes: powers of two from :data:`SMALLEST_SIZE` up to half the smallest chunk, and that.

    >>> band_sizes(10_000, 10)
    [32, 64, 128, 256, 500]
    """
    largest = min(b - a for a, b in chunk_bounds(n_rows, n_chunks)) // 2
    if largest < SMALLEST_SIZE:
        raise DriftloopError(f"Performance estimation needs a reference of at least {2 * SMALLEST_SIZE * n_chunks} "
                             f"labelled rows ({n_chunks} chunks of {2 * SMALLEST_SIZE}); got {n_rows}.")
    sizes = [1 << p for p in range(SMALLEST_SIZE.bit_length() - 1, largest.bit_length()) if (1 << p) < largest]
    return [*sizes, largest]


class ErrorBands:
    """Estimation errors measured on the reference and the half-widths they give at any window size.

    Parameters
    ----------
    metrics
        Names of the metrics, in the order of the last axis of ``errors``.
    sizes
        Calibrated sample sizes (:func:`band_sizes`), the middle axis of ``errors``.
    errors
        ``errors[i, s, j]``: realised minus estimated metric ``j`` in draw ``i`` at size ``sizes[s]``.
    n_reference
        Reference rows the estimator was fitted on (:math:`n_r`).
    n_chunks
        Chunks of the measurement.
    coverage
        Probability :math:`\\gamma` that the band holds the realised metric.
    n_measured
        Rows the errors were measured on (default ``n_reference``; fewer when the reference was thinned for the
        measurement): the reference-without-a-chunk then has :math:`n_m (1 - 1/\\text{n\\_chunks})` rows.
    """

    def __init__(self, metrics: Sequence[str], sizes: Sequence[int], errors: NDArray[np.float64], n_reference: int,
                 n_chunks: int, coverage: float, n_measured: int | None = None) -> None:
        self.metrics, self.sizes = tuple(metrics), tuple(int(s) for s in sizes)
        self.errors = np.asarray(errors, dtype=np.float64).reshape(-1, len(self.sizes), len(self.metrics))
        self.n_reference, self.n_chunks, self.coverage = int(n_reference), int(n_chunks), float(coverage)
        self.n_measured = self.n_reference if n_measured is None else int(n_measured)
        rest = self.n_measured * (1.0 - 1.0 / self.n_chunks)
        self.nulls: list[list[NullModel]] = [
            [fit_null(self.errors[:, s, j], np.full(len(self.errors), effective_size(size, rest)), power=2)
             for j in range(len(self.metrics))]
            for s, size in enumerate(self.sizes)
        ]
        # z* = c chi2_nu.isf(1 - coverage) of every null, once (a window then costs no distribution call)
        self.z_star = np.array([[null.scale * float(_scipy_stats.chi2.isf(1.0 - self.coverage, null.dof))
                                 for null in row] for row in self.nulls])
        with np.errstate(invalid="ignore"):
            last = self.errors[:, -1, :]
            self.bias = np.array([float(np.nanmean(last[:, j])) if np.isfinite(last[:, j]).any() else float("nan")
                                  for j in range(len(self.metrics))])

    def half_width(self, metric: str, n_window: int) -> float:
        """:math:`h(n)` of ``metric`` for a window of ``n_window`` rows (NaN when the reference measured nothing)."""
        j = self.metrics.index(metric)
        s = max([i for i, size in enumerate(self.sizes) if size <= n_window], default=0)
        n_eff = effective_size(n_window, self.n_reference)
        if not np.isfinite(self.nulls[s][j].scale) or n_eff <= 0:
            return float("nan")
        return float(np.sqrt(self.z_star[s, j] / n_eff) + abs(self.bias[j]))


def measure_errors(n_rows: int, prepare: Callable[[NDArray[np.intp]], Any],
                   errors_of: Callable[[Any, NDArray[np.intp]], Sequence[float]], metrics: Sequence[str], *,
                   n_chunks: int, draws: int, coverage: float, seed: int,
                   n_reference: int | None = None) -> ErrorBands:
    """Measure :class:`ErrorBands` by leave-one-chunk-out over the row indices ``0 .. n_rows - 1``.

    ``prepare(rest)`` refits on the rows ``rest`` (the rows without one chunk) and returns what
    ``errors_of(prepared, rows)`` needs to give, for the chunk's sample ``rows``, realised minus estimated value of
    every metric. ``n_reference`` (default ``n_rows``) is the size of the reference the final estimator is fitted
    on, when the measurement runs on a thinned part of it.
    """
    sizes = band_sizes(n_rows, n_chunks)

    def evaluate(prepared: Any, sample: NDArray[np.intp]) -> list[float]:
        return [e for size in sizes for e in errors_of(prepared, sample[:size])]

    null = leave_one_chunk_out(np.arange(n_rows), prepare, evaluate, n_chunks=n_chunks, draws=draws,
                               sample_size=sizes[-1], seed=seed)
    return ErrorBands(metrics, sizes, null.values, n_rows if n_reference is None else n_reference, n_chunks,
                      coverage, n_measured=n_rows)


def bounded(value: float, half_width: float, low: float, high: float) -> tuple[float, float]:
    """The band ``value`` :math:`\\mp` ``half_width``, cut to ``[low, high]``.

    >>> bounded(0.75, 0.5, 0.0, 1.0)
    (0.25, 1.0)
    """
    return max(low, value - half_width), min(high, value + half_width)
