"""The served model: loaded from the MLflow registry, following its alias, swapped atomically.

:class:`ModelHolder` resolves ``name@alias`` through an injected :class:`~mlflow.MlflowClient`, loads that exact
version (``models:/name/version``) with :func:`mlflow.pyfunc.load_model`, and keeps it behind one attribute. A
background thread polls the registry every ``poll_interval`` seconds; when the alias points to another version, the
new version is loaded *fully* (and warmed up with one prediction) before the attribute is replaced, which is a single
atomic reference assignment. A request reads :attr:`ModelHolder.current` once and uses that :class:`ServedModel` to
the end, so requests in flight finish on the old version and the inference log records the version that served
each row. A version that fails to load is reported and the old one keeps serving; the next poll retries.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from driftloop.errors import DriftloopError
from driftloop.serve.feedback import LabelRule
from driftloop.serve.validation import SignatureValidator

logger = logging.getLogger("driftloop.serve")

DEFAULT_POLL_INTERVAL = 30.0
"""Seconds between two looks at the registry for a moved alias."""


@dataclass(frozen=True)
class ModelReference:
    """``name@alias`` (follows the alias) or ``name/version`` (a fixed version)."""

    name: str
    alias: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.name}@{self.alias}" if self.alias else f"{self.name}/{self.version}"


def model_reference(client: MlflowClient, text: str) -> ModelReference:
    """Parse ``text`` (:func:`parse_model_reference`); a LoggedModel (``models:/m-<id>``) or a run's model
    (``runs:/<run_id>/model``) is served as the fixed version registered from it
    (:func:`driftloop.tracking.models.resolve_model`)."""
    from driftloop.tracking.models import resolve_model

    if text.startswith(("models:/m-", "runs:/")):
        found = resolve_model(client, text)
        return ModelReference(found.name, version=found.version)
    return parse_model_reference(text)


def parse_model_reference(text: str) -> ModelReference:
    """Parse ``wine-quality@champion``, ``models:/wine-quality@champion`` or ``wine-quality/3``.

    >>> parse_model_reference("models:/wine-quality@champion")
    ModelReference(name='wine-quality', alias='champion', version=None)
    >>> parse_model_reference("wine-quality/3").version
    '3'
    """
    body = text[len("models:/"):] if text.startswith("models:/") else text
    match = re.fullmatch(r"([^@/]+)@([^@/]+)", body)
    if match:
        return ModelReference(match.group(1), alias=match.group(2))
    match = re.fullmatch(r"([^@/]+)/(\d+)", body)
    if match:
        return ModelReference(match.group(1), version=match.group(2))
    raise DriftloopError(
        f"The model must be given as NAME@ALIAS (e.g. wine-quality@champion), NAME/VERSION, models:/m-<id> or "
        f"runs:/<run_id>/model; got {text!r}."
    )


@dataclass(frozen=True)
class ServedModel:
    """One loaded model version and what serving it needs."""

    name: str
    version: str
    alias: str | None
    pyfunc: Any
    validator: SignatureValidator | None
    loaded_at: float

    @property
    def feature_names(self) -> list[str] | None:
        return self.validator.names if self.validator is not None else None

    @cached_property
    def label_rule(self) -> LabelRule:
        """What a label of this model must be, from the output schema of its signature."""
        metadata = getattr(self.pyfunc, "metadata", None)
        return LabelRule.from_output_schema(metadata.get_output_schema() if metadata is not None else None)

    def predict(self, frame: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        """Predict on a frame already checked against the signature.

        With a column signature the frame holds exactly the signature's columns and dtypes (what MLflow's schema
        enforcement would produce), so it goes straight to the flavor's implementation (``_model_impl``, a stable
        developer API of MLflow), skipping a second, slower enforcement. Otherwise, and whenever ``params`` are
        given, the full :meth:`PyFuncModel.predict` runs.
        """
        if self.validator is not None and params is None:
            return self.pyfunc._model_impl.predict(frame)
        if params is not None:
            return self.pyfunc.predict(frame, params=params)
        return self.pyfunc.predict(frame)


def _warm_up(model: ServedModel) -> None:
    """One prediction on a placeholder row, so that the first real request does not pay for lazy initialisation."""
    if model.validator is None:
        return
    placeholder = {"double": 0.0, "float": np.float32(0), "long": 0, "integer": np.int32(0), "boolean": False,
                   "string": "", "datetime": pd.Timestamp(0)}
    frame = pd.DataFrame({c.name: [placeholder[c.type]] for c in model.validator.columns})
    for column in model.validator.columns:
        if column.type == "float":
            frame[column.name] = frame[column.name].astype("float32")
        elif column.type == "integer":
            frame[column.name] = frame[column.name].astype("int32")
    try:
        model.predict(frame)
    except Exception:  # noqa: BLE001 - a placeholder may be outside the model's domain; only a warm-up
        pass


def load_version(client: MlflowClient, name: str, version: str, alias: str | None) -> ServedModel:
    """Load version ``version`` of registered model ``name`` from the client's store."""
    import mlflow.pyfunc

    from driftloop.tracking.store import use_tracking_uri

    with _LOAD_LOCK, use_tracking_uri(client.tracking_uri):
        try:
            pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
        except MlflowException as error:
            raise DriftloopError(f"Cannot load model {name!r} version {version}: {error.message}") from None
    schema = pyfunc.metadata.get_input_schema()
    validator = SignatureValidator.from_schema(schema)
    if validator is None:
        logger.warning("Model %s version %s has no column signature: driftloop cannot check requests itself, "
                       "MLflow's schema enforcement applies.", name, version)
    served = ServedModel(name, str(version), alias, pyfunc, validator, time.time())
    _warm_up(served)
    return served


_LOAD_LOCK = threading.Lock()


def resolve_version(client: MlflowClient, reference: ModelReference) -> str:
    """The version that ``reference`` designates now; a missing model or alias is a :class:`DriftloopError`."""
    try:
        if reference.alias is not None:
            return str(client.get_model_version_by_alias(reference.name, reference.alias).version)
        return str(client.get_model_version(reference.name, reference.version).version)
    except MlflowException as error:
        store = client.tracking_uri
        if reference.alias is not None:
            raise DriftloopError(
                f"The registry at {store} has no model {reference.name!r} with alias {reference.alias!r} "
                f"({error.message.rstrip('.')}); train and register it first, or set the alias."
            ) from None
        raise DriftloopError(
            f"The registry at {store} has no version {reference.version} of model {reference.name!r} "
            f"({error.message.rstrip('.')})."
        ) from None


class ModelHolder:
    """Holds the served model and follows its alias.

    Parameters
    ----------
    client
        Client on the registry.
    reference
        The model to serve; with an alias, :meth:`refresh` and the poller follow it.
    on_swap
        Called with (old, new) after each swap (old is ``None`` at the first load).
    on_failure
        Called with the error when a poll or a load fails (the current version keeps serving).
    loader
        Loads a version (injectable for tests); defaults to :func:`load_version`.
    """

    def __init__(
        self,
        client: MlflowClient,
        reference: ModelReference,
        *,
        on_swap: Callable[[ServedModel | None, ServedModel], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        loader: Callable[[MlflowClient, str, str, str | None], ServedModel] = load_version,
    ) -> None:
        self.client = client
        self.reference = reference
        self.on_swap = on_swap
        self.on_failure = on_failure
        self._loader = loader
        self._current: ServedModel | None = None
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def loaded(self) -> bool:
        """Whether a model version is loaded."""
        return self._current is not None

    @property
    def current(self) -> ServedModel:
        """The model serving now (read once per request)."""
        model = self._current
        if model is None:
            raise DriftloopError(f"Model {self.reference} is not loaded yet; call load() first.")
        return model

    def load(self) -> ServedModel:
        """Resolve and load the model (at start-up); a missing model or alias is a :class:`DriftloopError`."""
        self.refresh()
        return self.current

    def refresh(self) -> bool:
        """Look at the registry once; load and swap in another version if the alias moved. Returns whether swapped."""
        with self._refresh_lock:
            version = resolve_version(self.client, self.reference)
            old = self._current
            if old is not None and old.version == version:
                return False
            new = self._loader(self.client, self.reference.name, version, self.reference.alias)
            self._current = new  # one reference assignment: atomic for the requests that read it
        logger.info("Serving %s version %s%s", self.reference.name, version,
                    f" (was version {old.version})" if old else "")
        if self.on_swap is not None:
            self.on_swap(old, new)
        return True

    # -- polling
    def start_polling(self, interval: float) -> None:
        """Poll the registry every ``interval`` seconds in a daemon thread (no-op for a fixed version)."""
        if self.reference.alias is None or self._thread is not None or interval <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, args=(interval,), name="driftloop-alias-poller",
                                        daemon=True)
        self._thread.start()

    def stop_polling(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception as error:  # noqa: BLE001 - keep serving the current version, retry at the next poll
                logger.warning("Could not follow %s: %s", self.reference, error)
                if self.on_failure is not None:
                    self.on_failure(error)
