"""Acceptance on real data: the bike-sharing model trained on January-March 2011 degrades, and driftloop says so."""

import json
import re

import numpy as np
import pytest
import pandas as pd
from click.testing import CliRunner

from driftloop.cli.main import cli
from driftloop.demo.bike import TARGET, TIMESTAMP, load_hourly, production_stream, train_champion
from driftloop.monitor.job import MonitorOptions, run_monitor
from driftloop.tracking import connect


def test_weekly_windows_show_mae_growing_and_raise_an_alert(workdir):
    client = connect()
    frame = load_hourly()
    trained = train_champion(client, frame)
    production = workdir / "production.parquet"
    production_stream(frame).to_parquet(production, index=False)
    outcome = run_monitor(client, "bike-sharing@champion", str(production),
                          MonitorOptions(timestamp_column=TIMESTAMP, window="7d", target=TARGET))
    training_mae = client.get_run(trained.run_id).data.metrics["mae"]
    weeks = pd.DataFrame({
        "start": [w.start for w in outcome.new_windows],
        "mae": [w.metrics.get("performance/mae", np.nan) for w in outcome.new_windows],
        "verdict": [w.verdict for w in outcome.new_windows],
    })
    from_october = weeks[weeks["start"] >= pd.Timestamp("2011-10-01", tz="UTC")]
    late_2011 = from_october[from_october["start"] < pd.Timestamp("2012-01-01", tz="UTC")]["mae"].mean()
    mid_2012 = from_october[(from_october["start"] >= pd.Timestamp("2012-04-01", tz="UTC"))
                            & (from_october["start"] < pd.Timestamp("2012-10-01", tz="UTC"))]["mae"].mean()
    assert training_mae < late_2011 < mid_2012
    assert mid_2012 > 3 * training_mae
    assert (from_october["verdict"] == "alert").any()
    alert_reasons = " ".join(r for w in outcome.new_windows for r in w.reasons)
    assert "performance degraded (mae)" in alert_reasons


def test_demo_closes_the_loop_writes_only_the_store_and_runs_twice_without_duplicates(workdir):
    """`make demo`: the first champion alerts, the retrain loop promotes a challenger whose alerts clear on the same
    weeks; nothing but the MLflow store lands in the working folder; a second run adds nothing."""
    first = CliRunner().invoke(cli, ["demo"], env={"COLUMNS": "80"})
    assert first.exit_code == 0, first.output
    text = " ".join(first.output.split())
    assert "Trained and registered bike-sharing version 1" in text
    assert "Promoted: bike-sharing@champion is version 3 (previous-champion: 1)" in text
    same_weeks = re.search(r"Alerts in these (\d+) weeks: (\d+) with version 1, (\d+) with version 3\.", text)
    assert same_weeks, first.output
    weeks, old_alerts, new_alerts = map(int, same_weeks.groups())
    # measured before the refit: 23 of 27 weeks with version 1, 8 with the retrained one (it is not always better than
    # the same hour a week earlier, and says so)
    assert weeks >= 20 and old_alerts >= weeks * 2 // 3 and 2 * new_alerts <= old_alerts, same_weeks.group(0)
    assert "driftloop ui" in text
    written = {path.name for path in workdir.iterdir() if not path.name.endswith(".driftloop.lock")}  # git-ignored
    assert written <= {"mlflow.db", "mlruns"}, written
    client = connect()
    champion = client.get_model_version_by_alias("bike-sharing", "champion")
    assert str(champion.version) == "3" and client.get_run(champion.run_id).data.metrics["mae"] > 0

    second = CliRunner().invoke(cli, ["demo"])
    assert second.exit_code == 0, second.output
    text = " ".join(second.output.split())
    assert "Reusing bike-sharing version 1" in text and "Reusing version 3, promoted by an earlier run" in text
    assert same_weeks.group(0) in text
    runs = client.search_runs([client.get_experiment_by_name("model-monitoring").experiment_id])
    assert sorted(r.data.tags["driftloop.kind"] for r in runs) == ["monitoring", "monitoring", "provisional",
                                                                   "provisional"]  # each version's last week is open
    version_of = {run.info.run_id: run.data.tags.get("driftloop.model_version") for run in runs}
    points = {"1": 0, "3": 0}
    for run in runs:  # an open week's run is the child of its version's monitoring run
        version = run.data.tags.get("driftloop.model_version") or version_of[run.data.tags["mlflow.parentRunId"]]
        points[version] += len(client.get_metric_history(run.info.run_id, "rows"))
    assert points == {"1": 92, "3": weeks}


def test_relative_mae_against_the_same_hour_last_week(workdir):
    """``driftloop monitor --naive-lag 7d``: the model's MAE over the naive forecast's, checked on every window
    against an independent computation (the registered model reloaded, the naive forecast by a pandas merge)."""
    import mlflow

    client = connect()
    frame = load_hourly()
    train_champion(client, frame)
    data = frame[(frame[TIMESTAMP] >= pd.Timestamp("2011-03-01", tz="UTC"))
                 & (frame[TIMESTAMP] < pd.Timestamp("2011-05-01", tz="UTC"))]
    data.to_parquet(workdir / "spring.parquet", index=False)
    result = CliRunner().invoke(cli, ["monitor", "--model", "bike-sharing@champion", "--data", "spring.parquet",
                                      "--timestamp-column", TIMESTAMP, "--window", "7d", "--target", TARGET,
                                      "--naive-lag", "7d", "--format", "json"])
    assert result.exit_code in (0, 3), result.output
    windows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    model = mlflow.pyfunc.load_model("models:/bike-sharing@champion")
    features = model.metadata.get_input_schema().input_names()
    earlier = data[[TIMESTAMP, TARGET]].assign(**{TIMESTAMP: data[TIMESTAMP] + pd.Timedelta(days=7)})
    with_naive = data.merge(earlier.rename(columns={TARGET: "naive"}), on=TIMESTAMP, how="left")
    checked = 0
    for window in windows:
        start, end = pd.Timestamp(window["start"]), pd.Timestamp(window["end"])
        rows = with_naive[(with_naive[TIMESTAMP] >= start) & (with_naive[TIMESTAMP] < end)].dropna(subset=["naive"])
        relative = window["metrics"].get("performance/relative_mae")
        if rows.empty:
            assert relative is None or np.isnan(relative)
            continue
        predicted = np.asarray(model.predict(rows[features]), dtype=float)
        expected = np.mean(np.abs(predicted - rows[TARGET])) / np.mean(np.abs(rows["naive"] - rows[TARGET]))
        assert relative == pytest.approx(expected, rel=1e-9)
        checked += 1
    assert checked >= 6  # every window after the first week
    missing_labels = CliRunner().invoke(cli, ["monitor", "--model", "bike-sharing@champion", "--data",
                                              "spring.parquet", "--timestamp-column", TIMESTAMP, "--window", "7d",
                                              "--naive-lag", "7d"])
    assert missing_labels.exit_code == 1 and "--naive-lag needs the labels" in missing_labels.output
    bad_lag = CliRunner().invoke(cli, ["monitor", "--model", "bike-sharing@champion", "--data", "spring.parquet",
                                       "--timestamp-column", TIMESTAMP, "--target", TARGET, "--naive-lag", "a week"])
    assert bad_lag.exit_code == 1 and "'naive-lag' option must be a positive length" in bad_lag.output
    # two series in one file: without --naive-series the benchmark is ambiguous; with it, each city its own
    cities = pd.concat([data.assign(city="a"), data.assign(city="b", **{TARGET: data[TARGET] * 2})])
    cities.to_parquet(workdir / "cities.parquet", index=False)
    base = ["monitor", "--model", "bike-sharing@champion", "--data", "cities.parquet", "--timestamp-column",
            TIMESTAMP, "--window", "7d", "--target", TARGET, "--naive-lag", "7d"]
    ambiguous = CliRunner().invoke(cli, [*base, "--experiment", "cities-1"])
    assert ambiguous.exit_code == 1 and "one label per time stamp" in ambiguous.output
    assert "--naive-series" in ambiguous.output
    absent = CliRunner().invoke(cli, [*base, "--naive-series", "station"])
    assert absent.exit_code == 1 and "--naive-series column(s) 'station' are not in the data" in absent.output
    per_city = CliRunner().invoke(cli, [*base, "--naive-series", "city", "--experiment", "cities-2", "--format", "json"])
    assert per_city.exit_code in (0, 3), per_city.output
    last = [json.loads(line) for line in per_city.output.splitlines() if line.startswith("{")][-1]
    rows = cities[(cities[TIMESTAMP] >= pd.Timestamp(last["start"])) & (cities[TIMESTAMP] < pd.Timestamp(last["end"]))]
    earlier = cities[["city", TIMESTAMP, TARGET]].assign(**{TIMESTAMP: cities[TIMESTAMP] + pd.Timedelta(days=7)})
    rows = rows.merge(earlier.rename(columns={TARGET: "naive"}), on=["city", TIMESTAMP], how="inner")
    predicted = np.asarray(model.predict(rows[features]), dtype=float)
    expected = np.mean(np.abs(predicted - rows[TARGET])) / np.mean(np.abs(rows["naive"] - rows[TARGET]))
    assert last["metrics"]["performance/relative_mae"] == pytest.approx(expected, rel=1e-9)
    no_lag = CliRunner().invoke(cli, [*base[:-2], "--naive-series", "city"])
    assert no_lag.exit_code == 1 and "give --naive-lag too" in no_lag.output
