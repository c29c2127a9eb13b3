"""The inference log: group commit, typed round trip, feedback and orphans, reading while writing, export."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftloop.data.inference_log import (
    IdsInLog,
    InferenceLog,
    LabelConflict,
    PredictionBatch,
    UnloggableInput,
    is_inference_log,
    log_summary,
    new_row_ids,
    read_inference_log,
    read_label_history,
)
from driftloop.data.log_export import export_log, read_log_export
from driftloop.errors import DriftloopError

DAY = 86_400 * 10**9


def batch(n: int, *, ts: int | None = None, version: str = "1", seed: int = 0, **extra: np.ndarray) -> PredictionBatch:
    rng = np.random.default_rng(seed)
    ts = time.time_ns() if ts is None else ts
    inputs = {"pH": rng.normal(3.3, 0.1, n), "count": rng.integers(0, 10, n), "flag": rng.random(n) > 0.5, **extra}
    return PredictionBatch(new_row_ids(n, ts), ts, "wine-quality", version, inputs, rng.normal(5, 1, n).tolist())


def test_round_trip_keeps_values_and_dtypes(tmp_path: Path) -> None:
    first = batch(5, color=np.array(["red", "white", "red", "red", "white"], dtype=object))
    with InferenceLog(tmp_path / "log.db") as log:
        log.submit_predictions(first).result()
    frame = read_inference_log(tmp_path / "log.db")
    assert list(frame.columns) == ["id", "timestamp", "model_name", "model_version", "pH", "count", "flag", "color",
                                   "prediction", "label", "label_timestamp"]
    assert frame["id"].tolist() == list(first.ids)
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert (frame["timestamp"].astype("int64") == first.timestamp_ns).all()
    np.testing.assert_array_equal(frame["pH"].to_numpy(), first.inputs["pH"])
    assert frame["count"].dtype == np.int64 and frame["flag"].dtype == bool
    assert frame["color"].tolist() == ["red", "white", "red", "red", "white"]
    assert frame["prediction"].tolist() == list(first.predictions)
    assert frame["label"].isna().all() and frame["label_timestamp"].isna().all()
    assert str(frame["label_timestamp"].dtype) == "datetime64[ns, UTC]"


def test_feedback_joins_labels_and_keeps_orphans(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    rows = batch(3)
    with InferenceLog(path) as log:
        log.submit_predictions(rows).result()
        result = log.submit_feedback([(rows.ids[0], 6), (rows.ids[1], 5.5), ("unknown-id", 4)]).result()
        assert result.accepted == 3 and result.orphan_ids == ("unknown-id",)
        with pytest.raises(LabelConflict, match="1 id"):  # a different label is refused unless asked for
            log.submit_feedback([(rows.ids[0], 7), (rows.ids[2], 1)]).result()
        assert log.submit_feedback([(rows.ids[0], 7)], overwrite=True).result().overwritten_ids == (rows.ids[0],)
        assert log.count_orphans() == 1
    frame = read_inference_log(path)
    assert frame["label"].tolist()[:2] == [7.0, 5.5] and np.isnan(frame["label"].iloc[2])
    assert frame["label_timestamp"].notna().tolist() == [True, True, False]
    assert log_summary(path) == {"predictions": 3, "labels": 3, "orphans": 1}
    history = read_label_history(path)  # every label stored is kept, the replaced one too
    assert history["id"].tolist() == [rows.ids[0], rows.ids[1], "unknown-id", rows.ids[0]]
    assert history["label"].tolist() == [6.0, 5.5, 4.0, 7.0] and history["orphan"].sum() == 1


def test_an_orphan_label_is_reconciled_when_its_prediction_arrives(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    late = batch(1)
    with InferenceLog(path) as log:
        assert log.submit_feedback([(late.ids[0], 3)]).result().orphan_ids == (late.ids[0],)
        log.submit_predictions(late).result()
        assert log.count_orphans() == 0
    assert read_inference_log(path)["label"].tolist() == [3.0]


def test_since_until_and_model_versions(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    day0 = pd.Timestamp("2024-03-01", tz="UTC").value
    with InferenceLog(path) as log:
        for day in range(3):
            log.submit_predictions(batch(2, ts=day0 + day * DAY + 3600 * 10**9, version=str(day + 1))).result()
    assert len(read_inference_log(path)) == 6
    assert read_inference_log(path, since="2024-03-02")["model_version"].tolist() == ["2", "2", "3", "3"]
    assert len(read_inference_log(path, since="2024-03-02", until=pd.Timestamp("2024-03-03"))) == 2
    with pytest.raises(DriftloopError, match="'since'"):
        read_inference_log(path, since="not a date")


def test_a_new_feature_in_a_later_version_adds_a_column(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with InferenceLog(path) as log:
        log.submit_predictions(batch(2)).result()
        log.submit_predictions(batch(1, version="2", alcohol=np.array([11.0]))).result()
    frame = read_inference_log(path)
    assert np.isnan(frame["alcohol"].iloc[0]) and frame["alcohol"].iloc[2] == 11.0


def test_group_commit_shares_commits(tmp_path: Path) -> None:
    commits: list[int] = []
    log = InferenceLog(tmp_path / "log.db", on_commit=lambda requests, rows, seconds: commits.append(requests))
    with log:
        futures = [log.submit_predictions(batch(1, seed=i)) for i in range(200)]
        for future in futures:
            future.result()
    assert sum(commits) == 200 and len(commits) < 200
    assert len(read_inference_log(tmp_path / "log.db")) == 200


def test_readers_work_while_the_writer_writes(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    counts: list[int] = []
    with InferenceLog(path) as log:
        log.submit_predictions(batch(1)).result()
        stop = threading.Event()

        def write() -> None:
            i = 0
            while not stop.is_set():
                log.submit_predictions(batch(10, seed=i)).result()
                i += 1

        writer = threading.Thread(target=write)
        writer.start()
        try:  # 20 reads at least, and until one sees rows the first did not (a loaded machine may starve the writer)
            deadline = time.monotonic() + 60
            while len(counts) < 20 or (counts[-1] == counts[0] and time.monotonic() < deadline):
                counts.append(len(read_inference_log(path)))
        finally:
            stop.set()
            writer.join()
    assert counts == sorted(counts) and counts[-1] > counts[0]
    assert (len(read_inference_log(path)) - 1) % 10 == 0


def test_a_failed_write_is_never_acknowledged(tmp_path: Path) -> None:
    with InferenceLog(tmp_path / "log.db") as log:
        bad = batch(1, prediction=np.array([1.0]))  # a feature named like a column of the reader's frame
        with pytest.raises(UnloggableInput, match="Column 'prediction': expected a feature name other than"):
            log.submit_predictions(bad).result()
        log.submit_predictions(batch(1)).result()  # the writer goes on
    assert len(read_inference_log(tmp_path / "log.db")) == 1


def test_ids_already_in_the_log_fail_their_batch_alone(tmp_path: Path) -> None:
    """A batch reusing logged ids (or holding an id twice) is refused whole with IdsInLog naming them, whether it
    is committed alone or in a group with other requests, which are written all the same."""
    with InferenceLog(tmp_path / "log.db") as log:
        first = batch(3)
        log.submit_predictions(first).result()
        again = PredictionBatch(["fresh", first.ids[2], first.ids[0]], first.timestamp_ns, "wine-quality", "1",
                                {name: values[:3] for name, values in first.inputs.items()}, [1.0, 2.0, 3.0])
        with pytest.raises(IdsInLog, match="2 prediction id") as caught:
            log.submit_predictions(again).result()
        assert caught.value.ids == (first.ids[2], first.ids[0])
        twice = PredictionBatch(["x", "x"], first.timestamp_ns, "wine-quality", "1",
                                {name: values[:2] for name, values in first.inputs.items()}, [1.0, 2.0])
        others = [batch(1, seed=i) for i in range(30)]
        futures = [log.submit_predictions(b) for b in others[:15]] + [log.submit_predictions(twice)] + \
                  [log.submit_predictions(b) for b in others[15:]]
        outcomes = [future.exception() for future in futures]
    assert isinstance(outcomes[15], IdsInLog) and outcomes[15].ids == ("x",)
    assert outcomes[:15] + outcomes[16:] == [None] * 30
    frame = read_inference_log(tmp_path / "log.db")
    assert frame["id"].tolist() == list(first.ids) + [b.ids[0] for b in others]


def test_a_large_acknowledgement_is_read_whole(tmp_path: Path) -> None:
    """An acknowledgement larger than a pipe's atomic write (4 KiB; here the 2,000 ids of a refused batch) arrives in
    pieces; the acknowledgement thread reads it whole instead of taking a short read for the writer's end."""
    with InferenceLog(tmp_path / "log.db") as log:
        big = batch(2_000)
        log.submit_predictions(big).result()
        with pytest.raises(IdsInLog) as caught:
            log.submit_predictions(big).result(timeout=120)
        assert len(caught.value.ids) == 2_000 and log.state == "ok"
        log.submit_predictions(batch(1, seed=1)).result(timeout=120)
    assert len(read_inference_log(tmp_path / "log.db")) == 2_001


def test_sniffing_and_foreign_files(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert not is_inference_log(other) and not is_inference_log(text) and not is_inference_log(tmp_path / "none")
    with pytest.raises(DriftloopError, match="not a driftloop inference log"):
        InferenceLog(other).start()
    with pytest.raises(DriftloopError, match="not a driftloop inference log"):
        read_inference_log(text)
    with pytest.raises(DriftloopError, match="does not exist"):
        read_inference_log(tmp_path / "missing.db")
    with InferenceLog(tmp_path / "log.db"):
        pass
    assert is_inference_log(tmp_path / "log.db")
    with pytest.raises(DriftloopError, match="synchronous"):
        InferenceLog(tmp_path / "x.db", synchronous="off")


def test_export_writes_daily_partitions_idempotently(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    day0 = pd.Timestamp("2024-03-01", tz="UTC").value
    with InferenceLog(path) as log:
        first = batch(3, ts=day0 + 5)
        log.submit_predictions(first).result()
        log.submit_predictions(batch(2, ts=day0 + DAY + 5)).result()
        files = export_log(path, tmp_path / "out", "a").files
        assert [f.relative_to(tmp_path / "out").parent.as_posix() for f in files] == [
            "date=2024-03-01/replica=a", "date=2024-03-02/replica=a", "_labels/replica=a"]
        log.submit_feedback([(first.ids[0], 6)]).result()
    again = export_log(path, tmp_path / "out", "a").files
    assert again == files and sorted(p.name for p in (tmp_path / "out").rglob("*.parquet")) == [
        "detectors.parquet", "events.parquet", "part-0.parquet", "part-0.parquet", "part-0.parquet"]
    frame = read_log_export(tmp_path / "out")
    assert len(frame) == 5 and frame["label"].notna().sum() == 1
    day = pd.read_parquet(files[0])
    pd.testing.assert_frame_equal(day, read_inference_log(path, until=day0 + DAY))
