"""The FastAPI application of the prediction service, built by :func:`create_app`.

Endpoints:

``POST /predict``
    MLflow's scoring formats (see :mod:`driftloop.serve.formats`). Answers
    ``{"predictions": [...], "ids": [...], "model_name": ..., "model_version": ...}`` — one id per row, to send back
    with its label on ``/feedback``. With an inference log, the 200 is sent only after the rows are committed.
``POST /invocations``
    MLflow's scoring protocol, as ``mlflow models serve`` speaks it, so that its clients work unchanged: the same
    formats, answered ``{"predictions": [...]}`` exactly as MLflow writes it, errors as MLflow's scoring server answers
    them (400 with ``{"error_code": ..., "message": ...}`` for input that does not fit the model, 415 with a line of
    text for another content type). Its rows are validated and logged as on ``/predict``; their ids are
    ``<request id>/<row>`` (row 0, 1, ... of the request), where the request id is the client's
    ``X-Driftloop-Request-Id`` header or, without one, a fresh UUID, and is sent back in that header. A request id
    already in the log is refused (409), nothing of it stored.
``POST /feedback``
    ``[{"id": ..., "label": ...}, ...]``: late ground truth, stored in the log. Answers
    ``{"accepted": n, "orphans": k, "orphan_ids": [...], "overwritten_ids": [...]}``; labels for unknown ids are
    stored and counted as orphans. A label that differs from the id's earlier one is refused (409, nothing of the
    request stored) unless the request says ``?overwrite=true``; the replaced labels stay in the log's history.
``GET /health``
    200 ``{"status": "ok", ..., "log": {"state": "ok", "writer_restarts": n, "error": null}}``; 503 with
    ``"status": "unavailable"`` while the log's writer process is being restarted after it died.
``GET /ping``
    As MLflow's: 200 with an empty line while requests can be served and logged (503 when ``/health`` is).
``GET /version``
    As MLflow's: the MLflow version, as text (driftloop's version and the model's are on ``/health``).
``GET /metrics``
    Prometheus text format.

``/predict`` and ``/invocations`` read ``application/json`` and ``text/csv``, ``/feedback`` only
``application/json``; any other content type (and any ``charset`` but UTF-8) is a 415, as in MLflow's scoring server
(which also keeps web pages from writing to the log: a browser sends ``application/json`` across sites only after a
CORS preflight, which this service does not grant). With a feedback token, ``/feedback`` needs
``Authorization: Bearer <token>`` (401 otherwise; compared in constant time).

Errors of ``/predict`` and ``/feedback`` answer JSON ``{"error": code, "message": ...}`` with a one-line message: 400
malformed JSON, an unknown format or a request over a limit of :class:`~driftloop.serve.limits.RequestLimits`
(columns, depth, digits), 401 a wrong feedback token, 409 labels conflicting with earlier ones (with ``ids``), 413 a
body over ``max_body_bytes``, 415 an unsupported content type, 422 rows or labels not matching the model or values
the log cannot store (with ``errors``: row, column, expected, received, and ``rejected_rows``), 503 when the log
cannot be written (nothing is acknowledged). Every value that reaches the log fits its columns, and the log's writer
retries a failing group one message at a time, so that one request cannot fail the others committed with it. No
answer names a file of the server.

Parsing, validation and prediction (and the parsing of feedback) run on the event loop for small bodies (a thread
hop costs more than they do) and in a worker thread for bodies over :data:`OFFLOAD_BYTES`, so that a large body
does not stall other requests; every step is linear in the body's size, which is bounded.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import Response
from mlflow.pyfunc.scoring_server import predictions_to_json
from starlette.concurrency import run_in_threadpool

from driftloop import __version__
from driftloop.data.inference_log import (
    IdsInLog,
    InferenceLog,
    LabelConflict,
    PredictionBatch,
    UnloggableInput,
    new_row_ids,
)
from driftloop.errors import DriftloopError
from driftloop.serve.errors import (
    BadRequest,
    CellError,
    Conflict,
    IdsTaken,
    InvalidInput,
    PayloadTooLarge,
    ServiceError,
    Unauthorized,
    Unavailable,
)
from driftloop.serve.feedback import parse_feedback
from driftloop.serve.formats import parse_csv, parse_payload
from driftloop.serve.limits import RequestLimits
from driftloop.serve.metrics import ServiceMetrics
from driftloop.serve.model import DEFAULT_POLL_INTERVAL, ModelHolder, ServedModel
from driftloop.serve.request_body import CSV, JSON, decode_json, media_type
from driftloop.serve.validation import loggable_columns

logger = logging.getLogger("driftloop.serve")
T = TypeVar("T")

OFFLOAD_BYTES = 256 * 1024
"""Bodies larger than this are parsed and predicted in a worker thread instead of on the event loop."""
REQUEST_ID_HEADER = "X-Driftloop-Request-Id"
"""The header of ``/invocations`` that names a request: its rows are logged with ids ``<request id>/<row>``."""
_REQUEST_ID = re.compile(r"[!-~]+")


def _json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    try:
        text = json.dumps(body, allow_nan=False, separators=(",", ":"))
    except ValueError:  # a NaN or infinite prediction: JSON has no such number, send null
        text = json.dumps(_nan_to_none(body), separators=(",", ":"))
    return Response(text, status_code=status, media_type=JSON, headers=headers)


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    return value


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body has {int(declared)} bytes; the limit is {limit} (--max-body-bytes).")
    if declared is not None and declared.isdigit():
        return await request.body()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body has more than {limit} bytes, the limit (--max-body-bytes).")
        chunks.append(chunk)
    return b"".join(chunks)


def _prediction_values(raw: Any, n_rows: int) -> list[Any]:
    """The model's output as one JSON value per row."""
    if isinstance(raw, pd.DataFrame):
        raw = raw.iloc[:, 0].to_numpy() if raw.shape[1] == 1 else raw.to_dict(orient="records")
    elif isinstance(raw, pd.Series):
        raw = raw.to_numpy()
    if isinstance(raw, np.ndarray):
        values = raw.tolist()
    elif isinstance(raw, (list, tuple)):
        values = [v.tolist() if isinstance(v, (np.ndarray, np.generic)) else v for v in raw]
    else:
        raise DriftloopError(f"The model returned {type(raw).__name__}; expected one prediction per row.")
    if len(values) != n_rows:
        raise DriftloopError(f"The model returned {len(values)} predictions for {n_rows} rows.")
    return values


def _predict_body(model: ServedModel, body: bytes, media: str, limits: RequestLimits, logged: bool,
                  other_keys: bool = False) -> tuple[dict[str, np.ndarray], Any, list[Any]]:
    """Parse, validate and predict: the CPU part of /predict and /invocations. Returns the validated inputs, the
    model's output and that output as one JSON value per row.

    Without a column signature, inputs that are ``logged`` must fit the inference log (one scalar per cell).
    ``other_keys``: JSON keys besides the format's and ``params`` are ignored, as MLflow's scoring server does
    (refused otherwise)."""
    validator = model.validator
    if media == CSV:
        types = None if validator is None else {column.name: column.type for column in validator.columns}
        parsed = parse_csv(body, types, limits.max_columns)
    else:
        parsed = parse_payload(decode_json(body, limits), model.feature_names, limits.max_columns,
                               other_keys=other_keys)
    if validator is not None:
        inputs = validator.validate(parsed.columns, parsed.n_rows)
    elif logged:
        inputs = loggable_columns(parsed.columns, parsed.n_rows)
    else:
        inputs = {name: np.fromiter(values, dtype=object, count=parsed.n_rows)
                  for name, values in parsed.columns.items()}
    frame = pd.DataFrame(inputs, copy=False)
    try:
        raw = model.predict(frame, parsed.params)
    except ServiceError:
        raise
    except Exception as error:  # noqa: BLE001 - the model refused the input
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        raise InvalidInput([CellError(None, None, "input the model accepts", message.splitlines()[0][:300])],
                           rejected_rows=parsed.n_rows) from None
    return inputs, raw, _prediction_values(raw, parsed.n_rows)


def _request_id(request: Request, n_rows: int, limits: RequestLimits, received_ns: int) -> str:
    """The ``/invocations`` request's id: its :data:`REQUEST_ID_HEADER` (visible ASCII, short enough that the row
    ids ``<request id>/<row>`` fit ``max_id_length``, so that ``/feedback`` takes them) or a fresh UUID."""
    given = request.headers.get(REQUEST_ID_HEADER)
    if given is None:
        return new_row_ids(1, received_ns)[0]
    longest = limits.max_id_length - len(f"/{n_rows - 1}")
    if not 0 < len(given) <= longest or not _REQUEST_ID.fullmatch(given):
        raise BadRequest(f"The header {REQUEST_ID_HEADER} must be 1 to {longest} visible ASCII characters without "
                         f"spaces (its row ids '<request id>/<row>' must fit --max-id-length "
                         f"{limits.max_id_length}); got {given[:60]!r}" + (" ..." if len(given) > 60 else "") + ".")
    return given


def _mlflow_json(raw: Any) -> str:
    """The model's output as MLflow's scoring server writes it: ``{"predictions": ...}``."""
    text = io.StringIO()
    predictions_to_json(raw, text)
    return text.getvalue()


def _check_bearer(request: Request, token: str | None) -> None:
    """Require ``Authorization: Bearer <token>`` when a token is set; compared in constant time (no timing oracle)."""
    if token is None:
        return
    scheme, _, received = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(received.strip().encode(), token.encode()):
        raise Unauthorized("/feedback needs the header 'Authorization: Bearer <token>' with the service's feedback "
                           "token (--feedback-token).")


def _feedback_items(body: bytes, model: ServedModel, limits: RequestLimits) -> list[tuple[str, Any]]:
    """Decode and check a /feedback body: the CPU part of /feedback."""
    return parse_feedback(decode_json(body, limits), model.label_rule, limits)


async def _run_sized(size: int, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` on the event loop for a body of ``size`` bytes up to :data:`OFFLOAD_BYTES` (a thread hop
    costs more than such a body's parsing), in a worker thread for a larger one, so that it does not stall others."""
    if size > OFFLOAD_BYTES:
        return await run_in_threadpool(function, *args)
    return function(*args)


def _unloggable(error: UnloggableInput, n_rows: int) -> InvalidInput:
    """The log's refusal of a value it cannot store, as a 422 naming the row and column."""
    cell = CellError(error.row, error.column, error.expected, error.received)
    return InvalidInput([cell], rejected_rows=1 if error.row is not None else n_rows)


def _overwrite(request: Request) -> bool:
    """The ``overwrite`` query parameter of /feedback: replace labels that differ from earlier ones."""
    value = request.query_params.get("overwrite", "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise BadRequest(f"The query parameter 'overwrite' must be true or false; got {value!r}.")
    return value in ("true", "1")


def create_app(
    holder: ModelHolder,
    *,
    log: InferenceLog | None = None,
    limits: RequestLimits = RequestLimits(),
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    metrics: ServiceMetrics | None = None,
    feedback_token: str | None = None,
) -> FastAPI:
    """Build the prediction service.

    Parameters
    ----------
    holder
        The served model; loaded at the latest when the app starts.
    log
        The inference log, not started yet (it starts with the app, on the app's event loop, and is closed at
        shutdown); ``None`` serves without logging, and
        ``/feedback`` answers 503.
    limits
        Bounds on a request's body, columns, JSON depth, integer digits, feedback ids and labels.
    poll_interval
        Seconds between registry polls for a moved alias (0 disables following).
    metrics
        Where to count; a fresh :class:`ServiceMetrics` by default (``app.state.metrics``).
    feedback_token
        When given, ``/feedback`` requires ``Authorization: Bearer <feedback_token>``.
    """
    metrics = metrics or ServiceMetrics()

    def on_swap(old: ServedModel | None, new: ServedModel) -> None:
        metrics.set_model(None if old is None else (old.name, old.version, old.alias or ""),
                          (new.name, new.version, new.alias or ""))
        if old is not None:
            metrics.model_swaps.inc()

    holder.on_swap = on_swap
    holder.on_failure = lambda error: metrics.model_failures.inc()
    if holder.loaded:
        current = holder.current
        metrics.set_model(None, (current.name, current.version, current.alias or ""))
    if log is not None and log.on_commit is None:
        log.on_commit = metrics.on_commit
    if log is not None and log.on_streams is None:
        log.on_streams = metrics.on_streams

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not holder.loaded:
            holder.load()
        if log is not None:
            log.start(loop=asyncio.get_running_loop())
        holder.start_polling(poll_interval)
        try:
            yield
        finally:
            holder.stop_polling()
            if log is not None:
                log.close()

    app = FastAPI(title="driftloop prediction service", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.holder = holder
    app.state.log = log
    app.state.metrics = metrics

    def fail(endpoint: str, error: ServiceError, started: float) -> Response:
        """Count the failed request and answer it: as MLflow's scoring server does on /invocations."""
        status, body = error.mlflow_answer() if endpoint == "/invocations" else (error.status, error.body())
        metrics.requests.labels(endpoint, str(status)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        if isinstance(body, str):
            return Response(body, status_code=status, media_type="text/plain")
        return _json_response(body, status, error.headers())

    async def score(request: Request, model: ServedModel,
                    other_keys: bool) -> tuple[dict[str, np.ndarray], Any, list[Any]]:
        """Read, validate and predict a scoring request (see :func:`_predict_body`)."""
        media = media_type(request.headers.get("content-type"), (JSON, CSV))
        body = await _read_body(request, limits.max_body_bytes)
        try:
            return await _run_sized(len(body), _predict_body, model, body, media, limits, log is not None,
                                    other_keys)
        except InvalidInput as error:
            metrics.rejected_rows.inc(error.rejected_rows)
            raise

    async def log_rows(model: ServedModel, ids: list[str], received_ns: int, inputs: dict[str, np.ndarray],
                       predictions: list[Any]) -> None:
        """Commit the answered rows to the log (when there is one) before they are answered."""
        if log is None:
            return
        batch = PredictionBatch(ids, received_ns, model.name, model.version, inputs, predictions)
        try:
            await log.write_predictions(batch)
        except UnloggableInput as error:
            metrics.rejected_rows.inc(len(ids))
            raise _unloggable(error, len(ids)) from None
        except IdsInLog as error:
            raise IdsTaken(f"{error.message} Send each request with a request id of its own ({REQUEST_ID_HEADER}).",
                           ids=error.ids) from None
        except DriftloopError as error:
            logger.error("%s", error)
            raise Unavailable(f"The rows could not be logged, so they are not served: {error.message}") from None
        metrics.rows_logged.inc(len(ids))

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        started = time.perf_counter()
        received_ns = time.time_ns()
        model = holder.current  # read once: a swap during this request does not affect it
        try:
            inputs, _, predictions = await score(request, model, other_keys=False)
            ids = new_row_ids(len(predictions), received_ns)
            await log_rows(model, ids, received_ns, inputs, predictions)
        except ServiceError as error:
            return fail("/predict", error, started)
        metrics.rows.inc(len(predictions))
        response = _json_response({"predictions": predictions, "ids": ids, "model_name": model.name,
                                   "model_version": model.version})
        metrics.requests.labels("/predict", "200").inc()
        metrics.predict_latency.observe(time.perf_counter() - started)
        return response

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        """MLflow's scoring endpoint: as /predict, answered as ``mlflow models serve`` answers."""
        started = time.perf_counter()
        received_ns = time.time_ns()
        model = holder.current
        try:
            inputs, raw, predictions = await score(request, model, other_keys=True)
            request_id = _request_id(request, len(predictions), limits, received_ns)
            ids = [f"{request_id}/{row}" for row in range(len(predictions))]
            text = _mlflow_json(raw)
            await log_rows(model, ids, received_ns, inputs, predictions)
        except ServiceError as error:
            return fail("/invocations", error, started)
        metrics.rows.inc(len(predictions))
        metrics.requests.labels("/invocations", "200").inc()
        metrics.latency.labels("/invocations").observe(time.perf_counter() - started)
        return Response(text, media_type=JSON, headers={REQUEST_ID_HEADER: request_id})

    @app.post("/feedback")
    async def feedback(request: Request) -> Response:
        started = time.perf_counter()
        try:
            if log is None:
                raise Unavailable("This service runs without an inference log (--no-log): feedback cannot be stored.")
            _check_bearer(request, feedback_token)
            media_type(request.headers.get("content-type"), (JSON,))
            overwrite = _overwrite(request)
            body = await _read_body(request, limits.max_body_bytes)
            items = await _run_sized(len(body), _feedback_items, body, holder.current, limits)
            try:
                result = await log.write_feedback(items, overwrite=overwrite)
            except UnloggableInput as error:
                raise _unloggable(error, len(items)) from None
            except LabelConflict as error:
                raise Conflict(error.message, ids=error.ids) from None
            except DriftloopError as error:
                raise Unavailable(f"The labels could not be stored: {error.message}") from None
        except ServiceError as error:
            return fail("/feedback", error, started)
        metrics.labels.inc(result.accepted)
        metrics.orphans.inc(len(result.orphan_ids))
        metrics.requests.labels("/feedback", "200").inc()
        metrics.feedback_latency.observe(time.perf_counter() - started)
        return _json_response({"accepted": result.accepted, "orphans": len(result.orphan_ids),
                               "orphan_ids": list(result.orphan_ids), "overwritten_ids": list(result.overwritten_ids)})

    def healthy() -> dict[str, Any]:
        model = holder.current
        body = {"status": "ok", "model_name": model.name, "model_version": model.version,
                "model_alias": model.alias, "driftloop": __version__, "log": None}
        if log is not None:
            body["log"] = {"state": log.state, "writer_restarts": log.restarts, "error": log.failure}
            if log.state != "ok":
                body["status"] = "unavailable"
        return body

    @app.get("/health")
    async def health() -> Response:
        """200 while requests can be served and logged; 503 while the log's writer is being restarted."""
        body = healthy()
        return _json_response(body, 200 if body["status"] == "ok" else 503)

    @app.get("/ping")
    async def ping() -> Response:
        """MLflow's health check: an empty line, 200 when /health is 200 (503 otherwise)."""
        return Response("\n", status_code=200 if healthy()["status"] == "ok" else 503, media_type=JSON)

    @app.get("/version")
    async def version() -> Response:
        """As MLflow's scoring server: the MLflow version, as text."""
        import mlflow

        return Response(mlflow.__version__, media_type=JSON)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    return app
