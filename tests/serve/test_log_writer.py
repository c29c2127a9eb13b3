"""The log's writer process: a message it cannot write fails alone, and a writer that dies is replaced."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from driftloop.data.inference_log import (
    InferenceLog,
    PredictionBatch,
    _settle_concurrent,
    new_row_ids,
    read_inference_log,
)
from driftloop.data.log_writer import GroupWriter, encode_columns
from driftloop.errors import DriftloopError


def prediction(seq: int, **inputs: np.ndarray) -> tuple[int, str, tuple]:
    n = len(next(iter(inputs.values())))
    ids = new_row_ids(n)
    return seq, "predictions", (ids, time.time_ns(), "m", "1", inputs, [float(i) for i in range(n)])


def test_a_message_the_writer_cannot_write_fails_alone(tmp_path: Path) -> None:
    """A group holding one unwritable message (here a label SQLite cannot bind, which the parent's checks would
    refuse earlier) commits every other message of the group and fails only that one."""
    path = tmp_path / "log.db"
    InferenceLog(path).prepare()
    writer = GroupWriter(path, "normal")
    group = [prediction(0, x=np.array([1.0, 2.0])),
             (1, "feedback", ([("a", 2**63)], False)),
             prediction(2, x=np.array([3.0]), new=np.array([7])),  # adds a column in the same group
             (3, "feedback", ([("b", 5)], False)),
             (4, "feedback", ([("c", {"nested": 1})], False))]
    outcome = writer.write(group)
    writer.close()
    assert [seq for seq, error, _ in outcome if error is not None] == [1, 4]
    assert "OverflowError" in outcome[1][1]
    assert outcome[3][2][0] == 1  # b's label stored
    frame = read_inference_log(path)
    assert frame["x"].tolist() == [1.0, 2.0, 3.0] and frame["new"].isna().tolist() == [True, True, False]
    assert set(frame["id"]) == {*group[0][2][0], *group[2][2][0]}


def test_every_valid_request_succeeds_beside_failing_ones(tmp_path: Path) -> None:
    """Through the writer process: concurrent messages, some unwritable, share groups; only those fail."""
    path = tmp_path / "log.db"
    commits: list[int] = []
    with InferenceLog(path, on_commit=lambda requests, rows, seconds: commits.append(requests)) as log:
        good, bad = [], []
        for i in range(300):
            if i % 10 == 5:  # sent past the parent's checks, as a bug in them would
                future: concurrent.futures.Future = concurrent.futures.Future()
                log._submit("feedback", ([(f"bad-{i}", 2**63)], False), _settle_concurrent(future))
                bad.append(future)
            else:
                good.append(log.submit_predictions(PredictionBatch(new_row_ids(1), time.time_ns(), "m", "1",
                                                                   {"x": np.array([float(i)])}, [1.0])))
        for future in good:
            future.result(timeout=30)
        for future in bad:
            with pytest.raises(DriftloopError, match="OverflowError"):
                future.result(timeout=30)
    assert len(commits) < 300  # the failing messages did share groups with valid ones
    assert len(read_inference_log(path)) == 270


def writer_pid(log: InferenceLog) -> int:
    return log._process.pid


def test_a_killed_writer_is_restarted_and_no_acknowledged_row_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    acknowledged: list[str] = []
    failures: list[str] = []
    stop = threading.Event()
    with InferenceLog(path) as log:
        def load() -> None:
            while not stop.is_set():
                batch = PredictionBatch(new_row_ids(2), time.time_ns(), "m", "1", {"x": np.array([1.0, 2.0])},
                                        [0.0, 1.0])
                try:
                    log.submit_predictions(batch).result(timeout=30)
                except DriftloopError as error:
                    failures.append(error.message)
                    time.sleep(0.01)
                    continue
                acknowledged.extend(batch.ids)

        threads = [threading.Thread(target=load) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            while len(acknowledged) < 200:
                time.sleep(0.01)
            first = writer_pid(log)
            os.kill(first, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while log.restarts == 0 or log.state != "ok":
                assert time.monotonic() < deadline, f"the writer was not restarted: {log.state}, {log.failure}"
                time.sleep(0.01)
            assert writer_pid(log) != first
            before = len(acknowledged)
            while len(acknowledged) < before + 200:  # the new writer acknowledges writes
                assert time.monotonic() < deadline, "nothing was written after the restart"
                time.sleep(0.01)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    assert failures and all("stopped unexpectedly (killed by signal 9)" in f or "restarted" in f for f in failures)
    assert not any(str(tmp_path) in f for f in failures)  # no path in what a service would pass to its clients
    logged = read_inference_log(path)["id"]
    assert logged.is_unique and set(acknowledged) <= set(logged)


def test_a_writer_that_cannot_start_again_is_retried_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    aside = tmp_path / "aside"
    log = InferenceLog(path).start()
    try:
        log.submit_predictions(PredictionBatch(new_row_ids(1), time.time_ns(), "m", "1", {"x": np.array([1.0])},
                                               [1.0])).result(timeout=30)
        os.kill(writer_pid(log), signal.SIGKILL)
        aside.mkdir()
        for file in tmp_path.glob("log.db*"):  # the log (and its WAL) gone: a new writer cannot open it
            shutil.move(file, aside / file.name)
        path.mkdir()
        deadline = time.monotonic() + 10
        while log.state != "restarting":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.5)
        assert log.state == "restarting" and log.restarts == 0 and "killed by signal 9" in log.failure
        with pytest.raises(DriftloopError, match="restarted"):
            log.submit_predictions(PredictionBatch(new_row_ids(1), time.time_ns(), "m", "1",
                                                   {"x": np.array([1.0])}, [1.0])).result(timeout=30)
        path.rmdir()
        for file in aside.iterdir():
            shutil.move(file, tmp_path / file.name)
        deadline = time.monotonic() + 30
        while log.state != "ok":
            assert time.monotonic() < deadline, log.failure
            time.sleep(0.05)
        assert log.restarts == 1
        log.submit_predictions(PredictionBatch(new_row_ids(1), time.time_ns(), "m", "1", {"x": np.array([2.0])},
                                               [1.0])).result(timeout=30)
    finally:
        log.close()
    assert read_inference_log(path)["x"].tolist() == [1.0, 2.0]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="page faults are read from /proc")
@pytest.mark.parametrize("streams", [None, {"adwin": {}}], ids=["no detectors", "adwin"])
def test_the_writer_maps_no_new_memory_per_request(tmp_path: Path, streams: dict | None) -> None:
    """The writer reads its input into one buffer for its life: reading each request into a new 1 MiB one mapped,
    shrank and unmapped memory every time (two page faults and three system calls per request, ~10 % of the writer's
    CPU on 1-row requests, ``BENCHMARKS.md``)."""

    def faults() -> int:  # minor page faults of the writer so far (man 5 proc: the 10th field of stat)
        return int(Path(f"/proc/{writer_pid(log)}/stat").read_text().rsplit(")", 1)[1].split()[7])

    def one_row() -> PredictionBatch:
        ts = time.time_ns()
        return PredictionBatch(new_row_ids(1, ts), ts, "m", "1", {"x": np.zeros(1)}, [1.0])

    with InferenceLog(tmp_path / "log.db", streams=streams) as log:
        for _ in range(50):  # the writer's first requests load what they need once
            log.submit_predictions(one_row()).result()
        before = faults()
        for _ in range(500):
            log.submit_predictions(one_row()).result()
        per_request = (faults() - before) / 500
    assert per_request < 0.5  # 2.0 when each read took a new buffer; the detectors' flushes a few per flush
