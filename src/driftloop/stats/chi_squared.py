"""Chi-squared test of homogeneity of two aligned count vectors (the 2 x k contingency table)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as _scipy_stats

from driftloop.stats._validation import count_vectors


class ChiSquaredResult(NamedTuple):
    """Result of :func:`chi_squared`.

    Attributes
    ----------
    statistic : float
        Pearson's statistic (with Yates' correction when ``dof == 1``).
    p_value : float
        Upper tail of the chi-squared distribution with ``dof`` degrees of freedom.
    dof : int
        Degrees of freedom: the number of categories seen on either side, minus 1.
    """

    statistic: float
    p_value: float
    dof: int


def chi_squared(reference_counts: ArrayLike, window_counts: ArrayLike) -> ChiSquaredResult:
    """Pearson's chi-squared test that the reference and the window share one categorical distribution.

    Parameters
    ----------
    reference_counts : array_like
        Counts per category (or bin) of the reference: 1-D, finite, non-negative, positive total.
    window_counts : array_like
        Counts of the window in the same categories, same length.

    Returns
    -------
    ChiSquaredResult
        ``statistic``, ``p_value`` and ``dof``, equal to ``scipy.stats.chi2_contingency(table)`` with its
        default ``correction=True``, where ``table = np.vstack([reference_counts, window_counts])`` after
        dropping the categories that are empty in both rows.

    Raises
    ------
    ValueError
        If the counts are not aligned 1-D non-negative vectors with positive totals.

    Notes
    -----
    A test of homogeneity on the 2 x k table (two samples, k categories), not a one-sample goodness-of-fit test
    of the window against the reference's proportions: the reference is a sample too, and ignoring its own
    sampling noise makes large windows flag stable columns. With row totals ``R_r``, column totals ``C_c`` and
    ``N`` rows in all, ``E_rc = R_r C_c / N`` and

    .. math:: \\chi^2 = \\sum_{r, c} \\frac{(O_{rc} - E_{rc})^2}{E_{rc}}, \\qquad \\mathrm{dof} = k - 1.

    Categories empty in both rows carry no information and would give ``E = 0``; they are dropped first (for
    bins fixed on the reference, an empty overflow bin is such a category). When ``dof == 1`` (two categories)
    Yates' continuity correction moves each observed count towards its expectation by
    ``min(0.5, |O - E|)``, as scipy does by default [2]_. When only one category is seen, ``dof == 0``, the
    statistic is 0 and the p-value 1.

    References
    ----------
    .. [1] K. Pearson, "On the criterion that a given system of deviations from the probable in the case of a
       correlated system of variables is such that it can be reasonably supposed to have arisen from random
       sampling", Philosophical Magazine 50(302), 157-175, 1900.
    .. [2] F. Yates, "Contingency tables involving small numbers and the chi-squared test", Supplement to the
       Journal of the Royal Statistical Society 1(2), 217-235, 1934.

    Examples
    --------
    >>> import numpy as np
    >>> from driftloop.stats import chi_squared
    >>> rng = np.random.default_rng(0)
    >>> reference_counts = rng.multinomial(1000, [0.2, 0.3, 0.5, 0.0])
    >>> window_counts = rng.multinomial(500, [0.25, 0.3, 0.45, 0.0])
    >>> result = chi_squared(reference_counts, window_counts)
    >>> round(result.statistic, 4), round(result.p_value, 4), result.dof
    (3.3471, 0.1876, 2)
    """
    ref, win = count_vectors(reference_counts, window_counts)
    seen = (ref > 0) | (win > 0)
    observed = np.vstack((ref[seen], win[seen]))
    dof = observed.shape[1] - 1
    if dof == 0:
        return ChiSquaredResult(0.0, 1.0, 0)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    if dof == 1:
        diff = expected - observed
        observed = observed + np.sign(diff) * np.minimum(0.5, np.abs(diff))
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return ChiSquaredResult(statistic, float(_scipy_stats.chi2.sf(statistic, dof)), dof)
