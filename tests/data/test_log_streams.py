"""The streaming detectors run by the inference log's writer: their detections are those of the detectors fed the
same values directly (:mod:`driftloop.stream`, itself checked against river), their state survives a closed log,
a killed writer and a failed group, and the errors stream is made of the first label of each logged prediction."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.data.inference_log import (
    IdsInLog,
    InferenceLog,
    PredictionBatch,
    new_row_ids,
    read_stream_detectors,
    read_stream_events,
)
from driftloop.data.log_streams import error_of, errors_of
from driftloop.data.log_writer import GroupWriter
from driftloop.stream import ADWIN, DETECTORS


ALL = {name: {} for name in DETECTORS}  # every detector, default parameters (ADWIN alone runs by default)


def batches(values: np.ndarray, size: int, version: str = "1") -> list[PredictionBatch]:
    out = []
    for start in range(0, len(values), size):
        chunk = values[start:start + size]
        ts = time.time_ns()
        out.append(PredictionBatch(new_row_ids(len(chunk), ts), ts, "m", version, {"x": np.zeros(len(chunk))},
                                   chunk.tolist()))
    return out


def expected_events(values: np.ndarray) -> dict[str, list[int]]:
    return {name: kind().update_many(values) for name, kind in DETECTORS.items()}


def logged_events(path: Path, signal_name: str, version: str = "1") -> dict[str, list[int]]:
    events = read_stream_events(path)
    events = events[(events["signal"] == signal_name) & (events["model_version"] == version)]
    return {name: events.loc[events["detector"] == name, "position"].tolist() for name in DETECTORS}


def shifted(seed: int, n: int = 6_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 1, n // 2), rng.normal(2.5, 1, n // 2)])


def test_predictions_stream_detects_as_the_detectors_do_across_restarts(tmp_path: Path) -> None:
    values = shifted(1)
    path = tmp_path / "log.db"
    parts = batches(values, 37)
    for start, stop in ((0, 40), (40, 90), (90, len(parts))):  # the log closed and reopened twice
        with InferenceLog(path, streams=ALL) as log:
            futures = [log.submit_predictions(batch) for batch in parts[start:stop]]  # grouped commits
            for future in futures:
                future.result()
    expected = expected_events(values)
    assert logged_events(path, "predictions") == expected
    assert all(expected.values())  # each detector did see the shift
    with sqlite3.connect(path) as connection:
        counts = dict(connection.execute("SELECT detector, n_values FROM stream_state WHERE signal = 'predictions'"))
    assert counts == {name: len(values) for name in DETECTORS}


def test_errors_stream_is_the_first_label_of_each_logged_prediction(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    predictions = rng.normal(5, 1, 3_000)
    labels = predictions + np.concatenate([rng.normal(0, 0.3, 1_500), rng.normal(0, 1.5, 1_500)])
    path = tmp_path / "log.db"
    updates: list = []
    with InferenceLog(path, streams=ALL, on_streams=updates.extend) as log:
        parts = batches(predictions, 100)
        for batch in parts:
            log.submit_predictions(batch).result()
        ids = [row_id for batch in parts for row_id in batch.ids]
        items = list(zip(ids, labels.tolist()))
        log.submit_feedback(items[:1000] + [("no-such-id", 1.0)]).result()  # an orphan is not streamed
        log.submit_feedback(items[500:1000]).result()  # the same labels again: not streamed twice
        log.submit_feedback([(ids[0], 99.0)], overwrite=True).result()  # a replaced label: not streamed
        for start in range(1000, 3000, 250):
            log.submit_feedback(items[start:start + 250]).result()
    errors = np.abs(predictions - labels)
    assert logged_events(path, "errors") == expected_events(errors)
    fed = sum(u.values for u in updates if u.signal == "errors" and u.detector == "adwin")
    assert fed == 3_000
    assert any(u.detections for u in updates if u.signal == "errors")


def test_a_classifier_errors_are_zero_or_one() -> None:
    assert [error_of(p, y) for p, y in (("cat", "cat"), ("cat", "dog"), (1, 1.0), (True, False), (2.5, 4))] == \
        [0.0, 1.0, 0.0, 1.0, 1.5]


numbers = st.integers(-(2**64), 2**64) | st.floats(allow_nan=True, allow_infinity=True)
scalars = numbers | st.booleans() | st.sampled_from(["cat", "dog", "", "1.5"]) | st.none()


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(numbers, numbers), max_size=40) | st.lists(st.tuples(scalars, scalars), max_size=40))
def test_errors_of_a_request_are_the_errors_of_each_label(pairs: list) -> None:
    """The errors of a request's labels at once (numbers only: without a Python loop) are those of each label,
    bit for bit (large integers and infinities included)."""
    predictions, labels = [p for p, _ in pairs], [y for _, y in pairs]
    assert [repr(e) for e in errors_of(predictions, labels)] == [repr(error_of(p, y)) for p, y in pairs]


def test_the_errors_stream_of_mixed_requests_is_that_of_one_label_at_a_time(tmp_path: Path) -> None:
    """Requests mixing two model versions (a regressor's numbers, a classifier's classes), a missing prediction,
    orphans, ids labelled before and ids twice in one request: the ``error`` column and each version's errors
    stream are those of the rule applied one label at a time (the first label of a logged prediction streams)."""
    rng = np.random.default_rng(12)
    n = 2_400
    numeric = np.concatenate([rng.normal(5, 1, n // 2), rng.normal(5, 1, n // 2)])
    truth = numeric + np.concatenate([rng.normal(0, 0.3, n // 2), rng.normal(0, 2.0, n // 2)])
    classes = rng.choice(["red", "white"], 600).tolist()
    ts = time.time_ns()
    ids_1, ids_2 = new_row_ids(n, ts), new_row_ids(600, ts + 1)
    predicted = {**dict(zip(ids_1, numeric.tolist())), **dict(zip(ids_2, classes))}
    predicted[ids_1[7]] = None  # a prediction the log holds as NULL
    version = {**{i: "1" for i in ids_1}, **{i: "2" for i in ids_2}}
    candidates = [*zip(ids_1, truth.tolist()), *zip(ids_2, rng.choice(["red", "white"], 600).tolist())]
    order = rng.permutation(len(candidates))
    requests, start = [], 0
    while start < len(order):
        size = int(rng.integers(1, 150))
        items = [candidates[i] for i in order[start:start + size]]
        if len(items) > 3 and rng.random() < 0.5:
            items += [("orphan-" + str(start), 1.0), items[0], items[1]]  # an orphan, an id twice
        if requests and rng.random() < 0.5:
            items.append((requests[-1][0][0], 42.0))  # an id labelled before: replaced, not streamed
        requests.append(items)
        start += size
    path = tmp_path / "log.db"
    with InferenceLog(path, streams=ALL) as log:
        for ids, model_version, values in ((ids_1, "1", [predicted[i] for i in ids_1]), (ids_2, "2", classes)):
            log.submit_predictions(PredictionBatch(ids, ts, "m", model_version, {"x": np.zeros(len(ids))},
                                                   values)).result()
        for items in requests:
            log.submit_feedback(items, overwrite=True).result()
    expected_rows, streams, labelled = [], {"1": [], "2": []}, set()
    for items in requests:
        for row_id, label in items:
            error = None
            if row_id in predicted and row_id not in labelled:
                labelled.add(row_id)
                error = error_of(predicted[row_id], label)
                if error is not None:
                    streams[version[row_id]].append(error)
            expected_rows.append((row_id, label, int(row_id not in predicted), error))
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT id, label, orphan, error FROM feedback ORDER BY seq").fetchall()
    assert rows == expected_rows
    for model_version, errors in streams.items():
        assert logged_events(path, "errors", model_version) == expected_events(np.array(errors))
    assert any(logged_events(path, "errors", "1").values())
    detectors = read_stream_detectors(path)
    fed = detectors[detectors["signal"] == "errors"].groupby("model_version")["n_values"].unique()
    assert {v: fed[v].tolist() for v in fed.index} == {"1": [n - 1], "2": [600]}


def test_a_failed_group_leaves_the_detectors_as_committed(tmp_path: Path) -> None:
    """A batch refused in a group (its ids are in the log) is written again alone and fails; the detectors are read
    back from the database, so its values never reach them."""
    values = shifted(3, 4_000)
    path = tmp_path / "log.db"
    parts = batches(values, 50)
    with InferenceLog(path, streams=ALL) as log:
        log.submit_predictions(parts[0]).result()
        futures = []
        for batch in parts[1:]:
            futures.append(log.submit_predictions(batch))
            futures.append(log.submit_predictions(parts[0]))  # its ids are taken: refused
        outcomes = [future.exception() for future in futures]
    assert all(isinstance(outcome, IdsInLog) for outcome in outcomes[1::2])
    assert outcomes[0::2] == [None] * (len(parts) - 1)
    assert logged_events(path, "predictions") == expected_events(values)


def test_a_killed_writer_loses_no_committed_state(tmp_path: Path) -> None:
    values = shifted(4, 4_000)
    path = tmp_path / "log.db"
    parts = batches(values, 40)
    with InferenceLog(path, streams=ALL) as log:
        acknowledged = 0
        for index, batch in enumerate(parts):
            if index == 50:
                os.kill(log._process.pid, signal.SIGKILL)  # noqa: SLF001 - the writer process dies mid-stream
                while log.state == "ok":
                    time.sleep(0.01)
                while log.state != "ok":
                    time.sleep(0.05)
            try:
                log.submit_predictions(batch).result()
                acknowledged += len(batch)
            except Exception:  # noqa: BLE001 - written while the writer restarts: refused, not acknowledged
                continue
    with sqlite3.connect(path) as connection:
        logged = connection.execute("SELECT prediction FROM predictions ORDER BY seq").fetchall()
        states = connection.execute("SELECT detector, parameters, state, n_values FROM stream_state "
                                    "WHERE signal = 'predictions'").fetchall()
    assert acknowledged == len(logged)
    stream = np.array([row[0] for row in logged])
    assert logged_events(path, "predictions") == expected_events(stream)
    for name, parameters, state, n_values in states:
        direct = DETECTORS[name]()
        direct.update_many(stream)
        assert n_values == len(stream)
        assert DETECTORS[name](**json.loads(parameters)).unpack(state).state() == direct.state()


def test_no_stream_tables_without_detectors(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with InferenceLog(path, streams=None) as log:
        log.submit_predictions(batches(np.arange(10.0), 10)[0]).result()
    assert read_stream_events(path).empty


@pytest.mark.parametrize("version", ["1", "2"])
def test_each_model_version_has_its_own_streams(tmp_path: Path, version: str) -> None:
    path = tmp_path / "log.db"
    values = shifted(5, 2_000)
    with InferenceLog(path, streams=ALL) as log:
        for batch in batches(values, 100, version="1") + batches(values + 10, 100, version="2"):
            log.submit_predictions(batch).result()
    assert logged_events(path, "predictions", version) == expected_events(values + (10 if version == "2" else 0))


def test_a_log_of_the_first_release_keeps_its_detectors(tmp_path: Path) -> None:
    """The first release of the detectors kept their states as JSON and their detections without row ids: a writer
    converts the tables, and the detectors go on exactly where they were."""
    values = shifted(6, 4_000)
    parts = batches(values, 100)
    path = tmp_path / "log.db"
    with InferenceLog(path, streams=ALL) as log:
        for batch in parts[:30]:
            log.submit_predictions(batch).result()
    with sqlite3.connect(path) as connection:  # back to the first release's tables
        states = connection.execute("SELECT * FROM stream_state").fetchall()
        connection.execute("DROP TABLE stream_state")
        connection.execute("CREATE TABLE stream_state (model_name TEXT NOT NULL, model_version TEXT NOT NULL, "
                           "signal TEXT NOT NULL, detector TEXT NOT NULL, state TEXT NOT NULL, n_values INTEGER NOT "
                           "NULL, n_detections INTEGER NOT NULL, PRIMARY KEY (model_name, model_version, signal, "
                           "detector)) WITHOUT ROWID")
        for name, version, signal_name, kind, parameters, state, n_values, n_detections in states:
            saved = DETECTORS[kind](**json.loads(parameters)).unpack(state).state()
            connection.execute("INSERT INTO stream_state VALUES (?, ?, ?, ?, ?, ?, ?)",
                               (name, version, signal_name, kind, json.dumps(saved), n_values, n_detections))
        events = connection.execute("SELECT seq, ts, model_name, model_version, signal, detector, position "
                                    "FROM stream_events").fetchall()
        connection.execute("DROP TABLE stream_events")
        connection.execute("CREATE TABLE stream_events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, model_name "
                           "TEXT NOT NULL, model_version TEXT NOT NULL, signal TEXT NOT NULL, detector TEXT NOT NULL, "
                           "position INTEGER NOT NULL)")
        connection.executemany("INSERT INTO stream_events VALUES (?, ?, ?, ?, ?, ?, ?)", events)
    assert events and read_stream_events(path).empty  # readers wait for a writer to convert the tables
    with InferenceLog(path, streams=ALL) as log:
        for batch in parts[30:]:
            log.submit_predictions(batch).result()
    assert logged_events(path, "predictions") == expected_events(values)
    logged = read_stream_events(path)
    assert logged["row_id"].isna().sum() == len(events)  # detections of the first release have no row id


def test_adwin_alone_runs_by_default(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with InferenceLog(path) as log:
        log.submit_predictions(batches(shifted(7, 200), 200)[0]).result()
    detectors = read_stream_detectors(path)
    assert detectors["detector"].tolist() == ["adwin"] and detectors["n_values"].tolist() == [200]
    assert detectors["parameters"].tolist() == [ADWIN().state()["parameters"]]


def test_a_crashed_writer_values_are_taken_from_the_log_by_the_next_one(tmp_path: Path) -> None:
    """The writer queues the committed values and its detectors take them every FLUSH_SECONDS: a writer that dies
    in between (here: its connection closed without the flush of a proper close) leaves them in the log's rows, and
    the next writer takes them, predictions and errors, before any new value."""
    rng = np.random.default_rng(8)
    predictions = np.concatenate([rng.normal(5, 1, 1_500), rng.normal(7, 1, 1_500)])
    labels = predictions + np.concatenate([rng.normal(0, 0.3, 1_500), rng.normal(0, 1.5, 1_500)])
    path = tmp_path / "log.db"
    with InferenceLog(path, streams=None):
        pass
    parts = batches(predictions, 100)
    ids = [row_id for batch in parts for row_id in batch.ids]
    messages = [(0, "predictions", (b.ids, b.timestamp_ns, b.model_name, b.model_version, b.inputs, b.predictions))
                for b in parts]
    for start, stop in ((0, 10), (10, 30)):  # two writers die before a flush
        writer = GroupWriter(path, "normal", streams=ALL)
        for message in messages[start:stop]:
            assert writer.write([message])[0][1] is None
        labelled = slice(100 * start, 100 * stop)
        assert writer.write([(1, "feedback", (list(zip(ids[labelled], labels[labelled].tolist())), False))])[0][1] \
            is None
        writer.connection.close()
    assert read_stream_events(path).empty and read_stream_detectors(path).empty  # nothing was flushed
    writer = GroupWriter(path, "normal", streams=ALL)
    writer.close()
    assert logged_events(path, "predictions") == expected_events(predictions)
    assert logged_events(path, "errors") == expected_events(np.abs(predictions - labels))
    assert any(logged_events(path, "errors").values())
    assert set(read_stream_detectors(path)["n_values"]) == {3_000}


def test_rows_logged_without_detectors_are_not_streamed(tmp_path: Path) -> None:
    """Detectors on, then a writer without them, then detectors again: the detectors take the values logged while
    they ran, in order, and none of those logged while they were off."""
    values = shifted(9, 3_000)
    parts = batches(values, 100)
    path = tmp_path / "log.db"
    for streams, chunk in ((ALL, parts[:10]), (None, parts[10:20]), (ALL, parts[20:])):
        with InferenceLog(path, streams=streams) as log:
            for batch in chunk:
                log.submit_predictions(batch).result()
    streamed = np.concatenate([values[:1_000], values[2_000:]])
    assert logged_events(path, "predictions") == expected_events(streamed)
    assert set(read_stream_detectors(path)["n_values"]) == {2_000}


def _statements(writer: GroupWriter, groups: list[list]) -> list[str]:
    """The SQL statements each group commit runs (the first words of each: what and on which table)."""
    executed: list[str] = []
    writer.connection.set_trace_callback(lambda sql: executed.append(" ".join(sql.split()[:3])))
    for group in groups:
        assert all(error is None for _, error, _ in writer.write(group))
    writer.connection.set_trace_callback(None)
    return executed


def test_the_detectors_add_no_statement_to_a_group_commit(tmp_path: Path) -> None:
    """With detectors, a group commit runs the statements it runs without them (the first label of a logged
    prediction writes its error in the same INSERT): the detectors' own work waits for the flush, in a transaction
    of its own (``BENCHMARKS.md``: each statement of a request costs the service's writer several microseconds)."""
    rng = np.random.default_rng(13)
    found = {}
    for streams in (None, ALL):
        path = tmp_path / f"{bool(streams)}.db"
        with InferenceLog(path, streams=None):
            pass
        writer = GroupWriter(path, "full", streams=streams)
        logged = batches(rng.normal(5, 1, 300), 100)
        predictions = [[(0, "predictions", (b.ids, b.timestamp_ns, b.model_name, b.model_version, b.inputs,
                                            b.predictions))] for b in logged]
        ids = [row_id for batch in logged for row_id in batch.ids]
        feedback = [[(1, "feedback", ([(ids[0], 5.0)], False))],  # one label
                    [(1, "feedback", (list(zip(ids[1:101], rng.normal(5, 1, 100).tolist())), False))],
                    [(1, "feedback", ([(ids[0], 5.0), (ids[200], 4.0), ("orphan", 1.0), (ids[200], 4.0)], False))],
                    [(1, "feedback", ([(ids[250], 3.0)], False)), (2, "feedback", ([(ids[251], 3.0)], False))]]
        found[bool(streams)] = _statements(writer, predictions + feedback)
        writer.close()
    assert found[True] == found[False]
    detectors = read_stream_detectors(tmp_path / "True.db")
    assert detectors.groupby("signal")["n_values"].unique().map(list).to_dict() == {"predictions": [300],
                                                                                  "errors": [104]}


def test_a_failed_flush_is_retried_a_flush_period_later(tmp_path: Path) -> None:
    """A flush that fails, and whose detectors cannot be read back either (here their table is gone), is tried
    again FLUSH_SECONDS later: the writer waits for input or for that time, not in a loop of failing flushes."""
    path = tmp_path / "log.db"
    with InferenceLog(path, streams=None):
        pass
    writer = GroupWriter(path, "normal", streams=ALL)
    batch = batches(np.arange(10.0), 10)[0]
    writer.write([(0, "predictions", (batch.ids, batch.timestamp_ns, "m", "1", batch.inputs, batch.predictions))])
    writer.connection.execute("DROP TABLE stream_state")
    time.sleep(writer.streams.flush_seconds)
    assert writer.streams.due() <= 0
    with pytest.raises(sqlite3.OperationalError, match="stream_state"):
        writer.flush_streams()
    assert writer.streams.due() > writer.streams.flush_seconds / 2
