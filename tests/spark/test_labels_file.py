"""``driftloop monitor --engine spark --labels PATH`` joins late labels by id as the numpy engine does: the last
label of a repeated id wins (in the file's row order, a Parquet folder's files in path order), labels of unknown
ids are noted, and the figures equal the numpy engine's. Labels in a CSV file and in a Parquet folder of two files."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from tests.monitor.test_late_data import _chart
from tests.spark.test_log_export import _cli, _monitored_model, _table
from tests.spark.test_spark_monitor import NUMPY_ONLY, assert_same_figures

ROWS = 900


def _data_and_labels(folder) -> tuple[str, pd.DataFrame]:
    """Rows with ids over 3 days (no label in them) as a Parquet folder, and their labels: 80 % of the ids, 40
    of them twice (the second value wins), and 5 for ids the data does not hold."""
    rng = np.random.default_rng(4)
    data = _table(rng, ROWS)
    data.insert(0, "row id", [f"r-{i}" for i in range(ROWS)])
    data["ts"] = pd.Timestamp("2024-05-01", tz="UTC") + pd.to_timedelta(np.arange(ROWS) * 288, unit="s")
    folder.mkdir()
    for part, rows in enumerate(np.array_split(np.arange(ROWS), 3)):
        pq.write_table(pa.Table.from_pandas(data.iloc[rows].drop(columns=["y"]), preserve_index=False),
                       folder / f"part-{part}.parquet")
    labelled = data.sample(frac=0.8, random_state=1)[["row id", "y"]]
    again = labelled.iloc[:40].assign(y=lambda f: f["y"] + 10.0)
    unknown = pd.DataFrame({"row id": [f"gone-{i}" for i in range(5)], "y": rng.normal(size=5)})
    return str(folder), pd.concat([labelled, again, unknown], ignore_index=True)


@pytest.mark.parametrize("form", ["csv", "parquet folder"])
def test_spark_engine_joins_a_labels_file_as_the_numpy_engine(spark, workdir, form):
    uri, _ = _monitored_model(workdir)
    data, labels = _data_and_labels(workdir / "data")
    if form == "csv":
        path = workdir / "labels.csv"
        labels.to_csv(path, index=False)
    else:
        path = workdir / "labels"
        path.mkdir()
        half = len(labels) // 2  # the repeated ids' second labels are in the second file, in path order
        # ("labels a b" < "labels a!b"); Spark's URIs sort the other way ("labels a%20b" > "labels a!b")
        pq.write_table(pa.Table.from_pandas(labels.iloc[:half], preserve_index=False), path / "labels a b.parquet")
        pq.write_table(pa.Table.from_pandas(labels.iloc[half:], preserve_index=False), path / "labels a!b.parquet")
    for engine in ("numpy", "spark"):
        out = " ".join(_cli("monitor", "--model", "m@champion", "--data", data, "--timestamp-column", "ts",
                            "--window", "1d", "--labels", str(path), "--id-column", "row id", "--target", "y",
                            "--experiment", engine, "--engine", engine, "--tracking-uri", uri).split())
        assert "40 label(s) repeat an id: the last one of each id is used" in out, out
        assert "5 label(s) are for ids not in the data (not used)" in out, out
    client = MlflowClient(uri)
    expected, got = _chart(client, "numpy"), _chart(client, "spark")
    assert {k for k in expected if k not in got} <= {k for k in expected if k.startswith(NUMPY_ONLY)}
    assert set(got) <= set(expected) and {"performance/mae", "coverage/labels", "drift/date/ks"} <= set(got)
    assert_same_figures(got, expected)
    assert sum(got["performance/labelled_rows"].values()) == round(0.8 * ROWS)
