"""Alias changes through a real MLflow tracking server (``driftloop ui`` on a loopback port), where the file lock of
the SQLite store is out of reach and the registry lock is the lease kept in the model's ``driftloop.lock`` tag."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from driftloop.errors import DriftloopError
from driftloop.tracking import connect
from driftloop.tracking.registry import registry_lock
from tests.cli.test_ui import _wait_for_health
from tests.conftest import free_port
from tests.retrain.test_registry import MODEL, assert_one_of_two_racing_promotions_wins, make_store

LOCK_TAG = "driftloop.lock"


@pytest.fixture(scope="module")
def server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tracking server over a store holding model ``m`` (versions 1-3, champion 1); its HTTP URI. Shared by the
    module: the lock tests leave the model as they found it, the race (which moves the champion) runs last."""
    tmp_path = tmp_path_factory.mktemp("server-store")
    make_store(tmp_path)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    process = subprocess.Popen([sys.executable, "-m", "driftloop", "ui", "--port", str(port)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_health(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.communicate(timeout=30)


def test_the_server_store_uses_the_lease(server_uri: str) -> None:
    client = connect(server_uri)
    with registry_lock(client, MODEL, timeout=10):
        holder = client.get_registered_model(MODEL).tags[LOCK_TAG]
        token, _, expiry = holder.partition("@")
        assert len(token) == 32 and float(expiry) > time.time()
    assert LOCK_TAG not in client.get_registered_model(MODEL).tags  # released


def test_a_live_lease_blocks_and_an_expired_one_is_taken_over(server_uri: str) -> None:
    client = connect(server_uri)
    client.set_registered_model_tag(MODEL, LOCK_TAG, f"{'a' * 32}@{time.time() + 60:.3f}")
    started = time.monotonic()
    with pytest.raises(DriftloopError, match=r"^Could not lock model 'm' within 1.5 s: another promotion holds it\.$"):
        with registry_lock(client, MODEL, timeout=1.5):
            pytest.fail("the lock was entered while another holder's lease was live")
    assert time.monotonic() - started >= 1.5
    assert client.get_registered_model(MODEL).tags[LOCK_TAG].startswith("a" * 32)  # the holder's lease is untouched

    client.set_registered_model_tag(MODEL, LOCK_TAG, f"{'b' * 32}@{time.time() - 1:.3f}")  # its holder died
    with registry_lock(client, MODEL, timeout=10):
        assert not client.get_registered_model(MODEL).tags[LOCK_TAG].startswith("b" * 32)
    assert LOCK_TAG not in client.get_registered_model(MODEL).tags


def test_two_concurrent_promotions_through_a_server_cannot_both_succeed(server_uri: str) -> None:
    assert_one_of_two_racing_promotions_wins(server_uri)
    assert LOCK_TAG not in connect(server_uri).get_registered_model(MODEL).tags
