"""Wasserstein-1 (earth mover's) distance between two sorted samples, raw and scaled by the reference's spread."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from driftloop.stats._validation import sorted_sample
from driftloop.stats.constant import constant_value, roundoff_tolerance
from driftloop.stats.ecdf import ECDFGaps, ecdf_gaps


def wasserstein_sorted(
    reference: ArrayLike, window: ArrayLike, *, check: bool = True, gaps: ECDFGaps | None = None
) -> float:
    """Wasserstein-1 distance between the empirical distributions of two sorted samples.

    Parameters
    ----------
    reference : array_like
        The reference sample: 1-D, finite, sorted ascending, not empty.
    window : array_like
        The window sample: 1-D, finite, sorted ascending, not empty.
    check : bool, default True
        Verify that both samples are finite and sorted (O(n)); callers in the hot path pass ``False``.
    gaps : ECDFGaps, optional
        The result of :func:`~driftloop.stats.ecdf_gaps` for these two samples, to share one pass with
        Kolmogorov–Smirnov.

    Returns
    -------
    float
        ``W1 >= 0``, in the unit of the data; equals ``scipy.stats.wasserstein_distance(reference, window)``.

    Raises
    ------
    ValueError
        If a sample is empty, or (with ``check``) not finite or not sorted.

    Notes
    -----
    In one dimension the optimal transport cost is the area between the two CDFs [1]_:

    .. math:: W_1 = \\int |F(x) - G(x)|\\,dx = \\sum_k |F(z_k) - G(z_k)|\\,(z_{k+1} - z_k)

    over the pooled distinct values ``z_k``, accumulated in one pass over both samples by
    :func:`~driftloop.stats.ecdf_gaps` (no merged copy is stored).

    References
    ----------
    .. [1] S. S. Vallender, "Calculation of the Wasserstein distance between probability distributions on the
       line", Theory of Probability and Its Applications 18(4), 784-786, 1974.

    Examples
    --------
    >>> import numpy as np
    >>> from driftloop.stats import wasserstein_sorted
    >>> rng = np.random.default_rng(0)
    >>> reference = np.sort(rng.normal(size=200))
    >>> window = np.sort(rng.normal(0.5, 1.0, size=150))
    >>> round(wasserstein_sorted(reference, window), 6)
    0.388797
    """
    if gaps is None:
        gaps = ecdf_gaps(reference, window, check=check)
    return gaps.area


def wasserstein_normalized(
    reference: ArrayLike,
    window: ArrayLike,
    *,
    reference_std: float | None = None,
    check: bool = True,
    gaps: ECDFGaps | None = None,
) -> float:
    """Wasserstein-1 distance divided by the standard deviation of the reference: a unit-free drift size.

    Parameters
    ----------
    reference : array_like
        The reference sample: 1-D, finite, sorted ascending, not empty.
    window : array_like
        The window sample: 1-D, finite, sorted ascending, not empty.
    reference_std : float, optional
        The reference's standard deviation, when the caller stored it at fit time (then it is the scale, even when
        ``reference`` is a part of that reference that happens to be constant); computed from ``reference``
        (population form, ``ddof=0``, and 0 when the reference is constant up to round-off) when omitted. Must be
        finite and non-negative.
    check : bool, default True
        Verify that both samples are finite and sorted (O(n)); callers in the hot path pass ``False``.
    gaps : ECDFGaps, optional
        The result of :func:`~driftloop.stats.ecdf_gaps` for these two samples.

    Returns
    -------
    float
        ``W1 / sd(reference)``. When the reference is constant up to round-off (its range within
        :data:`~driftloop.stats.constant.ROUNDOFF_RTOL` of its magnitude, see
        :func:`~driftloop.stats.constant.constant_value`; its computed ``sd`` is then 0 or a few ``1e-17``) the
        ratio is ``0.0`` if the window is the same constant up to round-off (``W1`` within that tolerance) and
        ``inf`` otherwise, whatever the round-off: any movement away from a constant reference is infinitely many
        of its standard deviations. (A profile reports ``W1`` itself, in the column's units, for such a column.)

    Raises
    ------
    ValueError
        If a sample is empty, or (with ``check``) not finite or not sorted, or ``reference_std`` is negative or
        not finite.

    Notes
    -----
    .. math:: W_1^{\\text{norm}} = \\frac{\\int |F(x) - G(x)|\\,dx}{\\sigma_F},
       \\qquad \\sigma_F^2 = \\frac{1}{n}\\sum_i (x_i - \\bar{x})^2.

    A shift of the whole distribution by ``c`` standard deviations gives exactly ``c``, whatever the unit.

    References
    ----------
    .. [1] NannyML, "Univariate drift detection methods: Wasserstein distance" (normalised by the reference's
       standard deviation), https://nannyml.readthedocs.io, 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from driftloop.stats import wasserstein_normalized
    >>> rng = np.random.default_rng(0)
    >>> reference = np.sort(rng.normal(0.0, 10.0, size=1000))
    >>> window = reference + 0.5 * reference.std()  # shifted by half a standard deviation
    >>> round(wasserstein_normalized(reference, window), 6)
    0.5
    >>> held = np.full(100, 0.3); held[::2] = 0.1 * 3  # one value, two floats: sd 2.8e-17, not 0
    >>> wasserstein_normalized(np.sort(held), np.full(50, 0.3)), wasserstein_normalized(np.sort(held), [0.3, 0.4])
    (0.0, inf)
    """
    distance = wasserstein_sorted(reference, window, check=check, gaps=gaps)
    ref = sorted_sample("reference", reference, check=False)
    if reference_std is None:
        constant = constant_value(ref[0], ref[-1])
        spread = 0.0 if constant is not None else float(np.std(ref))
    else:
        spread = float(reference_std)
        if not (math.isfinite(spread) and spread >= 0.0):
            raise ValueError(f"reference_std must be a finite non-negative number; got {reference_std!r}")
        constant = constant_value(ref[0], ref[-1]) if spread == 0.0 else None
    if spread == 0.0:
        return 0.0 if distance <= roundoff_tolerance(constant or 0.0) else math.inf
    return distance / spread
