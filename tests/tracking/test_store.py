"""The fluent API's store is scoped by ``use_tracking_uri`` and put back exactly, also from two threads at once."""

from __future__ import annotations

import os
import threading

import mlflow

from driftloop.tracking.store import use_tracking_uri


def test_two_threads_scoping_different_stores_leave_the_original_behind(tmp_path, monkeypatch):
    """Thread A enters with one store and waits (up to 1 s) for B to enter with another; B then waits for A to
    leave. Unserialised, A restores the original and B then restores A's store, which stays behind for every
    later fluent call of the process (a model registered into another test's store)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    original_tracking, original_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    b_entered, a_left = threading.Event(), threading.Event()
    seen = {}

    def a() -> None:
        with use_tracking_uri(f"sqlite:///{tmp_path / 'a.db'}"):
            b_entered.wait(timeout=1.0)
            seen["a"] = mlflow.get_registry_uri()
        a_left.set()

    def b() -> None:
        with use_tracking_uri(f"sqlite:///{tmp_path / 'b.db'}"):
            b_entered.set()
            a_left.wait(timeout=1.0)
            seen["b"] = mlflow.get_registry_uri()

    first = threading.Thread(target=a)
    first.start()
    second = threading.Thread(target=b)
    second.start()
    first.join()
    second.join()
    assert seen == {"a": f"sqlite:///{tmp_path / 'a.db'}", "b": f"sqlite:///{tmp_path / 'b.db'}"}
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (original_tracking, original_registry)
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ


def test_a_block_may_nest_in_one_thread(tmp_path):
    outer, inner = f"sqlite:///{tmp_path / 'outer.db'}", f"sqlite:///{tmp_path / 'inner.db'}"
    with use_tracking_uri(outer):
        with use_tracking_uri(inner):
            assert mlflow.get_registry_uri() == inner
        assert mlflow.get_registry_uri() == outer
