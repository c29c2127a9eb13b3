"""Monitoring on the model's own page in the MLflow UI: each closed window's headline figures linked to the
monitored model's LoggedModel, with the window logged as an MLflow dataset.

MLflow 3 links a metric to a model: a :class:`~mlflow.entities.Metric` with ``model_id``, ``dataset_name`` and
``dataset_digest``, logged with ``log_batch`` in a run, is stored as a point of the run *and* of the LoggedModel
(table ``logged_model_metrics``), and the model's page lists it with its dataset and source run. So the monitoring
run logs the :data:`HEADLINE_METRICS` of each window it closes with those three fields set (the run keeps every
metric, as before; the headline points are written once, in the same batch, so the model holds a (metric, step)
point exactly when the run does), after :func:`log_window_inputs` logged, as inputs of the run, the model
(``LoggedModelInput``) and each window as a dataset:

``name``    ``window <step> of <data file>``
``digest``  :func:`rows_digest`, a hash of every row of the window (not a sample)
``source``  the data file or folder the window was read from
``schema``  the window's columns and types (MLflow's schema of the pandas frame); the rows are not copied

Only closed windows are linked: their figures are final, whereas an open window's are replaced on every pass and a
LoggedModel's metric points cannot be deleted. A model version registered from run artifacts (no LoggedModel) is
not linked; a window this pass's data no longer holds (carried from an earlier pass) is linked without a dataset.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import DatasetInput, InputTag, LoggedModelInput

#: The figures of a window shown on the model's page (whichever of them the window has).
HEADLINE_METRICS = (
    "verdict",
    "drift/share",
    "performance/mae",
    "performance/rmse",
    "performance/accuracy",
    "performance/f1",
    "performance/roc_auc",
    "estimated/mae",
    "estimated/rmse",
    "estimated/accuracy",
    "estimated/f1",
    "estimated/roc_auc",
)
DATASET_CONTEXT = "monitoring window"


@dataclass(frozen=True)
class WindowLink:
    """What a window's headline metrics carry: the model and (when the window's rows are at hand) its dataset."""

    model_id: str
    dataset_name: str | None = None
    dataset_digest: str | None = None

    def metric_fields(self, key: str) -> dict[str, str | None]:
        """The keyword arguments of :class:`~mlflow.entities.Metric` for metric ``key`` (none for a metric that is
        not a headline)."""
        if key not in HEADLINE_METRICS:
            return {}
        return {"model_id": self.model_id, "dataset_name": self.dataset_name, "dataset_digest": self.dataset_digest}


def rows_digest(frame: pd.DataFrame) -> str:
    """A digest of every row and of the column names: SHA-256 over pandas' per-row hashes
    (:func:`pandas.util.hash_pandas_object`, index excluded), first 16 hex digits. Two windows with the same rows in
    the same order have the same digest; cells pandas cannot hash (lists) are hashed as their text.

    >>> frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    >>> rows_digest(frame) == rows_digest(frame.copy()), rows_digest(frame) == rows_digest(frame.iloc[::-1])
    (True, False)
    """
    try:
        hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    except TypeError:  # unhashable cells (lists, dicts from Parquet): hash their text
        hashes = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy(dtype=np.uint64)
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    digest.update(hashes.tobytes())
    return digest.hexdigest()[:16]


def window_dataset(frame: pd.DataFrame, *, source: str, name: str):
    """The window as an MLflow dataset (:func:`mlflow.data.from_pandas`): name, :func:`rows_digest`, source, schema."""
    import mlflow.data

    with warnings.catch_warnings():  # MLflow registers its local-file source twice and warns that both match
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
        return mlflow.data.from_pandas(frame, source=source, name=name, digest=rows_digest(frame))


def log_window_inputs(client: MlflowClient, run_id: str, model_id: str | None, steps: Sequence[int],
                      frames: Mapping[int, pd.DataFrame], data_path: str) -> dict[int, WindowLink]:
    """Log the model and the windows ``steps`` (those of ``frames`` at hand) as inputs of the monitoring run; return
    the :class:`WindowLink` of each step (empty for a model without a LoggedModel)."""
    if model_id is None or not steps:
        return {}
    source = str(Path(data_path).resolve())
    links: dict[int, WindowLink] = {}
    datasets = []
    for step in steps:
        frame = frames.get(step)
        if frame is None:
            links[step] = WindowLink(model_id)
            continue
        dataset = window_dataset(frame, source=source, name=f"window {step} of {Path(data_path).name}")
        links[step] = WindowLink(model_id, dataset.name, dataset.digest)
        datasets.append(DatasetInput(dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", DATASET_CONTEXT)]))
    run = client.get_run(run_id)
    known = {i.model_id for i in (run.inputs.model_inputs or [])} if run.inputs else set()
    client.log_inputs(run_id, datasets=datasets or None,
                      models=None if model_id in known else [LoggedModelInput(model_id)])
    return links
