"""The registry side of a replay: every model a policy trains registered in MLflow, promoted or rejected as the real
retrain job does it (:mod:`driftloop.retrain.job`), so that the store shows each policy's history of versions,
aliases and audited decisions.

One registered model per policy, ``simulate-<data>-<policy>`` (``schedule:4`` written ``schedule-4``). The first
champion is registered and promoted; each retrain registers its challenger (alias ``challenger``, tagged with its
owner as :func:`~driftloop.tracking.registry.mark_challenger` does), and the validation verdict either promotes it
(compare-and-set on ``champion`` under the registry lock, the old one kept as ``previous-champion``, the evidence as
tags and a run in ``retraining``) or records it as ``rejected`` (tags, and a run in ``retraining`` too). With the
refit (the default), a validated challenger is tagged ``refitted`` and its refit on all the fresh rows is registered
as the next version and promoted, carrying the validation evidence and ``driftloop.validated_version``. The models
are logged by ``mlflow.sklearn.log_model`` in runs of the experiment ``simulation``, with their signature.

What stays in process: the challenger is fitted by the replay itself, not by an MLflow project run (about 8 s each
through ``mlflow run``, which would make a 150-retrain comparison take 20 minutes), and predictions come from the
in-memory model rather than from the registry.
"""

from __future__ import annotations

import pandas as pd
from mlflow import MlflowClient

from driftloop.retrain.validation import ValidationResult
from driftloop.tracking.experiments import get_or_create_experiment
from driftloop.tracking.registry import (
    CHAMPION,
    alias_version,
    decide_challenger,
    mark_challenger,
    promote,
    record_event,
)
from driftloop.tracking.store import use_tracking_uri

EXPERIMENT = "simulation"
ACTOR = "driftloop simulate"


def model_name(data: str, policy: str) -> str:
    """The registered model of one policy's replay.

    >>> model_name("bike", "schedule:4")
    'simulate-bike-schedule-4'
    """
    return f"simulate-{data}-{policy}".replace(":", "-").replace("/", "-")


class ReplayRegistry:
    """Registers and decides the models of one policy's replay in the store of ``client`` (see the module)."""

    def __init__(self, client: MlflowClient, name: str) -> None:
        self.client, self.name = client, name
        self.champion: str | None = None

    def _register(self, model: object, rows: pd.DataFrame, run_name: str) -> str:
        import mlflow
        import mlflow.sklearn
        from mlflow.models import infer_signature

        from driftloop.demo.bike import SKOPS_TRUSTED_TYPES

        experiment_id = get_or_create_experiment(self.client, EXPERIMENT)
        run = self.client.create_run(experiment_id, run_name=run_name)
        with use_tracking_uri(self.client.tracking_uri), mlflow.start_run(run_id=run.info.run_id):
            mlflow.log_param("training_rows", len(rows))
            info = mlflow.sklearn.log_model(
                model, name="model", signature=infer_signature(rows, model.predict(rows.head(5))),  # type: ignore[attr-defined]
                registered_model_name=self.name, skops_trusted_types=SKOPS_TRUSTED_TYPES,
            )
        return str(info.registered_model_version)

    def start(self, model: object, rows: pd.DataFrame) -> str:
        """Register the first champion (trained on ``rows``, the features) and give it the ``champion`` alias."""
        version = self._register(model, rows, f"{self.name}: first champion")
        current = alias_version(self.client, self.name, CHAMPION)
        promote(self.client, self.name, version, reason="first champion of the replay", actor=ACTOR,
                expected_champion=None if current is None else str(current.version))
        self.champion = version
        return version

    def propose(self, model: object, rows: pd.DataFrame, position: int) -> str:
        """Register a challenger trained on ``rows`` at window ``position``; alias ``challenger``."""
        version = self._register(model, rows, f"{self.name}: challenger of window {position}")
        mark_challenger(self.client, self.name, version)
        return version

    def promote(self, version: str, verdict: ValidationResult,
                refit: tuple[object, pd.DataFrame] | None = None) -> str:
        """Promote the validated challenger ``version`` (compare-and-set against the champion this replay knows);
        with ``refit`` (the model refitted on all the fresh rows, and those rows' features), register the refit,
        tag the validated version ``refitted``, and promote the refit with the validation evidence. Returns the
        promoted version."""
        evidence = verdict.as_tags()
        promoted = version
        if refit is not None:
            model, rows = refit
            promoted = self._register(model, rows, f"{self.name}: refit of version {version}")
            mark_challenger(self.client, self.name, promoted)
            decide_challenger(self.client, self.name, version, decision="refitted", actor=ACTOR, evidence=evidence,
                              reason=f"validated, then refitted on all {len(rows)} fresh rows as version {promoted}")
            evidence = {**evidence, "validated_version": version}
        promote(self.client, self.name, promoted, reason=verdict.reason, actor=ACTOR,
                expected_champion=self.champion, evidence=evidence)
        self.champion = promoted
        return promoted

    def reject(self, version: str, verdict: ValidationResult) -> None:
        """Record the rejection of the challenger ``version``."""
        decide_challenger(self.client, self.name, version, decision="rejected", reason=verdict.reason, actor=ACTOR,
                          evidence=verdict.as_tags())
        record_event(self.client, "retrain", self.name, params={
            "version": version, "champion": self.champion, "decision": "rejected", "reason": verdict.reason,
            "actor": ACTOR})
