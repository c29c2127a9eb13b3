"""Acceptance on real data: the bike-sharing model trained on January-March 2011 degrades, and driftloop says so."""

import json

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


def test_demo_runs_twice_without_duplicating_anything(workdir):
    first = CliRunner().invoke(cli, ["demo", "--skip-simulation"])
    assert first.exit_code == 0, first.output
    assert "Trained and registered bike-sharing version 1" in first.output
    assert "driftloop ui" in first.output
    second = CliRunner().invoke(cli, ["demo", "--skip-simulation"])
    assert second.exit_code == 0, second.output
    assert "Reusing bike-sharing version 1" in second.output
    client = connect()
    runs = client.search_runs([client.get_experiment_by_name("model-monitoring").experiment_id])
    assert sorted(r.data.tags["driftloop.kind"] for r in runs) == ["monitoring", "provisional"]
    assert sum(len(client.get_metric_history(r.info.run_id, "rows")) for r in runs) == 92  # the last week is open


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
