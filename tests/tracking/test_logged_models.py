"""MLflow 3 models: logged outside any run (a LoggedModel whose version has no source run) or inside a run, and
addressed as ``models:/m-<id>``, ``NAME@ALIAS``, ``models:/NAME/VERSION`` or ``runs:/<run_id>/model``; each goes
through the whole loop: profile → monitor → serve → retrain → promote → rollback."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

from driftloop.cli.main import cli
from driftloop.errors import DriftloopError
from driftloop.serve.service import build_service
from driftloop.tracking.models import resolve_model
from driftloop.tracking.profiles import REFERENCE_RUN_TAG, load_profile_for_model
from driftloop.tracking.store import use_tracking_uri

PROJECT = Path(__file__).resolve().parent / "churn_project"
FEATURES = ["a", "b"]


def churn_rows(rows: int, *, seed: int, shifted: bool) -> pd.DataFrame:
    """``y`` follows ``a`` in the reference; in production ``a`` drifts and ``y`` follows ``b`` (the model decays)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0.8 if shifted else 0.0, 1.0, rows)
    b = rng.normal(0.0, 1.0, rows)
    driver = b if shifted else a
    return pd.DataFrame({"a": a, "b": b, "y": (driver + 0.3 * rng.normal(size=rows) > 0).astype("int64")})


@dataclass(frozen=True)
class Store:
    uri: str
    folder: Path
    reference: Path
    today: Path


@dataclass(frozen=True)
class Logged:
    name: str
    model_id: str
    run_id: str | None


def log_churn(uri: str, name: str, *, in_run: bool, experiment_id: str) -> Logged:
    """Fit on the reference and register ``name`` the MLflow 3 way, outside any run or inside one; alias champion."""
    frame = churn_rows(600, seed=1, shifted=False)
    model = LogisticRegression().fit(frame[FEATURES], frame["y"])
    signature = infer_signature(frame[FEATURES], model.predict(frame[FEATURES]))
    logging = {"name": "model", "registered_model_name": name, "signature": signature,
               "pip_requirements": ["scikit-learn"]}  # not inferred: that starts another Python
    with use_tracking_uri(uri), pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_EXPERIMENT_ID", experiment_id)  # not mlflow.set_experiment: it outlives the test
        if in_run:
            with mlflow.start_run() as run:
                info = mlflow.sklearn.log_model(model, **logging)
            run_id = run.info.run_id
        else:
            info = mlflow.sklearn.log_model(model, **logging)
            run_id = None
    MlflowClient(uri).set_registered_model_alias(name, "champion", info.registered_model_version)
    return Logged(name, info.model_id, run_id)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("mlflow3-store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    churn_rows(1000, seed=1, shifted=False).to_csv(folder / "reference.csv", index=False)
    churn_rows(8000, seed=2, shifted=True).to_csv(folder / "today.csv", index=False)
    return Store(uri, folder, folder / "reference.csv", folder / "today.csv")


def invoke(store: Store, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--tracking-uri", store.uri], env={"COLUMNS": "200"})
    assert result.exit_code in (0, 3), f"driftloop {' '.join(args)} exited {result.exit_code}: {result.output}"
    return result.output


def run_the_loop(store: Store, logged: Logged, address: str, monkeypatch: pytest.MonkeyPatch,
                 retrain: bool = True) -> None:
    """profile → monitor → serve → retrain (promotes) → rollback → promote, with the model at ``address`` (only
    profile → monitor without ``retrain``)."""
    monkeypatch.chdir(store.folder)
    client = MlflowClient(store.uri)
    name = logged.name
    out = invoke(store, "profile", "--model", address, "--data", str(store.reference), "--target", "y")
    assert f"to {name} version 1 (logged model {logged.model_id})" in out
    # the profile is an artifact of the LoggedModel, beside its MLmodel, in every case, with what is fitted with it:
    # the performance estimator (labels given) and the multivariate detectors
    assert {f.path for f in client.list_logged_model_artifacts(logged.model_id, "reference_profile")} == {
        "reference_profile/profile.json", "reference_profile/arrays.npz", "reference_profile/estimator.json",
        "reference_profile/estimator.npz", "reference_profile/multivariate"}
    # the reference performance is linked to the LoggedModel: its page shows it
    accuracy = {m.key: m.value for m in client.get_logged_model(logged.model_id).metrics or []}
    assert accuracy["performance/accuracy"] > 0.85

    out = invoke(store, "monitor", "--model", address, "--data", str(store.today), "--rows", "4000",
                 "--target", "y", "--format", "json")
    windows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [w["rows"] for w in windows] == [4000, 4000]
    assert all(w["metrics"]["drift/a/ks"] > 0.2 and w["metrics"]["performance/accuracy"] < 0.75 for w in windows)
    assert any(w["verdict"] == "alert" for w in windows)  # accuracy fell far below the reference's
    assert all("estimated/accuracy" in w["metrics"] and "multivariate/pca/p_value" in w["metrics"] for w in windows)
    if not retrain:
        return

    app = build_service(f"{name}@champion", tracking_uri=store.uri, log_path=None, poll_interval=0)
    rows = pd.read_csv(store.today).head(3)[FEATURES].to_dict(orient="records")
    with TestClient(app) as service:
        first = service.post("/predict", json={"dataframe_records": rows}).json()
        assert first["model_version"] == "1" and len(first["predictions"]) == 3

        out = invoke(store, "retrain", "--model", address if address.startswith("models:/m-") else name,
                     "--project", str(PROJECT), "--data", str(store.today), "--target", "y", "-P", f"name={name}")
        # version 2 is the validated challenger, version 3 its refit on every fresh row, which is promoted
        assert f"Promoted: {name}@champion is version 3 (previous-champion: 1)" in out
        app.state.holder.refresh()  # what the poller does: the alias moved, the new version is swapped in
        assert service.post("/predict", json={"dataframe_records": rows}).json()["model_version"] == "3"

        out = invoke(store, "rollback", "--model", name)
        assert f"{name}: champion: version 1" in out
        app.state.holder.refresh()
        assert service.post("/predict", json={"dataframe_records": rows}).json()["model_version"] == "1"

    out = invoke(store, "promote", "--model", name, "--version", "2")
    assert f"{name}: champion: version 2" in out
    assert str(client.get_model_version_by_alias(name, "champion").version) == "2"


@pytest.mark.parametrize(("in_run", "address"), [
    (False, "models:/m-<id>"),
    (False, "NAME@champion"),
    (True, "runs:/<run_id>/model"),
    (True, "models:/NAME/1"),
])
def test_the_whole_loop_for_each_way_of_logging_and_addressing(store: Store, in_run: bool, address: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    client = MlflowClient(store.uri)
    name = f"churn-{'run' if in_run else 'norun'}-{address.split(':')[0].split('@')[0].split('/')[0].lower()}"
    experiment = client.get_experiment_by_name("training") or client.get_experiment(
        client.create_experiment("training", artifact_location=(store.folder / "artifacts").as_uri()))
    logged = log_churn(store.uri, name, in_run=in_run, experiment_id=experiment.experiment_id)
    version = client.get_model_version(name, "1")
    assert (version.run_id or None) == logged.run_id  # outside a run: MLflow registers no source run
    address = (address.replace("<id>", logged.model_id[2:]).replace("<run_id>", str(logged.run_id))
               .replace("NAME", name))
    assert resolve_model(client, address).model_id == logged.model_id
    # the retrain addresses the model by name unless by its id: one model logged in a run retrains once, not twice
    run_the_loop(store, logged, address, monkeypatch, retrain=not address.startswith(f"models:/{name}/"))


def test_the_reproduction_of_the_issue(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """``driftloop profile --model churn@champion`` then ``monitor``, on a model logged without a run: today the
    first says the version has no source run, the second suggests the first."""
    monkeypatch.chdir(store.folder)
    client = MlflowClient(store.uri)
    experiment = client.create_experiment("quickstart", artifact_location=(store.folder / "qs").as_uri())
    logged = log_churn(store.uri, "churn", in_run=False, experiment_id=experiment)
    assert client.get_model_version("churn", "1").run_id in (None, "")
    invoke(store, "profile", "--model", "churn@champion", "--data", str(store.reference), "--target", "y")
    out = invoke(store, "monitor", "--model", "churn@champion", "--data", str(store.today), "--rows", "4000")
    assert "2 window(s) assessed" in out
    page = f"http://127.0.0.1:5000/#/experiments/{experiment}/models/{logged.model_id}"
    assert f"Open the model's page, which lists the closed windows: {page}" in out
    # the reference performance of a model without a run has a run of its own, named by a tag of the model
    reference_run = client.get_logged_model(logged.model_id).tags[REFERENCE_RUN_TAG]
    assert client.get_run(reference_run).data.metrics["performance/accuracy"] > 0.85
    assert load_profile_for_model(client, f"models:/{logged.model_id}").n_rows_ == 1000


def test_a_version_with_neither_run_nor_logged_model_gets_a_working_remedy(store: Store) -> None:
    client = MlflowClient(store.uri)
    client.create_registered_model("bare")
    client.create_model_version("bare", source=(store.folder / "somewhere").as_uri())
    with pytest.raises(DriftloopError, match=r"without a source run or an MLflow 3 logged model.*log_model"):
        load_profile_for_model(client, "models:/bare/1")
    with pytest.raises(DriftloopError, match=r"is not registered; register it first, e.g. mlflow.register_model"):
        unregistered = client.create_logged_model(client.create_experiment("loose"), name="model")
        resolve_model(client, f"models:/{unregistered.model_id}")
