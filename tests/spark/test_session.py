"""A local session that driftloop starts prints Spark's warnings, not the JVM's start-up chatter."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from driftloop.spark.session import spark_available

START_A_SESSION = """
from driftloop.spark.session import spark_session
session = spark_session("local[1]")
print(session.range(5).count())
session.stop()
"""


def test_a_local_session_starts_without_spark_start_up_chatter() -> None:
    missing = spark_available()
    if missing is not None:
        pytest.skip(missing)
    env = {k: v for k, v in os.environ.items()
           if k not in ("SPARK_LOCAL_IP", "SPARK_CONF_DIR", "PYSPARK_SUBMIT_ARGS", "JDK_JAVA_OPTIONS")}
    done = subprocess.run([sys.executable, "-c", START_A_SESSION], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5"
    for chatter in ("log4j profile", "Setting default log level", "NativeCodeLoader", "resolves to a loopback address"):
        assert chatter not in done.stderr, done.stderr
