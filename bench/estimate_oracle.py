"""driftloop's estimated performance against NannyML's, chunk by chunk, on NannyML's own synthetic datasets.

    python bench/estimate_oracle.py --side-python /path/to/side/bin/python [--datasets car_loan car_price ...]

For each dataset bundled in NannyML's wheel (car loan, the binary sample, the multiclass sample, the car-price
regression sample), ``bench/estimate_nannyml.py`` (run by the side environment's python, NannyML 0.13.1) writes the
reference and the analysis rows with their targets and NannyML's estimate for each of its chunks. This script then
fits driftloop's estimator on the same reference (the same model outputs: ``y_pred_proba`` columns and ``y_pred``
for CBPE; the features and ``y_pred`` for DLE), estimates the same chunks (NannyML's ``start_index`` to
``end_index``), and measures each chunk's realised metric with scikit-learn on its targets. It prints, per dataset
and metric, the mean absolute estimation error over the chunks of both tools, and how many chunks fall inside
driftloop's band. Record the table in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from driftloop.estimate import ConfidenceEstimator, LossEstimator  # noqa: E402

SIDE_SCRIPT = Path(__file__).resolve().parent / "estimate_nannyml.py"
DATASETS = ("car_loan", "binary_sample", "multiclass_sample", "car_price")
MULTICLASS = ["highstreet_card", "prepaid_card", "upmarket_card"]  # sorted, as scikit-learn wants them


def run_nannyml(side_python: str, dataset: str, folder: Path) -> dict:
    env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}
    done = subprocess.run([side_python, str(SIDE_SCRIPT), "oracle", "--dataset", dataset, "--out", str(folder)],
                          capture_output=True, text=True, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"NannyML failed on {dataset}: {done.stderr[-2000:]}")
    return json.loads(lines[-1])


def realised_classification(frame: pd.DataFrame, target: str, kind: str) -> dict[str, float]:
    truth, predicted = frame[target], frame["y_pred"]
    if kind == "binary":
        return {"roc_auc": skm.roc_auc_score(truth, frame["y_pred_proba"]), "f1": skm.f1_score(truth, predicted),
                "precision": skm.precision_score(truth, predicted), "recall": skm.recall_score(truth, predicted),
                "accuracy": skm.accuracy_score(truth, predicted)}
    scores = frame[[f"y_pred_proba_{c}" for c in MULTICLASS]].to_numpy()
    return {"roc_auc": skm.roc_auc_score(truth, scores, multi_class="ovr", average="macro", labels=MULTICLASS),
            "f1": skm.f1_score(truth, predicted, average="macro"),
            "precision": skm.precision_score(truth, predicted, average="macro"),
            "recall": skm.recall_score(truth, predicted, average="macro"),
            "accuracy": skm.accuracy_score(truth, predicted)}


def classifier_inputs(frame: pd.DataFrame, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Scores (n x K) and predicted class codes, in the order of the realised metrics' classes."""
    if kind == "binary":
        p = frame["y_pred_proba"].to_numpy(dtype=float)
        return np.column_stack([1 - p, p]), frame["y_pred"].to_numpy().astype(int)
    scores = frame[[f"y_pred_proba_{c}" for c in MULTICLASS]].to_numpy(dtype=float)
    return scores, pd.Index(MULTICLASS).get_indexer(frame["y_pred"]).astype(int)


def compare(dataset: str, side_python: str, folder: Path) -> list[dict]:
    nanny = run_nannyml(side_python, dataset, folder)
    reference = pd.read_parquet(folder / "reference.parquet")
    analysis = pd.read_parquet(folder / "analysis.parquet")
    kind, target = nanny["kind"], nanny["target"]
    started = time.perf_counter()
    if kind == "regression":
        features = nanny["features"]

        def columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
            return {name: frame[name].to_numpy() for name in features}

        ours = LossEstimator().fit(columns(reference), reference["y_pred"].to_numpy(dtype=float),
                                   reference[target].to_numpy(dtype=float))

        def estimate(frame: pd.DataFrame):
            return ours.estimate(columns(frame), frame["y_pred"].to_numpy(dtype=float))

        def realised(frame: pd.DataFrame) -> dict[str, float]:
            error = frame[target].to_numpy(dtype=float) - frame["y_pred"].to_numpy(dtype=float)
            return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error**2)))}
    else:
        scores, predicted = classifier_inputs(reference, kind)
        labels = reference[target]
        codes = labels.to_numpy().astype(int) if kind == "binary" else pd.Index(MULTICLASS).get_indexer(labels)
        ours = ConfidenceEstimator().fit(scores, codes, predicted)

        def estimate(frame: pd.DataFrame):
            return ours.estimate(*classifier_inputs(frame, kind))

        def realised(frame: pd.DataFrame) -> dict[str, float]:
            return realised_classification(frame, target, kind)
    fit_s = time.perf_counter() - started
    rows = []
    for chunk in nanny["chunks"]:
        part = analysis.iloc[chunk["start_index"]: chunk["end_index"] + 1]
        truth = realised(part)
        mine = estimate(part)
        for metric in nanny["metrics"]:
            rows.append({"dataset": dataset, "metric": metric, "chunk": chunk["start_index"],
                         "realised": truth[metric], "nannyml": chunk["estimates"][metric],
                         "driftloop": mine[metric].value, "lower": mine[metric].lower, "upper": mine[metric].upper})
    note = getattr(ours, "check_", None)
    print(f"{dataset}: driftloop fit {fit_s:.1f} s ({note.reason if note else 'DLE'}); NannyML fit "
          f"{nanny['fit_s']:.1f} s, {len(nanny['chunks'])} chunks of {nanny['chunk_size']} rows", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side-python", default=os.environ.get("DRIFTLOOP_BENCH_SIDE_PYTHON"), required=False)
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--json", type=Path, default=None, help="Also write every chunk's figures here.")
    args = parser.parse_args()
    if not args.side_python:
        parser.error("--side-python (or DRIFTLOOP_BENCH_SIDE_PYTHON) must name the side environment's python")
    rows = []
    with tempfile.TemporaryDirectory(prefix="driftloop-estimate-oracle-") as tmp:
        for dataset in args.datasets:
            rows += compare(dataset, args.side_python, Path(tmp) / dataset)
    table = pd.DataFrame(rows)
    table["err_nannyml"] = (table["nannyml"] - table["realised"]).abs()
    table["err_driftloop"] = (table["driftloop"] - table["realised"]).abs()
    table["inside"] = (table["lower"] <= table["realised"]) & (table["realised"] <= table["upper"])
    summary = table.groupby(["dataset", "metric"], sort=False).agg(
        chunks=("chunk", "size"), nannyml=("err_nannyml", "mean"), driftloop=("err_driftloop", "mean"),
        inside=("inside", "sum"))
    print("| dataset | metric | chunks | NannyML: mean abs. error | driftloop: mean abs. error | driftloop - NannyML "
          "| realised inside driftloop's band |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for (dataset, metric), row in summary.iterrows():
        digits = 2 if metric in ("mae", "rmse") else 5
        print(f"| {dataset} | {metric} | {row.chunks} | {row.nannyml:.{digits}f} | {row.driftloop:.{digits}f} | "
              f"{row.driftloop - row.nannyml:+.{digits}f} | {row.inside}/{row.chunks} |")
    if args.json:
        args.json.write_text(table.to_json(orient="records", indent=1))


if __name__ == "__main__":
    main()
