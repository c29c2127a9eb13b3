r"""MMD: the kernel two-sample test on a subsample of the window and of the reference.

The maximum mean discrepancy with a Gaussian kernel whose bandwidth is the median distance of the pooled rows
(:func:`~driftloop.stats.mmd.mmd_permutation_test`) compares whole distributions of rows: it sees a flipped
correlation or a rotated cluster as well as a shifted mean. It costs :math:`O(N^2)` in the pooled rows, so it runs
on at most ``max_rows`` rows of each side (the reference's drawn once at fit, the window's per window), with a
permutation p-value (alibi-detect's ``MMDDrift`` is the same test, under the Business Source Licence). Rows are
standardised with the reference's statistics, categorical columns frequency-encoded and missing values read as the
reference mean (:mod:`~driftloop.multivariate.encoding`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from driftloop.errors import NotFittedError, invalid_parameter
from driftloop.multivariate.encoding import impute
from driftloop.multivariate.results import DetectorResult, too_small
from driftloop.stats.mmd import mmd_permutation_test

NAME = "mmd"


class MMDDetector:
    """The MMD detector (see the module docstring).

    Parameters
    ----------
    max_rows
        Rows of each side at most. Default 2,000: the pooled kernel matrix is then 4,000 x 4,000 (128 MB). With
        25 columns, a correlation of two columns flipping from 0.7 to -0.7 gives p = 0.006 on 1,000 rows a side
        and p < 1e-8 on 2,000 (``bench/multivariate.py``'s data): the median-distance kernel of many columns sees a
        change in two of them only with enough rows.
    n_permutations
        Random splits for the p-value. Default 300: the permutation p-value is exact down to 1/301, and beyond the
        largest permuted statistic the p-value comes from the Pearson curve fitted to the 300, whose mean, variance
        and skewness they estimate well; the cost is one 4,000 x 4,000 by 4,000 x 300 product.
    min_rows
        Smallest window judged. Default 20.
    seed
        Seed of the window's subsample and of the permutations.
    """

    name = NAME

    def __init__(self, *, max_rows: int = 2_000, n_permutations: int = 300, min_rows: int = 20,
                 seed: int = 0) -> None:
        self.max_rows = max_rows
        self.n_permutations = n_permutations
        self.min_rows = min_rows
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {"max_rows": self.max_rows, "n_permutations": self.n_permutations, "min_rows": self.min_rows,
                "seed": self.seed}

    def _validate(self) -> None:
        for name, low in (("max_rows", 2), ("n_permutations", 1), ("min_rows", 2), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise invalid_parameter(name, "MMDDetector", f"an integer >= {low}", value)

    def fit(self, sample: NDArray[np.float64]) -> MMDDetector:
        """Keep the first ``max_rows`` of ``sample``: encoded reference rows in random order (NaN where missing)."""
        self._validate()
        self.reference_ = impute(np.array(sample[: self.max_rows], dtype=np.float64))
        return self

    def _window_draw(self, n_rows: int) -> NDArray[np.int64] | None:
        """The window's subsample, seeded (``None``: every row, in order)."""
        if n_rows <= self.max_rows:
            return None
        return np.random.default_rng(self.seed).choice(n_rows, size=self.max_rows, replace=False)

    def taken(self, n_rows: int) -> NDArray[np.int64]:
        """The positions of the rows a window of ``n_rows`` rows is judged on, in the order they are read: a seeded
        random subsample of ``max_rows`` rows, or every row in order; none for a window below ``min_rows``. An
        engine that holds the rows elsewhere (Spark) fetches those rows and gives them to :meth:`compare_rows`."""
        if n_rows < self.min_rows:
            return np.empty(0, dtype=np.int64)
        chosen = self._window_draw(n_rows)
        return np.arange(n_rows, dtype=np.int64) if chosen is None else chosen.astype(np.int64)

    def compare(self, window: NDArray[np.float64]) -> DetectorResult:
        """Judge the encoded ``window`` rows (NaN where missing)."""
        self._check_fitted()
        n = len(window)
        if n < self.min_rows:
            return too_small(NAME, n, self.min_rows)
        chosen = self._window_draw(n)
        return self._judge(window if chosen is None else window[chosen])

    def compare_rows(self, rows: NDArray[np.float64], n_rows: int) -> DetectorResult:
        """Judge a window of ``n_rows`` rows from its encoded rows at :meth:`taken` ``(n_rows)``, in that order: the
        result :meth:`compare` gives for the whole window."""
        self._check_fitted()
        if n_rows < self.min_rows:
            return too_small(NAME, n_rows, self.min_rows)
        expected = min(n_rows, self.max_rows)
        if len(rows) != expected:
            raise invalid_parameter("rows", "MMDDetector.compare_rows", f"the {expected} rows of taken({n_rows})",
                                    f"{len(rows)} rows")
        return self._judge(rows)

    def _check_fitted(self) -> None:
        if not hasattr(self, "reference_"):
            raise NotFittedError("This MMDDetector instance is not fitted yet; call 'fit' first.")

    def _judge(self, rows: NDArray[np.float64]) -> DetectorResult:
        result = mmd_permutation_test(self.reference_, impute(np.array(rows, dtype=np.float64)),
                                      n_permutations=self.n_permutations, seed=self.seed)
        statistics = {"mmd2": result.mmd2, "bandwidth": result.bandwidth}
        summary = f"MMD² {result.mmd2:.4g} (largest of {result.n_permutations} permutations {result.null_max:.4g})"
        return DetectorResult(NAME, statistics, result.p_value, summary)

    # ---------------------------------------------------------------- persistence (see multivariate.storage)
    def state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        return {"params": self.get_params()}, {"reference": self.reference_}

    @classmethod
    def from_state(cls, document: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> MMDDetector:
        detector = cls(**document["params"])
        detector.reference_ = arrays["reference"]
        return detector
