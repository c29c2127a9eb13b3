"""The on-disk format of the multivariate detectors: a folder, versioned, no pickle.

Layout (format version 1), written inside the reference profile's folder as its subfolder ``multivariate/``::

    multivariate/
      multivariate.json   format name and version, driftloop version, parameters, the calibration parameters,
                          the encoding of every column (kind, reference mean and scale, categories and their
                          shares) and one entry per detector (its parameters and fitted scalars)
      arrays.npz          numpy arrays, read with allow_pickle=False, named ``<detector>.<array>``: the PCA's
                          centre, components and null draws per calibrated size (``pca.null<size>.values`` and
                          ``.n_eff``); the reference sample of the domain classifier and of MMD (``.reference``)

A reader refuses a format version it does not know. Floats are written with ``repr`` precision (JSON) or as
float64 arrays, so a loaded detector gives bit-identical results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from driftloop.errors import DriftloopError
from driftloop.multivariate.classifier import DomainClassifier
from driftloop.multivariate.encoding import EncodedColumn, FittedEncoder
from driftloop.multivariate.mmd import MMDDetector
from driftloop.multivariate.pca import PCAReconstruction
from driftloop.thresholds import DriftThresholds

if TYPE_CHECKING:
    from driftloop.multivariate.drift import MultivariateDrift

FORMAT = "driftloop.multivariate"
#: Version of the folder format written by :func:`save_multivariate`.
FORMAT_VERSION = 1
#: The subfolder of a reference profile's folder that holds the detectors.
SUBFOLDER = "multivariate"
JSON_FILE = "multivariate.json"
ARRAYS_FILE = "arrays.npz"
_CLASSES = {"pca": PCAReconstruction, "classifier": DomainClassifier, "mmd": MMDDetector}


def save_multivariate(drift: MultivariateDrift, folder: Path) -> Path:
    """Write fitted detectors to ``folder`` (created if needed; existing files are replaced)."""
    from driftloop import __version__

    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    detectors: dict[str, Any] = {}
    for name, detector in drift.detectors_.items():
        document, own = detector.state()
        detectors[name] = document
        arrays.update({f"{name}.{key}": value for key, value in own.items()})
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "driftloop_version": __version__,
        "params": drift.get_params(),
        "thresholds": drift.thresholds_.to_dict(),
        "n_rows": drift.n_rows_,
        "encoding": [column.to_dict() for column in drift.encoder_.columns],
        "detectors": detectors,
    }
    try:
        text = json.dumps(document, indent=1, allow_nan=True)
    except TypeError as exc:
        raise DriftloopError(f"The multivariate detectors could not be saved: a category is not a JSON value "
                             f"({exc}); categories must be strings, numbers or booleans.") from exc
    np.savez(folder / ARRAYS_FILE, **arrays)
    (folder / JSON_FILE).write_text(text, encoding="utf-8")
    return folder


def load_multivariate(folder: Path) -> MultivariateDrift:
    """Read detectors written by :func:`save_multivariate`; refuse unknown formats and versions."""
    from driftloop.multivariate.drift import MultivariateDrift

    path = folder / JSON_FILE
    if not path.is_file():
        raise DriftloopError(f"The 'path' parameter of MultivariateDrift.load must be a folder holding {JSON_FILE}; "
                             f"got {str(folder)!r}, which has none.")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DriftloopError(f"{str(path)!r} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DriftloopError(f"{str(path)!r} must hold driftloop multivariate detectors (format {FORMAT!r}); got "
                             f"format {document.get('format') if isinstance(document, dict) else None!r}.")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise DriftloopError(f"{str(path)!r} has multivariate format version {version!r}; this driftloop reads "
                             f"version {FORMAT_VERSION} only. Upgrade driftloop or refit the profile.")
    policy = DriftThresholds(**document["thresholds"]).validate()
    drift = MultivariateDrift(thresholds=policy, **document["params"])
    with np.load(folder / ARRAYS_FILE, allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    drift.detectors_ = {}
    for name, entry in document["detectors"].items():
        prefix = f"{name}."
        own = {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}
        drift.detectors_[name] = _CLASSES[name].from_state(entry, own)
    drift.encoder_ = FittedEncoder(tuple(EncodedColumn.from_dict(entry) for entry in document["encoding"]))
    drift.thresholds_ = policy
    drift.n_rows_ = int(document["n_rows"])
    return drift
