"""Building and running the service from what the command line gives: a model reference, a store, a log path."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from driftloop.data.inference_log import RESERVED_COLUMNS, InferenceLog
from driftloop.data.log_streams import DEFAULT_STREAMS
from driftloop.errors import DriftloopError
from driftloop.serve.app import create_app
from driftloop.serve.limits import RequestLimits
from driftloop.serve.model import DEFAULT_POLL_INTERVAL, ModelHolder, model_reference
from driftloop.tracking import connect

DEFAULT_LOG_PATH = "inference-log.db"
"""The inference log's default file, in the working folder."""


def build_service(
    model: str,
    *,
    tracking_uri: str | None = None,
    log_path: str | os.PathLike[str] | None = DEFAULT_LOG_PATH,
    synchronous: str = "full",
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    limits: RequestLimits = RequestLimits(),
    feedback_token: str | None = None,
    streams: Mapping[str, Mapping[str, Any]] | None = DEFAULT_STREAMS,
) -> FastAPI:
    """Load ``model`` (``NAME@ALIAS``, ``NAME/VERSION``, ``models:/m-<id>`` or ``runs:/<run_id>/model``) from
    the store and open the log; return the app.

    Everything that can fail because of the user's input fails here, as a :class:`DriftloopError`, before the
    server starts: a malformed reference, a registry without the model or the alias, a log path that is not
    writable or holds another file. ``log_path=None`` serves without an inference log. ``feedback_token``, when
    given, is required as a bearer token on ``/feedback``. ``streams``: the streaming detectors (parameters by
    name, :func:`driftloop.stream.parse_detectors`; ``None``: none) that the log's writer runs on the predictions and
    errors (:mod:`driftloop.data.log_streams`).
    """
    if feedback_token is not None and not feedback_token.strip():
        raise DriftloopError("--feedback-token must not be empty (leave it out to accept feedback without a token).")
    if poll_interval < 0:
        raise DriftloopError(f"--poll-interval must be a number of seconds >= 0; got {poll_interval}.")
    client = connect(tracking_uri)
    reference = model_reference(client, model)
    holder = ModelHolder(client, reference)
    served = holder.load()
    log = None
    if log_path is not None:
        clashes = [name for name in (served.feature_names or []) if name in RESERVED_COLUMNS]
        if clashes:
            raise DriftloopError(f"Model {reference} has features named {', '.join(map(repr, clashes))}, which the "
                                 f"inference log reserves ({', '.join(RESERVED_COLUMNS)}); serve it with --no-log.")
        log = InferenceLog(Path(log_path), synchronous=synchronous, streams=streams).prepare()
    return create_app(holder, log=log, limits=limits, poll_interval=poll_interval, 
                      feedback_token=feedback_token.strip() if feedback_token else None)


def run(app: FastAPI, host: str, port: int, *, access_log: bool = False) -> None:
    """Serve ``app`` with uvicorn until interrupted (one process: the log has a single writer)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=access_log, lifespan="on")
