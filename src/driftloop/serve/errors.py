"""Errors of the prediction service that become HTTP answers: each carries its status and a JSON body.

``/predict`` and ``/feedback`` answer :meth:`ServiceError.body`: ``{"error": code, "message": ...}``.
``/invocations`` answers as MLflow's scoring server does (:meth:`ServiceError.mlflow_answer`): a JSON body
``{"error_code": NAME, "message": ...}`` where NAME is one of MLflow's error codes (``BAD_REQUEST``,
``INVALID_PARAMETER_VALUE`` ...), and a plain-text line for an unsupported content type (415).
"""

from __future__ import annotations

import reprlib
from dataclasses import asdict, dataclass
from typing import Any

MAX_REPORTED_ERRORS = 20
"""A 422 answer lists at most this many invalid cells (``rejected_rows`` still counts every invalid row)."""


@dataclass(frozen=True)
class CellError:
    """One invalid value: its row (0-based, ``None`` when the whole column is concerned), column, expected, received."""

    row: int | None
    column: str | None
    expected: str
    received: str

    def sentence(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        if self.column is not None:
            where.append(f"column {self.column!r}")
        prefix = ", ".join(where) or "the input"
        prefix = prefix[0].upper() + prefix[1:]
        return f"{prefix}: expected {self.expected}; received {self.received}."


class ServiceError(Exception):
    """An error answered with ``status`` and the JSON body of :meth:`body`."""

    status: int = 500
    code: str = "internal_error"
    mlflow_code: str = "INTERNAL_ERROR"
    """The name of the MLflow error code (``mlflow.protos.databricks_pb2``) that ``/invocations`` answers."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer needs besides its body (none by default)."""
        return {}

    def mlflow_answer(self) -> tuple[int, dict[str, Any] | str]:
        """The status and body with which MLflow's scoring server answers such an error on ``/invocations``: the
        same status, and ``{"error_code": ..., "message": ...}`` with this service's details (``errors`` ...) kept.

        >>> BadRequest("The body is not valid JSON.").mlflow_answer()
        (400, {'error_code': 'BAD_REQUEST', 'message': 'The body is not valid JSON.'})
        """
        details = {key: value for key, value in self.body().items() if key not in ("error", "message")}
        return self.status, {"error_code": self.mlflow_code, "message": self.message, **details}


class BadRequest(ServiceError):
    """Malformed JSON or an unknown payload format (400)."""

    status = 400
    code = "bad_request"
    mlflow_code = "BAD_REQUEST"


class Unauthorized(ServiceError):
    """A missing or wrong bearer token where the service requires one (401)."""

    status = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class PayloadTooLarge(ServiceError):
    """A body over the configured limit (413)."""

    status = 413
    code = "payload_too_large"
    mlflow_code = "REQUEST_LIMIT_EXCEEDED"


class UnsupportedMediaType(ServiceError):
    """A body sent with a content type the endpoint does not read (415)."""

    status = 415
    code = "unsupported_media_type"

    def mlflow_answer(self) -> tuple[int, dict[str, Any] | str]:
        """MLflow's scoring server answers an unsupported content type with a line of plain text."""
        return self.status, self.message


class InvalidInput(ServiceError):
    """Rows that do not match the model signature (422): every invalid row is counted, the first cells listed."""

    status = 422
    code = "invalid_input"
    mlflow_code = "INVALID_PARAMETER_VALUE"

    def mlflow_answer(self) -> tuple[int, dict[str, Any] | str]:
        """MLflow's scoring server answers rows that do not fit the model's signature with 400, not 422."""
        return 400, super().mlflow_answer()[1]

    def __init__(self, errors: list[CellError], rejected_rows: int | None = None) -> None:
        self.errors = errors[:MAX_REPORTED_ERRORS]
        rows = {error.row for error in errors}
        self.rejected_rows = rejected_rows if rejected_rows is not None else max(len(rows), 1)
        super().__init__(errors[0].sentence() if errors else "The input does not match the model signature.")

    def body(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": self.message,
            "rejected_rows": self.rejected_rows,
            "errors": [asdict(error) for error in self.errors],
        }


class Conflict(ServiceError):
    """Labels that would replace different earlier ones without ``?overwrite=true`` (409); lists the ``ids``."""

    status = 409
    code = "label_conflict"
    mlflow_code = "RESOURCE_ALREADY_EXISTS"

    def __init__(self, message: str, ids: tuple[str, ...]) -> None:
        super().__init__(message)
        self.ids = ids

    def body(self) -> dict[str, Any]:
        return {**super().body(), "ids": list(self.ids[:MAX_REPORTED_ERRORS])}


class IdsTaken(Conflict):
    """Prediction ids the log already holds (409; lists the ``ids``): an ``/invocations`` request id sent again."""

    code = "ids_taken"


class Unavailable(ServiceError):
    """The rows could not be written to the inference log, so they are not acknowledged (503)."""

    status = 503
    code = "unavailable"
    mlflow_code = "TEMPORARILY_UNAVAILABLE"


def describe(value: Any) -> str:
    """A received JSON value, short whatever its size or nesting, with its JSON type.

    >>> describe("abc"), describe(True), describe(None), describe(float("inf"))
    ("'abc' (string)", 'true (boolean)', 'null', 'inf (number)')
    >>> describe(10**400)
    '100000000000000000...0000000000000000000 (number)'
    >>> nested = []
    >>> for _ in range(100_000):
    ...     nested = [nested]
    >>> describe(nested)
    '[[[[...]]]] (array)'
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (boolean)"
    kind = "number" if isinstance(value, (int, float)) else {str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__)
    text = _SHORT.repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({kind})"


def _short_repr() -> reprlib.Repr:
    """A bounded repr: at most 3 levels, 4 items per container, 40 digits, so it never recurses deep."""
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict, short.maxstring, short.maxlong, short.maxother = 3, 4, 4, 60, 40, 60
    return short


_SHORT = _short_repr()
