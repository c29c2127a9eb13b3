"""Real servers on loopback ports for the tests and the benchmarks (a plain module: no pytest in it).

* :func:`free_port` and :func:`running_server`: a server process (``mlflow server``, ``driftloop serve``) started
  in a session of its own, waited for until its health address answers, stopped with its children at the end;
* :func:`local_postgres`: a PostgreSQL server in a temporary data folder on a free port — Debian's ``postgresql``
  package (``initdb``, ``pg_ctl``), run as the ``postgres`` user under root because PostgreSQL refuses root — and
  :func:`create_database` for a fresh database on it. Where PostgreSQL or the ``psycopg`` driver is missing it
  raises :class:`Unavailable` with the reason (a test skips with it, a benchmark prints it).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class Unavailable(RuntimeError):
    """A server this machine cannot run; the message says what is missing."""


class ServerDidNotStart(RuntimeError):
    """A server process that exited or did not answer its health address in time; the message holds its output."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningServer:
    """A server process started by :func:`running_server`: the process and the file its output goes to."""

    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def running_server(command: list[str], *, health_url: str, log: Path, cwd: Path | None = None,
                   env: dict[str, str] | None = None, timeout: float = 120.0) -> Iterator[RunningServer]:
    """Start ``command`` in a session of its own with its output in the file ``log`` (never a pipe: a pipe nobody
    reads fills up after ~64 KiB of access log and stalls the server), wait until ``health_url`` answers 200, yield
    it; on exit stop the whole session (SIGTERM, then SIGKILL after 30 s)."""
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = RunningServer(process, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise ServerDidNotStart(f"{' '.join(command[:4])} exited early with code {process.returncode}: "
                                        f"{server.output()[-3000:]}")
            try:
                with urllib.request.urlopen(health_url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServerDidNotStart(f"{health_url} did not answer within {timeout} s: {server.output()[-3000:]}")
            time.sleep(0.3)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


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
        raise Unavailable("PostgreSQL refuses to run as root and there is no 'postgres' user to run it as") from None
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class PostgresServer:
    """A PostgreSQL server in ``data`` on ``port``, run with ``prefix`` (as the ``postgres`` user under root),
    trusting local connections of ``user``."""

    binaries: Path
    prefix: list[str]
    data: Path
    port: int
    user: str

    def pg_ctl(self, *args: str) -> None:
        subprocess.run([*self.prefix, str(self.binaries / "pg_ctl"), "-D", str(self.data / "db"), *args],
                       check=True, capture_output=True, text=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self.pg_ctl("-o", options, "-l", str(self.data / "server.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Stop at once, as a crash or a failover would: clients' connections drop."""
        self.pg_ctl("-m", "immediate", "stop")


@contextlib.contextmanager
def local_postgres(user: str) -> Iterator[PostgresServer]:
    """A PostgreSQL server on a free loopback port in a new temporary folder, stopped and removed at the end
    (:class:`Unavailable` when this machine cannot run one)."""
    try:
        import psycopg  # noqa: F401 - the driver MLflow needs for postgresql://
    except ImportError:
        raise Unavailable("the PostgreSQL driver psycopg is not installed (pip install 'driftloop[postgres]')") from None
    binaries = _postgres_bin()
    if binaries is None:
        raise Unavailable("PostgreSQL is not installed (initdb and pg_ctl not found; apt-get install postgresql)")
    prefix = _as_server_user()
    data = Path(tempfile.mkdtemp(prefix="driftloop-postgres-"))  # in /tmp: the server user must reach it
    try:
        if prefix:
            shutil.chown(data, "postgres", "postgres")
        server = PostgresServer(binaries, prefix, data, free_port(), user)
        subprocess.run([*prefix, str(binaries / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", user,
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True, text=True)
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):  # a test may have stopped it already
                server.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)


def create_database(server: PostgresServer, name: str) -> str:
    """Create database ``name`` on ``server``; its SQLAlchemy URI (``postgresql://USER@127.0.0.1:PORT/NAME``)."""
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=server.port, user=server.user, dbname="postgres",
                         autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://{server.user}@127.0.0.1:{server.port}/{name}"
