"""A real PostgreSQL server for the tests, started on a free loopback port in a temporary data folder.

The server is Debian's (``apt-get install postgresql``, which ``.ci/run`` does), started by
:func:`tests.local_servers.local_postgres`; without ``initdb`` and ``pg_ctl``, or without the ``psycopg`` driver
(version 3, SQLAlchemy 2.1's default for ``postgresql://``), every test here skips with the reason.

Fixtures: ``postgres_uri`` (a fresh database per test module on one server per session) and ``postgres_server``
(an MLflow tracking server on that database with a served artifact root, started as the README says).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from tests.local_servers import PostgresServer, Unavailable, create_database, free_port, local_postgres, running_server

USER = "driftloop"


@pytest.fixture(scope="session")
def postgres_instance() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session on a free loopback port, trusting local connections."""
    try:
        with local_postgres(USER) as server:
            yield server
    except Unavailable as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="module")
def postgres_uri(postgres_instance: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database for this test module; its URI (``postgresql://driftloop@127.0.0.1:PORT/NAME``)."""
    return create_database(postgres_instance, request.module.__name__.rsplit(".", 1)[-1].lower())


@pytest.fixture(scope="module")
def postgres_server(postgres_instance: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An MLflow tracking server on a PostgreSQL database with a served artifact root — the README's
    ``mlflow server --backend-store-uri postgresql://... --artifacts-destination ...`` — on a free loopback port;
    its HTTP URI."""
    backend = create_database(postgres_instance, "server_store")
    artifacts = tmp_path_factory.mktemp("served-artifacts")
    port = free_port()
    environment = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    environment.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend, "--artifacts-destination",
               str(artifacts), "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with running_server(command, health_url=f"http://127.0.0.1:{port}/health", env=environment,
                        log=tmp_path_factory.mktemp("server-log") / "mlflow-server.log"):
        yield f"http://127.0.0.1:{port}"
