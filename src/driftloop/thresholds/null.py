r"""Distance thresholds from a leave-one-chunk-out null measured on the reference itself.

A distance (PSI, Jensen–Shannon, Wasserstein, ...) has no p-value, and a fixed cut such as ``PSI > 0.1`` flags every
column of a large window while trusting a tiny one. driftloop measures instead how far the reference is from itself:

1. The calibration rows of a column (the reference in row order, thinned to at most ``max_rows`` by a stride, so
   that contiguous chunks keep the reference's own slow variation) are cut into ``n_chunks`` contiguous chunks.
2. For each chunk, ``draws`` samples of ``sample_size`` rows are drawn (without replacement) from that chunk and
   compared with the reference *without that chunk* — a chunk is never compared with a reference that contains it,
   which would shrink the null towards zero.
3. Under no drift, a distance :math:`d` of power :math:`a` (the exponent that makes it behave like a chi-squared:
   :math:`a=2` for KS, Wasserstein, Jensen–Shannon, Hellinger, total variation, energy; :math:`a=1` for PSI, KL)
   satisfies :math:`z = n_{\mathrm{eff}}\, d^{a} \approx c\,\chi^2_\nu` with
   :math:`n_{\mathrm{eff}} = n_w n_r / (n_w + n_r)`. :func:`fit_null` matches :math:`c` and :math:`\nu` to the
   mean and variance of the measured :math:`z` (Satterthwaite–Welch).
4. :func:`distance_threshold` returns, for a window of ``n_window`` rows against a reference of ``n_reference``
   rows, :math:`d^* = (z^*/n_{\mathrm{eff}})^{1/a}` with :math:`z^* = \max(c\,\chi^2_{\nu}.\mathrm{isf}(\ell),\ \max z)`
   at tail level :math:`\ell` — the size-scaling law :math:`d^* \propto n_{\mathrm{eff}}^{-1/a}`.

The scaling law is exact for sampling noise; the profile still calibrates directly at the window's size (rounded
down to a power of two) whenever a chunk is large enough to draw such a window, so small windows are judged
by a null measured at their own size, and only windows larger than half a chunk rely on the law.

The law is asymptotic, though: it needs many rows per bin and rare values drawn in proportion. Half a chunk of a
small reference is a few rows (7 for a reference of 284 rows), where a binned distance is bounded and nearly constant
and a value seen once in a thousand rows is never drawn; extrapolated from there, the tail came out far too light
(20 of 20 random halves of scikit-learn's wine data flagged). So a profile also measures :func:`random_splits`, the
permutation null of the two-sample problem, at the window's own size up to half the calibration rows, and flags a
distance only beyond the thresholds of both nulls: the chunk null keeps the reference's slow variation, the
exchangeable null the exact small-sample shape (ties, zeros, sentinels, tiny references).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy import optimize as _scipy_optimize
from scipy import stats as _scipy_stats

from driftloop.errors import invalid_parameter


class NullSample(NamedTuple):
    """Distances measured under no drift: ``values[i, j]`` is statistic ``j`` of draw ``i``; ``n_eff[i]`` its size."""

    values: NDArray[np.float64]
    n_eff: NDArray[np.float64]
    sample_size: int


class NullModel(NamedTuple):
    """A scaled chi-squared :math:`c\\,\\chi^2_\\nu` fitted to :math:`z = n_{\\mathrm{eff}} d^a`; ``z_max`` the largest z."""

    scale: float
    dof: float
    z_max: float
    power: float
    n_draws: int


def effective_size(n_window: float, n_reference: float) -> float:
    """Effective two-sample size :math:`n_w n_r / (n_w + n_r)` (the harmonic-mean form of the sampling noise).

    >>> effective_size(1000, 1000)
    500.0
    """
    n_window, n_reference = float(n_window), float(n_reference)
    if n_window <= 0 or n_reference <= 0:
        return 0.0
    return n_window * n_reference / (n_window + n_reference)


def chunk_bounds(n: int, n_chunks: int) -> list[tuple[int, int]]:
    """Split ``range(n)`` into ``n_chunks`` contiguous, nearly equal ``(start, stop)`` chunks.

    >>> chunk_bounds(10, 3)
    [(0, 3), (3, 7), (7, 10)]
    """
    edges = np.linspace(0, n, n_chunks + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def leave_one_chunk_out(
    values: NDArray[Any],
    prepare: Callable[[NDArray[Any]], Any],
    evaluate: Callable[[Any, NDArray[Any]], Sequence[float]],
    *,
    n_chunks: int,
    draws: int,
    sample_size: int,
    seed: int,
) -> NullSample:
    """Measure statistics between samples of each chunk and the reference without that chunk.

    Parameters
    ----------
    values
        The calibration rows of one column, in the reference's row order (missing values already removed).
    prepare
        ``prepare(rest)`` turns the reference-without-the-chunk into what ``evaluate`` needs (sorted values, bin
        counts); called once per chunk.
    evaluate
        ``evaluate(prepared_rest, sample)`` returns one value per statistic for a sample drawn from the chunk.
    n_chunks, draws, sample_size
        ``draws`` samples of ``sample_size`` rows per chunk; ``sample_size`` may not exceed the smallest chunk.
    seed
        Seed of the draws: the same inputs give the same null.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=2000)
    >>> null = leave_one_chunk_out(x, np.sort, lambda rest, s: [abs(s.mean() - rest.mean())],
    ...                            n_chunks=10, draws=3, sample_size=100, seed=0)
    >>> null.values.shape, round(float(null.n_eff[0]), 1)
    ((30, 1), 94.7)
    """
    n = len(values)
    if n_chunks < 2:
        raise invalid_parameter("n_chunks", "leave_one_chunk_out", "an integer >= 2", n_chunks)
    bounds = chunk_bounds(n, n_chunks)
    smallest = min(b - a for a, b in bounds)
    if not 1 <= sample_size <= smallest:
        raise invalid_parameter(
            "sample_size", "leave_one_chunk_out", f"between 1 and the smallest chunk ({smallest} rows)", sample_size
        )
    rng = np.random.default_rng(seed)
    rows: list[Sequence[float]] = []
    n_eff: list[float] = []
    for start, stop in bounds:
        rest = prepare(np.concatenate([values[:start], values[stop:]]))
        chunk = values[start:stop]
        for _ in range(draws):
            sample = chunk[rng.choice(stop - start, size=sample_size, replace=False)]
            rows.append(evaluate(rest, sample))
            n_eff.append(effective_size(sample_size, n - (stop - start)))
    return NullSample(np.asarray(rows, dtype=np.float64).reshape(len(rows), -1), np.asarray(n_eff), sample_size)


def random_splits(
    values: NDArray[Any],
    prepare: Callable[[NDArray[Any]], Any],
    evaluate: Callable[[Any, NDArray[Any]], Sequence[float]],
    *,
    draws: int,
    sample_size: int,
    seed: int,
) -> NullSample:
    """Measure statistics between a random subset of ``sample_size`` rows and the other rows: the permutation null.

    When the window and the reference are exchangeable (drawn from one distribution), which rows form the window
    is a random split of the pooled rows; the distances of random splits of the reference itself, at the window's
    own size, are their null distribution — exactly, whatever the shape of the data: ties, many zeros, a few rare
    sentinel values, a column that is nearly constant. This is the two-sample permutation test [1]_, [2]_, run on the
    reference alone so that each window still costs one pass.

    It complements :func:`leave_one_chunk_out`, which keeps the reference's slow variation (contiguous chunks) but
    can only draw samples of half a chunk and extrapolates to larger windows by the size-scaling law; that law
    holds for sampling noise once every bin holds many rows and rare values appear in proportion, not at the few
    rows of half a chunk of a small reference.

    Parameters
    ----------
    values
        The calibration rows of one column (missing values removed); their order does not matter.
    prepare, evaluate
        As for :func:`leave_one_chunk_out`: ``evaluate(prepare(rest), sample)``.
    draws, sample_size
        ``draws`` random subsets of ``sample_size`` rows, at most half of ``values``.
    seed
        Seed of the draws.

    References
    ----------
    .. [1] R. A. Fisher, *The Design of Experiments*, Oliver and Boyd, 1935, section 21.
    .. [2] P. Good, *Permutation, Parametric and Bootstrap Tests of Hypotheses*, 3rd ed., Springer, 2005, ch. 3.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=2000)
    >>> null = random_splits(x, np.sort, lambda rest, s: [abs(s.mean() - rest.mean())], draws=30, sample_size=100,
    ...                      seed=0)
    >>> null.values.shape, round(float(null.n_eff[0]), 1)
    ((30, 1), 95.0)
    """
    n = len(values)
    if not 1 <= sample_size <= n // 2:
        raise invalid_parameter("sample_size", "random_splits", f"between 1 and half the rows ({n // 2})", sample_size)
    rng = np.random.default_rng(seed)
    rows: list[Sequence[float]] = []
    in_sample = np.zeros(n, dtype=bool)
    for _ in range(draws):
        chosen = rng.choice(n, size=sample_size, replace=False)
        in_sample[chosen] = True
        rows.append(evaluate(prepare(values[~in_sample]), values[chosen]))
        in_sample[chosen] = False
    n_eff = np.full(draws, effective_size(sample_size, n - sample_size))
    return NullSample(np.asarray(rows, dtype=np.float64).reshape(draws, -1), n_eff, sample_size)


def fit_null(values: NDArray[np.float64], n_eff: NDArray[np.float64], power: float) -> NullModel:
    """Fit :math:`c\\,\\chi^2_\\nu` to :math:`z = n_{\\mathrm{eff}} d^a` by matching mean and variance.

    The tail at :math:`10^{-4}` is extrapolated from a few hundred draws, and a light fitted tail means false
    alarms, so the fit leans heavy: :math:`c = \\bar z/\\nu` keeps the mean, and :math:`\\nu` is the smaller of
    (i) :math:`2\\bar z^2/s^2_+`, with :math:`s^2_+ = s^2 (N-1)/\\chi^2_{N-1}(0.05)` the upper 95 % confidence bound
    of the variance, and (ii) the :math:`\\nu` for which :math:`\\chi^2_\\nu` has the draws' ratio of 95th
    percentile to mean. (ii) matters for statistics such as Wasserstein-1 on skewed data, whose null is a weighted
    sum of :math:`\\chi^2_1` dominated by its first term, with a tail heavier than two moments suggest.

    Non-finite distances are ignored. A null that is identically zero (a constant column) gives ``scale = 0``:
    then any distance above zero is beyond the null.

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> z = 0.5 * rng.chisquare(9, size=4000)
    >>> m = fit_null(np.sqrt(z / 100.0), np.full(4000, 100.0), power=2)
    >>> round(m.scale, 2), round(m.dof, 1)
    (0.51, 8.7)
    """
    d = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(d)
    z = np.asarray(n_eff, dtype=np.float64)[ok] * np.abs(d[ok]) ** power
    if z.size == 0:
        return NullModel(float("nan"), float("nan"), float("nan"), float(power), 0)
    mean = float(z.mean())
    if z.size < 2 or mean <= 0.0 or float(z.var()) <= 0.0:
        return NullModel(0.0, 1.0, float(z.max()), float(power), int(z.size))
    # upper 95 % confidence bound of the variance: a tail fitted on a few hundred draws must not come out light
    var = float(z.var(ddof=1)) * (z.size - 1) / float(_scipy_stats.chi2.ppf(0.05, z.size - 1))
    dof = min(2.0 * mean * mean / var, _tail_dof(float(np.quantile(z, TAIL_QUANTILE)) / mean))
    return NullModel(mean / dof, dof, float(z.max()), float(power), int(z.size))


#: Quantile of the null draws whose ratio to the mean also constrains the fitted degrees of freedom.
TAIL_QUANTILE = 0.95


def _tail_dof(ratio: float) -> float:
    """Degrees of freedom :math:`\\nu` with :math:`\\chi^2_\\nu.\\mathrm{ppf}(0.95) / \\nu` = ``ratio``."""
    f = lambda nu: float(_scipy_stats.chi2.ppf(TAIL_QUANTILE, nu)) / nu - ratio  # noqa: E731
    low, high = 0.5, 1e6  # chi2.ppf(0.95, nu) / nu rises as nu falls to about 0.5, then falls
    if f(high) >= 0.0:
        return high
    if f(low) <= 0.0:
        return low
    return float(_scipy_optimize.brentq(f, low, high, xtol=1e-6))


def distance_threshold(model: NullModel, n_window: float, n_reference: float, level: float) -> float:
    """Distance above which a window of ``n_window`` rows is beyond the null at tail probability ``level``.

    >>> import numpy as np
    >>> m = NullModel(scale=1.0, dof=9.0, z_max=20.0, power=1.0, n_draws=100)
    >>> round(distance_threshold(m, 1000, 1000, 0.001), 5)   # chi2(9).isf(0.001) / 500
    0.05575
    """
    if not np.isfinite(model.scale) or n_window <= 0 or n_reference <= 0:
        return float("nan")
    n_eff = effective_size(n_window, n_reference)
    tail = model.scale * float(_scipy_stats.chi2.isf(level, model.dof)) if model.scale > 0 else 0.0
    z_star = max(tail, model.z_max)
    return float((z_star / n_eff) ** (1.0 / model.power))
