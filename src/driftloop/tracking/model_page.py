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
``schema``  the window's columns and types (MLflow's schema of the pandas frame, types inferred on its first rows)

Only closed windows are linked: their figures are final, whereas an open window's are replaced on every pass and a
LoggedModel's metric points cannot be deleted. A model version registered from run artifacts (no LoggedModel) is
not linked; a window this pass's data no longer holds (carried from an earlier pass) is linked without a dataset.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Dataset as MlflowDataset
from mlflow.entities import DatasetInput, InputTag, LoggedModelInput

from driftloop.data.row_hashes import row_hashes

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
    (:func:`pandas.util.hash_pandas_object`, index excluded; computed by :func:`driftloop.data.row_hashes.row_hashes`,
    which equals it with one compiled pass per numeric column), first 16 hex digits. Two windows with the same rows
    in the same order have the same digest; cells pandas cannot hash (lists) are hashed as their text.

    >>> frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    >>> rows_digest(frame) == rows_digest(frame.copy()), rows_digest(frame) == rows_digest(frame.iloc[::-1])
    (True, False)
    """
    try:
        hashes = row_hashes(frame)
    except TypeError:  # unhashable cells (lists, dicts from Parquet): hash their text
        hashes = row_hashes(frame.astype(str))
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    digest.update(hashes.tobytes())
    return digest.hexdigest()[:16]


#: Rows of a window from which MLflow infers the column types of its dataset schema. MLflow's inference walks every
#: value of a text column in Python (5 s per window of 50,000 rows x 27 columns; 0.02 s on 100 rows); whether a
#: column is required (has no missing value) is still decided on every row, vectorised.
SCHEMA_ROWS = 100


@dataclass(frozen=True)
class WindowDataset:
    """A window as an MLflow dataset, kept without its rows: its name, :func:`rows_digest` and the entity logged as
    an input of the monitoring run (source, schema, profile)."""

    name: str
    digest: str
    entity: MlflowDataset


def window_dataset(frame: pd.DataFrame, *, source: str, name: str) -> WindowDataset:
    """The window as an MLflow dataset (:func:`mlflow.data.from_pandas`): name, :func:`rows_digest`, source, schema
    (types inferred on the first :data:`SCHEMA_ROWS` rows, required = no missing value in the window) and profile
    (rows and cells of the whole window)."""
    import mlflow.data
    from mlflow.types import ColSpec, Schema
    from mlflow.types.utils import _infer_schema

    with warnings.catch_warnings():  # MLflow registers its local-file source twice and warns that both match
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
        dataset = mlflow.data.from_pandas(frame, source=source, name=name, digest=rows_digest(frame))
    try:
        with warnings.catch_warnings():  # its hint on integer columns is for signatures; required is set below
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
            sampled = _infer_schema(frame.head(SCHEMA_ROWS))
    except Exception:  # MLflow leaves the schema out when it cannot infer one
        sampled = None
    if sampled is not None:
        has_missing = frame.isna().any()
        dataset.__dict__["schema"] = Schema([  # PandasDataset.schema is a cached property: set it, don't infer it
            ColSpec(spec.type, spec.name, required=not bool(has_missing[spec.name])) if spec.name in has_missing
            else spec for spec in sampled.inputs])
    else:
        dataset.__dict__["schema"] = None
    return WindowDataset(dataset.name, dataset.digest, dataset._to_mlflow_entity())


def log_window_inputs(client: MlflowClient, run_id: str, model_id: str | None, steps: Sequence[int],
                      datasets: Mapping[int, WindowDataset]) -> dict[int, WindowLink]:
    """Log the model and the windows ``steps`` (those of ``datasets`` at hand, made by :func:`window_dataset`) as
    inputs of the monitoring run; return the :class:`WindowLink` of each step (empty for a model without a
    LoggedModel)."""
    if model_id is None or not steps:
        return {}
    links: dict[int, WindowLink] = {}
    inputs = []
    for step in steps:
        dataset = datasets.get(step)
        if dataset is None:
            links[step] = WindowLink(model_id)
            continue
        links[step] = WindowLink(model_id, dataset.name, dataset.digest)
        inputs.append(DatasetInput(dataset.entity, [InputTag("mlflow.data.context", DATASET_CONTEXT)]))
    run = client.get_run(run_id)
    known = {i.model_id for i in (run.inputs.model_inputs or [])} if run.inputs else set()
    client.log_inputs(run_id, datasets=inputs or None,
                      models=None if model_id in known else [LoggedModelInput(model_id)])
    return links
