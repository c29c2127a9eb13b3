"""Replay a time-indexed dataset as production traffic through the whole loop, once per retraining policy.

For each window (a week by default), in time order:

1. **predict** — the current champion scores the window's rows; the errors count towards the cumulative MAE/RMSE
   over all production rows (the number a business would feel);
2. **late labels** — a row's label arrives ``label_delay`` after its timestamp; the rows whose label arrived during
   the window (timestamp + delay in ``[start, end)``) are re-scored by the current champion, giving the window's
   realised ``performance/*`` metrics. (Judging the window's own rows would leave no labels at all when the delay
   equals the window length: with weekly windows and a 7-day delay, no row of a week is labelled by its end.)
3. **monitor** — :func:`driftloop.monitor.engine.assess_window` judges drift and data quality of the window against
   the champion's reference profile (fitted on its training rows with its predictions), and the alert rules
   (packaged defaults) are evaluated over the windows since the current champion was promoted;
4. **policy** — :func:`driftloop.retrain.policies.decide` decides whether to retrain, with the champion's training
   metrics;
5. **retrain, validate, promote** — a challenger (the same estimator, fresh) is trained on the labelled rows of the
   last ``train_days`` days before the freshest ``holdout_days``, which are held out; both models predict the
   holdout and :func:`driftloop.retrain.validation.compare` (paired bootstrap on the per-row absolute error, or
   log loss for a classifier, :mod:`driftloop.simulate.scoring`) decides: by default (``promotion_rule``
   ``not-worse``) the challenger is promoted unless it is worse with 95 % confidence — it is about as fresh as a
   champion refitted a retrain earlier, and only its refit adds the holdout's rows, so "better with confidence"
   rejected most challengers that would have served better (BENCHMARKS.md). The champion is judged only on holdout
   rows it did not train on. A promoted challenger is refitted on all
   those labelled rows, holdout included (validate, then refit on everything; ``SimulationSettings.refit``), and
   becomes the champion from the next window on, with the validated model's holdout metrics as training metrics
   and a reference profile of its training rows; a rejected one is counted and dropped. When fewer than
   ``min_holdout_rows`` labelled rows can train the challenger or judge the champion, nothing is trained: the
   retrain is counted as ``skipped``, not among the ``retrains`` (which are ``promotions + rejected``).

Classifiers: a dataset whose ``task`` is ``classification`` holds class codes; its models are scored on accuracy,
log loss and ROC AUC, and its naive benchmark is the persistence forecast (the previous row's label) unless a
season is given (:mod:`driftloop.simulate.scoring`).

The models are kept in memory. A retrain's models are the same whatever the policy, so :func:`simulate` fits each
once and shares it between the policies (:mod:`driftloop.simulate.fits`), in a pool of processes, one per core,
while the policies are replayed in threads. With a tracking store, :func:`log_simulation` records one run
per policy in the experiment ``simulation``: the per-window metrics (step = window index) and the summary; with a
:class:`~driftloop.simulate.registry.ReplayRegistry` per policy (``driftloop simulate --register``), every model is
also registered in MLflow and promoted or rejected there as the retrain job does (about 1 s per model, so off by
default: an ``all`` run on the bike data trains about 160).

Built-in policy configurations (``POLICY_CONFIGS``), chosen from the data's rhythm (one exception, said below):

``schedule:N``
    retrain every N windows (no other guard).
``drift``
    the drift policy with ``drift_share = 0.25`` (a quarter of the features drifted, as the packaged alert rule),
    ``consecutive = 2`` (sustained, as the packaged alert) and ``cooldown = 4`` windows: seasonal data drifts every
    week against a 90-day reference, so the cooldown sets the cadence floor (a month).
``performance``
    on a dataset with a seasonal naive benchmark (``Dataset.naive_lag``; the bike data: the same hour a week
    earlier), the performance policy on ``relative_mae`` with the fixed ``limit = 1.0``: retrain when, on the newly
    labelled rows, the model no longer beats the naive forecast (:data:`SEASONAL_PERFORMANCE`). The limit is the
    metric's natural one (the model is worth running only while it beats the naive forecast), not fitted; the ratio
    also moves much less than the MAE in a week that is hard for every forecast (holidays, storms, the season's
    level), which is what made the MAE trigger below fire late or spuriously. ``cooldown = 4`` windows (at most one
    retrain a month, as the drift policy) and ``min_labelled_rows = 24``, a validation holdout's worth of fresh
    labels (``SimulationSettings.min_holdout_rows``): it was 300, two weeks of hourly labels, which never bound on
    the hourly data (four windows bring about 670) but held the policy back for ten months on daily data (issue 16).
    This policy was tried on the bike data
    because the MAE trigger missed issue 6's target, after the hindsight analysis
    (:mod:`driftloop.simulate.hindsight`, ``bench/retrain_oracle.py``) had shown that the timing of retrains, not
    their number, decides most of the error. The cooldown was compared on that data: 2 windows gave MAE 49.0 with 20
    retrains, 3 gave 47.1 with 15, 4 46.6 with 12, and ``consecutive = 2`` (cooldown 2) 49.5 with 11; 4 was kept,
    the drift policy's. See BENCHMARKS.md.

    Without a benchmark (the wine data, a table without ``--naive-lag``), the performance policy on ``mae`` with
    ``margin = 0.25`` (25 % worse than on the holdout at training, as the packaged alert rule's factor 1.25),
    ``consecutive = 1``, ``cooldown = 2`` and ``min_labelled_rows = 300`` (about two weeks of hourly labels of the
    new champion). One window suffices: the 7-day label delay already makes the policy see a week late, and a second
    confirming window delayed every retrain by another week — measured on the bike data, ``consecutive = 2`` gave
    MAE 54.2 with 17 retrains, ``consecutive = 1`` 50.8 with 13 (this choice was made after seeing those results, on
    the same data; see BENCHMARKS.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from driftloop.data.windows import Window, time_windows
from driftloop.errors import DriftloopError
from driftloop.monitor.alerts import AlertRule, evaluate, load_rules
from driftloop.monitor.engine import MonitorInputs, assess_window
from driftloop.monitor.performance import seasonal_naive
from driftloop.monitor.results import WindowResult
from driftloop.retrain.policies import RetrainConfig, decide
from driftloop.simulate import scoring
from driftloop.simulate.fits import ModelFits, Served, fit_model, fit_pool, served
from driftloop.simulate.registry import ReplayRegistry
from driftloop.simulate.scoring import TASKS

ALL_POLICIES = ("never", "schedule:1", "schedule:4", "schedule:13", "drift", "performance")
POLICY_CONFIGS: dict[str, RetrainConfig] = {
    "never": RetrainConfig(policy="never"),
    "drift": RetrainConfig(policy="drift", drift_share=0.25, consecutive=2, cooldown=4),
    "performance": RetrainConfig(policy="performance", metric="mae", margin=0.25, consecutive=1, cooldown=2,
                                 min_labelled_rows=300),
}
SEASONAL_PERFORMANCE = RetrainConfig(policy="performance", metric="relative_mae", limit=1.0, consecutive=1,
                                     cooldown=4, min_labelled_rows=24)
"""The performance policy of a dataset with a seasonal naive benchmark (see the module docstring)."""
CLASSIFIER_PERFORMANCE = {
    True: replace(SEASONAL_PERFORMANCE, metric="relative_error_rate"),
    False: replace(POLICY_CONFIGS["performance"], metric="log_loss"),
}
"""The performance policy of a classifier, with a naive benchmark (True: the error rate over the naive forecast's
above 1) or without (False: the log loss 25 % above the holdout's at training)."""


def default_rules(task: str = "regression") -> list[AlertRule]:
    """The packaged alert rules that the models' training metrics can judge: a regressor's (mae, rmse) or a
    classifier's (accuracy)."""
    regression_only = ("performance/mae", "performance/rmse", "performance/relative_mae")
    if task == "regression":
        return [rule for rule in load_rules() if not rule.metric.endswith("accuracy")]
    return [rule for rule in load_rules() if rule.metric not in regression_only]


RESULT_KEYS = ("policy", "mae", "rmse", "retrains", "skipped", "alerts", "promotions", "rejected")
CLASSIFICATION_RESULT_KEYS = ("policy", "accuracy", "log_loss", "roc_auc", "retrains", "skipped", "alerts",
                              "promotions", "rejected")
"""``retrains`` counts the challengers trained and judged (``promotions + rejected``); ``skipped`` the times the
policy fired but too few labelled rows were there to train and validate a challenger (nothing was trained)."""


def result_keys(task: str) -> tuple[str, ...]:
    """The keys of a result row (``--format json``): :data:`RESULT_KEYS` for regression, else
    :data:`CLASSIFICATION_RESULT_KEYS`."""
    return RESULT_KEYS if task == "regression" else CLASSIFICATION_RESULT_KEYS


def parse_policy(text: str) -> list[str]:
    """``never``, ``schedule:N``, ``drift``, ``performance`` or ``all`` (the six compared policies).

    >>> parse_policy("all")[:2], parse_policy("schedule:4")
    (['never', 'schedule:1'], ['schedule:4'])
    >>> parse_policy("weekly")
    Traceback (most recent call last):
    ...
    driftloop.errors.DriftloopError: The '--policy' option must be never, schedule:N (N >= 1), drift, performance or all; got 'weekly'.
    """
    name = text.strip().lower()
    if name == "all":
        return list(ALL_POLICIES)
    if name in POLICY_CONFIGS:
        return [name]
    if name.startswith("schedule:") and name[len("schedule:"):].isdigit() and int(name[len("schedule:"):]) >= 1:
        return [f"schedule:{int(name[len('schedule:'):])}"]
    raise DriftloopError(
        f"The '--policy' option must be never, schedule:N (N >= 1), drift, performance or all; got {text!r}."
    )


def policy_config(name: str, *, seasonal: bool = False, task: str = "regression") -> RetrainConfig:
    """The :class:`RetrainConfig` of a policy name as given by :func:`parse_policy`; ``seasonal`` when the data has
    a naive benchmark (the performance policy then compares the model with it)."""
    if name.startswith("schedule:"):
        return RetrainConfig(policy="schedule", every=int(name.split(":", 1)[1]))
    if name == "performance" and task == "classification":
        return CLASSIFIER_PERFORMANCE[seasonal]
    if name == "performance" and seasonal:
        return SEASONAL_PERFORMANCE
    if name in POLICY_CONFIGS:
        return POLICY_CONFIGS[name]
    return policy_config(parse_policy(name)[0], seasonal=seasonal, task=task)


@dataclass(frozen=True)
class Dataset:
    """A time-indexed table: features, a target, a UTC timestamp column; rows before ``train_end`` train the first
    champion. A ``classification`` dataset holds its target as class codes ``0 .. K-1`` and the labels in
    ``classes`` (:func:`driftloop.simulate.scoring.encode_classes`)."""

    frame: pd.DataFrame
    features: Sequence[str]
    target: str
    timestamp: str
    train_end: pd.Timestamp
    make_model: Callable[[], object]
    naive_lag: pd.Timedelta | None = None  # the season of the seasonal naive benchmark, when the data has one
    task: str = "regression"
    classes: tuple = ()
    naive_previous: bool = False  # without naive_lag: the persistence forecast (the previous row's label)
    settings: Mapping[str, object] = field(default_factory=dict)  # SimulationSettings this data is meant for

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise DriftloopError(f"The task of a simulation must be one of {', '.join(TASKS)}; got {self.task!r}.")
        if self.task == "classification" and len(self.classes) < 2:
            raise DriftloopError("A classification dataset needs its classes (at least two).")

    @property
    def has_naive(self) -> bool:
        return self.naive_lag is not None or self.naive_previous

    @property
    def naive_name(self) -> str:
        """How the naive benchmark is named in results: ``naive (7d)``, ``naive (12h)`` or ``naive (previous row)``."""
        if self.naive_lag is None:
            return "naive (previous row)"
        hours = self.naive_lag / pd.Timedelta(hours=1)
        return f"naive ({hours / 24:g}d)" if hours % 24 == 0 else f"naive ({hours:g}h)"

    def naive_forecasts(self) -> pd.Series | None:
        """Every row's naive forecast — the label ``naive_lag`` earlier (seasonal naive), else with
        ``naive_previous`` the label of the previous row (persistence) — or None without a benchmark."""
        labels = self.frame[self.target]
        if self.naive_lag is not None:
            return seasonal_naive(self.frame[self.timestamp], labels, self.naive_lag)
        if self.naive_previous:
            return labels.astype("float64").shift(1)
        return None


@dataclass(frozen=True)
class SimulationSettings:
    window: pd.Timedelta = pd.Timedelta(days=7)
    label_delay: pd.Timedelta = pd.Timedelta(days=7)
    train_days: int = 90
    holdout_days: int = 7
    validation_margin: float = 0.0
    min_holdout_rows: int = 24
    until: pd.Timestamp | None = None  # stop the production stream here (short runs, tests)
    refit: bool = True  # refit a validated challenger on all its labelled rows, holdout included, before it serves
    promotion_rule: str = "not-worse"  # of the paired validation, or better (retrain.validation.compare)


@dataclass
class PolicyResult:
    policy: str
    retrains: int = 0  # challengers trained and judged: promotions + rejected
    skipped: int = 0  # retrains the policy asked for when too few labelled rows could train or judge one
    alerts: int = 0
    promotions: int = 0
    rejected: int = 0
    task: str = "regression"
    mae: float = math.nan
    rmse: float = math.nan
    accuracy: float = math.nan
    log_loss: float = math.nan
    roc_auc: float = math.nan
    windows: list[WindowResult] = field(default_factory=list, repr=False)
    events: list[str] = field(default_factory=list, repr=False)
    row_losses: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    """Per production row, in time order, the served model's absolute error (regression) or log loss: two
    policies' replays score the same rows, so their losses can be compared row by row."""

    def summary(self) -> dict[str, object]:
        """Exactly the keys of :func:`result_keys` for the task."""
        return {key: getattr(self, key) for key in result_keys(self.task)}


@dataclass
class _Champion:
    model: object
    inputs: MonitorInputs
    training_metrics: dict[str, float]
    since: int  # position in the history of the first window it served
    training_rows: pd.DataFrame  # the features it was fitted on
    trained_through: pd.Timestamp  # the time of its freshest training row: later rows are unseen


def _champion(served: Served, training_metrics: Mapping[str, float], since: int) -> _Champion:
    return _Champion(served.model, served.inputs, dict(training_metrics), since, served.rows, served.trained_through)


def _predict(dataset: Dataset, model: object, rows: pd.DataFrame) -> np.ndarray:
    return scoring.predict(model, rows[list(dataset.features)], dataset.task, len(dataset.classes))


def first_champion(dataset: Dataset, settings: SimulationSettings) -> _Champion:
    """Trained on the rows before ``train_end`` minus the holdout (:func:`split_holdout`), whose metrics are its
    training metrics."""
    frame, ts = dataset.frame, dataset.frame[dataset.timestamp]
    fit_rows, holdout = split_holdout(frame[ts < dataset.train_end], dataset.timestamp, dataset.train_end, settings)
    if len(fit_rows) < settings.min_holdout_rows or len(holdout) < settings.min_holdout_rows:
        raise DriftloopError(
            f"The training period (before {dataset.train_end:%Y-%m-%d}) has {len(fit_rows)} training and "
            f"{len(holdout)} holdout rows; the simulation needs at least {settings.min_holdout_rows} of each."
        )
    model, profile = fit_model(dataset, fit_rows.index, profile=True)
    assert profile is not None
    metrics = scoring.holdout_metrics(dataset.task, holdout[dataset.target].to_numpy(),
                                      _predict(dataset, model, holdout))
    return _champion(served(dataset, fit_rows.index, model, profile), metrics, since=0)


def production_windows(dataset: Dataset, settings: SimulationSettings) -> list[Window]:
    frame = dataset.frame
    ts = frame[dataset.timestamp]
    keep = ts >= dataset.train_end
    if settings.until is not None:
        keep &= ts < settings.until
    stream = frame[keep]
    if stream.empty:
        raise DriftloopError(f"The data has no rows after the training period (from {dataset.train_end:%Y-%m-%d}).")
    # time_windows cuts on int64 nanoseconds: give it nanosecond timestamps (pandas 3 parses to microseconds).
    return list(time_windows(stream, stream[dataset.timestamp].dt.as_unit("ns"), settings.window))


def simulate_policy(dataset: Dataset, policy: str, settings: SimulationSettings | None = None, *,
                    rules: Sequence[AlertRule] | None = None, initial: _Champion | None = None,
                    progress: Callable[[int], None] | None = None,
                    registry: ReplayRegistry | None = None, fits: ModelFits | None = None) -> PolicyResult:
    """Replay the production stream under one policy; see the module docstring. With ``registry``, every model is
    also registered, promoted or rejected in MLflow (:mod:`driftloop.simulate.registry`); ``fits`` shares the
    retrains' models with other policies' replays (:mod:`driftloop.simulate.fits`)."""
    settings = settings or SimulationSettings()
    fits = fits or ModelFits(dataset)
    config = policy_config(policy, seasonal=dataset.has_naive, task=dataset.task)
    rules = default_rules(dataset.task) if rules is None else rules
    frame, features, target, ts_col = dataset.frame, list(dataset.features), dataset.target, dataset.timestamp
    timestamps = frame[ts_col]
    naive = dataset.naive_forecasts()
    champion = initial or first_champion(dataset, settings)
    if registry is not None:
        registry.start(champion.model, champion.training_rows)
    history: list[WindowResult] = []
    labels: list[np.ndarray] = []
    predictions: list[np.ndarray] = []
    last_retrain: int | None = None
    result = PolicyResult(policy, task=dataset.task)
    for position, window in enumerate(production_windows(dataset, settings)):
        rows = window.frame
        if len(rows):
            predictions.append(_predict(dataset, champion.model, rows))
            labels.append(rows[target].to_numpy())
        assessed = assess_window(champion.inputs, Window(window.index, window.start, window.end,
                                                         rows[[ts_col, *features]]), task=dataset.task)
        arrived = frame[(timestamps + settings.label_delay >= window.start)
                        & (timestamps + settings.label_delay < window.end) & (timestamps >= dataset.train_end)]
        if len(arrived):
            benchmark = None if naive is None else naive[arrived.index].to_numpy(dtype=float)
            assessed.metrics.update(scoring.window_performance(
                dataset.task, arrived[target].to_numpy(), _predict(dataset, champion.model, arrived), benchmark,
                arrived.index))
        else:
            assessed.metrics["performance/labelled_rows"] = 0.0
        history.append(assessed)
        evaluate(history[champion.since:], rules, training_metrics=champion.training_metrics)
        if assessed.verdict == "alert":
            result.alerts += 1
        decision = decide(history, config, last_retrain=last_retrain, training_metrics=champion.training_metrics)
        if decision.retrain:
            last_retrain = position  # a skipped retrain too: the policy's cooldown and schedule count from here
            champion = _retrain(dataset, settings, champion, window.end, position, result, decision.reason, fits,
                                registry)
        if progress is not None:
            progress(1)
    for key, value in scoring.cumulative_metrics(dataset.task, labels, predictions).items():
        setattr(result, key, value)
    result.row_losses = scoring.row_losses_of(dataset.task, labels, predictions)
    result.windows = history
    return result


def naive_result(dataset: Dataset, settings: SimulationSettings | None = None) -> PolicyResult | None:
    """The naive benchmark's figures over the production rows that have a naive forecast (None without one): MAE
    and RMSE, or accuracy (a hard forecast has no probabilities: log loss and ROC AUC are left out)."""
    naive = dataset.naive_forecasts()
    if naive is None:
        return None
    rows = pd.concat([window.frame for window in production_windows(dataset, settings or SimulationSettings())])
    forecast = naive[rows.index]
    known = forecast.notna().to_numpy()
    y, guess = rows[dataset.target].to_numpy(dtype=float)[known], forecast.to_numpy(dtype=float)[known]
    result = PolicyResult(dataset.naive_name, task=dataset.task)
    result.events.append(f"{int(known.sum())} of {len(rows)} production rows have a naive forecast")
    if dataset.task == "regression":
        result.mae, result.rmse = float(np.mean(np.abs(guess - y))), float(np.sqrt(np.mean((guess - y) ** 2)))
    else:
        result.accuracy = float(np.mean(guess == y))
    return result


def challenger_rows(dataset: Dataset, settings: SimulationSettings,
                    now: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows a challenger trained at ``now`` is fitted on, and its holdout: the labels known at ``now`` (those
    of rows older than the label delay) of the last ``train_days`` days, the freshest held out (see
    :func:`split_holdout`)."""
    frame, ts = dataset.frame, dataset.frame[dataset.timestamp]
    labelled_until = now - settings.label_delay
    start = labelled_until - pd.Timedelta(days=settings.train_days)
    return split_holdout(frame[(ts >= start) & (ts < labelled_until)], dataset.timestamp, labelled_until, settings)


def split_holdout(rows: pd.DataFrame, timestamp: str, end: pd.Timestamp,
                  settings: SimulationSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows (in time order) before ``end`` split into fitting rows and holdout: the holdout is the last
    ``holdout_days`` days, or the last ``min_holdout_rows`` rows when those days hold fewer (daily data: a week is
    7 rows, too few to validate on) and the rows allow it."""
    split = end - pd.Timedelta(days=settings.holdout_days)
    held = int((rows[timestamp] >= split).sum())
    if held < settings.min_holdout_rows < len(rows):
        split = rows[timestamp].iloc[len(rows) - settings.min_holdout_rows]
    in_holdout = rows[timestamp] >= split
    return rows[~in_holdout], rows[in_holdout]


def _retrain(dataset: Dataset, settings: SimulationSettings, champion: _Champion, now: pd.Timestamp,
             position: int, result: PolicyResult, reason: str, fits: ModelFits | None = None,
             registry: ReplayRegistry | None = None) -> _Champion:
    """Train a challenger on the labelled rows known at ``now``, validate it on the freshest ones, maybe promote;
    with ``settings.refit``, a validated challenger is refitted on all those rows, holdout included, before it
    serves (its training metrics stay the holdout's: the validation evidence)."""
    fits = fits or ModelFits(dataset)
    fit_rows, holdout = challenger_rows(dataset, settings, now)
    # The champion is judged only on rows it did not train on: after a recent retrain (daily rows, whose holdout
    # spans more than the windows since), part of the holdout trained it and would flatter it.
    unseen = holdout[holdout[dataset.timestamp] > champion.trained_through]
    if len(fit_rows) < settings.min_holdout_rows or len(unseen) < settings.min_holdout_rows:
        result.skipped += 1
        seen = len(holdout) - len(unseen)
        because = f" ({seen} of the {len(holdout)} holdout rows trained the champion)" if seen else ""
        result.events.append(f"window {position}: {reason}; skipped: too few labelled rows to train and validate a "
                             f"challenger{because}, champion kept")
        return champion
    result.retrains += 1
    challenger = fits.challenger(position, fit_rows)
    version = registry.propose(challenger, fit_rows[list(dataset.features)], position) if registry else None
    y = unseen[dataset.target].to_numpy()
    challenger_predictions = _predict(dataset, challenger, unseen)
    verdict = scoring.validate(dataset.task, y, _predict(dataset, champion.model, unseen), challenger_predictions,
                               margin=settings.validation_margin, seed=position, rule=settings.promotion_rule)
    if not verdict.promote:
        if registry is not None and version is not None:
            registry.reject(version, verdict)
        result.rejected += 1
        result.events.append(f"window {position}: {reason}; rejected ({verdict.reason})")
        return champion
    serving_rows = pd.concat([fit_rows, holdout]) if settings.refit else fit_rows
    promoted = _champion(fits.served(position, serving_rows),
                         scoring.holdout_metrics(dataset.task, y, challenger_predictions), since=position + 1)
    if registry is not None and version is not None:
        registry.promote(version, verdict, refit=(promoted.model, promoted.training_rows) if settings.refit else None)
    result.promotions += 1
    refitted = f", refitted on {len(serving_rows)} rows" if settings.refit else ""
    result.events.append(f"window {position}: {reason}; promoted ({verdict.reason}){refitted}")
    return promoted


def simulate(dataset: Dataset, policies: Sequence[str], settings: SimulationSettings | None = None, *,
             progress: Callable[[int], None] | None = None,
             registries: Callable[[str], ReplayRegistry] | None = None,
             workers: int | None = None) -> list[PolicyResult]:
    """Every policy on the same stream, each from the same first champion (trained once), sharing the models of
    their retrains (:class:`~driftloop.simulate.fits.ModelFits`); ``registries`` gives the registry of each
    policy's models, when they are to be registered in MLflow.

    Without registries and with several policies, the models are fitted in ``workers`` processes (default: one per
    core; 1 fits them here) while the policies are replayed in threads; the results are the same either way, in the
    order of ``policies``. ``progress`` is called with the number of windows replayed, as they are."""
    settings = settings or SimulationSettings()
    rules = default_rules(dataset.task)
    initial = first_champion(dataset, settings)
    workers = workers or os.cpu_count() or 1
    if registries is not None or workers <= 1 or len(policies) <= 1:
        fits = ModelFits(dataset)
        return [simulate_policy(dataset, policy, settings, rules=rules, initial=initial, progress=progress,
                                registry=registries(policy) if registries else None, fits=fits)
                for policy in policies]
    with fit_pool(dataset, workers) as pool, ThreadPoolExecutor(max_workers=len(policies)) as threads:
        fits = ModelFits(dataset, pool)
        futures = [threads.submit(simulate_policy, dataset, policy, settings, rules=rules, initial=initial,
                                  progress=progress, fits=fits) for policy in policies]
        return [future.result() for future in futures]


def window_count(dataset: Dataset, settings: SimulationSettings | None = None) -> int:
    return len(production_windows(dataset, settings or SimulationSettings()))
