"""Opening the MLflow tracking store and registry.

The store is chosen once (:func:`driftloop.settings.resolve_tracking_uri`) and passed explicitly as an
:class:`~mlflow.MlflowClient`; library code never relies on the fluent API's global state, except where MLflow
itself requires it (:func:`mlflow.projects.run`), which :func:`use_tracking_uri` scopes.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import mlflow
from mlflow import MlflowClient

from driftloop.errors import DriftloopError
from driftloop.settings import redact_uri, resolve_tracking_uri

#: The URI schemes of MLflow's tracking stores with a model registry; a URI without a scheme is a folder.
SERVER_SCHEMES = ("http", "https")
DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
OTHER_SCHEMES = ("file", "databricks", "databricks-uc", "uc")
#: Seconds the connectivity probe of a tracking server waits for an answer.
PROBE_TIMEOUT = 5.0
#: Held while the fluent API points at a store: its URIs are process-wide, so two threads scoping different stores
#: at once would each restore what the other set, leaving a stale store behind (two monitors in one process).
_FLUENT_STATE_LOCK = threading.RLock()


def connect(tracking_uri: str | None = None) -> MlflowClient:
    """Return a client on the tracking store and model registry at ``tracking_uri`` (resolved by precedence),
    checked by :func:`check_tracking_uri`.

    The registry lives in the same store as the runs, as with ``mlflow ui`` on a database.
    """
    uri = check_tracking_uri(resolve_tracking_uri(tracking_uri))
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _uri_error(uri: str, problem: str) -> DriftloopError:
    return DriftloopError(f"The MLflow tracking URI {redact_uri(uri)!r} (--tracking-uri or MLFLOW_TRACKING_URI) "
                          f"{problem}")


#: The driver argument that bounds the time a connection attempt may take, per database (a server database only:
#: SQLite opens a file).
CONNECT_TIMEOUT_ARGUMENT = {"postgresql": "connect_timeout", "mysql": "connect_timeout", "mssql": "login_timeout"}


def _probe_database(uri: str, scheme: str, timeout: float) -> None:
    """Open and close one connection to the database server at ``uri`` within ``timeout`` seconds, or raise a
    one-line error saying why (MLflow itself retries a failing database for minutes, then prints a traceback)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    engine = create_engine(uri, poolclass=NullPool,
                           connect_args={CONNECT_TIMEOUT_ARGUMENT[scheme]: max(1, round(timeout))})
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as failure:
        reason = str(getattr(failure, "orig", None) or failure).strip().splitlines()[0]
        password = make_url(uri).password
        if password:
            reason = reason.replace(password, "***")
        raise _uri_error(uri, f"cannot be reached ({reason}): is the database server running?") from None
    finally:
        engine.dispose()


def check_tracking_uri(uri: str, *, timeout: float = PROBE_TIMEOUT) -> str:
    """Return ``uri`` when MLflow can open it; else raise a one-line :class:`DriftloopError` naming it.

    A scheme MLflow does not know, or a database URI that SQLAlchemy cannot parse (``sqlite:/nope``), is refused
    before anything is opened. A database server (PostgreSQL, MySQL, SQL Server) must accept one connection within
    ``timeout`` seconds, and a tracking server (``http(s)://``) must answer one request within it (any HTTP status
    will do): MLflow itself retries an unreachable server for minutes
    (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, with backoff) before failing with a traceback.

    >>> check_tracking_uri("sqlite:///tmp/mlflow.db")
    'sqlite:///tmp/mlflow.db'
    >>> check_tracking_uri("foo://x")
    Traceback (most recent call last):
    ...
    driftloop.errors.DriftloopError: The MLflow tracking URI 'foo://x' (--tracking-uri or MLFLOW_TRACKING_URI) has the unknown scheme 'foo'; expected http(s)://HOST:PORT (a tracking server), sqlite:///PATH, postgresql://, mysql://, mssql://, file:///PATH or a folder.
    """
    parts = urllib.parse.urlsplit(uri)
    scheme = parts.scheme.split("+", 1)[0].lower()  # postgresql+psycopg2:// names a driver
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):  # a folder (or a Windows drive letter)
        return uri
    if scheme not in SERVER_SCHEMES + DATABASE_SCHEMES + OTHER_SCHEMES:
        raise _uri_error(uri, f"has the unknown scheme {parts.scheme!r}; expected http(s)://HOST:PORT (a tracking "
                              "server), sqlite:///PATH, postgresql://, mysql://, mssql://, file:///PATH or a folder.")
    if scheme in DATABASE_SCHEMES:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            dialect = make_url(uri).get_dialect()
        except ArgumentError:
            example = "sqlite:///PATH (three slashes, then the path)" if scheme == "sqlite" else f"{scheme}://HOST/DB"
            raise _uri_error(uri, f"is not a database URL; expected {example}.") from None
        try:
            dialect.import_dbapi()
        except ImportError as error:
            raise _uri_error(uri, f"needs the database driver {error.name!r}, which is not installed.") from None
        if scheme in CONNECT_TIMEOUT_ARGUMENT:
            _probe_database(uri, scheme, timeout)
    if scheme in SERVER_SCHEMES:
        if not parts.hostname:
            raise _uri_error(uri, f"has no host; expected {scheme}://HOST:PORT.")
        try:
            with urllib.request.urlopen(uri, timeout=timeout):  # noqa: S310 (scheme checked)
                pass
        except urllib.error.HTTPError:
            pass  # the server answered (with an error status for the bare URL): it is reachable
        except (urllib.error.URLError, OSError, ValueError) as failure:
            reason = getattr(failure, "reason", failure)
            if not isinstance(reason, ssl.SSLError):  # a TLS handshake happened: MLflow has its own TLS settings
                raise _uri_error(uri, f"cannot be reached ({reason}): is the MLflow server running?") from None
    return uri


@contextlib.contextmanager
def use_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri`` for the duration of the block, then restore exactly what was there.

    ``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI`` (and the registry its variable) for
    subprocesses; restoring only the fluent setting would leave the variable behind and silently redirect every
    later command of this process, so both the module state and the environment are put back. The state is
    process-wide, so one thread at a time holds it (a re-entrant lock: a block may nest in the same thread).
    """
    from mlflow.tracking._model_registry import utils as registry_state
    from mlflow.tracking._tracking_service import utils as tracking_state

    with _FLUENT_STATE_LOCK:
        saved_environment = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        saved_tracking, saved_registry = tracking_state._tracking_uri, registry_state._registry_uri
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            yield
        finally:
            tracking_state._tracking_uri = saved_tracking
            registry_state._registry_uri = saved_registry
            for name, value in saved_environment.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
