"""The retrain job: fresh labelled rows → MLflow project → challenger → paired validation → promote or reject.

Steps (:func:`retrain`):

1. Check everything that can be checked before touching the registry: the model has a champion, the project exists
   and declares a ``data`` parameter and every ``-P`` parameter given, the data has the target and enough labelled
   rows. Bad input raises a :class:`DriftloopError` and changes nothing.
2. Resolve challengers left undecided by a crashed retrain (:func:`driftloop.tracking.registry.recover`).
3. Split the labelled rows in time order (by ``timestamp_column`` when given, else the order of the file): the
   freshest ``holdout_fraction`` is the holdout, the rest is written to a temporary CSV and passed to the project
   as ``data`` (in a folder removed even when the retrain is interrupted, :mod:`driftloop.retrain.workspace`).
4. Run the project locally (:func:`driftloop.tracking.projects.run_project`). A failed run leaves the champion as
   it was; the failure is recorded as a run in experiment ``retraining`` and raised (exit code 1).
5. The version the project registered (found by its run id) receives alias ``challenger``; both models predict the
   holdout and :func:`driftloop.retrain.validation.compare` decides. The champion is judged only on holdout rows
   it did not train on: every model the job trains records the fingerprints of its training rows
   (:mod:`driftloop.retrain.training_rows`), and the holdout rows among the champion's are left out (counted in
   the audit run's ``holdout_rows_seen_by_champion``; ``unknown`` for a champion trained outside the job). When
   fewer than ``MIN_HOLDOUT_ROWS`` are left, the retrain is skipped before anything is trained
   (:class:`RetrainSkipped`). A promotion is a compare-and-set against the
   champion seen in step 1, so two retrains started at once cannot both promote.
6. Validate, then refit on everything: a challenger that passed is fitted once more by the project, on all the
   labelled rows, holdout included (a second project run), so that the promoted model has seen the freshest rows
   too. The refit is registered as the next version and promoted; the validated version is tagged ``refitted``
   (``driftloop.decision``) and the refit carries the validation evidence: the tags ``driftloop.validation.*`` and
   ``driftloop.validated_version``, and the paired test's figures as metrics ``validation/*`` of its project run.
   When the refit fails, the validated version is promoted instead (the failure is recorded). ``refit=False``
   promotes the validated version itself.
7. The evidence is written as tags on the decided version and as a run in ``retraining``.

Data: a CSV or Parquet table with the target column, or a driftloop inference log, whose ``label`` is the target;
its rows are written to the project under the name ``target`` (default ``label``) with the feature columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from driftloop.data.inference_log import is_inference_log, read_inference_log
from driftloop.errors import DriftloopError
from driftloop.retrain import training_rows
from driftloop.retrain.validation import METRICS, RULES, ValidationResult, compare
from driftloop.retrain.workspace import training_folder
from driftloop.tracking.projects import check_parameters, load_project, run_project
from driftloop.tracking.registry import (
    CHAMPION,
    alias_version,
    champion_version,
    decide_challenger,
    mark_challenger,
    owner_id,
    promote,
    record_event,
    recover,
)
from driftloop.tracking.search import model_versions
from driftloop.tracking.store import use_tracking_uri

DATA_PARAMETER = "data"
LOG_COLUMNS = ("id", "model_name", "model_version", "prediction", "label_timestamp")
MIN_LABELLED_ROWS = 50
"""Fewest labelled rows a retrain accepts (training and holdout together)."""
MIN_HOLDOUT_ROWS = 10


class RetrainSkipped(DriftloopError):
    """Too few holdout rows are left to judge the champion on once the rows it trained on are left out: nothing was
    trained and the registry is unchanged (``driftloop monitor --retrain`` reports it and goes on)."""


@dataclass(frozen=True)
class RetrainOutcome:
    """What a retrain did: ``decision`` is ``promoted`` or ``rejected`` (a failure raises)."""

    model: str
    decision: str
    champion_before: str
    champion_after: str  # read back from the registry once the decision is recorded ("none" when there is none)
    challenger: str
    project_run_id: str
    audit_run_id: str
    training_rows: int
    holdout_rows: int
    validation: ValidationResult
    reason: str
    refit: str | None = None  # the version refitted on all labelled rows after validation (the one promoted)
    refit_run_id: str | None = None

    @property
    def decided(self) -> str:
        """The version the decision is about: the refit when there is one, else the validated challenger."""
        return self.refit or self.challenger


def read_labelled(path: str | Path, *, target: str | None, timestamp_column: str | None) -> tuple[pd.DataFrame, str]:
    """The labelled rows of ``path`` in time order (oldest first) and the name of the target column."""
    file = Path(path)
    if not file.is_file():
        raise DriftloopError(f"The 'data' parameter of retrain must be an existing file; got {str(path)!r}.")
    if is_inference_log(file):
        frame = read_inference_log(file).drop(columns=list(LOG_COLUMNS))
        name = target or "label"
        frame = frame.rename(columns={"label": name})
        timestamp_column = timestamp_column or "timestamp"
    else:
        if target is None:
            raise DriftloopError(
                f"The 'target' parameter of retrain is required for a table ({file.name}): the column holding the label."
            )
        name = target
        if file.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(file)
        else:
            with open(file) as handle:
                header = handle.readline()
            frame = pd.read_csv(file, sep=";" if header.count(";") > header.count(",") else ",")
    if name not in frame.columns:
        raise DriftloopError(
            f"The target column {name!r} is not in {file.name}; its columns are: {', '.join(map(str, frame.columns))}."
        )
    if timestamp_column is not None:
        if timestamp_column not in frame.columns:
            raise DriftloopError(
                f"The timestamp column {timestamp_column!r} is not in {file.name}; "
                f"its columns are: {', '.join(map(str, frame.columns))}."
            )
        frame = frame.sort_values(timestamp_column, kind="stable").drop(columns=[timestamp_column])
    frame = frame[frame[name].notna()].reset_index(drop=True)
    return frame, name


def champion_inputs(client: MlflowClient, name: str, version: str) -> list[str] | None:
    """The input column names of a registered version's signature, or ``None`` when it has none."""
    import mlflow.models

    with use_tracking_uri(client.tracking_uri):
        signature = mlflow.models.get_model_info(f"models:/{name}/{version}").signature
    if signature is None or not signature.inputs.has_input_names():
        return None
    return list(signature.inputs.input_names())


def split_holdout(frame: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The oldest rows for training, the freshest ``fraction`` as holdout.

    >>> train, holdout = split_holdout(pd.DataFrame({"x": range(10)}), 0.2)
    >>> list(holdout["x"])
    [8, 9]
    """
    if not (isinstance(fraction, float | int) and 0 < fraction < 1):
        raise DriftloopError(f"The 'holdout_fraction' parameter of retrain must be in (0, 1); got {fraction!r}.")
    holdout_rows = math.ceil(len(frame) * fraction)
    return frame.iloc[: len(frame) - holdout_rows], frame.iloc[len(frame) - holdout_rows:]


def _predict(uri: str, model_uri: str, features: pd.DataFrame) -> np.ndarray:
    import mlflow.pyfunc

    with use_tracking_uri(uri):
        model = mlflow.pyfunc.load_model(model_uri)
    schema = model.metadata.get_input_schema()
    if schema is not None and schema.has_input_names():
        missing = [name for name in schema.input_names() if name not in features.columns]
        if missing:
            raise DriftloopError(f"The holdout lacks the column(s) {', '.join(missing)} that {model_uri} expects.")
        features = features[schema.input_names()]
    predictions = model.predict(features)
    return np.asarray(predictions, dtype=float).reshape(len(features), -1)[:, 0]


def retrain(client: MlflowClient, name: str, project: str | Path, data: str | Path, *, target: str | None = None,
            timestamp_column: str | None = None, holdout_fraction: float = 0.2, margin: float = 0.0,
            parameters: Mapping[str, str] | None = None, metric: str = "mae", last_rows: int | None = None,
            min_rows: int = MIN_LABELLED_ROWS, actor: str = "driftloop retrain", seed: int = 0,
            refit: bool = True, rule: str = "not-worse") -> RetrainOutcome:
    """Retrain model ``name`` with the MLflow project in ``project`` on the labelled rows of ``data``.

    ``last_rows`` keeps only the most recent labelled rows; ``refit`` refits a validated challenger on all of them
    (step 6); ``rule`` is the promotion rule of the paired validation, ``better`` or ``not-worse``
    (:func:`driftloop.retrain.validation.compare`). See the module docstring for the steps.
    """
    # 1. checks, before any change
    champion = str(champion_version(client, name).version)
    if metric not in METRICS:
        raise DriftloopError(f"The 'metric' parameter of retrain must be one of {', '.join(METRICS)}; got {metric!r}.")
    if rule not in RULES:
        raise DriftloopError(f"The 'rule' parameter of retrain must be one of {', '.join(RULES)}; got {rule!r}.")
    given = dict(parameters or {})
    if DATA_PARAMETER in given:
        raise DriftloopError("The project parameter 'data' is set by retrain (the fresh training rows); don't pass it.")
    spec = load_project(project)
    if DATA_PARAMETER not in spec.parameters("main"):
        raise DriftloopError(
            f"Project {spec.name!r} declares no parameter 'data'; retrain passes the training rows through it."
        )
    check_parameters(spec, "main", given)
    frame, target_name = read_labelled(data, target=target, timestamp_column=timestamp_column)
    inputs = champion_inputs(client, name, champion)
    if inputs is not None:  # ids and other bookkeeping columns are not features: train on what the champion reads
        missing = [c for c in inputs if c not in frame.columns]
        if missing:
            raise DriftloopError(
                f"{Path(data).name} lacks column(s) the champion (version {champion}) reads: {', '.join(missing)}."
            )
        frame = frame[[*inputs, target_name]]
    if last_rows is not None:
        frame = frame.iloc[-last_rows:].reset_index(drop=True)
    if len(frame) < min_rows:
        raise DriftloopError(f"Retrain needs at least {min_rows} labelled rows; {Path(data).name} has {len(frame)}.")
    training, holdout = split_holdout(frame, holdout_fraction)
    if len(holdout) < MIN_HOLDOUT_ROWS:
        raise DriftloopError(
            f"The holdout has {len(holdout)} rows; validation needs at least {MIN_HOLDOUT_ROWS}: "
            f"give more labelled rows or a larger holdout fraction."
        )
    # The champion is judged only on holdout rows it did not train on (recorded when the retrain job trained it).
    champion_rows = training_rows.load(client, name, champion)
    unseen = holdout if champion_rows is None else holdout[~training_rows.seen(holdout, champion_rows)]
    if len(unseen) < MIN_HOLDOUT_ROWS:
        raise RetrainSkipped(
            f"Retrain skipped: {len(holdout) - len(unseen)} of the {len(holdout)} holdout rows trained the champion "
            f"(version {champion}), which leaves {len(unseen)} to judge it on; validation needs at least "
            f"{MIN_HOLDOUT_ROWS}: give labelled rows fresher than the champion's training data."
        )
    left_out = len(holdout) - len(unseen)

    # 2. recovery of crashed retrains
    recover(client, name, actor=actor)

    # 3-4. train
    audit = {"champion": champion, "project": str(spec.directory), "data": str(data), "actor": actor,
             "training_rows": len(training), "holdout_rows": len(holdout), "margin": margin, "metric": metric,
             "promotion_rule": rule, "holdout_rows_seen_by_champion": "unknown" if champion_rows is None else left_out,
             **{f"param.{key}": value for key, value in given.items()}}
    project_run, challenger = _train(client, name, spec.directory, given, training, audit, champion)
    mark_challenger(client, name, challenger, owner=owner_id())

    # 5. validate
    try:
        features = unseen.drop(columns=[target_name])
        uri = client.tracking_uri
        champion_pred = _predict(uri, f"models:/{name}/{champion}", features)
        challenger_pred = _predict(uri, f"models:/{name}/{challenger}", features)
        validation = compare(unseen[target_name].to_numpy(), champion_pred, challenger_pred, metric=metric,
                             margin=margin, seed=seed, rule=rule)
        if left_out:
            validation = validation._replace(reason=f"{validation.reason} ({left_out} holdout rows that trained "
                                                    f"the champion left out)")
    except Exception as error:
        reason = f"validation failed: {error}"
        decide_challenger(client, name, challenger, decision="failed", reason=reason, actor=actor)
        record_event(client, "retrain", name, params={**audit, "version": challenger, "decision": "failed",
                                                       "project_run_id": project_run, "reason": reason},
                     status="FAILED")
        raise DriftloopError(f"Retrain of {name!r}: {reason}; the champion (version {champion}) is unchanged.") from None

    # 6. refit on everything, decide and record
    evidence = {**validation.as_tags(), "project_run_id": project_run, "training_rows": len(training)}
    decision, reason, promoted = "rejected", validation.reason, challenger
    refit_version = refit_run = None
    if validation.promote and refit:
        try:
            refit_run, refit_version = _train(client, name, spec.directory, given, frame, {
                **audit, "training_rows": len(frame), "holdout_rows": 0, "validated_version": challenger}, champion)
        except DriftloopError as error:  # the validated challenger is still a sound promotion
            reason = f"{validation.reason}; the refit on all rows failed ({error}), the validated version is promoted"
        else:
            mark_challenger(client, name, refit_version, owner=owner_id())
            _log_validation(client, refit_run, validation)
            decide_challenger(client, name, challenger, decision="refitted", actor=actor, evidence=evidence,
                              reason=f"validated, then refitted on all {len(frame)} labelled rows as version "
                                     f"{refit_version}")
            evidence = {**evidence, "project_run_id": refit_run, "training_rows": len(frame),
                        "validated_version": challenger}
            promoted = refit_version
    if validation.promote:
        try:
            promote(client, name, promoted, reason=reason, actor=actor, expected_champion=champion,
                    evidence=evidence)
            decision = "promoted"
        except DriftloopError as error:
            reason = f"not promoted: {error}"
    if decision == "rejected":
        decide_challenger(client, name, promoted, decision="rejected", reason=reason, actor=actor, evidence=evidence)
    now = alias_version(client, name, CHAMPION)  # read back: a rollback or promotion may have moved it meanwhile
    after = "none" if now is None else str(now.version)
    metrics = {"champion_" + metric: validation.champion, "challenger_" + metric: validation.challenger,
               "difference": validation.difference, "ci_low": validation.ci_low, "ci_high": validation.ci_high}
    audit_run = record_event(client, "retrain", name, params={
        **audit, "version": promoted, "validated_version": challenger, "decision": decision,
        "project_run_id": project_run, "refit_run_id": refit_run, "reason": reason,
    }, metrics=metrics)
    return RetrainOutcome(name, decision, champion, after, challenger, project_run, audit_run, len(training),
                          len(holdout), validation, reason, refit_version, refit_run)


def _train(client: MlflowClient, name: str, project: Path, given: Mapping[str, str], rows: pd.DataFrame,
           audit: Mapping[str, object], champion: str) -> tuple[str, str]:
    """Run the project on ``rows`` (a CSV in a private folder, passed as ``data``); return its run id and the
    version it registered. A failure is recorded as a run in ``retraining`` and raised; the champion is untouched."""
    with training_folder() as folder:  # removed on SIGINT/SIGTERM too, or by the next retrain after a SIGKILL
        training_csv = folder / "training.csv"
        rows.to_csv(training_csv, index=False)
        result = run_project(client, project, {**given, DATA_PARAMETER: str(training_csv)})
    versions = model_versions(client, name, run_id=result.run_id) if result.status == "FINISHED" else []
    if result.status != "FINISHED":
        reason = f"project run {result.run_id} ended {result.status}: {result.cause or 'see its output'}"
    elif not versions:
        reason = f"project run {result.run_id} registered no version of {name!r}"
    else:
        version = str(max(int(v.version) for v in versions))
        training_rows.record(client, name, version, result.run_id, rows)
        return result.run_id, version
    record_event(client, "retrain", name, params={**audit, "decision": "failed", "project_run_id": result.run_id,
                                                   "reason": reason}, status="FAILED")
    raise DriftloopError(f"Retrain of {name!r} failed; the champion (version {champion}) is unchanged: {reason}.")


def _log_validation(client: MlflowClient, run_id: str, validation: ValidationResult) -> None:
    """The paired test's figures as metrics ``validation/<figure>`` of the refit's project run."""
    import time

    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    figures = {"rows": validation.rows, "champion": validation.champion, "challenger": validation.challenger,
               "difference": validation.difference, "ci_low": validation.ci_low, "ci_high": validation.ci_high,
               "margin": validation.margin}
    client.log_batch(run_id, metrics=[Metric(f"validation/{key}", float(value), stamp, 0)
                                      for key, value in figures.items()])
