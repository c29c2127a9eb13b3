"""ReferenceProfile: the estimator contract, the result table, and every statistic against scipy as the oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as ss
from scipy.spatial.distance import jensenshannon

from driftloop.errors import DriftloopError, NotFittedError
from driftloop.profile import RESULT_COLUMNS, ReferenceProfile
from driftloop.profile.bins import bin_counts
from driftloop.profile.columns import CategoricalColumn, NumericColumn
from driftloop.thresholds import DriftThresholds

from .conftest import make_frame

REL = 1e-9


def close(a: float, b: float) -> bool:
    return abs(a - b) <= REL * max(abs(a), abs(b), 1e-300)


def psi_oracle(p_counts: np.ndarray, q_counts: np.ndarray, eps: float = 1e-4) -> float:
    p = np.maximum(p_counts / p_counts.sum(), eps)
    q = np.maximum(q_counts / q_counts.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def test_init_only_stores_parameters() -> None:
    profile = ReferenceProfile(n_bins=-3, numeric_statistics=("nope",))
    assert profile.n_bins == -3 and profile.numeric_statistics == ("nope",)
    assert not hasattr(profile, "columns_")
    assert repr(ReferenceProfile(n_bins=20)) == "ReferenceProfile(n_bins=20)"


def test_unfitted_profile_raises_not_fitted_error_naming_the_class() -> None:
    with pytest.raises(NotFittedError, match="ReferenceProfile"):
        ReferenceProfile().compare(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(NotFittedError, match="ReferenceProfile"):
        ReferenceProfile().save("/tmp/never")


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"n_bins": 0}, "'n_bins' parameter of ReferenceProfile must be an integer >= 1; got 0"),
        ({"numeric_statistics": ("ks", "nope")}, "'numeric_statistics'"),
        ({"categorical_statistics": "chi2"}, "'categorical_statistics'"),
        ({"max_exact_size": 1}, "'max_exact_size'"),
        ({"n_jobs": 0}, "'n_jobs'"),
        ({"thresholds": {"alpha_tests": 0.1}}, "'thresholds'"),
        ({"thresholds": DriftThresholds(alpha_tests=1.5)}, "'alpha_tests'"),
        ({"columns": ["missing"]}, "'columns' parameter of ReferenceProfile.fit"),
    ],
)
def test_fit_validates_parameters(params: dict, fragment: str) -> None:
    with pytest.raises(DriftloopError, match=fragment.replace("(", r"\(")):
        ReferenceProfile(**params).fit(pd.DataFrame({"x": np.arange(100.0)}))


def test_fit_rejects_a_reference_column_without_values() -> None:
    with pytest.raises(DriftloopError, match="Column 'x' of the reference must have finite values"):
        ReferenceProfile().fit(pd.DataFrame({"x": [np.nan, np.nan]}))
    with pytest.raises(DriftloopError, match="'frame' parameter of ReferenceProfile.fit"):
        ReferenceProfile().fit([1, 2, 3])


def test_fitted_attributes_and_column_kinds(fitted_profile: ReferenceProfile, reference_frame: pd.DataFrame) -> None:
    assert fitted_profile.fit is not None and fitted_profile.n_rows_ == len(reference_frame)
    kinds = {name: column.kind for name, column in fitted_profile.columns_.items()}
    assert [k for k in kinds.values()].count("numeric") == 20 and [k for k in kinds.values()].count("categorical") == 5
    column = fitted_profile.columns_["num_0"]
    assert isinstance(column, NumericColumn) and column.exact
    assert np.all(np.diff(column.values) >= 0) and column.n == len(reference_frame)
    assert column.counts.sum() == column.n and len(column.counts) == len(column.edges) + 1
    assert column.counts[0] == 0 and column.counts[-1] == 0  # under/overflow empty on the reference itself
    cat = fitted_profile.columns_["cat_4"]
    assert isinstance(cat, CategoricalColumn) and len(cat.categories) == 35 and cat.counts[-1] == 0


def test_booleans_are_categorical_and_forced_categorical_columns() -> None:
    frame = pd.DataFrame({"flag": [True, False] * 50, "code": [1, 2, 3, 4] * 25})
    profile = ReferenceProfile(categorical_columns=["code"]).fit(frame)
    assert profile.columns_["flag"].kind == "categorical" and profile.columns_["code"].kind == "categorical"
    assert sorted(profile.columns_["code"].categories) == [1, 2, 3, 4]


def test_result_table_shape_and_dtypes(fitted_profile: ReferenceProfile) -> None:
    result = fitted_profile.compare(make_frame(3000, seed=2))
    assert tuple(result.columns) == RESULT_COLUMNS
    assert len(result) == 20 * 4 + 5 * 3
    assert list(result.loc[result.column == "num_0", "statistic"]) == ["ks", "wasserstein", "psi", "js"]
    assert list(result.loc[result.column == "cat_0", "statistic"]) == ["chi2", "psi", "js"]
    assert str(result.drifted.dtype) == "boolean" and result.reason.isna().all()
    distances = result[result.statistic.isin(["wasserstein", "psi", "js"])]
    assert distances.p_value.isna().all() and (distances.threshold > 0).all()
    tests = result[result.statistic.isin(["ks", "chi2"])]
    assert tests.p_value.between(0, 1).all() and (tests.threshold > 0).all()
    assert (result.n == 3000).all() and (result.n_missing == 0).all()


def test_numeric_statistics_equal_scipy(reference_frame: pd.DataFrame) -> None:
    ref, win = reference_frame["num_1"].to_numpy(), make_frame(3000, seed=3, shift=0.05)["num_1"].to_numpy()
    profile = ReferenceProfile(
        columns=["num_1"], numeric_statistics=("ks", "wasserstein", "wasserstein_raw", "psi", "js", "hellinger",
                                               "total_variation", "cramer_von_mises", "energy"),
    ).fit(reference_frame)
    got = profile.compare(pd.DataFrame({"num_1": win})).set_index("statistic")
    ks = ss.ks_2samp(ref, win)
    assert close(got.loc["ks", "value"], ks.statistic) and close(got.loc["ks", "p_value"], ks.pvalue)
    w1 = ss.wasserstein_distance(ref, win)
    assert close(got.loc["wasserstein_raw", "value"], w1)
    assert close(got.loc["wasserstein", "value"], w1 / np.std(ref))
    cvm = ss.cramervonmises_2samp(ref, win)
    assert close(got.loc["cramer_von_mises", "value"], cvm.statistic)
    assert close(got.loc["energy", "value"], ss.energy_distance(ref, win))
    column = profile.columns_["num_1"]
    p_counts, q_counts = bin_counts(np.sort(ref), column.edges), bin_counts(np.sort(win), column.edges)
    assert close(got.loc["psi", "value"], psi_oracle(p_counts, q_counts))
    assert close(got.loc["js", "value"], jensenshannon(p_counts / p_counts.sum(), q_counts / q_counts.sum(), base=2))
    assert close(got.loc["total_variation", "value"], 0.5 * np.abs(p_counts / p_counts.sum()
                                                                  - q_counts / q_counts.sum()).sum())


def test_categorical_statistics_equal_scipy(reference_frame: pd.DataFrame) -> None:
    window = make_frame(3000, seed=4)
    profile = ReferenceProfile(columns=["cat_4"]).fit(reference_frame)
    got = profile.compare(window).set_index("statistic")
    levels = [f"L{k}" for k in range(35)]
    p = reference_frame["cat_4"].value_counts().reindex(levels).to_numpy()
    q = window["cat_4"].value_counts().reindex(levels, fill_value=0).to_numpy()
    chi2 = ss.chi2_contingency(np.vstack([p, q]))
    assert close(got.loc["chi2", "value"], chi2.statistic) and close(got.loc["chi2", "p_value"], chi2.pvalue)
    assert close(got.loc["psi", "value"], psi_oracle(p, q))
    assert close(got.loc["js", "value"], jensenshannon(p / p.sum(), q / q.sum(), base=2))


def test_arrow_table_and_parquet_path_give_the_same_table(fitted_profile: ReferenceProfile, tmp_path) -> None:
    window = make_frame(2000, seed=5)
    expected = fitted_profile.compare(window)
    table = pa.Table.from_pandas(window, preserve_index=False)
    pd.testing.assert_frame_equal(fitted_profile.compare(table), expected)
    path = tmp_path / "window.parquet"
    pq.write_table(table, path)
    pd.testing.assert_frame_equal(fitted_profile.compare(path), expected)
    pd.testing.assert_frame_equal(fitted_profile.compare(str(path)), expected)


def test_single_thread_equals_threads(reference_frame: pd.DataFrame) -> None:
    window = make_frame(2000, seed=6)
    reference = reference_frame.iloc[:5000, [0, 1, 2, 3, 20, 24]]
    one = ReferenceProfile(n_jobs=1).fit(reference).compare(window)
    two = ReferenceProfile(n_jobs=2).fit(reference).compare(window)
    pd.testing.assert_frame_equal(one, two)


def test_compare_subset_of_columns_and_unknown_column(fitted_profile: ReferenceProfile) -> None:
    result = fitted_profile.compare(make_frame(500, seed=7), columns=["num_2", "cat_1"])
    assert set(result.column) == {"num_2", "cat_1"}
    with pytest.raises(DriftloopError, match="'columns' parameter of ReferenceProfile.compare"):
        fitted_profile.compare(make_frame(500, seed=7), columns=["nope"])


def test_constant_reference_column() -> None:
    profile = ReferenceProfile().fit(pd.DataFrame({"c": np.full(2000, 3.0)}))
    same = profile.compare(pd.DataFrame({"c": np.full(300, 3.0)}))
    assert not same.drifted.any() and same.value.eq(0.0).all()
    # only the normalised Wasserstein changes meaning (W1 in the column's units): see test_constant_columns.py
    assert same.reason.notna().tolist() == [False, True, False, False]
    moved = profile.compare(pd.DataFrame({"c": np.full(300, 4.0)}))
    assert moved.drifted.all()


def test_a_fitted_profile_crosses_a_process_boundary(fitted_profile: ReferenceProfile) -> None:
    """Pickled (as sent to a worker process of driftloop simulate) without its lock; the copy compares alike."""
    import pickle

    window = make_frame(300, 7, shift=0.3)
    copy = pickle.loads(pickle.dumps(fitted_profile))
    pd.testing.assert_frame_equal(copy.compare(window), fitted_profile.compare(window))
