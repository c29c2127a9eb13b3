"""MultivariateDrift.judge, fed as an engine holding the rows in pieces feeds it (the RowSums of the pieces added up,
the rows at sampled_positions), gives what compare gives for the whole window: PCA to 1e-12 (a sum of errors
instead of their mean), the domain classifier and MMD exactly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from driftloop.errors import DriftloopError
from driftloop.multivariate import DomainClassifier, MMDDetector, MultivariateDrift, RowSums

SMALL = {"classifier": DomainClassifier(max_rows=300, max_iter=10), "mmd": MMDDetector(max_rows=200,
                                                                                     n_permutations=50)}


def _table(rng: np.random.Generator, n: int, slope: float) -> pd.DataFrame:
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "y": slope * x + 0.4 * rng.normal(size=n),
                          "colour": rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2])})
    frame.loc[frame.index[::11], "y"] = np.nan
    frame.loc[frame.index[::13], "colour"] = None
    return frame


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return _table(np.random.default_rng(0), 3000, 0.9)


def _split_judgement(detectors: MultivariateDrift, window: pd.DataFrame, pieces: int):
    """judge's results from ``pieces`` contiguous pieces' RowSums and the sampled rows."""
    bounds = np.linspace(0, len(window), pieces + 1).astype(int)
    sums = None
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        part = detectors.row_sums(window.iloc[a:b])
        sums = part if sums is None else sums.plus(part)
    positions = detectors.sampled_positions(len(window))
    return detectors.judge(len(window), window.iloc[positions], sums), positions


def _assert_same(got, expected) -> None:
    assert [r.detector for r in got] == [r.detector for r in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.reason == theirs.reason and mine.columns == theirs.columns
        assert mine.importances == theirs.importances
        assert mine.statistics.keys() == theirs.statistics.keys()
        for key, value in mine.statistics.items():
            assert value == pytest.approx(theirs.statistics[key], rel=1e-12), key
        if mine.detector == "pca":
            assert (math.isnan(mine.p_value) and math.isnan(theirs.p_value)) \
                or mine.p_value == pytest.approx(theirs.p_value, rel=1e-9, abs=1e-300)
        else:
            assert repr(mine.p_value) == repr(theirs.p_value)


@pytest.mark.parametrize("chosen", [("pca", "mmd", "classifier"), ("mmd", "classifier"), ("pca",), ("classifier",)])
@pytest.mark.parametrize("n_rows", [10, 150, 250, 900])
def test_judge_from_pieces_equals_compare(reference, chosen, n_rows):
    detectors = MultivariateDrift(detectors=chosen, **{k: v for k, v in SMALL.items() if k in chosen}).fit(reference)
    window = _table(np.random.default_rng(n_rows), n_rows, -0.9)
    got, positions = _split_judgement(detectors, window, 3)
    _assert_same(got, detectors.compare(window))
    bound = sum(getattr(d, "max_rows", 0) for name, d in detectors.detectors_.items() if name != "pca")
    assert len(positions) <= min(n_rows, bound) and list(positions) == sorted(set(positions))


def test_a_column_without_values_is_judged_from_the_sums(reference):
    detectors = MultivariateDrift(detectors=("pca", "mmd"), mmd=SMALL["mmd"]).fit(reference)
    window = _table(np.random.default_rng(5), 400, 0.9).assign(y=np.nan)
    got, _ = _split_judgement(detectors, window, 4)
    expected = detectors.compare(window)
    _assert_same(got, expected)
    assert all("without a single value in the window: 'y'" in r.reason for r in got)


def test_sampled_positions_are_the_detectors_subsamples(reference):
    detectors = MultivariateDrift(detectors=("pca", "mmd", "classifier"), **SMALL).fit(reference)
    positions = detectors.sampled_positions(5000)
    taken = {name: d.taken(5000) for name, d in detectors.detectors_.items() if name != "pca"}
    assert {k: len(v) for k, v in taken.items()} == {"mmd": 200, "classifier": 300}
    assert set(positions) == set(taken["mmd"]) | set(taken["classifier"])
    assert list(detectors.detectors_["mmd"].taken(150)) == list(range(150))  # a small window: every row, in order


def test_judge_refuses_sums_of_another_window(reference):
    detectors = MultivariateDrift(detectors=("pca",)).fit(reference)
    window = _table(np.random.default_rng(1), 100, 0.9)
    with pytest.raises(DriftloopError, match="sums"):
        detectors.judge(100, window.iloc[:0], RowSums(99, 1.0, (99, 99, 99)))
