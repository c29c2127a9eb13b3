"""The profile as an MLflow artifact: logged in the model's run, found again from models:/name@alias."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from driftloop.errors import DriftloopError
from driftloop.profile import ReferenceProfile
from driftloop.tracking.profiles import load_profile_for_model, log_profile


def test_log_and_load_through_the_registry(tmp_path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("profiles", artifact_location=(tmp_path / "artifacts").as_uri())
    run = client.create_run(experiment)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b"], size=2000)})
    profile = ReferenceProfile().fit(frame)
    assert log_profile(client, run.info.run_id, profile) == run.info.run_id
    assert {f.path for f in client.list_artifacts(run.info.run_id, "reference_profile")} == {
        "reference_profile/profile.json", "reference_profile/arrays.npz"}
    client.create_registered_model("m")
    version = client.create_model_version("m", source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias("m", "champion", version.version)
    window = frame.sample(500, random_state=1)
    for model_uri in ("models:/m@champion", f"models:/m/{version.version}", f"runs:/{run.info.run_id}"):
        loaded = load_profile_for_model(client, model_uri)
        pd.testing.assert_frame_equal(loaded.compare(window), profile.compare(window))
    with pytest.raises(DriftloopError, match="'model_uri' parameter of load_profile_for_model"):
        load_profile_for_model(client, "m@champion")
    with pytest.raises(DriftloopError, match="The registry has no model .m. with alias .nobody."):
        load_profile_for_model(client, "models:/m@nobody")
    with pytest.raises(DriftloopError, match="'run_id' parameter of log_profile"):
        log_profile(client, None, profile)
