"""Kullback–Leibler divergence of the window from the reference, on aligned count vectors."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from driftloop.stats._validation import check_epsilon, count_vectors, proportions

DEFAULT_EPSILON = 1e-4
"""Default floor of a bin's proportion before renormalisation."""


def kl_divergence(
    reference_counts: ArrayLike, window_counts: ArrayLike, *, epsilon: float = DEFAULT_EPSILON
) -> float:
    """Kullback–Leibler divergence ``KL(window || reference)`` in nats, from aligned bin counts.

    Parameters
    ----------
    reference_counts : array_like
        Counts per bin of the reference: 1-D, finite, non-negative, positive total.
    window_counts : array_like
        Counts of the window in the same bins, same length.
    epsilon : float, default 1e-4
        Floor applied to every proportion, in [0, 1); both floored vectors are then renormalised to sum to 1,
        so the result is a true divergence between two distributions (non-negative, 0 only when they are
        equal). It keeps the divergence finite when the window has mass where the reference has none; with
        ``epsilon=0`` that case gives ``inf``.

    Returns
    -------
    float
        ``KL >= 0`` in nats; equals ``scipy.stats.entropy(q', p')`` with ``q'`` and ``p'`` the floored window
        and reference proportions.

    Raises
    ------
    ValueError
        If the counts are not aligned 1-D non-negative vectors with positive totals, or ``epsilon`` is outside
        [0, 1).

    Notes
    -----
    The direction is the window measured against the reference: the expected extra information (in nats)
    needed to encode window rows with a code built for the reference [1]_,

    .. math:: \\mathrm{KL}(q \\,\\|\\, p) = \\sum_b q_b \\ln \\frac{q_b}{p_b},

    with ``p`` the reference and ``q`` the window proportions after flooring at ``epsilon`` and renormalising.
    New mass in the window where the reference had little is penalised heavily, which is the drift of interest;
    the reverse direction is ``kl_divergence(window_counts, reference_counts)``.

    References
    ----------
    .. [1] S. Kullback and R. A. Leibler, "On information and sufficiency", Annals of Mathematical Statistics
       22(1), 79-86, 1951.

    Examples
    --------
    >>> import numpy as np
    >>> from driftloop.stats import kl_divergence
    >>> rng = np.random.default_rng(0)
    >>> reference_counts = rng.multinomial(1000, [0.2, 0.3, 0.5])
    >>> window_counts = rng.multinomial(1000, [0.3, 0.3, 0.4])
    >>> round(kl_divergence(reference_counts, window_counts), 6)
    0.052763
    """
    eps = check_epsilon(epsilon)
    ref, win = count_vectors(reference_counts, window_counts)
    p = np.maximum(proportions(ref), eps)
    q = np.maximum(proportions(win), eps)
    p /= p.sum()
    q /= q.sum()
    return float(special.rel_entr(q, p).sum())
