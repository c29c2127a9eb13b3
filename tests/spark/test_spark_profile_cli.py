"""``driftloop profile --engine spark`` in ``local[2]``: the real wine model scores the reference in Spark and the
profile attached to the model version equals the numpy engine's profile of the same Parquet folder; numbers stored as
text are read as the numpy engine reads them; bad input gets one-line errors. Real MLflow on SQLite, the real CLI."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

from driftloop.cli.main import cli
from driftloop.monitor.job import SPARK_PROFILE_ONLY
from driftloop.tracking.models import resolve_model
from driftloop.tracking.profiles import load_model_profile
from tests.conftest import copy_store
from tests.monitor.test_coverage import stable_red
from tests.spark.test_spark_profile import assert_same_profile, write_parquet

MODEL = "wine-quality@champion"


@pytest.fixture
def wine_store(trained_wine_store, workdir):
    return copy_store(trained_wine_store, workdir)


def _profile(store: str, folder, *options: str):
    return CliRunner().invoke(cli, ["profile", "--model", MODEL, "--data", str(folder), "--multivariate", "none",
                                    "--tracking-uri", store, *options])


def _attached(store: str):
    client = MlflowClient(store)
    return load_model_profile(client, resolve_model(client, MODEL))


def test_spark_profile_of_the_wine_reference_equals_the_numpy_profile(spark, wine_store, workdir):
    folder = write_parquet(stable_red().drop(columns=["id"]), workdir / "reference", rows_per_file=110)
    numpy_run = _profile(wine_store, folder)
    assert numpy_run.exit_code == 0, numpy_run.output
    expected = _attached(wine_store)
    spark_run = _profile(wine_store, folder, "--engine", "spark")
    assert spark_run.exit_code == 0, spark_run.output
    assert "Attached a reference profile of 12 column(s) (1200 rows)" in spark_run.output
    assert " ".join(SPARK_PROFILE_ONLY[1:].split()) in " ".join(spark_run.output.split())  # said, capitalised
    assert_same_profile(_attached(wine_store), expected)


def test_spark_profile_reads_numbers_stored_as_text_and_names_a_column_that_is_not(spark, wine_store, workdir):
    text = stable_red(300).drop(columns=["id"])
    text = text.astype({c: "str" for c in text.columns if c != "quality"})
    folder = write_parquet(text, workdir / "text", rows_per_file=100)
    assert _profile(wine_store, folder).exit_code == 0
    expected = _attached(wine_store)
    result = _profile(wine_store, folder, "--engine", "spark")
    assert result.exit_code == 0, result.output
    assert_same_profile(_attached(wine_store), expected)
    text.loc[7, "pH"] = "3,2"
    broken = write_parquet(text, workdir / "broken", rows_per_file=100)
    result = _profile(wine_store, broken, "--engine", "spark")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "The reference column 'pH' must hold numbers (the model's signature says so); 1 value(s) are not, " \
           "such as '3,2'." in result.output


def test_bad_input_to_spark_profile_gets_one_line_errors(spark, wine_store, workdir):
    reference = stable_red(50).drop(columns=["id"])
    lacking = write_parquet(reference.drop(columns=["pH"]), workdir / "lacking", rows_per_file=100)
    empty = workdir / "empty"
    empty.mkdir()
    pq.write_table(pa.Table.from_pandas(reference.iloc[:0], preserve_index=False), empty / "part-0.parquet")
    cases = [((lacking,), "The reference data lacks column(s) the model expects: pH."),
             ((empty,), "The reference data has no rows: there is nothing to profile."),
             ((lacking, "--target", "quality"), "--target needs --engine numpy"),
             ((workdir / "nowhere",), "Spark could not read")]
    for (folder, *options), message in cases:
        result = _profile(wine_store, folder, "--engine", "spark", *options)
        errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
        assert result.exit_code == 1 and len(errors) == 1 and message in errors[0], result.output
        assert "Traceback" not in result.output
