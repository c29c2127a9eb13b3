"""Train an ElasticNet on the UCI wine-quality data and register it in MLflow as ``wine-quality``.

The classic MLflow tutorial model (``mlflow run . -P alpha=0.01 -P l1_ratio=0.5``), with what driftloop needs to
monitor it: the model is logged with its signature and an input example, registered as ``wine-quality``, and the
first version receives the alias ``champion``.

Metrics, on a 25 % validation split (seed 42):
    rmse, mae, r2             regression quality of the predicted quality score
    loss                      validation mean squared error
    accuracy                  share of validation rows whose rounded prediction equals the true quality

Data: Cortez et al. (2009), "Modeling wine preferences by data mining from physicochemical properties",
Decision Support Systems 47(4):547-553 (see data/README.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from sklearn.linear_model import ElasticNet  # noqa: E402
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from driftloop.profile import ReferenceProfile  # noqa: E402
from driftloop.tracking.profiles import log_profile  # noqa: E402

HERE = Path(__file__).resolve().parent
MODEL_NAME = "wine-quality"
TARGET = "quality"
COLORS = ("red", "white")


def read_wine(path: Path) -> pd.DataFrame:
    """Read a wine-quality CSV; the UCI files use ``;`` as separator, files written by driftloop use ``,``."""
    with open(path) as handle:
        header = handle.readline()
    frame = pd.read_csv(path, sep=";" if header.count(";") > header.count(",") else ",")
    if TARGET not in frame.columns:
        sys.exit(f"error: {path} has no {TARGET!r} column; its columns are: {', '.join(frame.columns)}")
    return frame


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--l1-ratio", type=float, default=0.5)
    parser.add_argument("--color", choices=COLORS, default="red")
    parser.add_argument("--data", default="", help="CSV to train on instead of the bundled data of --color.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data_path = Path(args.data).expanduser() if args.data else HERE / "data" / f"winequality-{args.color}.csv"
    if not data_path.is_absolute():
        data_path = (HERE / data_path).resolve()
    if not data_path.is_file():
        sys.exit(f"error: parameter 'data' must be an existing CSV file; got {args.data!r}")
    frame = read_wine(data_path)
    features = frame.drop(columns=[TARGET]).astype("float64")
    target = frame[TARGET]
    train_x, valid_x, train_y, valid_y = train_test_split(features, target, test_size=0.25, random_state=42)

    with mlflow.start_run() as run:
        # `mlflow run` logs the project's parameters itself; log them here only when train.py runs on its own.
        logged = run.data.params
        mlflow.log_params({
            key: value
            for key, value in {"alpha": args.alpha, "l1_ratio": args.l1_ratio, "color": args.color}.items()
            if key not in logged
        })
        mlflow.log_param("training_data", str(data_path))
        model = ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=42).fit(train_x, train_y)
        predicted = model.predict(valid_x)
        mse = mean_squared_error(valid_y, predicted)
        mlflow.log_metrics({
            "rmse": float(np.sqrt(mse)),
            "mae": float(mean_absolute_error(valid_y, predicted)),
            "r2": float(r2_score(valid_y, predicted)),
            "loss": float(mse),
            "accuracy": float(np.mean(np.rint(predicted) == valid_y.to_numpy())),
            "train_rows": float(len(train_x)),
            "validation_rows": float(len(valid_x)),
        })
        signature = infer_signature(train_x, model.predict(train_x.head(5)))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=train_x.head(5),
            registered_model_name=MODEL_NAME,
        )
        client = MlflowClient()
        # The reference profile travels with every model version: drift of the inputs and of the prediction is
        # measured against the training features and the model's predictions on them.
        reference = train_x.assign(prediction=model.predict(train_x))
        log_profile(client, run.info.run_id, ReferenceProfile().fit(reference), artifact_path="reference_profile")
        version = info.registered_model_version
        try:
            client.get_model_version_by_alias(MODEL_NAME, "champion")
        except mlflow.exceptions.MlflowException:
            client.set_registered_model_alias(MODEL_NAME, "champion", version)
            print(f"Registered {MODEL_NAME} version {version} with alias 'champion'")
        else:
            print(f"Registered {MODEL_NAME} version {version} (the alias 'champion' is unchanged)")
        print(f"Run {run.info.run_id}: accuracy={np.mean(np.rint(predicted) == valid_y.to_numpy()):.4f} loss={mse:.4f}")


if __name__ == "__main__":
    main()
