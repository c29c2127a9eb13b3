"""Environment variables driftloop reads, each declared once with its name, type, default and meaning.

Precedence everywhere: built-in default < environment variable < command-line flag.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EnvironmentVariable:
    """One environment variable: its name, its default and a one-line description."""

    name: str
    default: str | None
    doc: str

    def get(self) -> str | None:
        value = os.environ.get(self.name)
        return value if value not in (None, "") else self.default


MLFLOW_TRACKING_URI = EnvironmentVariable(
    "MLFLOW_TRACKING_URI",
    None,
    "MLflow tracking store (a server URL or a database URI). Unset: sqlite:///mlflow.db in the working folder.",
)
MLFLOW_DISABLE_TELEMETRY = EnvironmentVariable(
    "MLFLOW_DISABLE_TELEMETRY",
    "true",
    "driftloop never lets MLflow send usage telemetry unless this is explicitly set to 'false'.",
)

DRIFTLOOP_FEEDBACK_TOKEN = EnvironmentVariable(
    "DRIFTLOOP_FEEDBACK_TOKEN",
    None,
    "Bearer token that `driftloop serve` requires on POST /feedback (--feedback-token). Unset: no token needed.",
)

DEFAULT_STORE_FILE = "mlflow.db"

ENVIRONMENT_VARIABLES = (MLFLOW_TRACKING_URI, MLFLOW_DISABLE_TELEMETRY, DRIFTLOOP_FEEDBACK_TOKEN)


def disable_mlflow_telemetry() -> None:
    """Turn MLflow's usage telemetry off unless the user explicitly turned it on (inherited by subprocesses)."""
    os.environ.setdefault(MLFLOW_DISABLE_TELEMETRY.name, "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")


def default_tracking_uri(folder: Path | None = None) -> str:
    """The embedded default store: ``sqlite:///mlflow.db`` in the working folder, as an absolute URI.

    The path is made absolute so that MLflow project runs, which execute in the project's folder, write to the
    same database that ``mlflow ui`` opens in the working folder.

    >>> default_tracking_uri(Path("/tmp/x"))
    'sqlite:////tmp/x/mlflow.db'
    """
    base = (folder or Path.cwd()).resolve()
    return f"sqlite:///{(base / DEFAULT_STORE_FILE).as_posix()}"


def resolve_tracking_uri(flag: str | None = None) -> str:
    """Choose the tracking URI: ``--tracking-uri`` flag, else ``MLFLOW_TRACKING_URI``, else the embedded default.

    A relative SQLite URI (``sqlite:///mlflow.db``) is made absolute against the working folder.

    >>> resolve_tracking_uri("http://127.0.0.1:5000")
    'http://127.0.0.1:5000'
    """
    uri = flag or MLFLOW_TRACKING_URI.get() or default_tracking_uri()
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        relative = uri[len(prefix):]
        uri = prefix + (Path.cwd() / relative).resolve().as_posix()
    return uri


def redact_uri(uri: str) -> str:
    """A URI without the user and password it may carry (for messages and payloads).

    >>> redact_uri("postgresql://me:secret@db:5432/mlflow")
    'postgresql://***@db:5432/mlflow'
    >>> redact_uri("sqlite:///mlflow.db")
    'sqlite:///mlflow.db'
    """
    parts = urllib.parse.urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urllib.parse.urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))
