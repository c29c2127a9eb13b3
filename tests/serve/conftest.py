"""Fixtures of the service tests: the wine store's URI, rows of real wine data, a model without signature, and a
real server subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.conftest import REPO
from tests.local_servers import free_port

COLUMNS = ["fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides", "free sulfur dioxide",
           "total sulfur dioxide", "density", "pH", "sulphates", "alcohol"]


@pytest.fixture(scope="session")
def wine_uri(trained_wine_store: Path) -> str:
    return f"sqlite:///{trained_wine_store / 'mlflow.db'}"


@pytest.fixture(scope="session")
def unsigned_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store holding ``unsigned@champion``: a scikit-learn linear regression on two features, logged without a
    signature (so the service cannot check requests against one)."""
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LinearRegression

    from driftloop.tracking.store import use_tracking_uri

    folder = tmp_path_factory.mktemp("unsigned-store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("unsigned", artifact_location=(folder / "artifacts").as_uri())
    model = LinearRegression().fit(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]), [1.0, 2.0, 3.0])
    with use_tracking_uri(uri), mlflow.start_run(experiment_id=experiment):
        mlflow.sklearn.log_model(model, name="model", registered_model_name="unsigned")
    client.set_registered_model_alias("unsigned", "champion", "1")
    return uri


@pytest.fixture(scope="session")
def wine_rows() -> list[dict[str, float]]:
    """200 real rows of the red-wine data, as records of the model's features."""
    frame = pd.read_csv(REPO / "examples" / "wine" / "data" / "winequality-red.csv", sep=";")
    return frame[COLUMNS].astype("float64").head(200).to_dict(orient="records")


class ServerProcess:
    """``python -m driftloop serve ...`` on a free loopback port, polled until /health answers."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = cwd / f"server-{self.port}.out"
        env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", **(env or {}))
        env.pop("MLFLOW_TRACKING_URI", None)
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "driftloop", "serve", "--port", str(self.port), *args],
                                            cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}: {self.output.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"server did not answer in 90 s: {self.output.read_text()}")
            time.sleep(0.1)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """SIGKILL the whole process group (the server and its log writer at once); other signals to the server."""
        if sig == signal.SIGKILL:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        elif self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout=30)

    def stop(self) -> int:
        self.kill(signal.SIGTERM)
        return self.process.returncode


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    """Start servers with given CLI arguments (and environment variables); every one still running is killed at the
    end of the test."""
    started: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(list(args), tmp_path, env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
