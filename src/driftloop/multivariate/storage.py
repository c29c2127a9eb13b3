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

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from driftloop.errors import DriftloopError
from driftloop.multivariate.classifier import DomainClassifier
from driftloop.multivariate.encoding import EncodedColumn, FittedEncoder
from driftloop.multivariate.mmd import MMDDetector
from driftloop.multivariate.pca import PCAReconstruction
from driftloop.stored_documents import DocumentFormat, read_document, write_document
from driftloop.thresholds import DriftThresholds

if TYPE_CHECKING:
    from driftloop.multivariate.drift import MultivariateDrift

#: Version of the folder format written by :func:`save_multivariate`.
FORMAT_VERSION = 1
#: The subfolder of a reference profile's folder that holds the detectors.
SUBFOLDER = "multivariate"
JSON_FILE = "multivariate.json"
ARRAYS_FILE = "arrays.npz"
FORMAT = DocumentFormat("driftloop.multivariate", FORMAT_VERSION, JSON_FILE, ARRAYS_FILE,
                        noun="set of multivariate detectors", short="multivariate", json_values="categories")
_CLASSES = {"pca": PCAReconstruction, "classifier": DomainClassifier, "mmd": MMDDetector}


def save_multivariate(drift: MultivariateDrift, folder: Path) -> Path:
    """Write fitted detectors to ``folder`` (created if needed; existing files are replaced)."""
    arrays: dict[str, np.ndarray] = {}
    detectors: dict[str, Any] = {}
    for name, detector in drift.detectors_.items():
        document, own = detector.state()
        detectors[name] = document
        arrays.update({f"{name}.{key}": value for key, value in own.items()})
    document = {
        "params": drift.get_params(),
        "thresholds": drift.thresholds_.to_dict(),
        "n_rows": drift.n_rows_,
        "encoding": [column.to_dict() for column in drift.encoder_.columns],
        "detectors": detectors,
    }
    return write_document(folder, FORMAT, document, arrays)


def load_multivariate(folder: Path) -> MultivariateDrift:
    """Read detectors written by :func:`save_multivariate`; refuse unknown formats and versions."""
    from driftloop.multivariate.drift import MultivariateDrift

    if not (folder / JSON_FILE).is_file():
        raise DriftloopError(f"The 'path' parameter of MultivariateDrift.load must be a folder holding {JSON_FILE}; "
                             f"got {str(folder)!r}, which has none.")
    document, arrays = read_document(folder, FORMAT)
    policy = DriftThresholds(**document["thresholds"]).validate()
    drift = MultivariateDrift(thresholds=policy, **document["params"])
    drift.detectors_ = {}
    for name, entry in document["detectors"].items():
        prefix = f"{name}."
        own = {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}
        drift.detectors_[name] = _CLASSES[name].from_state(entry, own)
    drift.encoder_ = FittedEncoder(tuple(EncodedColumn.from_dict(entry) for entry in document["encoding"]))
    drift.thresholds_ = policy
    drift.n_rows_ = int(document["n_rows"])
    return drift
