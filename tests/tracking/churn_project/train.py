"""Fit a logistic regression of ``y`` on ``a`` and ``b`` and register it as ``--name``, logged inside the project's
run (MLflow 3: a LoggedModel with a source run)."""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

FEATURES = ["a", "b"]

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    frame = pd.read_csv(args.data)
    model = LogisticRegression().fit(frame[FEATURES], frame["y"])
    with mlflow.start_run():
        mlflow.log_metric("accuracy", float(model.score(frame[FEATURES], frame["y"])))
        mlflow.sklearn.log_model(model, name="model", registered_model_name=args.name,
                                 signature=infer_signature(frame[FEATURES], model.predict(frame[FEATURES])),
                                 pip_requirements=["scikit-learn"])  # not inferred: that starts another Python
