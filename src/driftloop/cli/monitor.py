"""``driftloop monitor`` and ``driftloop profile``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from driftloop.cli.common import handle_errors, open_store, tracking_uri_option
from driftloop.errors import DriftloopError, NoRowsError

if TYPE_CHECKING:
    from rich.console import Console

    from driftloop.monitor.job import MonitorOptions, MonitorOutcome

ALERT_EXIT_CODE = 3
UNKNOWN_EXIT_CODE = NoRowsError.exit_code  # 4: a window could not be judged at all, or no rows


def print_outcome(outcome: MonitorOutcome, console: Console) -> None:
    """The new windows as a table that fits ``console``, then their reasons, one a line."""
    from driftloop.cli.windows_table import print_reasons, windows_table

    windows = outcome.new_windows
    title = (f"{outcome.model.name} v{outcome.model.version}: {len(windows)} window(s) assessed, "
             f"{len(outcome.closed_steps)} closed, {len(outcome.open_steps)} open")
    console.print(windows_table(windows, title, open_steps=outcome.open_steps))
    print_reasons(console, windows)


def run_lines(outcome: MonitorOutcome, experiment: str) -> list[str]:
    """Which run the pass wrote to (new or found again) and how its windows are cut, then the model version's
    other monitoring runs in the experiment (windows cut another way, or from other data), if any."""
    run = outcome.run
    if run is None:
        return [f"Wrote to run {outcome.run_id} in experiment {experiment!r}."]
    what = run.data or run.definition
    lines = [f"{'New' if run.created else 'Wrote to'} monitoring run {run.run_id} in experiment {experiment!r}: "
             f"windows {what}."]
    if run.others:
        listed = "; ".join(f"{run_id} ({definition})" for run_id, definition in run.others[:5])
        more = f" and {len(run.others) - 5} more" if len(run.others) > 5 else ""
        lines.append(f"note: {outcome.model.name} version {outcome.model.version} has {len(run.others)} other "
                     f"monitoring run(s) here, with windows cut another way or from other data: {listed}{more}")
    return lines


@click.command("monitor")
@click.option("--model", "model_spec", required=True,
              help="NAME@ALIAS or NAME/VERSION (e.g. wine-quality@champion), models:/m-<id> or runs:/<run_id>/model.")
@click.option("--data", "data_path", required=True, help="CSV, Parquet file or folder, or a driftloop inference log.")
@click.option("--timestamp-column", default=None, help="Column holding each row's time (windows by time).")
@click.option("--window", default=None, help="Window length for time windows: 1d (default), 7d, 1w, 6h...")
@click.option("--rows", type=click.IntRange(min=1), default=None, help="Windows of N rows instead of by time.")
@click.option("--labels", "labels_path", default=None, help="File of late labels (id and label columns).")
@click.option("--label-delay", default=None, metavar="LENGTH",
              help="How long after its end a window stays open for late labels and rows (7d; a row count for --rows "
                   "without a timestamp). Open windows are re-assessed on every pass; default 0: a window closes "
                   "once the data holds rows after it.")
@click.option("--id-column", default="id", show_default=True, help="Column joining the labels to the data.")
@click.option("--target", default=None, help="The label column (in the data, or in the labels file).")
@click.option("--experiment", default="model-monitoring", show_default=True, help="Experiment of monitoring runs.")
@click.option("--rules", "rules_path", default=None, metavar="TOML",
              help="Amend the built-in alert rules: [[rule]] tables add rules or replace a built-in one of the same "
                   "name, disable = [NAMES] drops built-in ones; a [retrain] table configures --retrain.")
@click.option("--webhook", default=None, help="URL to POST a JSON payload to when an alert fires.")
@click.option("--task", type=click.Choice(["regression", "classification"]), default=None,
              help="Performance metrics to compute (default: from the prediction type).")
@click.option("--naive-lag", default=None, metavar="LENGTH",
              help="Compare the model with the seasonal naive forecast, the label this long earlier (7d: the same "
                   "hour last week): performance/relative_mae.")
@click.option("--naive-series", multiple=True, metavar="COLUMN",
              help="Column naming a row's series (a station, a store) for --naive-lag; repeat for several. Without "
                   "it the data must be one series, one row per time stamp.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--engine", type=click.Choice(["numpy", "spark"]), default="numpy", show_default=True,
              help="numpy: one process, a Parquet dataset read window by window; spark: Apache Spark over a "
                   "Parquet dataset (pip install 'driftloop[spark]', Java 17+).")
@click.option("--spark-master", default=None, metavar="URL", envvar="DRIFTLOOP_SPARK_MASTER",
              help="Spark master for --engine spark (default local[*], or the master of spark-submit).")
@click.option("--spark-partitions", type=click.IntRange(min=1), default=None, metavar="N",
              help="Tasks of --engine spark's shuffle of numeric values by (window, column) (default 8); about the "
                   "cluster's cores.")
@click.option("--retrain", "retrain_project", default=None, metavar="PROJECT_DIR",
              help="After the pass, apply the [retrain] policy of --rules and retrain with this MLflow project.")
@click.option("-P", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Project parameter for --retrain.")
@tracking_uri_option
@handle_errors
def monitor(model_spec, data_path, timestamp_column, window, rows, labels_path, label_delay, id_column, target,
            experiment, rules_path, webhook, task, naive_lag, naive_series, output_format, engine, spark_master,
            spark_partitions, retrain_project, params, tracking_uri) -> None:
    """Monitor a registered model on production data, window by window, into MLflow.

    Exits with code 3 when a window raises an alert for the first time, else 4 when a window assessed could not be
    judged at all (verdict unknown) or the data has no rows, else 0 (for cron and CI).
    """
    if window is not None and rows is not None:
        raise DriftloopError("Give either --window (time windows) or --rows (count windows), not both.")
    if spark_partitions is not None and engine != "spark":
        raise DriftloopError(f"--spark-partitions sets the tasks of the Spark engine's shuffle: give --engine spark "
                             f"with it (got --engine {engine}).")
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from driftloop.monitor.alerts import check_webhook_url
    from driftloop.monitor.job import MonitorOptions, run_monitor
    from driftloop.retrain.policies import load_config
    from driftloop.tracking.experiments import DEFAULT_UI_ADDRESS, experiment_url, logged_model_url

    if webhook is not None:
        check_webhook_url(webhook)
    options = MonitorOptions(timestamp_column, window, rows, labels_path, id_column, target, experiment, rules_path,
                             webhook, task, naive_lag, tuple(naive_series), label_delay, engine, spark_master,
                             spark_partitions=spark_partitions or MonitorOptions.spark_partitions)
    retrain_config = None
    if retrain_project is not None:
        retrain_config = load_config(rules_path)
        if retrain_config.policy == "never":
            raise DriftloopError("--retrain needs a [retrain] table with a policy (schedule, drift, performance or "
                                 "estimated) in the --rules file; got none (policy 'never').")
        if labels_path is not None:
            raise DriftloopError("--retrain trains on the labelled rows of --data: give --target (labels in the data) "
                                 "or an inference log, not a separate --labels file.")
    client = open_store(tracking_uri)
    console = Console(stderr=True)
    with Progress(TextColumn("monitoring"), BarColumn(), TextColumn("{task.completed}/{task.total} windows"),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=output_format == "json") as progress:
        task_id = progress.add_task("windows", total=None)
        outcome = run_monitor(client, model_spec, data_path, options,
                              progress=lambda done, total: progress.update(task_id, completed=done, total=total))
    if output_format == "json":
        for window in outcome.new_windows:
            click.echo(json.dumps({**window.to_json(), "run_id": outcome.run_id,
                                   "state": "open" if window.index in outcome.open_steps else "closed"}))
        for note in outcome.notes:  # stdout holds only the windows' JSON lines
            click.echo(f"note: {note}", err=True)
        for line in run_lines(outcome, experiment):
            click.echo(line, err=True)
    else:
        out = Console(highlight=False)  # as wide as the terminal
        print_outcome(outcome, out)
        for note in outcome.notes:
            out.print(f"note: {note}", markup=False)
        for line in run_lines(outcome, experiment):
            out.print(line, markup=False)
        out.print(f"Logged {len(outcome.new_windows)} window(s) ({outcome.metric_points} metric points); "
                  f"{len(outcome.alerts)} new alert window(s).", markup=False)
        experiment_id = client.get_run(outcome.run_id).info.experiment_id
        link = experiment_url(DEFAULT_UI_ADDRESS, experiment_id, outcome.run_id)
        out.print(f"Open the charts with: driftloop ui, then {link}   (the run's artifacts hold report.html)",
                  markup=False, soft_wrap=True)  # a link is never cut
        if outcome.model.model_id is not None and outcome.closed_steps:
            page = logged_model_url(DEFAULT_UI_ADDRESS, client.get_logged_model(outcome.model.model_id).experiment_id,
                                    outcome.model.model_id)
            out.print(f"Open the model's page, which lists the closed windows: {page}", markup=False, soft_wrap=True)
    if retrain_config is not None:
        _apply_retrain_policy(client, outcome, retrain_config, retrain_project, data_path, options, params)
    if outcome.alerted:
        fired = outcome.alerts
        raise DriftloopError(
            f"Alert in {len(fired)} window(s); latest {fired[-1].label()}: {fired[-1].reasons[-1]}",
            exit_code=ALERT_EXIT_CODE,
        )
    unknown = [w for w in outcome.new_windows if w.verdict == "unknown"]
    if unknown:
        why = next((r for r in unknown[-1].reasons if not r.startswith("coverage: ")), "no rows")
        raise DriftloopError(f"Nothing could be judged in {len(unknown)} window(s) (verdict unknown); latest "
                             f"{unknown[-1].label()}: {why}", exit_code=UNKNOWN_EXIT_CODE)


def _apply_retrain_policy(client, outcome: MonitorOutcome, config, project: str, data_path: str,
                          options: MonitorOptions, params: tuple[str, ...]) -> None:
    """Decide with the policy on this model version's whole monitoring history; retrain when it says so."""
    from driftloop.cli.retrain import default_actor, print_retrain_outcome
    from driftloop.retrain.job import RetrainSkipped, retrain
    from driftloop.retrain.policies import decide
    from driftloop.tracking.profiles import training_metrics
    from driftloop.tracking.projects import parse_parameter_pairs

    training = training_metrics(client, outcome.model)
    # The history is this version's own monitoring run: the version was trained before its first window.
    decision = decide(outcome.all_windows, config, last_retrain=None, training_metrics=dict(training))
    click.echo(f"Retrain policy {decision.policy}: {'retrain' if decision.retrain else 'no retrain'} "
               f"({decision.reason})")
    if decision.retrain:
        try:
            result = retrain(client, outcome.model.name, project, data_path, target=options.target,
                             timestamp_column=options.timestamp_column, parameters=parse_parameter_pairs(params),
                             metric=config.metric if config.metric in ("mae", "mse", "rmse", "accuracy") else "mae",
                             actor=default_actor())
        except RetrainSkipped as skipped:
            click.echo(str(skipped))
            return
        print_retrain_outcome(result)


@click.command("profile")
@click.option("--model", "model_spec", required=True,
              help="NAME@ALIAS or NAME/VERSION, models:/m-<id> or runs:/<run_id>/model.")
@click.option("--data", "data_path", required=True, help="Reference data (what the model was trained on).")
@click.option("--target", default=None,
              help="The label column of the reference data (not profiled): the model's performance on the reference "
                   "is then stored as the baseline of the performance alerts, and a performance estimator (CBPE for "
                   "a classifier with predict_proba, DLE for a regressor) is fitted for windows without labels.")
@click.option("--multivariate", "multivariate", default="pca", show_default=True, metavar="DETECTORS",
              help="Multivariate detectors to fit, comma-separated among pca, mmd, classifier, or 'none': drift in "
                   "the relations between the inputs that one column at a time cannot see. mmd and classifier "
                   "cost a second or more per window whatever its size, so they are fitted only when named.")
@click.option("--engine", type=click.Choice(["numpy", "spark"]), default="numpy", show_default=True,
              help="numpy: the reference read into this process; spark: the profile computed by Apache Spark over a "
                   "Parquet dataset, equal to numpy's (pip install 'driftloop[spark]', Java 17+; no multivariate "
                   "detectors, no --target).")
@click.option("--spark-master", default=None, metavar="URL", envvar="DRIFTLOOP_SPARK_MASTER",
              help="Spark master for --engine spark (default local[*], or the master of spark-submit).")
@tracking_uri_option
@handle_errors
def profile(model_spec, data_path, target, multivariate, engine, spark_master, tracking_uri) -> None:
    """Fit the reference profile of a registered model and attach it to the model version."""
    from driftloop.monitor.job import PREDICTION, fit_model_profile
    from driftloop.tracking.models import home_of

    detectors = parse_detectors(multivariate)
    model, fitted, baseline, estimation = fit_model_profile(open_store(tracking_uri), model_spec, data_path,
                                                            target=target, multivariate=detectors, engine=engine,
                                                            spark_master=spark_master)
    click.echo(f"Attached a reference profile of {len(fitted.columns_)} column(s) ({fitted.n_rows_} rows) to "
               f"{model.name} version {model.version} ({home_of(model)}).")
    inputs = len([c for c in fitted.columns_ if c != PREDICTION])
    if detectors and engine == "numpy":  # the Spark engine fits none: its note below says so
        click.echo(f"Multivariate detectors: {', '.join(detectors)} (over the {inputs} inputs)." if inputs >= 2
                   else "Multivariate detectors: none (the model has a single input).")
    if baseline:
        figures = ", ".join(f"{key.split('/', 1)[1]} {value:.4g}" for key, value in baseline.items())
        click.echo(f"Performance on the reference, the baseline of the performance alerts: {figures} (logged with "
                   f"{home_of(model)}).")
    click.echo(estimation[0].upper() + estimation[1:].rstrip(".") + ".")


def parse_detectors(text: str) -> tuple[str, ...]:
    """The detectors named by ``--multivariate`` (``none`` for none), or a one-line error naming the option.

    >>> parse_detectors("pca, classifier"), parse_detectors("none")
    (('pca', 'classifier'), ())
    """
    known = ("pca", "mmd", "classifier")  # driftloop.multivariate.DETECTORS, not imported: --help stays light
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["none"]:
        return ()
    unknown = [name for name in names if name not in known]
    if unknown or not names or len(set(names)) != len(names):
        raise DriftloopError(f"The --multivariate option must be distinct names among {', '.join(known)}, or "
                             f"'none'; got {text!r}.")
    return tuple(names)
