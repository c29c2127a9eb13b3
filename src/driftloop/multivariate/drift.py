"""The multivariate detectors of a reference, fitted together on one encoding and judged window by window."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from driftloop.errors import NotFittedError, invalid_parameter
from driftloop.multivariate.classifier import DomainClassifier
from driftloop.multivariate.encoding import FittedEncoder, fit_encoder, impute
from driftloop.multivariate.mmd import MMDDetector
from driftloop.multivariate.pca import PCAReconstruction
from driftloop.multivariate.results import DetectorResult, not_computed
from driftloop.thresholds import DriftThresholds

#: Every detector, by name, in the order results are reported.
DETECTORS = ("pca", "mmd", "classifier")
#: Fitted by default: PCA reconstruction alone. Its cost is one pass over the window's rows, as the univariate
#: statistics' (0.36 s for a million rows, after 0.76 s of encoding, on two loaded cores), so a pass over many small
#: windows costs what it did. MMD and the domain classifier cost a fixed time per window whatever its size (MMD's
#: 4,000 x 4,000 kernel, the classifier's model fit: 1-3 s each on two loaded cores), which for the 30 daily windows
#: of a monitoring pass would multiply its time several times over: they are opt-in.
DEFAULT_DETECTORS = ("pca",)

Detector = PCAReconstruction | DomainClassifier | MMDDetector


class RowSums(NamedTuple):
    """What the detectors need from every row of a window, as sums that add up over any split of its rows (an
    engine's partitions): ``rows``; ``error_sum``, the sum of the PCA reconstruction errors (0 without PCA); and
    ``values``, per encoded column, the rows holding a value (a column without any is not judged)."""

    rows: int
    error_sum: float
    values: tuple[int, ...]

    def plus(self, other: RowSums) -> RowSums:
        """The sums of both parts' rows.

        >>> RowSums(2, 1.5, (2, 1)).plus(RowSums(3, 0.5, (0, 3)))
        RowSums(rows=5, error_sum=2.0, values=(2, 4))
        """
        return RowSums(self.rows + other.rows, self.error_sum + other.error_sum,
                       tuple(a + b for a, b in zip(self.values, other.values, strict=True)))


class MultivariateDrift:
    """Detectors over all columns at once, fitted on the reference (see :mod:`driftloop.multivariate`).

    Parameters
    ----------
    detectors
        Names among :data:`DETECTORS`; default :data:`DEFAULT_DETECTORS`. None at all is allowed (``()``): the
        object then judges nothing, and records that no detector was asked for.
    columns
        Columns to use; ``None`` uses every column of the reference given to :meth:`fit` (at least two).
    categorical_columns
        Columns encoded as categories even though they hold numbers (see
        :mod:`~driftloop.multivariate.encoding`).
    thresholds
        The calibration parameters (``n_chunks``, ``draws``, ``max_rows``, ``seed``) of the PCA null, shared with
        the reference profile; ``None`` uses :class:`~driftloop.thresholds.DriftThresholds`' defaults.
    pca, classifier, mmd
        The detectors with their own parameters; ``None`` uses their defaults.
    n_threads
        Threads of the BLAS and OpenMP libraries (numpy's products, scikit-learn's trees) while the detectors fit
        and judge. Default 1: their problems are small (25 x 25 covariances, 10,000-row tree fits), and on a
        machine whose cores are busy with other work their threads spin while waiting for each other — measured on
        two loaded cores, a 19,000 x 25 Gram matrix took 100 times longer with two threads than with one, a tree
        fit 20 times longer.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=4000)
    >>> reference = pd.DataFrame({"x": x, "y": 0.9 * x + 0.4 * rng.normal(size=4000)})
    >>> drift = MultivariateDrift(detectors=("pca", "mmd")).fit(reference)
    >>> w = rng.normal(size=500)
    >>> flipped = pd.DataFrame({"x": w, "y": -0.9 * w + 0.4 * rng.normal(size=500)})  # same marginals
    >>> [(r.detector, r.p_value < 1e-6) for r in drift.compare(flipped)]
    [('pca', True), ('mmd', True)]
    """

    def __init__(
        self,
        *,
        detectors: Sequence[str] = DEFAULT_DETECTORS,
        columns: Sequence[str] | None = None,
        categorical_columns: Sequence[str] = (),
        thresholds: DriftThresholds | None = None,
        pca: PCAReconstruction | None = None,
        classifier: DomainClassifier | None = None,
        mmd: MMDDetector | None = None,
        n_threads: int = 1,
    ) -> None:
        self.detectors = detectors
        self.columns = columns
        self.categorical_columns = categorical_columns
        self.thresholds = thresholds
        self.pca = pca
        self.classifier = classifier
        self.mmd = mmd
        self.n_threads = n_threads

    def _validate(self) -> None:
        owner = "MultivariateDrift"
        chosen = self.detectors
        if isinstance(chosen, str) or not isinstance(chosen, Iterable) \
                or any(d not in DETECTORS for d in chosen) or len(set(chosen)) != len(list(chosen)):
            raise invalid_parameter("detectors", owner, f"distinct names among {list(DETECTORS)} (or none)",
                                    chosen)
        for name, kind in (("pca", PCAReconstruction), ("classifier", DomainClassifier), ("mmd", MMDDetector)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise invalid_parameter(name, owner, f"None or a {kind.__name__}", value)
        if self.thresholds is not None and not isinstance(self.thresholds, DriftThresholds):
            raise invalid_parameter("thresholds", owner, "None or a DriftThresholds", self.thresholds)
        if isinstance(self.n_threads, bool) or not isinstance(self.n_threads, int) or self.n_threads < 1:
            raise invalid_parameter("n_threads", owner, "an integer >= 1", self.n_threads)

    def fit(self, frame: pd.DataFrame) -> MultivariateDrift:
        """Fit the encoding and the chosen detectors on the reference ``frame``; return self."""
        self._validate()
        with threadpool_limits(self.n_threads):
            return self._fit(frame)

    def _fit(self, frame: pd.DataFrame) -> MultivariateDrift:
        policy = (self.thresholds or DriftThresholds()).validate()
        columns = list(frame.columns) if self.columns is None else list(self.columns)
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise invalid_parameter("columns", "MultivariateDrift.fit",
                                    f"columns of the reference {list(frame.columns)}", absent)
        if len(columns) < 2 and self.detectors:
            raise invalid_parameter("columns", "MultivariateDrift.fit", "at least two columns", columns)
        if len(frame) < 2:
            raise invalid_parameter("frame", "MultivariateDrift.fit", "a reference of at least two rows",
                                    f"{len(frame)} row(s)")
        self.detectors_: dict[str, Detector] = {}
        self.thresholds_ = policy
        self.n_rows_ = len(frame)
        if not self.detectors:
            self.encoder_ = FittedEncoder(())
            return self
        self.encoder_ = fit_encoder(frame, columns, self.categorical_columns)
        matrix = self.encoder_.transform(frame)
        order = np.random.default_rng(policy.seed).permutation(len(matrix))
        fitted: dict[str, Detector] = {}
        for name in DETECTORS:
            if name not in self.detectors:
                continue
            if name == "pca":
                complete = impute(matrix.copy())
                calibration = complete[np.linspace(0, len(complete), min(len(complete), policy.max_rows),
                                                   endpoint=False).astype(np.int64)]
                fitted[name] = (self.pca or PCAReconstruction()).fit(complete, calibration, policy)
            elif name == "classifier":
                detector = self.classifier or DomainClassifier()
                fitted[name] = detector.fit(matrix[order[: detector.max_rows]], columns)
            else:
                detector = self.mmd or MMDDetector()
                fitted[name] = detector.fit(matrix[order[: detector.max_rows]])
        self.detectors_ = fitted
        return self

    @property
    def columns_(self) -> list[str]:
        return self.encoder_.names

    def _check_fitted(self) -> None:
        if not hasattr(self, "detectors_"):
            raise NotFittedError("This MultivariateDrift instance is not fitted yet; call 'fit' with the reference "
                                 "data before using it.")

    def compare(self, frame: pd.DataFrame) -> list[DetectorResult]:
        """Judge one window: one :class:`~driftloop.multivariate.results.DetectorResult` per detector. A window
        lacking a column, or holding no value of one (all missing, or text in a numeric column), or too small for a
        detector, gets a result with a reason, never an exception."""
        self._check_fitted()
        absent = self.encoder_.missing_from(frame)
        if absent:
            return self._missing(absent)
        if "classifier" in self.detectors_:
            import sklearn.ensemble  # noqa: F401  OpenMP must be loaded before threadpool_limits for the limit to hold
        with threadpool_limits(self.n_threads):
            matrix = self.encoder_.transform(self._rows_to_encode(frame))
            empty = [name for name, values in zip(self.columns_, matrix.T, strict=True) if np.isnan(values).all()]
            if empty:  # imputed, such a window would look like the reference's centre: "drift" that is not there
                return self._without_values(empty)
            complete = impute(matrix.copy()) if np.isnan(matrix).any() else matrix  # PCA reads missing as the mean
            return [detector.compare(complete if name == "pca" else matrix)
                    for name, detector in self.detectors_.items()]

    def _missing(self, absent: Sequence[str]) -> list[DetectorResult]:
        reason = "column(s) missing from the window: " + ", ".join(map(repr, absent))
        return [not_computed(name, reason) for name in self.detectors_]

    def _without_values(self, empty: Sequence[str]) -> list[DetectorResult]:
        reason = "column(s) without a single value in the window: " + ", ".join(map(repr, empty))
        return [not_computed(name, reason) for name in self.detectors_]

    def _encoded_positions(self, n_rows: int) -> NDArray[np.int64]:
        """Without PCA, the positions of the window's rows :meth:`compare` encodes, in order: a random subsample of
        as many rows as the largest detector keeps (encoding a million rows costs more than a detector on a few
        thousand), or every row of a smaller window."""
        keep = max(getattr(detector, "max_rows", 0) for detector in self.detectors_.values())
        if n_rows <= keep:
            return np.arange(n_rows, dtype=np.int64)
        chosen = np.random.default_rng(self.thresholds_.seed).choice(n_rows, size=keep, replace=False)
        return np.sort(chosen).astype(np.int64)

    def _rows_to_encode(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The window's rows the detectors read: all of them for PCA, else :meth:`_encoded_positions`."""
        if "pca" in self.detectors_:
            return frame
        positions = self._encoded_positions(len(frame))
        return frame if len(positions) == len(frame) else frame.iloc[positions]

    # ------------------------------------------------------------------ a window whose rows are held elsewhere
    # An engine that holds a window's rows in pieces (Spark's partitions) judges it as :meth:`compare` does from two
    # parts: the :class:`RowSums` of all its rows, summed piece by piece (:meth:`row_sums`), and the few rows that
    # the subsampling detectors read (:meth:`sampled_positions`), fetched by their place in the window's row order.
    def row_sums(self, frame: pd.DataFrame) -> RowSums:
        """The :class:`RowSums` of the rows of ``frame`` (a piece of a window, every encoded column present)."""
        self._check_fitted()
        with threadpool_limits(self.n_threads):
            matrix = self.encoder_.transform(frame)
            values = tuple(int(v) for v in np.count_nonzero(~np.isnan(matrix), axis=0))
            pca = self.detectors_.get("pca")
            error_sum = float(pca.errors(impute(matrix)).sum()) if pca is not None and len(matrix) else 0.0
        return RowSums(len(frame), error_sum, values)

    def sampled_positions(self, n_rows: int) -> NDArray[np.int64]:
        """The positions (sorted, distinct) of the rows of a window of ``n_rows`` rows that :meth:`judge` needs: with
        PCA, the rows the domain classifier and MMD take (:meth:`DomainClassifier.taken
        <driftloop.multivariate.classifier.DomainClassifier.taken>`), PCA reading every row through
        :meth:`row_sums`; without, the rows :meth:`compare` encodes. At most the detectors' ``max_rows`` together."""
        self._check_fitted()
        sampling = [detector for name, detector in self.detectors_.items() if name != "pca"]
        if not sampling:
            return np.empty(0, dtype=np.int64)
        if "pca" not in self.detectors_:
            return self._encoded_positions(n_rows)
        return np.unique(np.concatenate([detector.taken(n_rows) for detector in sampling])).astype(np.int64)

    def judge(self, n_rows: int, sample: pd.DataFrame, sums: RowSums | None = None) -> list[DetectorResult]:
        """Judge a window of ``n_rows`` rows from its rows at :meth:`sampled_positions` (``sample``, in that order,
        with the window's columns) and, with PCA, the :class:`RowSums` of all its rows: the results :meth:`compare`
        gives for the whole window (PCA's mean error is ``error_sum / rows`` instead of the mean of the errors:
        equal up to the rounding of the sum, a few units of 1e-16 relative)."""
        self._check_fitted()
        positions = self.sampled_positions(n_rows)
        if len(sample) != len(positions):
            raise invalid_parameter("sample", "MultivariateDrift.judge",
                                    f"the {len(positions)} rows of sampled_positions({n_rows})", f"{len(sample)} rows")
        if "pca" not in self.detectors_:
            return self.compare(sample)  # the rows compare encodes: it encodes them all
        if sums is None or sums.rows != n_rows or len(sums.values) != len(self.columns_):
            raise invalid_parameter("sums", "MultivariateDrift.judge",
                                    f"the RowSums of the window's {n_rows} rows and {len(self.columns_)} columns",
                                    sums)
        absent = self.encoder_.missing_from(sample)
        if absent:
            return self._missing(absent)
        empty = [name for name, count in zip(self.columns_, sums.values, strict=True) if count == 0]
        if empty:
            return self._without_values(empty)
        if "classifier" in self.detectors_:
            import sklearn.ensemble  # noqa: F401  loaded before threadpool_limits (see compare)
        with threadpool_limits(self.n_threads):
            matrix = self.encoder_.transform(sample)
            results = []
            for name, detector in self.detectors_.items():
                if isinstance(detector, PCAReconstruction):
                    mean = sums.error_sum / n_rows if n_rows else float("nan")
                    results.append(detector.judge(mean, n_rows))
                else:
                    rows = matrix[np.searchsorted(positions, detector.taken(n_rows))]
                    results.append(detector.compare_rows(rows, n_rows))
            return results

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted detectors to the folder ``path`` (see :mod:`driftloop.multivariate.storage`)."""
        from driftloop.multivariate.storage import save_multivariate

        if not hasattr(self, "detectors_"):
            raise NotFittedError("This MultivariateDrift instance is not fitted yet; call 'fit' before 'save'.")
        return save_multivariate(self, Path(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MultivariateDrift:
        """Read detectors written by :meth:`save`."""
        from driftloop.multivariate.storage import load_multivariate

        return load_multivariate(Path(path))

    def get_params(self) -> dict[str, Any]:
        return {"detectors": list(self.detectors), "columns": None if self.columns is None else list(self.columns),
                "categorical_columns": list(self.categorical_columns), "n_threads": self.n_threads}
