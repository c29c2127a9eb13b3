"""Hypothesis strategies and the comparison rule shared by the tests of driftloop.stats.

Comparison rule: ``math.isclose(ours, scipy, rel_tol=1e-9, abs_tol=ABS_TOL * scale)``. The relative tolerance is the
issue's bound for exact statistics. The absolute tolerance only matters near 0: when the true value is 0 or within
a few ulps of it (identical samples, equal proportions), two exact algorithms that sum in a different order
legitimately return 0.0 and 1e-17; and tail p-values computed as ``1 - cdf`` (Cramér–von Mises, Kolmogorov–Smirnov
asymptotic) carry an absolute rounding error of ~1e-16 whatever their size, so a p-value of 1e-10 can only agree to
~1e-6 relative. 1e-12 is far below any decision threshold and far above that rounding. ``scale`` is the magnitude of
the data for statistics in the unit of the data (W1, energy), 1 otherwise.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

REL_TOL = 1e-9
ABS_TOL = 1e-12
MAGNITUDE = 1e3
"""Continuous samples are drawn in [-MAGNITUDE, MAGNITUDE]."""

TIE_SETS = ([0.0], [0.0, 1.0], [-2.0, 0.0, 0.5, 1.0, 3.0], [float(i) for i in range(10)])
"""Small value sets: samples drawn from them are full of ties, within and across the two samples."""


def close(ours: float, theirs: float, *, scale: float = 1.0) -> bool:
    """The comparison rule above (NaN never compares close)."""
    return math.isclose(float(ours), float(theirs), rel_tol=REL_TOL, abs_tol=ABS_TOL * max(scale, 1.0))


def _continuous(min_size: int, max_size: int) -> st.SearchStrategy[list[float]]:
    return st.lists(
        st.floats(-MAGNITUDE, MAGNITUDE, allow_nan=False, allow_infinity=False, allow_subnormal=False),
        min_size=min_size,
        max_size=max_size,
    )


@st.composite
def sorted_pairs(draw: st.DrawFn, min_size: int = 1, max_size: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted finite float64 samples: continuous, tie-heavy (small integer sets) or a mix of both."""
    kind = draw(st.sampled_from(["continuous", "ties", "mixed", "constant"]))
    if kind == "continuous":
        first = draw(_continuous(min_size, max_size))
        second = draw(_continuous(min_size, max_size))
    elif kind == "ties":
        values = draw(st.sampled_from(TIE_SETS))
        first = draw(st.lists(st.sampled_from(values), min_size=min_size, max_size=max_size))
        second = draw(st.lists(st.sampled_from(values), min_size=min_size, max_size=max_size))
    elif kind == "mixed":
        base = draw(_continuous(1, 5))
        pool = st.one_of(st.sampled_from(base), st.floats(-MAGNITUDE, MAGNITUDE, allow_subnormal=False))
        first = draw(st.lists(pool, min_size=min_size, max_size=max_size))
        second = draw(st.lists(pool, min_size=min_size, max_size=max_size))
    else:  # constant columns: each sample constant, the same constant or not
        value = draw(st.sampled_from([0.0, 1.0, -3.5]))
        other = draw(st.sampled_from([value, value + 1.0]))
        first = [value] * draw(st.integers(min_size, max_size))
        second = [other] * draw(st.integers(min_size, max_size))
    return np.sort(np.asarray(first, dtype=np.float64)), np.sort(np.asarray(second, dtype=np.float64))


@st.composite
def count_pairs(draw: st.DrawFn, max_categories: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Two aligned count vectors with positive totals; zeros (one side or both) are frequent."""
    size = draw(st.integers(1, max_categories))
    cell = st.one_of(st.just(0), st.integers(0, 5), st.integers(0, 10_000))
    ref = draw(st.lists(cell, min_size=size, max_size=size).filter(lambda xs: sum(xs) > 0))
    win = draw(st.lists(cell, min_size=size, max_size=size).filter(lambda xs: sum(xs) > 0))
    return np.asarray(ref, dtype=np.float64), np.asarray(win, dtype=np.float64)
