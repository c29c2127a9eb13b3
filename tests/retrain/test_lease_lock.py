"""Alias changes through a real MLflow tracking server (``driftloop ui`` on a loopback port), where the file lock of
the SQLite store is out of reach and the registry lock is the lease of tickets in the model's tags
(``driftloop.lock.<token>``; the protocol is in :mod:`driftloop.tracking.registry`)."""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
import time
from collections.abc import Iterator

import pytest

from driftloop.errors import DriftloopError
from driftloop.tracking import connect
from driftloop.tracking.registry import registry_lock
from tests.local_servers import free_port, running_server
from tests.retrain.test_registry import MODEL, assert_one_of_two_racing_promotions_wins, make_store

TICKET_PREFIX = "driftloop.lock."


def tickets(uri: str) -> dict[str, str]:
    return {k: v for k, v in connect(uri).get_registered_model(MODEL).tags.items() if k.startswith(TICKET_PREFIX)}


def _count_under_the_lock(uri: str, rounds: int, start: float) -> None:
    """``rounds`` times: under the lock, read the model's ``counter`` tag, pause, write it back plus one."""
    client = connect(uri)
    while time.time() < start:
        time.sleep(0.001)
    for _ in range(rounds):
        with registry_lock(client, MODEL, timeout=120):
            seen = int(client.get_registered_model(MODEL).tags.get("counter", "0"))
            time.sleep(0.05)  # a window for another holder to interleave, were the lock not exclusive
            client.set_registered_model_tag(MODEL, "counter", str(seen + 1))


def assert_the_lease_excludes(uri: str, processes: int = 4, rounds: int = 3) -> None:
    """``processes`` processes starting at the same instant increment a counter under the lock ``rounds`` times
    each: any two holders at once would lose an increment (or crash on a colliding write, as the single-key lease
    did on PostgreSQL)."""
    client = connect(uri)
    client.set_registered_model_tag(MODEL, "counter", "0")
    context = multiprocessing.get_context("spawn")
    start = time.time() + 5.0
    workers = [context.Process(target=_count_under_the_lock, args=(uri, rounds, start)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
    assert [worker.exitcode for worker in workers] == [0] * processes
    assert client.get_registered_model(MODEL).tags["counter"] == str(processes * rounds)
    assert not tickets(uri)  # every holder released its ticket


@pytest.fixture(scope="module")
def server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tracking server over a store holding model ``m`` (versions 1-3, champion 1); its HTTP URI. Shared by the
    module: the lock tests leave the model as they found it, the race (which moves the champion) runs last."""
    tmp_path = tmp_path_factory.mktemp("server-store")
    make_store(tmp_path)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    with running_server([sys.executable, "-m", "driftloop", "ui", "--port", str(port)], cwd=tmp_path, env=env,
                        health_url=f"http://127.0.0.1:{port}/health", log=tmp_path / "ui.log"):
        yield f"http://127.0.0.1:{port}"


def test_the_server_store_uses_the_lease(server_uri: str) -> None:
    client = connect(server_uri)
    with registry_lock(client, MODEL, timeout=10):
        [(key, value)] = tickets(server_uri).items()
        expiry, holder = value.split(" ")
        assert len(key.removeprefix(TICKET_PREFIX)) == 32 and float(expiry) > time.time()
        assert holder == f"{socket.gethostname()}:{os.getpid()}"
    assert not tickets(server_uri)  # released


def test_a_live_lease_blocks_and_an_expired_one_is_taken_over(server_uri: str) -> None:
    client = connect(server_uri)
    live, dead = TICKET_PREFIX + "a" * 32, TICKET_PREFIX + "b" * 32
    client.set_registered_model_tag(MODEL, live, f"{time.time() + 60:.3f}")
    started = time.monotonic()
    with pytest.raises(DriftloopError, match=r"^Could not lock model 'm' within 1.5 s: another promotion holds it\.$"):
        with registry_lock(client, MODEL, timeout=1.5):
            pytest.fail("the lock was entered while another holder's lease was live")
    assert time.monotonic() - started >= 1.5
    assert list(tickets(server_uri)) == [live]  # the holder's lease is untouched
    client.delete_registered_model_tag(MODEL, live)

    client.set_registered_model_tag(MODEL, dead, f"{time.time() - 1:.3f}")  # expired
    gone = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    gone.start()
    gone.join()
    crashed = TICKET_PREFIX + "c" * 32  # unexpired, but its holder, a process of this host, is gone
    client.set_registered_model_tag(MODEL, crashed, f"{time.time() + 60:.3f} {socket.gethostname()}:{gone.pid}")
    with registry_lock(client, MODEL, timeout=10):
        assert dead not in tickets(server_uri) and crashed not in tickets(server_uri)  # cleared on the way in
    assert not tickets(server_uri)


def test_four_processes_never_hold_the_lease_at_once(server_uri: str) -> None:
    assert_the_lease_excludes(server_uri)


def test_two_concurrent_promotions_through_a_server_cannot_both_succeed(server_uri: str) -> None:
    assert_one_of_two_racing_promotions_wins(server_uri)
    assert not tickets(server_uri)
