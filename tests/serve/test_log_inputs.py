"""What the inference log accepts: any feature name, values it can store, feature sets fixed per model version,
labels that never silently replace others, and logs written by the previous layout."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.data.inference_log import (
    RESERVED_COLUMNS,
    InferenceLog,
    LabelConflict,
    PredictionBatch,
    UnloggableInput,
    new_row_ids,
    read_inference_log,
    read_label_history,
)
from driftloop.data.log_export import export_log
from driftloop.data.readers import read_table
from driftloop.errors import DriftloopError


def column(values: list) -> np.ndarray:
    """Numbers as a numeric array, anything else as an object array (as the service passes a model's inputs)."""
    if all(isinstance(v, (int, float)) and abs(v) < 2**63 for v in values):
        return np.array(values)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def rows(inputs: dict[str, list], version: str = "1", model: str = "m") -> PredictionBatch:
    columns = {name: column(values) for name, values in inputs.items()}
    n = len(next(iter(columns.values())))
    return PredictionBatch(new_row_ids(n), time.time_ns(), model, version, columns, [0.5] * n)


def columns_of(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[1] for row in connection.execute("PRAGMA table_info(predictions)")]


NAMES = ["ts", "date", "replica", "seq", "Id", "ID", "rowid", "A", "a", "f0", "F1", "_f2", "select", 'quote"d', "fixed acidity",
         "x; DROP TABLE predictions", "", "été", "Prediction", "label_", "oid"]


def test_any_feature_name_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    inputs = {name: [float(i), float(i) + 0.5] for i, name in enumerate(NAMES)}
    with InferenceLog(path) as log:
        log.submit_predictions(rows(inputs)).result(timeout=30)
    frame = read_inference_log(path)
    assert list(frame.columns[4:-3]) == NAMES
    for i, name in enumerate(NAMES):
        assert frame[name].tolist() == [float(i), float(i) + 0.5]
    export_log(path, tmp_path / "parquet")  # read as one dataset, without partition columns: a feature may be "date"
    pd.testing.assert_frame_equal(read_table(tmp_path / "parquet"), frame)
    pd.testing.assert_frame_equal(read_table(path), frame)  # what `driftloop monitor --data log.db` reads


@pytest.fixture(scope="module")
def shared_log(tmp_path_factory: pytest.TempPathFactory):
    with InferenceLog(tmp_path_factory.mktemp("log") / "log.db") as log:
        yield log


@settings(max_examples=40, deadline=None)
@given(names=st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12), min_size=1, max_size=8,
                      unique=True).filter(lambda names: not set(names) & set(RESERVED_COLUMNS)))
def test_any_names_a_signature_allows_round_trip(shared_log: InferenceLog, names: list[str]) -> None:
    batch = rows({name: [i] for i, name in enumerate(names)}, version=new_row_ids(1)[0])  # a version per example
    shared_log.submit_predictions(batch).result(timeout=30)
    frame = read_inference_log(shared_log.path)
    row = frame[frame["model_version"] == batch.model_version]
    assert row[names].iloc[0].tolist() == list(range(len(names)))


@pytest.mark.parametrize("inputs, row, column, received", [
    ({"x": [1, 2**63]}, 1, "x", "9223372036854775808 (number)"),
    ({"x": ["a", {"b": 1}]}, 1, "x", "{'b': 1} (object)"),
    ({"x": [[1, 2]]}, 0, "x", "[1, 2] (array)"),
    ({"x": ["ok", "\ud800"]}, 1, "x", "'\\ud800' (string)"),
])
def test_values_the_log_cannot_store_are_refused_before_the_writer(tmp_path: Path, inputs: dict, row: int,
                                                                    column: str, received: str) -> None:
    path = tmp_path / "log.db"
    with InferenceLog(path) as log:
        with pytest.raises(UnloggableInput) as caught:
            log.submit_predictions(rows(inputs))
        assert (caught.value.row, caught.value.column, caught.value.received) == (row, column, received)
        assert f"Row {row}, column '{column}': expected" in caught.value.message
        log.submit_predictions(rows({"x": [1, 2]}, version="2")).result(timeout=30)
    assert len(read_inference_log(path)) == 2
    big = PredictionBatch(new_row_ids(1), 0, "m", "3", {"u": np.array([2**64 - 1], dtype="uint64")}, [1])
    with InferenceLog(path) as log, pytest.raises(UnloggableInput, match="column 'u'"):
        log.submit_predictions(big)


@pytest.mark.parametrize("items, row, column", [
    ([("a", 1), ("b", 2**63)], 1, "label"),
    ([("a", -(2**63) - 1)], 0, "label"),
    ([("a", "\udfff")], 0, "label"),
    ([("a", None)], 0, "label"),
    ([("a", [1])], 0, "label"),
    ([("", 1)], 0, "id"),
    ([("\ud800", 1)], 0, "id"),
])
def test_labels_the_log_cannot_store_are_refused(tmp_path: Path, items: list, row: int, column: str) -> None:
    with InferenceLog(tmp_path / "log.db") as log:
        with pytest.raises(UnloggableInput) as caught:
            log.submit_feedback(items)
        assert (caught.value.row, caught.value.column) == (row, column)
        assert log.submit_feedback([("a", 2**63 - 1)]).result(timeout=30).accepted == 1


def test_predictions_the_log_cannot_bind_are_stored_as_json_text(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    batch = PredictionBatch(new_row_ids(3), time.time_ns(), "m", "1", {"x": np.array([1.0, 2.0, 3.0])},
                            [1.5, {"class": "a"}, 2**64])
    with InferenceLog(path) as log:
        log.submit_predictions(batch).result(timeout=30)
    assert read_inference_log(path)["prediction"].tolist() == [1.5, '{"class": "a"}', "18446744073709551616"]


def test_the_features_of_a_model_version_are_fixed_by_its_first_request(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with InferenceLog(path) as log:
        log.submit_predictions(rows({"a": [1.0], "b": [2.0]})).result(timeout=30)
        log.submit_predictions(rows({"b": [3.0], "a": [4.0]})).result(timeout=30)  # the order does not matter
        for grown in ({f"c{i}": [1.0] for i in range(100)} | {"a": [1.0], "b": [1.0]}, {"a": [1.0], "A": [1.0],
                                                                                         "b": [2.0]}):
            with pytest.raises(UnloggableInput, match="expected one of the features that model 'm' version 1 logs"):
                log.submit_predictions(rows(grown))
        with pytest.raises(UnloggableInput, match="Column 'b': expected a value"):
            log.submit_predictions(rows({"a": [1.0]}))
        log.submit_predictions(rows({"a": [5.0], "c": [6.0]}, version="2")).result(timeout=30)  # a new version
    assert columns_of(path) == ["seq", "id", "ts", "model_name", "model_version", "prediction", "f0", "f1", "f2"]
    with InferenceLog(path) as log:  # the fixed sets are in the log: they hold after a restart
        with pytest.raises(UnloggableInput, match="version 2 logs"):
            log.submit_predictions(rows({"a": [1.0], "d": [1.0]}, version="2"))
        with pytest.raises(UnloggableInput, match="at most 1000 features"):
            log.submit_predictions(rows({f"c{i}": [1.0] for i in range(999)}, version="3"))
    frame = read_inference_log(path)
    assert frame["a"].tolist() == [1.0, 4.0, 5.0] and frame["c"].isna().tolist() == [True, True, False]


def test_a_label_is_never_silently_replaced(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with InferenceLog(path) as log:
        ids = list(rows({"x": [1.0, 2.0, 3.0]}).ids)
        assert log.submit_feedback([(ids[0], 1), (ids[1], "yes")]).result(timeout=30).accepted == 2
        assert log.submit_feedback([(ids[0], 1.0), (ids[1], "yes")]).result(timeout=30).overwritten_ids == ()
        with pytest.raises(LabelConflict) as caught:  # one conflicting label: nothing of the request is stored
            log.submit_feedback([(ids[2], 0), (ids[0], 2)]).result(timeout=30)
        assert caught.value.ids == (ids[0],) and "overwrite" in caught.value.message
        with pytest.raises(LabelConflict):  # two different labels for one id in one request
            log.submit_feedback([(ids[2], 0), (ids[2], 1)]).result(timeout=30)
        result = log.submit_feedback([(ids[0], 2), (ids[2], 0)], overwrite=True).result(timeout=30)
        assert result.accepted == 2 and result.overwritten_ids == (ids[0],)
    history = read_label_history(path)
    assert history["id"].tolist() == [ids[0], ids[1], ids[0], ids[1], ids[0], ids[2]]
    assert history["label"].tolist() == [1, "yes", 1, "yes", 2, 0]
    assert history["orphan"].all() and str(history["label_timestamp"].dtype) == "datetime64[ns, UTC]"


LAYOUT_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE features (name TEXT PRIMARY KEY, dtype TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE predictions (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, ts INTEGER NOT NULL,
    model_name TEXT NOT NULL, model_version TEXT NOT NULL, prediction, "F2", "fixed acidity");
CREATE INDEX predictions_ts ON predictions (ts);
CREATE TABLE feedback (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, label, ts INTEGER NOT NULL, orphan INTEGER NOT NULL);
CREATE TABLE labels (id TEXT PRIMARY KEY, label, ts INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta VALUES ('format', 'driftloop-inference-log'), ('version', '1');
INSERT INTO features VALUES ('F2', 'int64', 0), ('fixed acidity', 'float64', 1);
INSERT INTO predictions VALUES (1, 'old-1', 1700000000000000000, 'm', '1', 5.0, 3, 7.4);
INSERT INTO feedback VALUES (1, 'old-1', 6, 1700000000000000001, 0);
INSERT INTO labels VALUES ('old-1', 6, 1700000000000000001);
"""
"""A log as driftloop wrote it before layout 2 (features stored under their own names)."""


def test_a_log_of_the_previous_layout_is_read_and_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(LAYOUT_1)
    old = read_inference_log(path)
    assert old["F2"].tolist() == [3] and old["fixed acidity"].tolist() == [7.4] and old["label"].tolist() == [6.0]
    with InferenceLog(path) as log:
        log.submit_predictions(rows({"F2": [4], "fixed acidity": [7.0], "ts": [9.0]}, version="2")).result(timeout=30)
        with pytest.raises(LabelConflict):
            log.submit_feedback([("old-1", 5)]).result(timeout=30)
    frame = read_inference_log(path)
    assert frame["F2"].tolist() == [3, 4] and frame["ts"].isna().tolist() == [True, False]
    assert columns_of(path)[-3:] == ["F2", "fixed acidity", "_f2"]  # "f2" would collide with "F2"
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT value FROM meta WHERE key = 'version'").fetchone() == ("2",)
        assert json.loads(connection.execute("SELECT names FROM feature_sets").fetchone()[0]) == [
            "F2", "fixed acidity", "ts"]


def test_a_log_of_a_newer_layout_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with InferenceLog(path):
        pass
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE meta SET value = '3' WHERE key = 'version'")
    for open_log in (read_inference_log, lambda p: InferenceLog(p).start()):
        with pytest.raises(DriftloopError, match="layout version 3, which this driftloop cannot read"):
            open_log(path)
