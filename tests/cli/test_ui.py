import os
import socket
import sys
import time
import urllib.request

import pytest
from click.testing import CliRunner

from driftloop.cli.main import cli
from tests.local_servers import free_port, running_server


def _processes() -> dict[int, tuple[int, int, str]]:
    """This machine's processes from /proc: pid -> (parent pid, session id, command line)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat, open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    fields = stat.read().rsplit(")", 1)[1].split()
                    command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            found[int(entry)] = (int(fields[1]), int(fields[3]), command)
    return found


def _server_session(ui_pid: int) -> list[str]:
    """The command lines of the MLflow server that ``driftloop ui`` (``ui_pid``) started, and of its session."""
    processes = _processes()
    servers = [pid for pid, (parent, _, _) in processes.items() if parent == ui_pid]
    return [command for pid, (_, session, command) in processes.items() if session in servers]


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="lists processes through /proc (Linux)")
def test_ui_serves_the_store_until_stopped(workdir):
    CliRunner().invoke(cli, ["experiments", "create", "--experiment-name", "model-monitoring"])
    port = free_port()
    with running_server([sys.executable, "-m", "driftloop", "ui", "--port", str(port)],
                        health_url=f"http://127.0.0.1:{port}/health", log=workdir / "ui.log", cwd=workdir) as ui:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=model-monitoring"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert b'"experiment_id": "1"' in response.read().replace(b'":"', b'": "')
        time.sleep(2)  # MLflow launches its job runner right after the server is up
        session = _server_session(ui.process.pid)
        assert any("mlflow server" in line or "mlflow.server" in line for line in session), session
        assert not [line for line in session if "mlflow.server.jobs" in line], session
    # stopped (SIGTERM to driftloop ui, whose MLflow server runs in a session of its own)
    assert f"Starting MLflow UI at http://127.0.0.1:{port}" in ui.output()
    with socket.socket() as probe:  # the server's workers stopped with it: the port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_a_port_in_use_is_a_one_line_error(workdir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["ui", "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: Port {port} on 127.0.0.1 is already in use; choose another with --port."


@pytest.mark.parametrize("uri", ["sqlite:/nope.db", "foo://x", "mysql://db.example/mlflow"])
def test_a_bad_tracking_uri_is_a_one_line_error_before_the_server_starts(workdir, uri):
    result = CliRunner().invoke(cli, ["ui", "--port", str(free_port()), "--tracking-uri", uri])
    assert result.exit_code == 1, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: The MLflow tracking URI") and uri.split(":")[0] in line
