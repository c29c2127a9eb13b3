"""A real PostgreSQL server for the tests, started on a free loopback port in a temporary data folder.

The server is Debian's (``apt-get install postgresql``, which ``.ci/run`` does); without ``initdb`` and ``pg_ctl``,
or without the ``psycopg`` driver (version 3, SQLAlchemy 2.1's default for ``postgresql://``), every test here skips with the reason. PostgreSQL refuses to run as root, so
under root the server runs as the ``postgres`` user the Debian package creates, in a folder that user owns.

Fixtures: ``postgres_uri`` (a fresh database per test module on one server per session) and ``postgres_server``
(an MLflow tracking server on that database with a served artifact root, started as the README says).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port, running_server

USER = "driftloop"


def _postgres_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on the PATH, else Debian's ``/usr/lib/postgresql/<v>/bin``."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def _as_server_user() -> list[str]:
    """The command prefix that runs PostgreSQL's programs as a user it accepts (not root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("PostgreSQL refuses to run as root and there is no 'postgres' user to run it as")
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class PostgresServer:
    """A PostgreSQL server in ``data`` on ``port``, run with ``prefix`` (as the ``postgres`` user under root)."""

    binaries: Path
    prefix: list[str]
    data: Path
    port: int

    def pg_ctl(self, *args: str) -> None:
        subprocess.run([*self.prefix, str(self.binaries / "pg_ctl"), "-D", str(self.data / "db"), *args],
                       check=True, capture_output=True, text=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self.pg_ctl("-o", options, "-l", str(self.data / "server.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Stop at once, as a crash or a failover would: clients' connections drop."""
        self.pg_ctl("-m", "immediate", "stop")


@pytest.fixture(scope="session")
def postgres_instance() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session on a free loopback port, trusting local connections."""
    pytest.importorskip("psycopg", reason="the PostgreSQL driver psycopg is not installed (pip install "
                                          "'driftloop[postgres]')")
    folder_bin = _postgres_bin()
    if folder_bin is None:
        pytest.skip("PostgreSQL is not installed (initdb and pg_ctl not found; apt-get install postgresql)")
    prefix = _as_server_user()
    data = Path(tempfile.mkdtemp(prefix="driftloop-postgres-"))  # in /tmp: the server user must reach it
    if prefix:
        shutil.chown(data, "postgres", "postgres")
    server = PostgresServer(folder_bin, prefix, data, free_port())
    subprocess.run([*prefix, str(folder_bin / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", USER,
                    "-E", "UTF8", "--no-sync"], check=True, capture_output=True, text=True)
    server.start()
    try:
        yield server
    finally:
        subprocess.run([*prefix, str(folder_bin / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server_port(postgres_instance: PostgresServer) -> int:
    """The port of the session's PostgreSQL server."""
    return postgres_instance.port


def create_database(port: int, name: str) -> str:
    """Create database ``name`` on the server at ``port``; its SQLAlchemy URI."""
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=port, user=USER, dbname="postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://{USER}@127.0.0.1:{port}/{name}"


@pytest.fixture(scope="module")
def postgres_uri(postgres_server_port: int, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database for this test module; its URI (``postgresql://driftloop@127.0.0.1:PORT/NAME``)."""
    return create_database(postgres_server_port, request.module.__name__.rsplit(".", 1)[-1].lower())


@pytest.fixture(scope="module")
def postgres_server(postgres_server_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An MLflow tracking server on a PostgreSQL database with a served artifact root — the README's
    ``mlflow server --backend-store-uri postgresql://... --artifacts-destination ...`` — on a free loopback port;
    its HTTP URI."""
    backend = create_database(postgres_server_port, "server_store")
    artifacts = tmp_path_factory.mktemp("served-artifacts")
    port = free_port()
    environment = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    environment.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend, "--artifacts-destination",
               str(artifacts), "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with running_server(command, health_url=f"http://127.0.0.1:{port}/health", env=environment,
                        log=tmp_path_factory.mktemp("server-log") / "mlflow-server.log"):
        yield f"http://127.0.0.1:{port}"
