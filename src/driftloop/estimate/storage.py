"""Saving a performance estimator beside the reference profile: two more files in the profile's folder, no pickle.

Layout (format version 1), next to the profile's ``profile.json`` and ``arrays.npz``::

    <folder>/
      estimator.json   format name and version, driftloop version, the kind (``cbpe`` or ``dle``), the estimator's
                       parameters, the model's classes (CBPE), the calibration decision and its p-values (CBPE), the
                       input columns and their categories (DLE), the bands' metrics, sizes and reference size
      estimator.npz    numpy arrays, read with allow_pickle=False: ``bands.errors`` (the measured estimation errors);
                       CBPE: ``knots.<k>.x`` and ``knots.<k>.y`` per calibrated class; DLE: ``<metric>.<field>`` for
                       the nodes of each nuisance model (:class:`~driftloop.estimate.trees.Forest`)

A profile folder without these files has no estimator (a reference without labels, or a classifier without
``predict_proba``); :func:`load_estimator` then returns ``None``. The profile's own files are untouched, so a
profile written before estimators existed still loads. Floats are written at ``repr`` precision and arrays as they
are, so a loaded estimator gives bit-identical estimates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from driftloop.estimate.bands import ErrorBands
from driftloop.estimate.calibration import CalibrationCheck, Knots
from driftloop.estimate.cbpe import ConfidenceEstimator
from driftloop.estimate.dle import LossEstimator
from driftloop.estimate.trees import Forest
from driftloop.stored_documents import DocumentFormat, read_document, write_document

#: Version of the files written by :func:`save_estimator`.
FORMAT_VERSION = 1
JSON_FILE = "estimator.json"
ARRAYS_FILE = "estimator.npz"
FORMAT = DocumentFormat("driftloop.performance_estimator", FORMAT_VERSION, JSON_FILE, ARRAYS_FILE,
                        noun="performance estimator", short="estimator", json_values="class labels")

Estimator = ConfidenceEstimator | LossEstimator


def save_estimator(estimator: Estimator, folder: Path, *, classes: list[Any] | None = None) -> Path:
    """Write a fitted ``estimator`` into ``folder`` (a profile folder; created if needed). ``classes`` are the
    model's class labels in the order of its scores (CBPE), kept so that a window's labels map to the same codes."""
    bands = estimator.bands_
    arrays: dict[str, np.ndarray] = {"bands.errors": bands.errors}
    document: dict[str, Any] = {
        "params": estimator.get_params(),
        "bands": {"metrics": list(bands.metrics), "sizes": list(bands.sizes), "n_reference": bands.n_reference,
                  "n_chunks": bands.n_chunks, "coverage": bands.coverage, "n_measured": bands.n_measured},
    }
    if isinstance(estimator, ConfidenceEstimator):
        check = estimator.check_
        # numpy scalars (a scikit-learn classifier's classes_ of int64 or bool_) as the Python values JSON holds
        classes = None if classes is None else [c.item() if isinstance(c, np.generic) else c for c in classes]
        document.update(kind="cbpe", n_classes=estimator.n_classes_, classes=classes,
                        calibration={"p_values": list(check.p_values), "calibrate": check.calibrate,
                                     "reason": check.reason},
                        n_knots=len(estimator.knots_ or []))
        for k, knots in enumerate(estimator.knots_ or []):
            arrays[f"knots.{k}.x"], arrays[f"knots.{k}.y"] = knots.x, knots.y
    else:
        document.update(kind="dle", columns=estimator.columns_, categories=estimator.categories_,
                        baselines={m: f.baseline for m, f in estimator.forests_.items()})
        for metric, forest in estimator.forests_.items():
            for field in Forest._fields[1:]:
                arrays[f"{metric}.{field}"] = getattr(forest, field)
    return write_document(folder, FORMAT, document, arrays)


def load_estimator(folder: Path) -> tuple[Estimator, list[Any] | None] | None:
    """The estimator saved in ``folder`` and the model's classes (CBPE; ``None`` for DLE), or ``None`` when the
    folder holds none. Unknown formats and versions are refused."""
    if not (folder / JSON_FILE).is_file():
        return None
    document, arrays = read_document(folder, FORMAT)
    b = document["bands"]
    bands = ErrorBands(b["metrics"], b["sizes"], arrays["bands.errors"], b["n_reference"], b["n_chunks"],
                       b["coverage"], b["n_measured"])
    estimator: Estimator
    if document["kind"] == "cbpe":
        estimator = ConfidenceEstimator(**document["params"])
        estimator.n_classes_ = document["n_classes"]
        c = document["calibration"]
        estimator.check_ = CalibrationCheck(tuple(c["p_values"]), c["calibrate"], c["reason"])
        estimator.knots_ = ([Knots(arrays[f"knots.{k}.x"], arrays[f"knots.{k}.y"])
                             for k in range(document["n_knots"])] if c["calibrate"] else None)
        classes = document.get("classes")
    else:
        estimator = LossEstimator(**document["params"])
        estimator.columns_, estimator.categories_ = document["columns"], document["categories"]
        estimator.forests_ = {
            metric: Forest(baseline, *(arrays[f"{metric}.{field}"] for field in Forest._fields[1:]))
            for metric, baseline in document["baselines"].items()
        }
        classes = None
    estimator.bands_ = bands
    return estimator, classes
