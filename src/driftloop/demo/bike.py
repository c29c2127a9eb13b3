"""The bike-sharing demonstration: a model trained on January–March 2011, monitored week by week afterwards.

Data: UCI Bike Sharing, hourly rentals of Capital Bikeshare, Washington DC, 2011–2012 (Fanaee-T and Gama, 2013;
see ``driftloop/datasets/README.md``). Counts grow with the seasons and from 2011 to 2012, so a model trained on the
first quarter degrades: a real "model degrades in production" stream with real timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from driftloop.tracking.experiments import get_or_create_experiment
from driftloop.tracking.profiles import log_profile
from driftloop.tracking.store import use_tracking_uri

MODEL_NAME = "bike-sharing"
TARGET = "cnt"
TIMESTAMP = "timestamp"
FEATURES = ["season", "yr", "mnth", "hr", "holiday", "weekday", "workingday", "weathersit", "temp", "atemp", "hum",
            "windspeed"]
TRAIN_END = pd.Timestamp("2011-04-01", tz="UTC")
#: The demo's retrain: the first champion is monitored until then, retrained on every labelled row before it, and
#: the new champion monitored afterwards.
RETRAIN_AT = pd.Timestamp("2012-07-01", tz="UTC")
#: The last days of a model's training rows are held out for its training metrics (the alert rules' baseline).
VALIDATION_DAYS = 14
#: The MLflow project that retrains the model (``driftloop retrain --project``), shipped with the package.
PROJECT = Path(__file__).resolve().parent / "bike_project"
#: The demo's alert rules: the built-in ones, amended for weekly windows of seasonal data (see the file).
ALERT_RULES = Path(__file__).resolve().parent / "bike_alerts.toml"
#: The seasonal naive forecast the demo's models must beat: the same hour one week earlier.
NAIVE_LAG = "7d"
#: The tree storage of gradient boosting, which skops refuses unless trusted: we created the model ourselves.
SKOPS_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]


def load_hourly() -> pd.DataFrame:
    """The hourly data with a UTC ``timestamp`` (``dteday`` + ``hr``) and an ``id`` per row; ``casual`` and
    ``registered`` (which sum to the target) dropped."""
    with resources.as_file(resources.files("driftloop.datasets") / "bike_sharing" / "hour.csv") as path:
        frame = pd.read_csv(path)
    frame[TIMESTAMP] = pd.to_datetime(frame["dteday"], utc=True) + pd.to_timedelta(frame["hr"], unit="h")
    frame["id"] = frame["instant"].astype(str)
    frame[FEATURES] = frame[FEATURES].astype("float64")
    return frame[["id", TIMESTAMP, *FEATURES, TARGET]]


def make_regressor(seed: int = 0):
    """The demo's model: scikit-learn's gradient boosting (saved by MLflow with skops; see SKOPS_TRUSTED_TYPES)."""
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(n_estimators=200, max_depth=4, learning_rate=0.1, random_state=seed)


@dataclass(frozen=True)
class TrainedModel:
    name: str
    version: str
    run_id: str
    created: bool


def fit_and_log(client: MlflowClient, run_id: str, rows: pd.DataFrame) -> str:
    """Fit the demo's model on ``rows`` (features and target, oldest first) with its last :data:`VALIDATION_DAYS`
    days of hourly rows held out for the training metrics (mae, rmse); log the metrics, the model with its
    signature and its reference profile (the features of all ``rows`` and the model's predictions) in run
    ``run_id``; register it as :data:`MODEL_NAME`. Returns the new version."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    from driftloop.profile import ReferenceProfile

    held_out = VALIDATION_DAYS * 24
    fit_part, valid_part = rows.iloc[:-held_out], rows.iloc[-held_out:]
    model = make_regressor().fit(fit_part[FEATURES], fit_part[TARGET])
    predicted = model.predict(valid_part[FEATURES])
    with use_tracking_uri(client.tracking_uri), mlflow.start_run(run_id=run_id):
        mlflow.log_params({"model": "GradientBoostingRegressor", "rows": len(fit_part),
                           "validation_rows": len(valid_part)})
        mlflow.log_metrics({
            "mae": float(mean_absolute_error(valid_part[TARGET], predicted)),
            "rmse": float(np.sqrt(mean_squared_error(valid_part[TARGET], predicted))),
        })
        info = mlflow.sklearn.log_model(
            model, name="model", signature=infer_signature(fit_part[FEATURES], predicted),
            input_example=fit_part[FEATURES].head(3), registered_model_name=MODEL_NAME,
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )
    reference = rows[FEATURES].assign(prediction=model.predict(rows[FEATURES]))
    log_profile(client, run_id, ReferenceProfile().fit(reference))
    return str(info.registered_model_version)


def train_champion(client: MlflowClient, frame: pd.DataFrame, *, experiment: str = "bike-sharing") -> TrainedModel:
    """Train on January–March 2011 (:func:`fit_and_log`), register the model as ``bike-sharing`` with alias
    ``champion``. An existing version 1 is reused, so that running the demo twice adds nothing."""
    try:
        existing = client.get_model_version(MODEL_NAME, "1")
        return TrainedModel(MODEL_NAME, "1", existing.run_id, False)
    except MlflowException:
        pass
    train = frame[frame[TIMESTAMP] < TRAIN_END]
    experiment_id = get_or_create_experiment(client, experiment)
    run_id = client.create_run(experiment_id, run_name="train bike-sharing (Jan-Mar 2011)").info.run_id
    client.log_param(run_id, "train_until", "2011-04-01")
    version = fit_and_log(client, run_id, train)
    client.set_terminated(run_id)
    client.set_registered_model_alias(MODEL_NAME, "champion", version)
    return TrainedModel(MODEL_NAME, version, run_id, True)


def production_stream(frame: pd.DataFrame, until: pd.Timestamp | None = None) -> pd.DataFrame:
    """Everything after the training period (and before ``until``), as production traffic with its (eventually
    known) labels."""
    after = frame[frame[TIMESTAMP] >= TRAIN_END]
    return after if until is None else after[after[TIMESTAMP] < until]
