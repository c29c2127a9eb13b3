"""An estimator saved in a profile's folder loads back bit-identical, without pickle, beside the profile."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from driftloop.errors import DriftloopError
from driftloop.estimate import ConfidenceEstimator, LossEstimator, load_estimator, save_estimator
from driftloop.estimate.storage import ARRAYS_FILE, JSON_FILE
from driftloop.profile import ReferenceProfile
from tests.estimate.conftest import classifier_rows


@pytest.mark.parametrize(("k", "sharpness"), [(2, 1.0), (2, 2.0), (3, 2.0)])
def test_classifier_round_trip_is_bit_identical(tmp_path, k: int, sharpness: float) -> None:
    rng = np.random.default_rng(k)
    scores, labels = classifier_rows(rng, 3000, k, sharpness=sharpness)
    cbpe = ConfidenceEstimator(draws=3).fit(scores, labels)
    classes = ["no", "yes"] if k == 2 else [3, 5, 7]
    save_estimator(cbpe, tmp_path, classes=classes)
    loaded, loaded_classes = load_estimator(tmp_path)
    assert loaded_classes == classes and loaded.check_ == cbpe.check_
    window = classifier_rows(rng, 500, k, sharpness=sharpness)[0]
    assert loaded.estimate(window) == cbpe.estimate(window)
    with np.load(tmp_path / ARRAYS_FILE, allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)


@pytest.mark.parametrize("classes", [np.array([0, 1]), np.array([False, True]), np.array(["no", "yes"]),
                                     np.array([0.5, 2.0])])
def test_a_scikit_learn_classifiers_classes_of_numpy_type_are_saved(tmp_path, classes) -> None:
    """``classes_`` of a classifier fitted on 0/1 labels is an int64 array: its values are saved as JSON numbers
    (``profile --target`` failed on every such classifier) and read back equal."""
    rng = np.random.default_rng(1)
    scores, labels = classifier_rows(rng, 1000, 2, sharpness=1.0)
    save_estimator(ConfidenceEstimator(draws=3).fit(scores, labels), tmp_path, classes=list(classes))
    assert load_estimator(tmp_path)[1] == classes.tolist()


def test_regressor_round_trip_is_bit_identical_beside_a_profile(tmp_path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=1500), "kind": rng.choice(["a", "b"], size=1500)})
    predictions = 3 * frame["x"].to_numpy()
    targets = predictions + rng.normal(size=1500) * (1 + (frame["kind"] == "a"))
    ReferenceProfile().fit(frame).save(tmp_path)
    columns = {name: frame[name].to_numpy() for name in frame.columns}
    dle = LossEstimator(n_chunks=3, draws=3, max_iter=20).fit(columns, predictions, targets)
    save_estimator(dle, tmp_path)
    loaded, classes = load_estimator(tmp_path)
    assert classes is None and loaded.categories_ == {"x": None, "kind": ["a", "b"]}
    assert loaded.estimate(columns, predictions) == dle.estimate(columns, predictions)
    assert ReferenceProfile.load(tmp_path).columns_.keys() == {"x", "kind"}   # the profile is untouched


def test_a_folder_without_estimator_and_unknown_versions(tmp_path) -> None:
    assert load_estimator(tmp_path) is None
    rng = np.random.default_rng(1)
    scores, labels = classifier_rows(rng, 1000, 2)
    save_estimator(ConfidenceEstimator(draws=2).fit(scores, labels), tmp_path)
    document = json.loads((tmp_path / JSON_FILE).read_text())
    document["format_version"] = 99
    (tmp_path / JSON_FILE).write_text(json.dumps(document))
    with pytest.raises(DriftloopError, match="estimator format version 99; this driftloop reads version 1"):
        load_estimator(tmp_path)


def test_tracking_names_the_same_files() -> None:
    """tracking.estimators lists the files without importing the estimators (scikit-learn's boosting)."""
    from driftloop.estimate import storage
    from driftloop.tracking import estimators

    assert (estimators.JSON_FILE, estimators.ARRAYS_FILE) == (storage.JSON_FILE, storage.ARRAYS_FILE)
