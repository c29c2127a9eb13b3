"""``driftloop monitor --engine spark --spark-partitions N``: the shuffle of numeric values by (window, column)
runs in N tasks, with the numpy engine's figures."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
from click.testing import CliRunner
from mlflow import MlflowClient

from driftloop.cli.main import cli
from tests.monitor.test_late_data import _runs, _series
from tests.spark.test_count_windows import ROWS, _store
from tests.spark.test_spark_monitor import assert_same_figures


def _shuffle_tasks(spark, before: set[int]) -> int:
    """The tasks of the last stage started since the jobs ``before`` from :mod:`driftloop.spark.ecdf`: the reduce
    side of its shuffle (Spark's adaptive execution runs the map side as jobs of their own, before)."""
    tracker = spark.sparkContext.statusTracker()
    stages = [tracker.getStageInfo(stage) for job in set(tracker.getJobIdsForGroup()) - before
              for stage in tracker.getJobInfo(job).stageIds]
    return max((s for s in stages if s is not None and "ecdf.py" in s.name), key=lambda s: s.stageId).numTasks


def test_spark_partitions_sets_the_shuffles_tasks_and_keeps_the_figures(spark, workdir):
    uri, _, production = _store(workdir, np.random.default_rng(5))
    folder = workdir / "production"
    ds.write_dataset(pa.Table.from_pandas(production, preserve_index=False), folder, format="parquet",
                     max_rows_per_file=400, max_rows_per_group=400, basename_template="part-{i}.parquet")
    tasks = {}
    for engine, args in (("numpy", []), ("spark", ["--spark-partitions", "3"])):  # not the default 8
        before = set(spark.sparkContext.statusTracker().getJobIdsForGroup())
        experiment = f"partitions-{engine}-{'-'.join(args[1:])}"
        result = CliRunner().invoke(cli, ["monitor", "--model", "counted@champion", "--data", str(folder), "--rows",
                                          str(ROWS), "--target", "y", "--engine", engine, "--experiment", experiment,
                                          "--tracking-uri", uri, *args])
        assert result.exit_code in (0, 3), result.output
        if engine == "spark":
            tasks[args[1]] = _shuffle_tasks(spark, before)
    assert tasks == {"3": 3}
    client = MlflowClient(uri)
    expected = _series(client, _runs(client, "partitions-numpy-")[0])
    got = _series(client, _runs(client, "partitions-spark-3")[0])
    assert got.keys() == expected.keys()
    assert_same_figures(got, expected)
