"""The reference profile fitted in Spark (``local[2]``) equals the numpy engine's profile of the same Parquet data:
exactly (counts, edges, bins, kept values, category tables, calibration rows, nulls; mean and standard deviation
bit-identical below ``max_exact_size``), and within 1e-12 relative where Spark's sums replace numpy's (mean,
standard deviation and the quantile summary's error bounds above ``max_exact_size``, or 1e-12 of the column's
magnitude for the round-off standard deviation of a constant column). Real data (the bundled wine
data) and hypothesis-generated frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftloop.errors import DriftloopError
from driftloop.profile import CategoricalColumn, NumericColumn, ReferenceProfile
from driftloop.spark.profile import fit_profile_spark, read_reference
from driftloop.thresholds import DriftThresholds

WINE = Path(__file__).parents[2] / "src" / "driftloop" / "datasets" / "wine_quality"


def write_parquet(frame: pd.DataFrame, folder: Path, rows_per_file: int) -> Path:
    """``frame`` as a folder of Parquet files of ``rows_per_file`` rows (more than ten: paths sort as text)."""
    ds.write_dataset(pa.Table.from_pandas(frame, preserve_index=False), folder, format="parquet",
                     max_rows_per_file=rows_per_file, max_rows_per_group=rows_per_file,
                     basename_template="part-{i}.parquet", existing_data_behavior="delete_matching")
    return folder


def assert_same_profile(got: ReferenceProfile, expected: ReferenceProfile) -> None:
    """Equal profiles: exactly, except the sums that Spark adds in another order (see the module docstring)."""
    assert got.n_rows_ == expected.n_rows_
    assert list(got.columns_) == list(expected.columns_)
    params = {**got.get_params(), "thresholds": None}  # a loaded profile holds its thresholds explicitly
    assert params == {**expected.get_params(), "thresholds": None} and got.thresholds_ == expected.thresholds_
    for name, want in expected.columns_.items():
        have = got.columns_[name]
        assert type(have) is type(want), name
        assert (have.n, have.n_missing) == (want.n, want.n_missing), name
        np.testing.assert_array_equal(have.counts, want.counts, err_msg=name)
        np.testing.assert_array_equal(have.calibration, want.calibration, err_msg=name)
        assert have.calibration.dtype == want.calibration.dtype, name
        if isinstance(want, CategoricalColumn):
            assert have.categories == want.categories, name
            assert [type(v) for v in have.categories] == [type(v) for v in want.categories], name
            continue
        assert (have.n_nonfinite, have.minimum, have.maximum, have.exact) == \
            (want.n_nonfinite, want.minimum, want.maximum, want.exact), name
        np.testing.assert_array_equal(have.edges, want.edges, err_msg=name)
        np.testing.assert_array_equal(have.values, want.values, err_msg=name)
        if want.exact:  # the same sorted values on the driver: the same floats
            assert (have.mean, have.std, have.ks_error, have.wasserstein_error) == \
                (want.mean, want.std, want.ks_error, want.wasserstein_error), name
        else:
            scale = max(abs(want.mean), want.std)  # a constant column's std is round-off of its magnitude
            for field in ("mean", "std", "ks_error", "wasserstein_error"):
                assert getattr(have, field) == pytest.approx(getattr(want, field), rel=1e-12, abs=1e-12 * scale), \
                    (name, field)
    for nulls in ("nulls_", "split_nulls_"):
        have_nulls, want_nulls = getattr(got, nulls), getattr(expected, nulls)
        assert have_nulls.keys() == want_nulls.keys()
        for name, by_size in want_nulls.items():
            assert have_nulls[name].keys() == by_size.keys(), name
            for size, null in by_size.items():
                other = have_nulls[name][size]
                np.testing.assert_allclose(other.values, null.values, rtol=1e-12, atol=0, err_msg=name)
                np.testing.assert_array_equal(other.n_eff, null.n_eff, err_msg=name)


def wine() -> pd.DataFrame:
    red = pd.read_csv(WINE / "winequality-red.csv", sep=";")
    red["color"] = np.where(red["quality"] >= 6, "good", "plain")
    return red


@pytest.mark.parametrize("max_exact_size", [1_000_000, 700])
def test_wine_profile_in_spark_equals_the_numpy_profile(spark, tmp_path, max_exact_size):
    """All values kept (exact, bit-identical), and a quantile summary of 700 of the 1599 values (the ranks and bin
    counts exact, the error bounds within 1e-12)."""
    folder = write_parquet(wine(), tmp_path / "wine", rows_per_file=130)  # 13 files: part-10 sorts before part-2
    expected = ReferenceProfile(max_exact_size=max_exact_size).fit(pd.read_parquet(folder))
    got = fit_profile_spark(read_reference(spark, str(folder)), ReferenceProfile(max_exact_size=max_exact_size),
                            partitions=3)
    assert_same_profile(got, expected)
    assert any(not c.exact for c in got.columns_.values() if isinstance(c, NumericColumn)) == (max_exact_size < 1599)
    window = wine().sample(400, random_state=1)
    pd.testing.assert_frame_equal(got.compare(window), expected.compare(window))
    saved = ReferenceProfile.load(got.save(tmp_path / "saved"))
    assert_same_profile(saved, expected)


def test_calibration_rows_span_several_blocks_of_a_file(spark, tmp_path, monkeypatch):
    """Blocks of a few rows: the calibration rows of one file are picked across many blocks, missing values
    between them, in the order of the rows."""
    monkeypatch.setattr("driftloop.spark.profile.BLOCK_ROWS", 7)
    rng = np.random.default_rng(3)
    x = rng.normal(size=900)
    x[rng.random(900) < 0.2] = np.nan
    frame = pd.DataFrame({"x": x, "k": rng.choice(["a", "b", None], size=900)})
    folder = write_parquet(frame, tmp_path / "blocks", rows_per_file=400)
    small = DriftThresholds(max_rows=100)
    expected = ReferenceProfile(thresholds=small).fit(pd.read_parquet(folder))
    got = fit_profile_spark(read_reference(spark, str(folder)), ReferenceProfile(thresholds=small), partitions=2)
    assert_same_profile(got, expected)


def test_files_are_taken_in_path_order_not_in_the_order_of_sparks_uris(spark, tmp_path):
    """"x a b" precedes "x a!b" on disk, as pyarrow lists them; Spark's URIs sort the other way ("x a%20b" >
    "x a!b"). The category tied in counts that appears first in the first file comes first, and the calibration
    rows follow the files' path order."""
    rng = np.random.default_rng(8)
    folder = tmp_path / "escaped"
    folder.mkdir()
    for name, first in (("x a b.parquet", "p"), ("x a!b.parquet", "q")):
        other = "q" if first == "p" else "p"
        part = pd.DataFrame({"x": rng.normal(size=300), "k": [first, *([first, other] * 149), other]})
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), folder / name)
    small = DriftThresholds(max_rows=100)
    expected = ReferenceProfile(thresholds=small).fit(pd.read_parquet(folder))
    assert expected.columns_["k"].categories[0] == "p"
    got = fit_profile_spark(read_reference(spark, str(folder)), ReferenceProfile(thresholds=small), partitions=2)
    assert_same_profile(got, expected)


numbers = st.one_of(st.floats(-1e6, 1e6, allow_nan=False, width=32).map(float), st.integers(-5, 5).map(float),
                    st.sampled_from([np.nan, np.inf, -np.inf, 0.1 * 3, 0.3]))


@st.composite
def frames(draw) -> pd.DataFrame:
    n = draw(st.integers(4, 60))
    x = draw(st.lists(numbers, min_size=n, max_size=n))
    if not any(np.isfinite(x)):
        x[0] = 1.5
    constant = draw(st.sampled_from([0.3, 0.1 * 3]))
    categories = draw(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n))
    categories[0] = "a"
    return pd.DataFrame({
        "x": x,
        "i": draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n)),
        "held": [constant if j % 2 else 0.3 for j in range(n)],  # constant up to round-off
        "k": categories,
    })


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frames(), rows_per_file=st.integers(3, 25), max_exact_size=st.sampled_from([None, 5]),
       n_bins=st.integers(1, 6))
def test_spark_profile_equals_the_numpy_profile_on_generated_frames(spark, tmp_path_factory, frame, rows_per_file,
                                                                     max_exact_size, n_bins):
    folder = write_parquet(frame, tmp_path_factory.mktemp("frame"), rows_per_file)
    params = dict(max_exact_size=max_exact_size, n_bins=n_bins)
    expected = ReferenceProfile(**params).fit(pd.read_parquet(folder))
    got = fit_profile_spark(read_reference(spark, str(folder)), ReferenceProfile(**params), partitions=3)
    assert_same_profile(got, expected)


def test_bad_references_get_one_line_errors(spark, tmp_path):
    folder = write_parquet(pd.DataFrame({"x": [1.0, 2.0, np.nan], "y": [np.nan, np.inf, np.nan]}), tmp_path / "a",
                           rows_per_file=10)
    reference = read_reference(spark, str(folder))
    with pytest.raises(DriftloopError, match=r"lacks the column\(s\) 'z' to profile; its columns are: x, y"):
        fit_profile_spark(reference, ReferenceProfile(columns=["x", "z"]), partitions=2)
    with pytest.raises(DriftloopError, match="Column 'y' of the reference must have finite values; got none"):
        fit_profile_spark(reference, ReferenceProfile(), partitions=2)
    with pytest.raises(DriftloopError, match="The 'n_bins' parameter"):
        fit_profile_spark(reference, ReferenceProfile(n_bins=0), partitions=2)
    empty = tmp_path / "empty"
    empty.mkdir()
    pq.write_table(pa.table({"x": pa.array([], pa.float64())}), empty / "part-0.parquet")
    with pytest.raises(DriftloopError, match="The reference data has no rows"):
        fit_profile_spark(read_reference(spark, str(empty)), ReferenceProfile(), partitions=2)
    with pytest.raises(DriftloopError, match="Spark could not read"):
        read_reference(spark, str(tmp_path / "nowhere"))
