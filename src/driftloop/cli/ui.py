"""``driftloop ui``: the real MLflow UI on driftloop's store."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys

import click

from driftloop.cli.common import handle_errors, tracking_uri_option
from driftloop.errors import DriftloopError
from driftloop.settings import resolve_tracking_uri


def check_port_free(host: str, port: int) -> None:
    """Raise a :class:`DriftloopError` when ``host:port`` cannot be bound (in use, or not a local address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the server will: a port whose last connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise DriftloopError(f"Port {port} on {host} is already in use; choose another with --port.") from None
            raise DriftloopError(f"Cannot listen on {host}:{port}: {error.strerror}.") from None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL after 10 s."""
    for stop_signal, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, stop_signal)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


@click.command("ui")
@click.option("--port", "-p", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (-h is --help, as in "
              "every command).")
@tracking_uri_option
@handle_errors
def ui(port: int, host: str, tracking_uri: str | None) -> None:
    """Start the MLflow UI on driftloop's tracking store, until interrupted."""
    from driftloop.tracking.store import check_tracking_uri

    uri = check_tracking_uri(resolve_tracking_uri(tracking_uri))
    if not uri.startswith(("sqlite:", "postgresql", "mysql", "mssql", "file:", "/")) and "://" in uri:
        raise DriftloopError(f"The tracking store {uri} is a server: open it in a browser instead of starting a UI.")
    check_port_free(host, port)
    click.echo(f"Starting MLflow UI at http://{host}:{port}")
    click.echo(f"Tracking store: {uri}  (press Ctrl+C to stop)")
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    # MLflow 3's server also starts a job runner with a pool of worker processes for GenAI jobs (scorers, prompt
    # optimisation), each importing MLflow: driftloop runs none of them, so they are off unless the user asks.
    environment = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **os.environ}
    # Its own process group, so that stopping driftloop (Ctrl+C or SIGTERM) also stops the server's workers.
    process = subprocess.Popen(command, start_new_session=True, env=environment)
    previous_handler = signal.signal(signal.SIGTERM, _interrupt)
    try:
        code = process.wait()
    except KeyboardInterrupt:
        _stop_group(process)
        click.echo("MLflow UI stopped.")
        return
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    if code != 0:
        raise DriftloopError(f"The MLflow UI stopped with exit code {code}.")
