"""driftloop simulate on a short slice of the bike data (April-May 2011: 9 weekly windows) to stay fast."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
from click.testing import CliRunner

from driftloop.cli.main import cli
from driftloop.errors import DriftloopError
from driftloop.simulate import RESULT_KEYS, SimulationSettings, parse_policy, simulate
from driftloop.simulate.data import bike_dataset
from driftloop.simulate.replay import window_count

UNTIL = "2011-06-01"


@pytest.fixture(scope="module")
def bike():
    return bike_dataset()


@pytest.fixture(scope="module")
def short():
    return SimulationSettings(until=pd.Timestamp(UNTIL, tz="UTC"))


def test_json_output_has_exactly_the_keys():
    result = CliRunner().invoke(cli, ["simulate", "--data", "bike", "--policy", "never", "--until", UNTIL,
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 2  # the policy, then the naive benchmark (the same hour last week)
    record, naive = map(json.loads, lines)
    assert tuple(record) == tuple(naive) == RESULT_KEYS
    assert record["policy"] == "never" and record["retrains"] == 0 and record["mae"] > 0
    assert naive["policy"] == "naive (7d)" and naive["mae"] > 0 and naive["retrains"] == 0


def test_never_and_schedule(bike, short):
    windows = window_count(bike, short)
    assert windows == 9
    never, every4 = simulate(bike, ["never", "schedule:4"], short)
    assert (never.retrains, never.promotions, never.rejected) == (0, 0, 0)
    assert every4.retrains == windows // 4
    assert every4.promotions + every4.rejected == every4.retrains
    assert len(never.windows) == windows and never.windows[0].metrics["performance/labelled_rows"] == 0  # labels of production rows arrive a week late
    assert never.windows[1].metrics["performance/labelled_rows"] > 0


def test_table_output():
    result = CliRunner().invoke(cli, ["simulate", "--policy", "schedule:13", "--until", "2011-05-01"])
    assert result.exit_code == 0, result.output
    assert "schedule:13" in result.stdout and "retrains" in result.stdout


@pytest.mark.parametrize("value", ["weekly", "schedule:0", "schedule:x"])
def test_bad_policy_is_a_clear_error(value):
    result = CliRunner().invoke(cli, ["simulate", "--policy", value, "--format", "json"])
    assert result.exit_code != 0
    assert "'--policy'" in result.output and repr(value) in result.output


def test_parse_policy_all():
    assert parse_policy("all") == ["never", "schedule:1", "schedule:4", "schedule:13", "drift", "performance"]
    with pytest.raises(DriftloopError, match="--policy"):
        parse_policy("")


def test_wine_replays_red_then_white_wines():
    results = {}
    for policy in ("never", "drift"):
        result = CliRunner().invoke(cli, ["simulate", "--data", "wine", "--policy", policy, "--format", "json"])
        assert result.exit_code == 0, result.output
        results[policy] = json.loads(result.output.strip().splitlines()[-1])
    never, drift = results["never"], results["drift"]
    assert never["retrains"] == 0 and never["alerts"] >= 25  # the white wines drift from the first white week on
    assert drift["retrains"] >= 1 and drift["promotions"] >= 1
    assert drift["mae"] < never["mae"] and drift["rmse"] < never["rmse"]


def test_records_one_run_per_policy(tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = CliRunner().invoke(cli, ["simulate", "--policy", "schedule:2", "--until", "2011-04-21",
                                      "--format", "json", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("simulation")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1 and runs[0].data.params["policy"] == "schedule:2"
    assert runs[0].data.params["naive_lag"] == "7 days 00:00:00"  # the bike data's benchmark: the same hour last week
    assert runs[0].data.metrics["retrains"] == json.loads(result.stdout.splitlines()[-2])["retrains"]  # last: naive
    assert len(client.get_metric_history(runs[0].info.run_id, "window/drift/share")) >= 2


def test_register_keeps_every_replayed_model_in_the_registry(tmp_path):
    from driftloop.tracking import connect

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = CliRunner().invoke(cli, ["simulate", "--data", "wine", "--policy", "schedule:1", "--until", "2024-03-25",
                                      "--tracking-uri", uri, "--register", "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["retrains"] >= 3 and summary["retrains"] == summary["promotions"] + summary["rejected"]
    client = connect(uri)
    name = "simulate-wine-schedule-1"
    versions = {str(v.version): v for v in client.search_model_versions(f"name = '{name}'")}
    # the first champion, one challenger per retrain, and the refit of each validated challenger
    assert summary["promotions"] >= 1 and len(versions) == 1 + summary["retrains"] + summary["promotions"]
    decisions = [versions[v].tags.get("driftloop.decision") for v in sorted(versions, key=int)]
    assert decisions.count("promoted") == 1 + summary["promotions"]
    assert decisions.count("refitted") == summary["promotions"]
    assert decisions.count("rejected") == summary["rejected"] and None not in decisions
    for version in (v for v in versions if versions[v].tags.get("driftloop.decision") == "refitted"):
        refit = versions[str(int(version) + 1)].tags
        assert refit["driftloop.decision"] == "promoted" and refit["driftloop.validated_version"] == version
        assert refit["driftloop.validation.ci_high"] == versions[version].tags["driftloop.validation.ci_high"]
    aliases = client.get_registered_model(name).aliases
    last_promoted = max((v for v, d in zip(sorted(versions, key=int), decisions) if d == "promoted"), key=int)
    assert str(aliases["champion"]) == last_promoted and "challenger" not in aliases
    audit = client.search_runs([client.get_experiment_by_name("retraining").experiment_id])
    assert len(audit) == 1 + summary["retrains"]  # one promotion or rejection per retrain, and the first champion


def test_register_needs_a_store():
    result = CliRunner().invoke(cli, ["simulate", "--data", "wine", "--register"])
    assert result.exit_code != 0 and "'--register' option needs '--tracking-uri'" in result.output


def test_performance_policy_beats_the_seasonal_naive_or_retrains(bike, short):
    """On bike data the performance policy compares the model with the same hour last week (relative MAE, limit 1);
    without the benchmark (--naive-lag none) it compares the MAE with the champion's at training."""
    from driftloop.simulate.replay import simulate_policy

    seasonal = simulate_policy(bike, "performance", short)
    labelled = [w for w in seasonal.windows if w.metrics["performance/labelled_rows"] > 0]
    assert labelled and all("performance/relative_mae" in w.metrics for w in labelled)
    assert seasonal.retrains >= 1 and "performance/relative_mae = " in seasonal.events[0]  # spring: > 1 in May
    plain = simulate_policy(replace(bike, naive_lag=None), "performance", short)
    assert not any("performance/relative_mae" in w.metrics for w in plain.windows)
    assert plain.retrains == 0 or "performance/mae" in plain.events[0]
    result = CliRunner().invoke(cli, ["simulate", "--policy", "never", "--naive-lag", "weekly", "--until", UNTIL])
    assert result.exit_code == 1 and "'--naive-lag' option must be a positive length" in result.output


def test_a_table_with_unlabelled_rows_says_how_many_it_leaves_out(tmp_path, caplog):
    from driftloop.demo.bike import load_hourly
    from driftloop.simulate.data import table_dataset

    frame = load_hourly()
    frame = frame[frame["timestamp"] < pd.Timestamp("2011-03-01", tz="UTC")].drop(columns=["id"])
    frame.loc[frame.index[[5, 50, 500]], "cnt"] = None
    path = tmp_path / "rentals.csv"
    frame.to_csv(path, index=False)
    with caplog.at_level("WARNING", logger="driftloop.simulate.data"):
        dataset = table_dataset(str(path), target="cnt", timestamp="timestamp", train_days=30)
    assert len(dataset.frame) == len(frame) - 3
    assert "3 row(s) of" in caplog.text and "have no 'cnt' value and are left out of the replay" in caplog.text


def test_a_validated_challenger_serves_refitted_on_its_holdout_too(bike, short):
    """With the refit (the default) the promoted model is the estimator fitted on all the labelled rows known at
    the retrain, holdout included; without it, the validated model fitted without the holdout."""
    from driftloop.simulate.replay import PolicyResult, _retrain, challenger_rows, first_champion

    champion = first_champion(bike, short)
    now = pd.Timestamp("2011-05-13", tz="UTC")
    fit_rows, holdout = challenger_rows(bike, short, now)
    features = list(bike.features)
    served = {}
    for refit in (True, False):
        settings = replace(short, refit=refit)
        result = PolicyResult("schedule:1")
        served[refit] = _retrain(bike, settings, champion, now, 5, result, "test", None)
        assert result.promotions == 1, result.events
    everything = pd.concat([fit_rows, holdout])
    expected = bike.make_model().fit(everything[features], everything[bike.target]).predict(holdout[features])
    without = bike.make_model().fit(fit_rows[features], fit_rows[bike.target]).predict(holdout[features])
    assert served[True].model.predict(holdout[features]) == pytest.approx(expected)
    assert served[False].model.predict(holdout[features]) == pytest.approx(without)
    assert len(served[True].training_rows) == len(everything)
    assert served[True].training_metrics == served[False].training_metrics  # the validation's holdout figures


def test_the_champion_is_never_validated_on_rows_it_trained_on():
    """Daily rows: the holdout is the last 24 rows (a week holds 7), so a week after a promotion 17 of them trained
    the refitted champion. Judged on them it would look better than it is; the replay validates only on rows the
    champion has not seen, and keeps it when fewer than the holdout's minimum are left."""
    from driftloop.simulate.data import trump_approval
    from driftloop.simulate.replay import PolicyResult, _retrain, first_champion

    stream = trump_approval()
    # not-worse with an unreachable margin: every challenger that can be validated is promoted
    settings = SimulationSettings(train_days=365, promotion_rule="not-worse", validation_margin=1e9)
    week = pd.Timedelta(days=7)
    champion = first_champion(stream, settings)
    result = PolicyResult("schedule:1")
    champion = _retrain(stream, settings, champion, stream.train_end + week, 0, result, "test")
    assert result.promotions == 1 and "on 24 holdout rows" in result.events[-1], result.events
    assert champion.trained_through == stream.train_end - pd.Timedelta(days=1)
    kept = _retrain(stream, settings, champion, stream.train_end + 2 * week, 1, result, "test")
    assert kept is champion and (result.skipped, result.rejected, result.retrains) == (1, 0, 1)
    assert "(17 of the 24 holdout rows trained the champion)" in result.events[-1], result.events
    _retrain(stream, settings, champion, stream.train_end + 5 * week, 4, result, "test")
    assert result.promotions == 2 and "on 24 holdout rows" in result.events[-1], result.events


def test_skipped_retrains_are_not_counted_as_retrains():
    """On daily rows the weekly schedule fires every window, but a week after a promotion only 7 of the 24 holdout
    rows are unseen by the champion: those retrains train nothing. They are counted as ``skipped``, apart from the
    retrains (challengers trained and judged), in the result and in its JSON row."""
    from driftloop.simulate.data import trump_approval
    from driftloop.simulate.report import as_json_lines

    stream = trump_approval()
    settings = SimulationSettings(train_days=365, until=stream.train_end + pd.Timedelta(days=7 * 9))
    weekly = simulate(stream, ["schedule:1"], settings)[0]
    windows = window_count(stream, settings)
    assert weekly.skipped > 0 and weekly.retrains > 0
    assert weekly.retrains + weekly.skipped == windows  # the schedule fired after every window
    assert weekly.retrains == weekly.promotions + weekly.rejected
    assert sum("skipped: too few labelled rows" in event for event in weekly.events) == weekly.skipped
    row = json.loads(as_json_lines([weekly])[0])
    assert (row["retrains"], row["skipped"]) == (weekly.retrains, weekly.skipped)


def test_policies_share_their_retrains_models_and_replay_the_same_in_a_pool(bike, short):
    """A retrain after window p fits the same models under every policy: each is fitted once, and fitting them in a
    process pool while the policies replay in threads gives the same results as fitting them in process."""
    from driftloop.simulate.fits import ModelFits
    from driftloop.simulate.replay import first_champion, simulate_policy

    settings = replace(short, promotion_rule="not-worse", until=pd.Timestamp("2011-05-06", tz="UTC"))  # 5 windows
    fits = ModelFits(bike)
    initial = first_champion(bike, settings)
    alone = {policy: simulate_policy(bike, policy, settings, initial=initial, fits=fits)
             for policy in ("schedule:1", "schedule:2")}
    challengers = {key for key in fits._fits if key[0] == "challenger"}
    assert len(challengers) == alone["schedule:1"].retrains == window_count(bike, settings)  # schedule:2 fitted none
    pooled = simulate(bike, ["schedule:1", "schedule:2"], settings, workers=2)
    assert [result.summary() for result in pooled] == [alone[p].summary() for p in ("schedule:1", "schedule:2")]
    assert [result.events for result in pooled] == [alone[p].events for p in ("schedule:1", "schedule:2")]
