"""NannyML's CBPE and DLE on its own bundled synthetic datasets, for ``bench/estimate_oracle.py`` and
``bench/estimate.py``.

Run by the python of the *side* environment (NannyML 0.13.1 needs ``pandas<3``; see BENCHMARKS.md):

    /path/to/side/bin/python bench/estimate_nannyml.py oracle --dataset car_loan --out FOLDER
    /path/to/side/bin/python bench/estimate_nannyml.py speed --reference REF.parquet --window WIN.parquet [--repeats 3]

``oracle`` loads the dataset from NannyML's wheel, writes its reference and its analysis rows (with their targets
joined on ``id``) as Parquet into ``FOLDER`` so that driftloop sees the very same rows and model outputs, runs
NannyML's estimator with its chunking (``chunk_size`` rows, in row order), and prints one JSON line: per chunk its
``start_index``/``end_index`` in the analysis rows and NannyML's estimate of every metric. ``speed`` times
``CBPE.fit`` on the reference and ``CBPE.estimate`` on the window (one chunk, ``--repeats`` times: the best and the
median, as driftloop's are timed), binary classifier, the five metrics, and prints the times as JSON (wall, and
the CPU time of the best estimate). This script does not import driftloop.
"""

from __future__ import annotations

import os

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # NannyML reports usage unless told not to

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

warnings.filterwarnings("ignore")

#: dataset -> (loader, kind, target, chunk size, feature columns for DLE)
DATASETS = {
    "car_loan": ("load_synthetic_car_loan_dataset", "binary", "repaid", 5000, None),
    "binary_sample": ("load_synthetic_binary_classification_dataset", "binary", "work_home_actual", 5000, None),
    "multiclass_sample": ("load_synthetic_multiclass_classification_dataset", "multiclass", "y_true", 6000, None),
    "car_price": ("load_synthetic_car_price_dataset", "regression", "y_true", 6000,
                  ["car_age", "km_driven", "price_new", "accident_count", "door_count", "fuel", "transmission"]),
}
CLASSIFICATION_METRICS = ["roc_auc", "f1", "precision", "recall", "accuracy"]
REGRESSION_METRICS = ["mae", "rmse"]
MULTICLASS_SCORES = {"prepaid_card": "y_pred_proba_prepaid_card", "highstreet_card": "y_pred_proba_highstreet_card",
                     "upmarket_card": "y_pred_proba_upmarket_card"}


def oracle(name: str, out: Path) -> dict:
    import nannyml as nml

    loader, kind, target, chunk_size, features = DATASETS[name]
    reference, analysis, targets = getattr(nml.datasets, loader)()
    analysis = analysis.merge(targets, on="id", how="left")
    out.mkdir(parents=True, exist_ok=True)
    for frame, part in ((reference, "reference"), (analysis, "analysis")):
        frame.drop(columns=[c for c in ("period",) if c in frame.columns]).to_parquet(out / f"{part}.parquet")
    if kind == "regression":
        estimator = nml.DLE(feature_column_names=features, y_pred="y_pred", y_true=target, metrics=REGRESSION_METRICS,
                            chunk_size=chunk_size, tune_hyperparameters=False)
        metrics = REGRESSION_METRICS
    else:
        estimator = nml.CBPE(y_pred_proba="y_pred_proba" if kind == "binary" else MULTICLASS_SCORES, y_pred="y_pred",
                             y_true=target, metrics=CLASSIFICATION_METRICS, chunk_size=chunk_size,
                             problem_type=f"classification_{kind}")
        metrics = CLASSIFICATION_METRICS
    started = time.perf_counter()
    estimator.fit(reference)
    fitted = time.perf_counter()
    results = estimator.estimate(analysis.drop(columns=[target])).filter(period="analysis").to_df()
    done = time.perf_counter()
    chunks = []
    for _, row in results.iterrows():
        chunks.append({"start_index": int(row[("chunk", "start_index")]), "end_index": int(row[("chunk", "end_index")]),
                       "estimates": {m: float(row[(m, "value")]) for m in metrics}})
    return {"dataset": name, "kind": kind, "target": target, "chunk_size": chunk_size, "features": features,
            "metrics": metrics, "chunks": chunks, "nannyml": nml.__version__, "fit_s": fitted - started,
            "estimate_s": done - fitted}


def speed(reference_path: Path, window_path: Path, repeats: int) -> dict:
    import nannyml as nml
    import pandas as pd

    reference, window = pd.read_parquet(reference_path), pd.read_parquet(window_path)
    estimator = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="y_true",
                         metrics=CLASSIFICATION_METRICS, chunk_number=1, problem_type="classification_binary")
    started = time.perf_counter()
    estimator.fit(reference)
    fit_s = time.perf_counter() - started
    unlabelled = window.drop(columns=["y_true"])
    times = []
    for _ in range(repeats):
        begun, begun_cpu = time.perf_counter(), time.process_time()
        estimator.estimate(unlabelled)
        times.append((time.perf_counter() - begun, time.process_time() - begun_cpu))
    best, best_cpu = min(times)
    return {"nannyml": nml.__version__, "fit_s": fit_s, "estimate_s": best, "estimate_cpu_s": best_cpu,
            "estimate_median_s": sorted(t for t, _ in times)[len(times) // 2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("oracle")
    one.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    one.add_argument("--out", type=Path, required=True)
    fast = commands.add_parser("speed")
    fast.add_argument("--reference", type=Path, required=True)
    fast.add_argument("--window", type=Path, required=True)
    fast.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.command == "oracle":
        result = oracle(args.dataset, args.out)
    else:
        result = speed(args.reference, args.window, args.repeats)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
