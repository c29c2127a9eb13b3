"""Which rows trained a model: fingerprints recorded with every model ``driftloop retrain`` trains, so that a later
retrain judges the champion only on holdout rows it has not seen.

When the data of a retrain overlaps what the champion was fitted on (the same labelled file given twice, a
sliding window of the inference log), part of the freshest rows — the holdout — trained the champion: judged on
them it looks better than it is, and a sound challenger is rejected. So each model the retrain job trains (the
validated challenger, the refit) gets the fingerprints of its training rows, and the validation leaves out the
holdout rows whose fingerprint is among the champion's.

A row's fingerprint is a 64-bit hash of its values in a canonical form — the columns in name order, numbers
(booleans included) as float64, anything else as text — by :func:`pandas.util.hash_pandas_object` (SipHash with
pandas' fixed key, so the same row gives the same fingerprint in any later process). Two rows with the same values
(features and label) have the same fingerprint: a row identical to one the model trained on counts as seen, which it
is for the model. Distinct rows collide with probability about ``n m / 2**64`` for ``n`` training and ``m`` holdout
rows (below 1e-9 for a million and ten thousand). The fingerprints are a sorted ``uint64`` array saved with
:func:`numpy.save` as the artifact :data:`ARTIFACT` of the project run that trained the model, named by the
model version's tag :data:`TAG`; a version without the tag (trained outside the retrain job, such as a first
champion) has no record, and its holdout is taken as it comes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from driftloop.errors import DriftloopError

ARTIFACT = "driftloop/training_rows.npy"
TAG = "driftloop.training_fingerprints"
"""Model version tag: the ``runs:/<run id>/<artifact>`` URI of the version's training-row fingerprints."""


def fingerprints(rows: pd.DataFrame) -> np.ndarray:
    """One 64-bit fingerprint per row (see the module docstring), in the rows' order.

    >>> a = fingerprints(pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}))
    >>> b = fingerprints(pd.DataFrame({"y": ["b", "a"], "x": [2.0, 1.0]}))  # other column order, ints as floats
    >>> bool(a[0] == b[1] and a[1] == b[0] and a[0] != a[1])
    True
    >>> bool((fingerprints(pd.DataFrame({"x": [1, 2]}, index=[7, 9])) == fingerprints(pd.DataFrame({"x": [1, 2]}))).all())
    True
    """
    canonical = {}
    for column in sorted(rows.columns, key=str):
        values = rows[column]
        numeric = pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
        canonical[str(column)] = (values.astype("float64") if numeric else values.astype(str)).to_numpy()
    frame = pd.DataFrame(canonical)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype="uint64")


def seen(rows: pd.DataFrame, trained: np.ndarray) -> np.ndarray:
    """A boolean mask of the ``rows`` whose fingerprint is among ``trained`` (sorted, as recorded)."""
    return np.isin(fingerprints(rows), trained, assume_unique=False)


def record(client: MlflowClient, name: str, version: str, run_id: str, rows: pd.DataFrame) -> None:
    """Save the fingerprints of ``rows`` (the training rows of ``name`` version ``version``, fitted by run
    ``run_id``) as the run's artifact :data:`ARTIFACT` and name it in the version's tag :data:`TAG`."""
    with tempfile.TemporaryDirectory(prefix="driftloop-rows-") as folder:
        path = Path(folder) / Path(ARTIFACT).name
        np.save(path, np.unique(fingerprints(rows)))
        client.log_artifact(run_id, str(path), str(Path(ARTIFACT).parent))
    client.set_model_version_tag(name, version, TAG, f"runs:/{run_id}/{ARTIFACT}")


def load(client: MlflowClient, name: str, version: str) -> np.ndarray | None:
    """The recorded training-row fingerprints of ``name`` version ``version``, or ``None`` when it has no record."""
    uri = client.get_model_version(name, version).tags.get(TAG)
    if not uri:
        return None
    run_id, _, artifact = uri.removeprefix("runs:/").partition("/")
    try:
        with tempfile.TemporaryDirectory(prefix="driftloop-rows-") as folder:
            return np.load(client.download_artifacts(run_id, artifact, folder))
    except (MlflowException, OSError, ValueError) as error:
        raise DriftloopError(f"Could not read the training rows of {name} version {version} ({uri}): {error}") \
            from None
