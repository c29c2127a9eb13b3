"""One SparkSession in ``local[2]`` for the whole test session (Spark's start-up costs seconds); the Spark tests
skip with the reason when PySpark or Java is missing."""

from __future__ import annotations

import pytest

from driftloop.spark.session import spark_available


@pytest.fixture(scope="session")
def spark():
    missing = spark_available()
    if missing is not None:
        pytest.skip(missing)
    from driftloop.spark.session import spark_session

    session = spark_session("local[2]")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
