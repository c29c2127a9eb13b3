"""The multivariate detectors: scikit-learn's PCA as the oracle, the acceptance data (a flipped correlation with
identical marginals, a rotated cluster, null windows), bad input and the saved format."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from driftloop.errors import DriftloopError
from driftloop.multivariate import DomainClassifier, MMDDetector, MultivariateDrift, PCAReconstruction
from driftloop.multivariate.encoding import fit_encoder
from driftloop.multivariate.pca import principal_subspace, reconstruction_errors
from driftloop.profile import ReferenceProfile

COLUMNS = ["x", "y", "u", "v"]
ALL = ("pca", "mmd", "classifier")


def correlated(rng: np.random.Generator, n: int, rho: float) -> pd.DataFrame:
    """x, y standard normal with correlation rho; u, v independent noise; a categorical column."""
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1.0 - rho * rho) * rng.normal(size=n)
    return pd.DataFrame({"x": x, "y": y, "u": rng.normal(size=n), "v": rng.uniform(-1, 1, size=n),
                         "color": rng.choice(["red", "white", "rose"], size=n, p=[0.5, 0.4, 0.1])})


def small_detectors() -> dict:
    """Sizes that keep the tests fast (the defaults are for production windows)."""
    return {"classifier": DomainClassifier(max_rows=2_000), "mmd": MMDDetector(max_rows=400, n_permutations=300)}


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return correlated(np.random.default_rng(0), 6_000, 0.8)


@pytest.fixture(scope="module")
def fitted(reference) -> MultivariateDrift:
    return MultivariateDrift(detectors=ALL, **small_detectors()).fit(reference)


def test_components_and_errors_equal_scikit_learn_pca():
    rows = np.random.default_rng(1).normal(size=(3000, 6)) @ np.random.default_rng(2).normal(size=(6, 6))
    rows = (rows - rows.mean(axis=0)) / rows.std(axis=0)
    oracle = PCA(n_components=0.65).fit(rows)
    centre, components = principal_subspace(rows, 0.65)
    assert components.shape[1] == oracle.n_components_
    np.testing.assert_allclose(np.abs(components.T @ oracle.components_.T), np.eye(oracle.n_components_), atol=1e-9)
    expected = np.linalg.norm(rows - oracle.inverse_transform(oracle.transform(rows)), axis=1)
    np.testing.assert_allclose(reconstruction_errors(rows, centre, components), expected, rtol=1e-9, atol=1e-12)


def test_flipped_correlation_with_identical_marginals_every_univariate_test_silent_every_detector_fires(
        reference, fitted):
    window = correlated(np.random.default_rng(3), 2_000, -0.8)
    drift = ReferenceProfile().fit(reference).compare(window)
    assert not drift["drifted"].any(), drift[drift["drifted"]]  # the marginals did not move
    results = {r.detector: r for r in fitted.compare(window)}
    assert set(results) == set(ALL)
    for result in results.values():
        assert result.reason is None and result.p_value < 1e-6, result
    assert results["pca"].statistics["reconstruction_error"] > results["pca"].statistics["reference_error"]
    assert set(results["classifier"].columns[:2]) == {"x", "y"}  # the columns carrying the drift


def test_a_rotated_cluster_is_detected_by_every_detector():
    rng = np.random.default_rng(4)

    def cluster(n: int, angle: float) -> pd.DataFrame:
        points = rng.normal(size=(n, 2)) * [3.0, 0.5] + [4.0, 0.0]
        turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        return pd.DataFrame(points @ turn.T, columns=["a", "b"]).assign(c=rng.normal(size=n))

    detectors = MultivariateDrift(detectors=ALL, **small_detectors()).fit(cluster(5_000, 0.0))
    for result in detectors.compare(cluster(1_000, np.pi / 3)):
        assert result.p_value < 1e-6, result
    for result in detectors.compare(cluster(1_000, 0.0)):
        assert result.p_value > 1e-3, result


def test_fifty_null_windows_raise_at_most_one_multivariate_alert(reference, fitted):
    rng = np.random.default_rng(5)
    flagged, p_values = 0, []
    for i in range(50):
        window = reference.sample(n=(60, 200, 500, 1500)[i % 4], random_state=int(rng.integers(1 << 31)))
        results = fitted.compare(window)
        p_values += [r.p_value for r in results]
        flagged += any(r.p_value <= 0.001 for r in results)  # BH at alpha_tests with these three tests alone
    assert flagged <= 1
    assert 0.35 < np.mean(p_values) < 0.65  # not conservative to uselessness either


def test_categories_are_frequency_encoded_and_a_shift_of_the_mix_is_seen(reference, fitted):
    encoder = fit_encoder(reference, ["color"])
    (column,) = encoder.columns
    assert column.kind == "categorical" and column.categories == ("red", "white", "rose")
    assert column.shares == pytest.approx([0.5, 0.4, 0.1], abs=0.02)
    window = correlated(np.random.default_rng(6), 1_000, 0.8)
    window["color"] = np.random.default_rng(7).choice(["red", "rose", "blue"], size=1_000, p=[0.2, 0.5, 0.3])
    assert {r.detector: r.p_value < 1e-6 for r in fitted.compare(window)} == {d: True for d in ALL}


def test_missing_values_never_drop_the_window(reference, fitted):
    window = correlated(np.random.default_rng(8), 800, 0.8)
    window.loc[::3, "x"] = np.nan
    window.loc[::5, "color"] = None
    window.loc[7, "u"] = np.inf
    results = fitted.compare(window)
    assert all(r.reason is None and np.isfinite(r.p_value) for r in results), results


def test_a_column_without_a_single_value_is_not_judged_rather_than_imputed(reference, fitted):
    """All missing, or text where numbers were (decimal commas): imputed with the reference's means, such a window
    sits at the reference's centre, and PCA's reconstruction error called it drift (p ~ 1e-234)."""
    window = correlated(np.random.default_rng(9), 600, 0.8)
    for broken in (window.assign(x=np.nan), window.assign(x=window["x"].map(lambda v: f"{v:.3f}".replace(".", ",")))):
        results = fitted.compare(broken)
        assert {r.reason for r in results} == {"column(s) without a single value in the window: 'x'"}
        assert all(np.isnan(r.p_value) for r in results)


def test_a_window_below_a_detector_minimum_gets_a_reason_and_a_missing_column_too(reference, fitted):
    tiny = fitted.compare(reference.head(10))
    assert [r.reason for r in tiny] == [
        "the window has 10 row(s), fewer than the 20 PCA reconstruction error needs (min_rows)",
        "the window has 10 row(s), fewer than the 20 MMD needs (min_rows)",
        "the window has 10 row(s), fewer than the 50 domain classifier needs (min_rows)",
    ]
    assert all(np.isnan(r.p_value) for r in tiny)
    without = fitted.compare(reference.drop(columns=["u"]).head(500))
    assert {r.reason for r in without} == {"column(s) missing from the window: 'u'"}


def test_bad_parameters_are_one_line_errors_naming_them(reference):
    with pytest.raises(DriftloopError, match="'variance_share' parameter of PCAReconstruction must be a number in"):
        MultivariateDrift(pca=PCAReconstruction(variance_share=1.5)).fit(reference)
    with pytest.raises(DriftloopError, match="'detectors' parameter of MultivariateDrift"):
        MultivariateDrift(detectors=("pca", "lstm")).fit(reference)
    with pytest.raises(DriftloopError, match="at least two columns"):
        MultivariateDrift(columns=["x"]).fit(reference)
    with pytest.raises(DriftloopError, match="Column 'x' of the reference must have finite values"):
        MultivariateDrift().fit(reference.assign(x=np.nan))


def test_saved_without_pickle_and_loaded_gives_identical_results(tmp_path, reference, fitted):
    folder = fitted.save(tmp_path / "multivariate")
    with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
        assert "pca.components" in arrays.files and "classifier.reference" in arrays.files
    loaded = MultivariateDrift.load(folder)
    window = correlated(np.random.default_rng(9), 700, 0.3)
    assert loaded.compare(window) == fitted.compare(window)
    document = json.loads((folder / "multivariate.json").read_text())
    document["format_version"] = 99
    (folder / "multivariate.json").write_text(json.dumps(document))
    with pytest.raises(DriftloopError, match="format version 99; this driftloop reads version 1 only"):
        MultivariateDrift.load(folder)


def test_a_small_reference_cannot_calibrate_the_pca_and_says_so():
    reference = correlated(np.random.default_rng(10), 30, 0.8)
    detectors = MultivariateDrift(detectors=("pca",)).fit(reference)
    (result,) = detectors.compare(reference)
    assert np.isnan(result.p_value) and "too few rows to calibrate" in result.reason


def test_without_pca_a_large_window_is_encoded_on_a_subsample_and_still_judged(reference):
    detectors = MultivariateDrift(detectors=("mmd", "classifier"), **small_detectors()).fit(reference)
    flipped = correlated(np.random.default_rng(12), 20_000, -0.8)
    assert [(r.detector, r.p_value < 1e-6) for r in detectors.compare(flipped)] == [("mmd", True),
                                                                                    ("classifier", True)]
    assert len(detectors._rows_to_encode(flipped)) == 2_000  # the classifier's max_rows, the larger of the two


def test_two_independent_columns_keep_a_residual_and_null_windows_stay_quiet():
    """Two independent columns of equal variance need both components for 65 % of the variance; kept both, every
    error would be rounding noise (about 1e-16) judged against a null of noise: false alarms. One is kept."""
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"date": rng.normal(size=4_000), "temp (°C)": rng.normal(20, 5, size=4_000)})
    detector = MultivariateDrift(detectors=("pca",)).fit(frame)
    assert detector.detectors_["pca"].components_.shape == (2, 1)
    p_values = []
    for seed in range(30):
        other = np.random.default_rng(100 + seed)
        window = pd.DataFrame({"date": other.normal(size=300), "temp (°C)": other.normal(20, 5, size=300)})
        (result,) = detector.compare(window)
        assert result.reason is None, result
        assert result.statistics["reconstruction_error"] > 0.1  # a residual, not rounding noise
        p_values.append(result.p_value)
    assert sum(p <= 0.001 for p in p_values) <= 1 and 0.2 < np.mean(p_values) < 0.8


def test_columns_that_copy_each_other_are_judged_exactly_not_by_their_rounding_noise():
    """A column copied (a residual direction without variance): its errors are 0, not noise, on the reference and
    on windows that keep the copy (p = 1); a window that breaks it is beyond the null (p = 0)."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=3_000)
    detector = MultivariateDrift(detectors=("pca",)).fit(pd.DataFrame({"x": x, "copy": x * 3.0 + 1.0}))
    for seed in range(10):
        kept = np.random.default_rng(200 + seed).normal(size=200)
        (result,) = detector.compare(pd.DataFrame({"x": kept, "copy": kept * 3.0 + 1.0}))
        assert result.statistics["reconstruction_error"] == 0.0 and result.p_value == 1.0, result
    broken = np.random.default_rng(300).normal(size=200)
    (result,) = detector.compare(pd.DataFrame({"x": broken, "copy": broken * 3.0 + 1.01}))
    assert result.p_value == 0.0, result


def test_a_profile_whose_components_span_every_column_says_it_cannot_measure(fitted):
    """A PCA detector saved before the components were capped at p - 1 (all of them kept): not judged, with the
    reason, rather than a p-value of rounding noise."""
    pca = fitted.detectors_["pca"]
    document, arrays = pca.state()
    width = len(arrays["centre"])
    saved = PCAReconstruction.from_state(document, {**arrays, "components": np.eye(width)})
    result = saved.compare(np.zeros((100, width)))
    assert np.isnan(result.p_value) and "span all its columns" in result.reason, result
