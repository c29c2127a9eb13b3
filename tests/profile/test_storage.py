"""Saving and loading: a versioned folder (profile.json + arrays.npz), no pickle, identical results after load."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from driftloop.errors import DriftloopError
from driftloop.profile import FORMAT_VERSION, ReferenceProfile

from .conftest import make_frame


def test_round_trip_gives_identical_results(fitted_profile: ReferenceProfile, tmp_path) -> None:
    window = make_frame(300, seed=11)  # a size that needs a fresh calibration
    before = fitted_profile.compare(window)
    folder = fitted_profile.save(tmp_path / "profile")
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.npz", "profile.json"]
    document = json.loads((folder / "profile.json").read_text())
    assert document["format"] == "driftloop.reference_profile" and document["format_version"] == FORMAT_VERSION
    assert document["params"]["n_bins"] == 10 and document["params"]["thresholds"]["alpha_tests"] == 0.001
    assert {c["kind"] for c in document["columns"]} == {"numeric", "categorical"}
    assert "256" in document["nulls"]["num_0"]  # the lazily calibrated size is saved too
    with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
        assert arrays["c0.values"].dtype == np.float64
    loaded = ReferenceProfile.load(folder)
    pd.testing.assert_frame_equal(loaded.compare(window), before)
    pd.testing.assert_frame_equal(loaded.compare(make_frame(5000, seed=12)),
                                  fitted_profile.compare(make_frame(5000, seed=12)))
    assert loaded.get_params()["n_bins"] == 10 and loaded.thresholds_ == fitted_profile.thresholds_


def test_load_refuses_unknown_versions_and_formats(fitted_profile: ReferenceProfile, tmp_path) -> None:
    folder = fitted_profile.save(tmp_path / "p")
    document = json.loads((folder / "profile.json").read_text())
    document["format_version"] = 99
    (folder / "profile.json").write_text(json.dumps(document))
    with pytest.raises(DriftloopError, match="profile format version 99; this driftloop reads version 1 only"):
        ReferenceProfile.load(folder)
    (folder / "profile.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(DriftloopError, match="must be a driftloop reference profile"):
        ReferenceProfile.load(folder)
    with pytest.raises(DriftloopError, match="must be a folder holding profile.json"):
        ReferenceProfile.load(tmp_path / "nowhere")


def test_categories_of_several_types_round_trip(tmp_path) -> None:
    frame = pd.DataFrame({"flag": [True, False] * 100, "code": [1, 2] * 100,
                          "name": pd.array(["a", "b"] * 100, dtype="str")})
    profile = ReferenceProfile(categorical_columns=["code"]).fit(frame)
    loaded = ReferenceProfile.load(profile.save(tmp_path / "p"))
    assert loaded.columns_["flag"].categories == profile.columns_["flag"].categories
    assert loaded.columns_["code"].categories == [1, 2]
    pd.testing.assert_frame_equal(loaded.compare(frame), profile.compare(frame))
