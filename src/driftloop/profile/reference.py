"""The reference profile: fitted once on training data, then compared with each window in one pass."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from driftloop import stats
from driftloop.errors import DriftloopError, NotFittedError, invalid_parameter
from driftloop.profile import frames
from driftloop.profile.bins import bin_counts
from driftloop.profile.calibration import calibration_size, column_null, largest_size, largest_split
from driftloop.profile.columns import CategoricalColumn, NumericColumn, fit_categorical, fit_numeric
from driftloop.profile.statistics import (
    CATEGORICAL_STATISTICS,
    DEFAULT_CATEGORICAL,
    DEFAULT_NUMERIC,
    NUMERIC_STATISTICS,
    Pair,
    Statistic,
    WindowSummary,
    sorted_pair,
)
from driftloop.stats.constant import departures_p_value, snap_sorted
from driftloop.thresholds import (
    DriftThresholds,
    NullModel,
    NullSample,
    benjamini_hochberg,
    distance_threshold,
    fit_null,
)

Column = NumericColumn | CategoricalColumn

#: Columns of the table returned by :meth:`ReferenceProfile.compare`, in order.
RESULT_COLUMNS = ("column", "statistic", "value", "p_value", "threshold", "drifted", "reason", "n", "n_missing")


class Comparison(NamedTuple):
    """A window compared with the reference (:meth:`ReferenceProfile.compare_window`): the ``table`` that
    :meth:`ReferenceProfile.compare` returns, and ``window_counts``: per compared column, the window's counts that
    its count statistics were computed from (numeric: per reference bin, with the underflow and overflow bins;
    categorical: per reference category, last slot unseen categories), for a column whose window could be
    summarised and whose statistics need counts."""

    table: pd.DataFrame
    window_counts: dict[str, NDArray[np.int64]]


class ReferenceProfile:
    """What drift detection needs from the reference, fitted once (at training time) and saved beside the model.

    Parameters
    ----------
    columns
        Columns to profile; ``None`` profiles every column of the frame given to :meth:`fit`.
    categorical_columns
        Columns treated as categorical even though they hold numbers. Otherwise numbers (pandas
        ``is_numeric_dtype``, Arrow integers, floats, decimals) are numeric; booleans, strings and everything else
        are categorical.
    numeric_statistics, categorical_statistics
        Names from :data:`~driftloop.profile.statistics.NUMERIC_STATISTICS` and
        :data:`~driftloop.profile.statistics.CATEGORICAL_STATISTICS`. Defaults: ``("ks", "wasserstein", "psi",
        "js")`` and ``("chi2", "psi", "js")``.
    n_bins
        Bins at the reference's quantiles for the count statistics of numeric columns (plus an underflow and an
        overflow bin). Default 10, the usual choice for PSI.
    max_exact_size
        Above this many finite values a numeric column keeps an exact-rank quantile summary of this many points
        instead of all its sorted values (KS and Wasserstein-1 then carry the error bounds stored per column, see
        :mod:`driftloop.profile.quantiles`); ``None`` always keeps every value. Default 1,000,000 (8 MB per column).
    thresholds
        A :class:`~driftloop.thresholds.DriftThresholds`; ``None`` uses its defaults.
    n_jobs
        Threads used over columns (numpy's sort and merge release the GIL); ``None`` uses every core.

    Attributes
    ----------
    columns_ : dict[str, NumericColumn | CategoricalColumn]
        The fitted per-column summaries, in the order of the reference.
    n_rows_ : int
        Rows of the reference.
    thresholds_ : DriftThresholds
        The validated threshold parameters.
    nulls_ : dict[str, dict[int, NullSample]]
        Leave-one-chunk-out nulls per column and calibration size (filled at fit for the largest size and lazily,
        then cached, for smaller windows; saved with the profile).
    split_nulls_ : dict[str, dict[int, NullSample]]
        Exchangeable nulls (random splits of the calibration rows, :func:`~driftloop.thresholds.random_splits`) per
        column and size, filled and saved likewise. A distance row's threshold is the larger of the two nulls'
        thresholds: the leave-one-chunk-out null keeps the reference's slow variation, the exchangeable one is
        exact at the window's size (up to half the calibration rows) whatever the shape of the data.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> reference = pd.DataFrame({"x": rng.normal(size=5000), "color": rng.choice(["red", "white"], size=5000)})
    >>> profile = ReferenceProfile().fit(reference)
    >>> window = pd.DataFrame({"x": rng.normal(0.5, 1.0, size=1000), "color": rng.choice(["red", "white"], 1000)})
    >>> result = profile.compare(window)
    >>> result[["column", "statistic", "drifted"]].to_string(index=False)  # doctest: +NORMALIZE_WHITESPACE
    'column   statistic  drifted\\n     x          ks     True\\n     x wasserstein     True\\n     x         psi     True\\n     x          js     True\\n color        chi2    False\\n color         psi    False\\n color          js    False'
    """

    def __init__(
        self,
        *,
        columns: Sequence[str] | None = None,
        categorical_columns: Sequence[str] = (),
        numeric_statistics: Sequence[str] = DEFAULT_NUMERIC,
        categorical_statistics: Sequence[str] = DEFAULT_CATEGORICAL,
        n_bins: int = 10,
        max_exact_size: int | None = 1_000_000,
        thresholds: DriftThresholds | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.columns = columns
        self.categorical_columns = categorical_columns
        self.numeric_statistics = numeric_statistics
        self.categorical_statistics = categorical_statistics
        self.n_bins = n_bins
        self.max_exact_size = max_exact_size
        self.thresholds = thresholds
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ parameters
    def get_params(self) -> dict[str, Any]:
        return {
            "columns": None if self.columns is None else list(self.columns),
            "categorical_columns": list(self.categorical_columns),
            "numeric_statistics": list(self.numeric_statistics),
            "categorical_statistics": list(self.categorical_statistics),
            "n_bins": self.n_bins,
            "max_exact_size": self.max_exact_size,
            "thresholds": self.thresholds,
            "n_jobs": self.n_jobs,
        }

    def __repr__(self) -> str:
        defaults = ReferenceProfile().get_params()
        changed = {k: v for k, v in self.get_params().items() if v != defaults[k]}
        return f"ReferenceProfile({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    def _validate_params(self) -> None:
        owner = "ReferenceProfile"
        for name, table in (("numeric_statistics", NUMERIC_STATISTICS),
                            ("categorical_statistics", CATEGORICAL_STATISTICS)):
            chosen = getattr(self, name)
            if isinstance(chosen, str) or not isinstance(chosen, Iterable):
                raise invalid_parameter(name, owner, f"a sequence of names among {sorted(table)}", chosen)
            unknown = [s for s in chosen if s not in table]
            if unknown or len(set(chosen)) != len(list(chosen)):
                raise invalid_parameter(name, owner, f"distinct names among {sorted(table)}", list(chosen))
        if isinstance(self.n_bins, bool) or not isinstance(self.n_bins, int) or self.n_bins < 1:
            raise invalid_parameter("n_bins", owner, "an integer >= 1", self.n_bins)
        m = self.max_exact_size
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 2):
            raise invalid_parameter("max_exact_size", owner, "None or an integer >= 2", m)
        if self.n_jobs is not None and (isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, int)
                                        or self.n_jobs < 1):
            raise invalid_parameter("n_jobs", owner, "None or an integer >= 1", self.n_jobs)
        if self.thresholds is not None and not isinstance(self.thresholds, DriftThresholds):
            raise invalid_parameter("thresholds", owner, "None or a DriftThresholds", self.thresholds)
        for name in ("columns", "categorical_columns"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, str) or not isinstance(value, Iterable)):
                raise invalid_parameter(name, owner, "a sequence of column names", value)

    def check_params(self) -> DriftThresholds:
        """Check every parameter (a one-line error naming the first wrong one); return the validated thresholds."""
        self._validate_params()
        return (self.thresholds or DriftThresholds()).validate()

    def _workers(self) -> int:
        return self.n_jobs or os.cpu_count() or 1

    # ------------------------------------------------------------------ fit
    def fit(self, frame: Any) -> ReferenceProfile:
        """Profile the reference ``frame`` (pandas DataFrame, pyarrow Table or Parquet path); return self."""
        policy = self.check_params()
        data = frames.open_frame(frame, "ReferenceProfile.fit", self.columns)
        available = frames.column_names(data)
        wanted = list(available) if self.columns is None else list(self.columns)
        missing = [c for c in wanted if c not in available]
        if missing:
            raise invalid_parameter("columns", "ReferenceProfile.fit", f"columns of the reference {available}",
                                    missing)
        if not wanted:
            raise invalid_parameter("frame", "ReferenceProfile.fit", "at least one column", available)
        forced = set(self.categorical_columns)

        def fit_one(name: str) -> Column:
            raw = frames.get_column(data, name)
            if name not in forced and frames.is_numeric_column(raw):
                values, _ = frames.numeric_values(raw, name)
                assert values is not None
                if not np.isfinite(values).any():
                    raise DriftloopError(f"Column {name!r} of the reference must have finite values; got none "
                                         f"({len(values)} rows, all missing or infinite). Leave it out with columns=.")
                return fit_numeric(name, values, n_bins=self.n_bins, max_exact_size=self.max_exact_size,
                                   max_calibration_rows=policy.max_rows)
            codes, uniques = frames.factorize(raw)
            if not uniques:
                raise DriftloopError(f"Column {name!r} of the reference must have non-missing values; got none "
                                     f"({len(codes)} rows). Leave it out with columns=.")
            return fit_categorical(name, codes, uniques, max_calibration_rows=policy.max_rows)

        with ThreadPoolExecutor(max_workers=self._workers()) as pool:
            fitted = list(pool.map(fit_one, wanted))
        return self.fit_columns(fitted, frames.n_rows(data))

    def fit_columns(self, fitted: Sequence[Column], n_rows: int) -> ReferenceProfile:
        """Finish the profile from columns fitted elsewhere (by :meth:`fit`, or from Spark aggregates by
        :func:`driftloop.spark.profile.fit_profile_spark`): keep them and calibrate the nulls from their
        ``calibration`` rows; return self."""
        policy = self.check_params()
        self.columns_: dict[str, Column] = {c.name: c for c in fitted}
        self.n_rows_ = int(n_rows)
        self.thresholds_ = policy
        self.nulls_: dict[str, dict[int, NullSample]] = {c.name: {} for c in fitted}
        self.split_nulls_: dict[str, dict[int, NullSample]] = {c.name: {} for c in fitted}
        self._init_caches()
        with ThreadPoolExecutor(max_workers=self._workers()) as pool:
            list(pool.map(lambda c: self._null(c, largest_size(c, policy)), fitted))
            list(pool.map(lambda c: self._null(c, largest_split(c), exchangeable=True), fitted))
        return self

    def _init_caches(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple[str, int, bool], list[NullModel]] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its lock and its cache of null models (rebuilt on demand), so that a fitted profile can
        be sent to another process."""
        state = dict(self.__dict__)
        state.pop("_lock", None)
        state.pop("_models", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "columns_" in state:
            self._init_caches()

    def _check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            raise NotFittedError("This ReferenceProfile instance is not fitted yet; call 'fit' with the reference "
                                 "data before using it.")

    def statistics_for(self, column: Column) -> list[Statistic]:
        """The statistics computed for ``column``, in the configured order."""
        if isinstance(column, NumericColumn):
            return [NUMERIC_STATISTICS[s] for s in self.numeric_statistics]
        return [CATEGORICAL_STATISTICS[s] for s in self.categorical_statistics]

    def _distances(self, column: Column) -> list[Statistic]:
        return [s for s in self.statistics_for(column) if s.verdict == "distance"]

    def _null(self, column: Column, size: int, *, exchangeable: bool = False) -> list[NullModel] | None:
        """Null models of the column's distances at calibration ``size`` (computed once, then cached):
        leave-one-chunk-out, or random splits with ``exchangeable``."""
        distances = self._distances(column)
        if size <= 0 or not distances:
            return None
        key = (column.name, size, exchangeable)
        models = self._models.get(key)
        if models is not None:
            return models
        saved = self.split_nulls_ if exchangeable else self.nulls_
        null = saved[column.name].get(size)
        if null is None:
            null = column_null(column, distances, size, self.thresholds_, self.n_bins, exchangeable=exchangeable)
            with self._lock:
                saved[column.name][size] = null
        models = [fit_null(null.values[:, j], null.n_eff, s.power) for j, s in enumerate(distances)]
        self._models[key] = models
        return models

    # ------------------------------------------------------------------ compare
    def compare(self, frame: Any, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Compare a window with the reference: one row per (column, statistic).

        Parameters
        ----------
        frame
            The window: a pandas DataFrame, a pyarrow Table, or the path of a Parquet file (only the profiled
            columns are read).
        columns
            Profiled columns to compare; ``None`` compares all of them.

        Returns
        -------
        pandas.DataFrame
            Columns ``column``, ``statistic``, ``value``, ``p_value`` (NaN for distances), ``threshold`` (for tests
            the Benjamini–Hochberg p-value cutoff of this window, for distances the calibrated distance threshold),
            ``drifted`` (nullable boolean: ``p_value <= threshold`` for tests, ``value > threshold`` for
            distances, ``<NA>`` when the row could not be judged), ``reason`` (``None``, or why the row could not be
            computed), ``n`` (non-missing finite window rows used) and ``n_missing`` (missing or non-finite window
            rows of that column, never passed to a statistic).

        Notes
        -----
        A numeric column whose reference holds one value (up to round-off, see
        :func:`~driftloop.stats.constant.constant_value`) has no spread and a null of distances identically zero.
        Window values within round-off of the constant are read as it; every distance row of the column is judged
        by Fisher's exact test of the number of window values away from the constant
        (:func:`~driftloop.stats.constant.departures_p_value`; ``p_value`` holds it and ``threshold`` the level it
        is held to), and the ``wasserstein`` row reports Wasserstein-1 in the column's units, with a ``reason``
        saying so.
        """
        return self.compare_window(frame, columns=columns).table

    def compare_window(self, frame: Any, *, columns: Sequence[str] | None = None) -> Comparison:
        """:meth:`compare`, with the window's counts that the count statistics were computed from (a
        :class:`Comparison`): what the monitor's report draws, without counting the window's values again."""
        self._check_fitted()
        if columns is None:
            chosen = list(self.columns_)
        else:
            if isinstance(columns, str) or not isinstance(columns, Iterable):
                raise invalid_parameter("columns", "ReferenceProfile.compare", "a sequence of profiled columns",
                                        columns)
            chosen = list(columns)
            unknown = [c for c in chosen if c not in self.columns_]
            if unknown:
                raise invalid_parameter("columns", "ReferenceProfile.compare",
                                        f"profiled columns among {list(self.columns_)}", unknown)
        data = frames.open_frame(frame, "ReferenceProfile.compare", chosen)
        present = set(frames.column_names(data))
        workers = min(self._workers(), len(chosen)) or 1

        def job(name: str) -> tuple[list[dict[str, Any]], NDArray[np.int64] | None]:
            return self._compare_column(self.columns_[name], data if name in present else None)

        if workers == 1:
            per_column = [job(name) for name in chosen]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                per_column = list(pool.map(job, chosen))
        table = self._result_table([row for rows, _ in per_column for row in rows])
        counts = {name: window for name, (_, window) in zip(chosen, per_column, strict=True) if window is not None}
        return Comparison(table, counts)

    def _result_table(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """Judge ``rows`` (:meth:`_judge`) and return them as the table :meth:`compare` documents."""
        self._judge(rows)
        result = pd.DataFrame({key: [row.get(key) for row in rows] for key in RESULT_COLUMNS})
        result["value"] = result["value"].astype("float64")
        result["p_value"] = result["p_value"].astype("float64")
        result["threshold"] = result["threshold"].astype("float64")
        result["drifted"] = result["drifted"].astype("boolean")
        # Built as object: pandas 3 would infer the str dtype and turn every None into NaN.
        result["reason"] = pd.Series([row.get("reason") for row in rows], index=result.index, dtype="object")
        result["n"] = result["n"].astype("Int64")
        result["n_missing"] = result["n_missing"].astype("Int64")
        return result

    def compare_summaries(self, summaries: dict[str, WindowSummary]) -> Comparison:
        """:meth:`compare_window` from each column's :class:`WindowSummary` computed elsewhere (the Spark engine
        computes them from per-partition summaries): the same table, thresholds and verdicts as :meth:`compare` of a
        window with those summaries, and the window counts they hold."""
        self._check_fitted()
        unknown = [c for c in summaries if c not in self.columns_]
        if unknown:
            raise invalid_parameter("summaries", "ReferenceProfile.compare_summaries",
                                    f"profiled columns among {list(self.columns_)}", unknown)
        rows = [row for name, summary in summaries.items() for row in self._rows(self.columns_[name], summary)]
        counts = {name: summary.pair.window_counts for name, summary in summaries.items()
                  if summary.pair is not None and summary.pair.window_counts is not None}
        return Comparison(self._result_table(rows), counts)

    def _compare_column(self, column: Column, data: Any) -> tuple[list[dict[str, Any]], NDArray[np.int64] | None]:
        """The result rows of ``column`` and the window's counts (``None`` when not computed)."""
        if data is None:
            summary = WindowSummary.failed(f"column {column.name!r} is missing from the window")
        else:
            summary = self._summarise(column, frames.get_column(data, column.name))
        counts = summary.pair.window_counts if summary.pair is not None else None
        return self._rows(column, summary), counts

    def _summarise(self, column: Column, raw: Any) -> WindowSummary:
        """What the statistics of ``column`` need from the window's values ``raw``."""
        chosen = self.statistics_for(column)
        if isinstance(column, NumericColumn):
            values, reason = frames.numeric_values(raw, column.name)
            if reason is not None:
                return WindowSummary.failed(reason)
            sample = stats.sort_finite(values)
            window_sorted = sample.values
            n, n_missing = len(window_sorted), int(sample.n_missing) + int(sample.n_nonfinite)
            departures = snap_sorted(window_sorted, column.minimum) if column.constant and n else 0
            counts = bin_counts(window_sorted, column.edges) if n and any(s.needs == "counts" for s in chosen) \
                else None
            pair = sorted_pair(column.values, window_sorted, column.counts, counts, column.n, column.std,
                               chosen if n else ())
            return WindowSummary(pair, n, n_missing, departures)
        values_seen, value_counts, n_missing = frames.category_counts(raw)
        counts = column.align(values_seen, value_counts)
        return WindowSummary(Pair(None, None, column.counts, counts, column.n, float("nan")), int(counts.sum()),
                             n_missing)

    def _rows(self, column: Column, summary: WindowSummary) -> list[dict[str, Any]]:
        """The result rows of ``column`` (before :meth:`_judge`) from the window's ``summary``."""
        chosen = self.statistics_for(column)
        rows = [{"column": column.name, "statistic": s.name, "value": np.nan, "p_value": np.nan,
                 "threshold": np.nan, "drifted": None, "reason": None, "n": None, "n_missing": None,
                 "_spec": s, "_models": []} for s in chosen]

        def fail(reason: str) -> list[dict[str, Any]]:
            for row in rows:
                row["reason"] = reason
            return rows

        if summary.reason is not None:
            return fail(summary.reason)
        pair, n, n_missing = summary.pair, summary.n, summary.n_missing
        for row in rows:
            row["n"], row["n_missing"] = n, n_missing
        if n == 0:
            return fail(f"column {column.name!r} has no non-missing values in the window ({n_missing} missing)")
        for row in rows:
            try:
                row["value"], row["p_value"] = row["_spec"].compute(pair)
            except (ValueError, ArithmeticError, DriftloopError) as exc:
                row["reason"] = f"{row['_spec'].name} could not be computed for column {column.name!r}: {exc}"
        if isinstance(column, NumericColumn) and column.constant:
            constant_p = departures_p_value(column.n, n, summary.departures)
            self._constant_rows(column, rows, pair, n - summary.departures, constant_p)
            return rows
        distance_rows = [row for row in rows if row["_spec"].verdict == "distance"]
        for models in (self._null(column, calibration_size(n, largest_size(column, self.thresholds_))),
                       self._null(column, calibration_size(n, largest_split(column)), exchangeable=True)):
            for row, model in zip(distance_rows, models or (), strict=bool(models)):
                row["_models"].append(model)
        return rows

    @staticmethod
    def _constant_rows(column: NumericColumn, rows: list[dict[str, Any]], pair: Pair, n_at: int, p: float) -> None:
        """A constant reference: the normalised Wasserstein becomes W1 in the column's units, and every distance row
        is judged by Fisher's exact test of the window's values away from the constant (the p-value
        :func:`~driftloop.stats.constant.departures_p_value`): its leave-one-chunk-out null is identically zero."""
        for row in rows:
            if row["_spec"].verdict != "distance" or row["reason"] is not None:
                continue
            row["_constant_p"] = p
            if row["_spec"].name == "wasserstein":
                row["value"] = stats.wasserstein_sorted(pair.reference_sorted, pair.window_sorted, check=False,
                                                        gaps=pair.gaps)
                row["reason"] = (
                    f"the reference of column {column.name!r} is constant ({column.minimum!r}), it has no spread to "
                    f"scale by: the value is Wasserstein-1 in the column's units (the mean distance of the window's "
                    f"values from the constant; {row['n'] - n_at} of {row['n']} away from it), judged by Fisher's "
                    f"exact test of that count")

    def _judge(self, rows: list[dict[str, Any]]) -> None:
        policy = self.thresholds_
        tests = [r for r in rows if r["_spec"].verdict == "test" and r["reason"] is None
                 and not np.isnan(r["p_value"])]
        if tests:
            bh = benjamini_hochberg([r["p_value"] for r in tests], policy.alpha_tests)
            for row, rejected in zip(tests, bh.rejected, strict=True):
                row["threshold"], row["drifted"] = bh.cutoff, bool(rejected)
        constant = [r for r in rows if r.get("_constant_p") is not None]
        distances = [r for r in rows if r["_spec"].verdict == "distance" and r["reason"] is None
                     and r.get("_constant_p") is None and r["_models"] and not np.isnan(r["value"])]
        if distances or constant:
            level = policy.alpha_distances / (len(distances) + len(constant))
            for row in constant:
                row["p_value"], row["threshold"] = row["_constant_p"], level
                row["drifted"] = bool(row["p_value"] <= level)
            for row in distances:
                column = self.columns_[row["column"]]
                # beyond both nulls: the largest threshold (NaN only when every null is)
                thresholds = [distance_threshold(model, row["n"], column.n, level) for model in row["_models"]]
                threshold = float("nan") if np.isnan(thresholds).all() else float(np.nanmax(thresholds))
                row["threshold"] = threshold
                row["drifted"] = None if np.isnan(threshold) else bool(row["value"] > threshold)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the profile to the folder ``path`` (see :mod:`driftloop.profile.storage`); return the folder."""
        from driftloop.profile.storage import save_profile

        self._check_fitted()
        return save_profile(self, Path(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReferenceProfile:
        """Read a profile written by :meth:`save`."""
        from driftloop.profile.storage import load_profile

        return load_profile(Path(path))
