"""Entry point of the bike-sharing MLflow project (``driftloop/demo/bike_project``): fit the demo's model on the
rows of a CSV file and register it as a new version of ``bike-sharing`` (:func:`driftloop.demo.bike.fit_and_log`).

    python -m driftloop.demo.bike_train --data training.csv     # inside `mlflow run`, which provides the run
"""

from __future__ import annotations

import argparse

import mlflow
import pandas as pd

from driftloop.demo.bike import FEATURES, TARGET, fit_and_log
from driftloop.tracking import connect


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="CSV of the training rows: the features and cnt, oldest first.")
    args = parser.parse_args(argv)
    rows = pd.read_csv(args.data)
    missing = [c for c in (*FEATURES, TARGET) if c not in rows.columns]
    if missing:
        raise SystemExit(f"error: the training rows {args.data} lack the column(s) {', '.join(missing)}.")
    rows[FEATURES] = rows[FEATURES].astype("float64")
    with mlflow.start_run() as run:  # the run `mlflow run` created
        run_id = run.info.run_id
    version = fit_and_log(connect(), run_id, rows)
    print(f"Registered bike-sharing version {version}")


if __name__ == "__main__":
    main()
