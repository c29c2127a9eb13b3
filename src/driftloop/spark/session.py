"""The SparkSession of the Spark engine: ``local[*]`` unless a master is given (``--spark-master`` or the
``SPARK_MASTER`` of a cluster's ``spark-submit``), UTC session time zone (window bounds are UTC), no UI.

A local session that driftloop starts itself binds to the loopback address and logs with ``log4j2.properties``
beside this module (Spark's warnings, not its start-up chatter), where the user has not configured them
(``SPARK_LOCAL_IP``; ``SPARK_CONF_DIR``, ``PYSPARK_SUBMIT_ARGS``); a cluster's ``spark-submit`` keeps its own."""

from __future__ import annotations

import os
import shutil
import sys
import warnings

from pathlib import Path

from driftloop.errors import DriftloopError

#: Shuffle partitions of the engine's sorts and aggregations when none is configured: enough to keep every core of
#: a small cluster busy, few enough that a laptop does not pay for hundreds of tiny tasks.
DEFAULT_SHUFFLE_PARTITIONS = 8

LOG_CONFIGURATION = Path(__file__).with_name("log4j2.properties")


def spark_available() -> str | None:
    """``None`` when the Spark engine can run here, else why not (for an error or a skipped test)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "the Spark engine needs PySpark: pip install 'driftloop[spark]'"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "the Spark engine needs Java 17 or later (no java on PATH and no JAVA_HOME)"
    return None


def spark_session(master: str | None = None):
    """The active SparkSession, or a new one on ``master`` (default ``local[*]``)."""
    missing = spark_available()
    if missing is not None:
        raise DriftloopError(missing[0].upper() + missing[1:] + ".")
    from pyspark.sql import SparkSession

    # PySpark warns on every pandas-backed call that it "does not yet fully support pandas >= 3.0.0"; the engine
    # hands it Arrow batches and plain columns, which tests/spark checks against the numpy engine
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    builder = SparkSession.builder.appName("driftloop")
    if master is not None or not os.environ.get("SPARK_MASTER"):
        builder = builder.master(master or "local[*]")
        if (master or "local").startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
            # local workers: this interpreter and its packages (Spark starts the resolved binary, outside a venv)
            builder = (builder.config("spark.pyspark.python", sys.executable)
                       .config("spark.executorEnv.PYTHONPATH", os.pathsep.join(p for p in sys.path if p)))
        if (master or "local").startswith("local"):
            builder = _quiet_local_jvm(builder)
    return (builder.config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")  # stage bars would overwrite the monitor's own output
            .config("spark.sql.shuffle.partitions", str(DEFAULT_SHUFFLE_PARTITIONS))
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate())


def _quiet_local_jvm(builder):
    """A local session's JVM: bound to the loopback address (Spark otherwise warns that the host name resolves to
    it and picks another interface) and logging with :data:`LOG_CONFIGURATION`, where the user set neither."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # read by the JVM that PySpark starts, before its conf
    if not any(os.environ.get(name) for name in ("SPARK_CONF_DIR", "PYSPARK_SUBMIT_ARGS", "JDK_JAVA_OPTIONS")):
        builder = builder.config("spark.driver.extraJavaOptions",
                                 f"-Dlog4j2.configurationFile={LOG_CONFIGURATION.as_uri()}")
    return builder


def spark_path(path: str) -> str:
    """``path`` as Spark should read it: a local path made absolute (the JVM resolves relative paths against its own
    working folder, which is not this process's once the session was started elsewhere); URIs (``s3a://``,
    ``hdfs://``, ``file:``) unchanged.

    >>> spark_path("s3a://bucket/logs"), spark_path("/data/logs")
    ('s3a://bucket/logs', '/data/logs')
    """
    if "://" in path or path.startswith("file:"):
        return path
    return os.path.abspath(path)


def read_parquet(spark, data_path: str):
    """The Parquet file or folder ``data_path`` (:func:`spark_path`) as a Spark DataFrame; a path Spark cannot read
    (no Parquet files, a schema conflict) is a one-line error."""
    try:
        return spark.read.parquet(spark_path(data_path))
    except Exception as error:  # Spark's AnalysisException
        raise DriftloopError(f"Spark could not read {data_path!r}: {str(error).splitlines()[0]}") from None
