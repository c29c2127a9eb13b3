"""The bike-sharing demonstration: a model trained on January–March 2011, monitored week by week afterwards.

Data: UCI Bike Sharing, hourly rentals of Capital Bikeshare, Washington DC, 2011–2012 (Fanaee-T and Gama, 2013;
see ``driftloop/datasets/README.md``). Counts grow with the seasons and from 2011 to 2012, so a model trained on the
first quarter degrades: a real "model degrades in production" stream with real timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

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


def train_champion(client: MlflowClient, frame: pd.DataFrame, *, experiment: str = "bike-sharing") -> TrainedModel:
    """Train on January–March 2011 (last two weeks held out for the training metrics), log the model, its
    signature and reference profile, register it as ``bike-sharing`` with alias ``champion``.
    An existing champion is reused, so that running the demo twice adds nothing."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    from driftloop.profile import ReferenceProfile

    try:
        existing = client.get_model_version_by_alias(MODEL_NAME, "champion")
        return TrainedModel(MODEL_NAME, str(existing.version), existing.run_id, False)
    except MlflowException:
        pass
    train = frame[frame[TIMESTAMP] < TRAIN_END]
    fit_part = train[train[TIMESTAMP] < TRAIN_END - pd.Timedelta(days=14)]
    valid_part = train[train[TIMESTAMP] >= TRAIN_END - pd.Timedelta(days=14)]
    model = make_regressor().fit(fit_part[FEATURES], fit_part[TARGET])
    predicted = model.predict(valid_part[FEATURES])
    experiment_id = get_or_create_experiment(client, experiment)
    run = client.create_run(experiment_id, run_name="train bike-sharing (Jan-Mar 2011)")
    run_id = run.info.run_id
    with use_tracking_uri(client.tracking_uri):
        import mlflow

        with mlflow.start_run(run_id=run_id):
            mlflow.log_params({"model": "GradientBoostingRegressor", "train_from": "2011-01-01",
                               "train_until": "2011-04-01", "rows": len(fit_part)})
            mlflow.log_metrics({
                "mae": float(mean_absolute_error(valid_part[TARGET], predicted)),
                "rmse": float(np.sqrt(mean_squared_error(valid_part[TARGET], predicted))),
            })
            info = mlflow.sklearn.log_model(
                model, name="model", signature=infer_signature(fit_part[FEATURES], predicted),
                input_example=fit_part[FEATURES].head(3), registered_model_name=MODEL_NAME,
                skops_trusted_types=SKOPS_TRUSTED_TYPES,
            )
    reference = train[FEATURES].assign(prediction=model.predict(train[FEATURES]))
    log_profile(client, run_id, ReferenceProfile().fit(reference))
    version = str(info.registered_model_version)
    client.set_registered_model_alias(MODEL_NAME, "champion", version)
    return TrainedModel(MODEL_NAME, version, run_id, True)


def production_stream(frame: pd.DataFrame) -> pd.DataFrame:
    """Everything after the training period, as production traffic with its (eventually known) labels."""
    return frame[frame[TIMESTAMP] >= TRAIN_END]
