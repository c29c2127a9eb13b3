"""``driftloop monitor --engine spark`` on a ``driftloop log export`` of two replicas gives the numpy engine's
figures: the labels that reached the other replica are matched (the newest label of an id wins), a feature named
``date`` stays the feature (not Spark's partition key), the streaming detectors' detections are counted in their
windows, and labels of unknown predictions are reported. Real inference logs written by the log writer (with its
default ADWIN detectors), the real export, the real CLI, real MLflow."""

from __future__ import annotations


import numpy as np
import pandas as pd
from click.testing import CliRunner
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

from driftloop.cli.main import cli
from driftloop.data.inference_log import InferenceLog, PredictionBatch, new_row_ids, read_stream_events
from driftloop.data.log_export import export_log, read_log_export
from driftloop.data.log_streams import DEFAULT_STREAMS
from driftloop.tracking.monitoring import read_state
from tests.conftest import register_champion
from tests.monitor.test_late_data import _chart, _runs
from tests.spark.test_spark_monitor import NUMPY_ONLY, assert_same_figures

DAY = 86_400 * 10**9
START = pd.Timestamp("2024-03-04", tz="UTC").value
BATCH, ROWS = 40, 960
FEATURES = ["date", "temp (°C)"]  # a feature named as the export's partition key, and an awkward name


def _table(rng: np.random.Generator, n: int) -> pd.DataFrame:
    frame = pd.DataFrame({"date": rng.normal(size=n), "temp (°C)": rng.normal(20, 5, size=n)})
    frame["y"] = 2 * frame["date"] + 0.1 * frame["temp (°C)"] + rng.normal(0, 0.5, size=n)
    return frame


def _cli(*args: str):
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})
    assert result.exit_code in (0, 3), result.output
    assert "Traceback" not in result.output, result.output
    return result.output


def _monitored_model(folder) -> tuple[str, LinearRegression]:
    """Model ``m@champion`` (a linear regression on ``date`` and ``temp (°C)``) with its reference profile."""
    rng = np.random.default_rng(1)
    reference = _table(rng, 2000)
    model = LinearRegression().fit(reference[FEATURES], reference["y"])
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    register_champion(uri, "m", model, reference[FEATURES])
    reference.to_csv(folder / "reference.csv", index=False)
    _cli("profile", "--model", "m@champion", "--data", str(folder / "reference.csv"), "--target", "y",
         "--tracking-uri", uri)
    return uri, model


def _two_replica_export(folder, model: LinearRegression, names: tuple[str, str] = ("a", "b")) -> tuple[str, int]:
    """Rows served by replicas a and b in turn over 6 days, the last three with ``date`` shifted (ADWIN detects the
    change in the predictions); each batch's labels go half to the replica that served it and half to the other, one
    label is sent again later to the other replica with another value, and one label names no prediction. The
    export folder and the number of detections."""
    rng = np.random.default_rng(2)
    served = _table(rng, ROWS)
    logs = [folder / "a.db", folder / "b.db"]
    with InferenceLog(logs[0], streams=DEFAULT_STREAMS) as a, InferenceLog(logs[1], streams=DEFAULT_STREAMS) as b:
        replicas = [a, b]
        ids = []
        for number, start in enumerate(range(0, ROWS, BATCH)):
            day = number * 6 // (ROWS // BATCH)
            rows = served.iloc[start: start + BATCH].copy()
            if day >= 3:
                rows["date"] += 1.5
                rows["y"] += 3.0
            stamp = START + day * DAY + number * 10**9
            batch = PredictionBatch(new_row_ids(len(rows), stamp), stamp, "m", "1",
                                    {name: rows[name].to_numpy() for name in FEATURES},
                                    model.predict(rows[FEATURES]).tolist())
            own, other = replicas[number % 2], replicas[1 - number % 2]
            own.submit_predictions(batch).result()
            labels = list(zip(batch.ids, rows["y"].astype(float), strict=True))
            own.submit_feedback(labels[: BATCH // 2]).result()
            other.submit_feedback(labels[BATCH // 2:]).result()  # orphans of the other replica
            ids.append(batch.ids)
        b.submit_feedback([(ids[0][0], 99.0)]).result()  # newer than replica a's own label: it wins
        a.submit_feedback([("no-such-prediction", 5.0)]).result()
    export = folder / "export"
    for name, log in zip(names, logs, strict=True):
        export_log(log, export, name)
    return str(export), sum(len(read_stream_events(log)) for log in logs)


def test_spark_engine_reads_a_replicas_export_as_the_numpy_engine(spark, workdir):
    uri, model = _monitored_model(workdir)
    export, detections = _two_replica_export(workdir, model)
    union = read_log_export(export)
    assert union["label"].notna().sum() == ROWS and detections > 0  # every label matched; ADWIN fired
    assert (union["label"] == 99.0).sum() == 1
    for engine in ("numpy", "spark"):
        out = _cli("monitor", "--model", "m@champion", "--data", export, "--timestamp-column", "timestamp",
                   "--window", "1d", "--experiment", engine, "--engine", engine, "--tracking-uri", uri)
        assert "1 label(s) in the export match no prediction of its replicas" in " ".join(out.split())
    client = MlflowClient(uri)
    expected, got = _chart(client, "numpy"), _chart(client, "spark")
    assert {k for k in expected if k not in got} <= {k for k in expected if k.startswith(NUMPY_ONLY)}
    assert set(got) <= set(expected)
    assert {"performance/mae", "coverage/labels", "drift/date/ks", "stream/adwin/predictions"} <= set(got)
    assert all(value == 1.0 for value in got["coverage/labels"].values())  # the other replica's labels too
    assert_same_figures(got, expected)
    assert sum(sum(got[k].values()) for k in got if k.startswith("stream/")) == detections
    reasons = {engine: {index: [r for r in window.reasons if r.startswith("stream drift: ")]
                        for index, window in read_state(client, _runs(client, engine)[0].info.run_id).closed.items()}
               for engine in ("numpy", "spark")}
    assert reasons["spark"] == reasons["numpy"] and any(reasons["numpy"].values())


def test_count_windows_of_an_export_follow_the_numpy_engines_row_order(spark, workdir):
    """``--rows 100`` on an export: the rows in the order of their log time, ties (a batch's rows share their time)
    in file order, the files in the numpy engine's path order (replica ``r`` before ``r-1``, which a comparison of
    the whole paths' text would reverse)."""
    uri, model = _monitored_model(workdir)
    export, _ = _two_replica_export(workdir, model, names=("r", "r-1"))
    for engine in ("numpy", "spark"):
        _cli("monitor", "--model", "m@champion", "--data", export, "--rows", "100", "--experiment", engine,
             "--engine", engine, "--tracking-uri", uri)
    client = MlflowClient(uri)
    expected, got = _chart(client, "numpy"), _chart(client, "spark")
    assert set(got) <= set(expected) and {"performance/mae", "drift/date/ks"} <= set(got)
    assert len(got["performance/mae"]) >= 8
    assert_same_figures(got, expected)
