"""Retraining policies: pure functions of the monitoring history that say whether to retrain now.

A policy looks at the windows judged so far (:class:`~driftloop.monitor.results.WindowResult`, in time order) and
at where the last retrain happened, and returns a :class:`RetrainDecision` for the *latest* window. Built-in policies
(listed literally, no registry):

``never``
    never retrains.
``schedule``
    retrains when ``every`` windows have passed since the last retrain (exactly every ``every`` windows when nothing
    else holds it back).
``drift``
    retrains on a drift alert: the latest window's verdict is ``alert`` with a reason that names a ``drift/`` metric,
    or ``drift/share >= drift_share`` in each of the last ``consecutive`` windows since the last retrain.
``performance``
    retrains when the realised ``performance/<metric>`` is worse than at training by a relative ``margin`` in each of
    the last ``consecutive`` windows since the last retrain. "Worse" is larger for error metrics (``mae``, ``rmse``,
    ``mse``, ``loss``, ``log_loss``) and smaller for scores (``accuracy``, ``r2``, ``f1``, ...): an error metric must
    exceed ``training x (1 + margin)``, a score must fall below ``training x (1 - margin)``. With a fixed ``limit``
    the metric is compared with that value instead (no training value needed): ``metric = "relative_mae"`` with
    ``limit = 1.0`` retrains when the model no longer beats the seasonal naive forecast (the monitor's
    ``--naive-lag``; see :func:`driftloop.monitor.performance.relative_mae_metrics`).
``estimated``
    as ``performance``, on the *estimated* metric of every window (CBPE or DLE, fitted by ``driftloop profile
    --target``), so it needs no labels in the windows: it retrains when even the band's optimistic end is worse
    than at training — for an error metric ``estimated/<metric>/lower > training x (1 + margin)``, for a score
    ``estimated/<metric>/upper < training x (1 - margin)`` (or than ``limit``) — in each of the last
    ``consecutive`` windows, as the default alert rules "estimated performance degraded" do.

Every policy is gated by two guards, checked first:

* **cooldown** — at least ``max(cooldown, 1)`` windows since the last retrain (never twice after the same window);
* **fresh labels** — at least ``min_labelled_rows`` labelled rows (the sum of ``performance/labelled_rows``) in the
  windows since the last retrain, so a retrain has something new to learn from.

Positions: ``last_retrain`` is the position in ``history`` of the window after which the last retrain happened, or
``None`` when the model in production was trained before the first window.

Configuration lives in the alert-rules TOML file, in a ``[retrain]`` table::

    [retrain]
    policy = "drift"            # never | schedule | drift | performance | estimated
    every = 4                   # schedule: windows between retrains
    cooldown = 2                # windows since the last retrain before any policy may fire
    min_labelled_rows = 500     # fresh labelled rows needed since the last retrain
    drift_share = 0.25          # drift: share of drifted features that counts as drift
    consecutive = 1             # drift, performance, estimated: windows in a row
    metric = "mae"              # performance, estimated: the metric compared with its training value
    margin = 0.1                # performance, estimated: relative margin
    # limit = 1.0               # performance, estimated: a fixed limit instead of training x (1 +- margin)
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import NamedTuple

from driftloop.errors import DriftloopError
from driftloop.monitor.alerts import as_number, fmt, read_rules_file, training_value
from driftloop.monitor.results import WindowResult

POLICIES = ("never", "schedule", "drift", "performance", "estimated")
LOWER_IS_BETTER = ("mae", "rmse", "mse", "loss", "log_loss", "mape", "brier", "relative_mae", "naive_mae",
                   "relative_error_rate")
"""Metrics where larger means worse; every other metric is taken as a score (larger is better)."""


class RetrainDecision(NamedTuple):
    """Whether to retrain after the latest window, which policy decided, and why (one line)."""

    retrain: bool
    policy: str
    reason: str


@dataclass(frozen=True)
class RetrainConfig:
    """A validated ``[retrain]`` table; see the module docstring for each key.

    >>> RetrainConfig(policy="schedule", every=0)
    Traceback (most recent call last):
    ...
    driftloop.errors.DriftloopError: Retrain policy: the 'every' key must be an integer >= 1; got 0.
    """

    policy: str = "never"
    every: int = 4
    cooldown: int = 0
    min_labelled_rows: int = 0
    drift_share: float = 0.25
    consecutive: int = 1
    metric: str = "mae"
    margin: float = 0.1
    limit: float | None = None

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise _config_error("policy", f"one of {', '.join(POLICIES)}", self.policy)
        for key, minimum in (("every", 1), ("cooldown", 0), ("min_labelled_rows", 0), ("consecutive", 1)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise _config_error(key, f"an integer >= {minimum}", value)
        share = self.drift_share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            raise _config_error("drift_share", "a number in (0, 1]", share)
        margin = self.margin
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin) or margin < 0:
            raise _config_error("margin", "a finite number >= 0", margin)
        limit = self.limit
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))
                                  or not math.isfinite(limit)):
            raise _config_error("limit", "a finite number (or no 'limit' key)", limit)
        if not isinstance(self.metric, str) or not self.metric.strip() or "/" in self.metric:
            raise _config_error("metric", "a metric name such as 'mae' (without 'performance/')", self.metric)

    @property
    def lower_is_better(self) -> bool:
        return self.metric in LOWER_IS_BETTER


def _config_error(key: str, expected: str, received: object) -> DriftloopError:
    return DriftloopError(f"Retrain policy: the {key!r} key must be {expected}; got {received!r}.")


def config_from_toml(text: str, *, source: str = "<string>") -> RetrainConfig:
    """Parse the ``[retrain]`` table of a TOML document (other tables, such as ``[[rule]]``, are ignored).

    A document without a ``[retrain]`` table gives the default, ``policy = "never"``.

    >>> config_from_toml('[retrain]\\npolicy = "schedule"\\nevery = 2').every
    2
    >>> config_from_toml('[retrain]\\npolicy = "drift"\\ncooldwn = 2')
    Traceback (most recent call last):
    ...
    driftloop.errors.DriftloopError: Retrain policy in <string>: unknown key 'cooldwn'; expected one of policy, every, cooldown, min_labelled_rows, drift_share, consecutive, metric, margin, limit.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DriftloopError(f"The rules file {source} is not valid TOML: {error}.") from None
    table = document.get("retrain", {})
    if not isinstance(table, dict):
        raise DriftloopError(f"Retrain policy in {source}: 'retrain' must be a table ([retrain]); got {table!r}.")
    known = [field.name for field in fields(RetrainConfig)]
    for key in table:
        if key not in known:
            raise DriftloopError(
                f"Retrain policy in {source}: unknown key {key!r}; expected one of {', '.join(known)}."
            )
    # An integer-valued float such as 0.25 stays a float; integers given for floats are accepted.
    return RetrainConfig(**table)


def load_config(path: str | Path | None) -> RetrainConfig:
    """Read the ``[retrain]`` table of the TOML file at ``path``; ``None`` gives the default (never retrain)."""
    if path is None:
        return RetrainConfig()
    return config_from_toml(read_rules_file(path, "rules file"), source=str(path))


# --------------------------------------------------------------------------------------------------- guards


def windows_since(history: Sequence[WindowResult], last_retrain: int | None) -> int:
    """How many windows of ``history`` came after the last retrain.

    >>> windows_since([None] * 5, None), windows_since([None] * 5, 1)
    (5, 3)
    """
    if last_retrain is None:
        return len(history)
    if not -1 <= last_retrain < len(history):
        raise DriftloopError(
            f"The 'last_retrain' parameter of the retrain policy must be a position in the history "
            f"(0 to {len(history) - 1}) or None; got {last_retrain!r}."
        )
    return len(history) - 1 - last_retrain


def fresh_labelled_rows(history: Sequence[WindowResult], last_retrain: int | None) -> int:
    """The labelled rows (``performance/labelled_rows``) of the windows after the last retrain."""
    since = windows_since(history, last_retrain)
    recent = history[len(history) - since:] if since else []
    return int(sum(as_number(w.metrics.get("performance/labelled_rows")) or 0 for w in recent))


def _guards(history: Sequence[WindowResult], config: RetrainConfig, last_retrain: int | None) -> str | None:
    """Why no policy may fire now (cooldown, too few fresh labels), or None when they may."""
    since = windows_since(history, last_retrain)
    needed = max(config.cooldown, 1)
    if since < needed:
        return f"cooldown: {since} window(s) since the last retrain, need {needed}"
    rows = fresh_labelled_rows(history, last_retrain)
    if rows < config.min_labelled_rows:
        return f"only {rows} fresh labelled rows since the last retrain, need {config.min_labelled_rows}"
    return None


# --------------------------------------------------------------------------------------------------- policies


def schedule(history: Sequence[WindowResult], config: RetrainConfig, *,
             last_retrain: int | None = None) -> RetrainDecision:
    """Retrain when ``config.every`` windows have passed since the last retrain."""
    blocked = _guards(history, config, last_retrain)
    if blocked:
        return RetrainDecision(False, "schedule", blocked)
    since = windows_since(history, last_retrain)
    if since >= config.every:
        return RetrainDecision(True, "schedule", f"{since} windows since the last retrain (every {config.every})")
    return RetrainDecision(False, "schedule", f"{since} of {config.every} windows since the last retrain")


def _recent(history: Sequence[WindowResult], last_retrain: int | None, count: int) -> Sequence[WindowResult] | None:
    """The last ``count`` windows, when that many came after the last retrain."""
    if windows_since(history, last_retrain) < count:
        return None
    return history[len(history) - count:]


def drift(history: Sequence[WindowResult], config: RetrainConfig, *,
          last_retrain: int | None = None) -> RetrainDecision:
    """Retrain on a drift alert (see the module docstring)."""
    blocked = _guards(history, config, last_retrain)
    if blocked:
        return RetrainDecision(False, "drift", blocked)
    latest = history[-1]
    if latest.verdict == "alert":
        drift_reasons = [reason for reason in latest.reasons if "drift/" in reason]
        if drift_reasons:
            return RetrainDecision(True, "drift", f"drift alert in window {latest.index}: {drift_reasons[0]}")
    recent = _recent(history, last_retrain, config.consecutive)
    if recent is not None:
        shares = [as_number(w.metrics.get("drift/share")) for w in recent]
        if all(share is not None and share >= config.drift_share for share in shares):
            streak = f" for {config.consecutive} windows" if config.consecutive > 1 else ""
            return RetrainDecision(
                True, "drift", f"drift/share = {fmt(shares[-1])} >= {fmt(config.drift_share)}{streak}"  # type: ignore[arg-type]
            )
    share = as_number(latest.metrics.get("drift/share"))
    shown = "missing" if share is None else fmt(share)
    return RetrainDecision(False, "drift", f"no drift alert (drift/share = {shown})")


def performance(history: Sequence[WindowResult], config: RetrainConfig, *, last_retrain: int | None = None,
                training_metrics: Mapping[str, float] | None = None) -> RetrainDecision:
    """Retrain when the realised metric is worse than at training by ``config.margin`` (relative)."""
    return _worse_than_training("performance", f"performance/{config.metric}", history, config, last_retrain,
                                training_metrics)


def estimated(history: Sequence[WindowResult], config: RetrainConfig, *, last_retrain: int | None = None,
              training_metrics: Mapping[str, float] | None = None) -> RetrainDecision:
    """Retrain when even the estimate's band is worse than at training by ``config.margin`` (its lower bound for an
    error metric, its upper bound for a score; see the module docstring)."""
    bound = "lower" if config.lower_is_better else "upper"
    return _worse_than_training("estimated", f"estimated/{config.metric}/{bound}", history, config, last_retrain,
                                training_metrics)


def _worse_than_training(policy: str, key: str, history: Sequence[WindowResult], config: RetrainConfig,
                         last_retrain: int | None, training_metrics: Mapping[str, float] | None) -> RetrainDecision:
    """Retrain when ``key`` is worse than the training value (or ``config.limit``) in the last windows."""
    blocked = _guards(history, config, last_retrain)
    if blocked:
        return RetrainDecision(False, policy, blocked)
    comparison = ">" if config.lower_is_better else "<"
    if config.limit is not None:
        limit, basis = float(config.limit), f"{fmt(config.limit)} (fixed limit)"
    else:
        trained = training_value(key, training_metrics or {})
        if trained is None:
            return RetrainDecision(False, policy, f"no training value of {config.metric!r} to compare with")
        limit = trained * (1 + config.margin) if config.lower_is_better else trained * (1 - config.margin)
        basis = f"{fmt(limit)} (training {fmt(trained)}, margin {fmt(config.margin)})"
    recent = _recent(history, last_retrain, config.consecutive)
    values = [as_number(w.metrics.get(key)) for w in (recent or [])]
    worse = bool(values) and all(
        value is not None and (value > limit if config.lower_is_better else value < limit) for value in values
    )
    latest = as_number(history[-1].metrics.get(key))
    shown = "missing" if latest is None else fmt(latest)
    if worse:
        streak = f" for {config.consecutive} windows" if config.consecutive > 1 else ""
        return RetrainDecision(True, policy, f"{key} = {shown} {comparison} {basis}{streak}")
    return RetrainDecision(False, policy, f"{key} = {shown}, not {comparison} {basis}")


def decide(history: Sequence[WindowResult], config: RetrainConfig, *, last_retrain: int | None = None,
           training_metrics: Mapping[str, float] | None = None) -> RetrainDecision:
    """Apply the configured policy to the latest window of ``history``.

    >>> import pandas as pd
    >>> day = pd.Timestamp("2024-01-01")
    >>> history = [WindowResult(i, day, day, 100, metrics={"performance/labelled_rows": 100.0}) for i in range(4)]
    >>> decide(history, RetrainConfig(policy="schedule", every=4))
    RetrainDecision(retrain=True, policy='schedule', reason='4 windows since the last retrain (every 4)')
    >>> decide(history, RetrainConfig(policy="schedule", every=4, min_labelled_rows=500)).reason
    'only 400 fresh labelled rows since the last retrain, need 500'
    """
    if not history:
        return RetrainDecision(False, config.policy, "no windows yet")
    if config.policy == "never":
        return RetrainDecision(False, "never", "the policy never retrains")
    if config.policy == "schedule":
        return schedule(history, config, last_retrain=last_retrain)
    if config.policy == "drift":
        return drift(history, config, last_retrain=last_retrain)
    if config.policy == "estimated":
        return estimated(history, config, last_retrain=last_retrain, training_metrics=training_metrics)
    return performance(history, config, last_retrain=last_retrain, training_metrics=training_metrics)


def replay(history: Sequence[WindowResult], config: RetrainConfig, *,
           training_metrics: Mapping[str, float] | None = None) -> list[int]:
    """The positions of ``history`` after which the policy retrains, when every decision to retrain is carried out.

    Training metrics are held fixed (a backtest that retrains for real passes each new model's own metrics to
    :func:`decide` instead).

    >>> import pandas as pd
    >>> day = pd.Timestamp("2024-01-01")
    >>> replay([WindowResult(i, day, day, 10) for i in range(9)], RetrainConfig(policy="schedule", every=3))
    [2, 5, 8]
    """
    fired: list[int] = []
    last: int | None = None
    for position in range(len(history)):
        decision = decide(history[: position + 1], config, last_retrain=last, training_metrics=training_metrics)
        if decision.retrain:
            fired.append(position)
            last = position
    return fired


def with_policy(config: RetrainConfig, policy: str) -> RetrainConfig:
    """A copy of ``config`` with another policy (validated)."""
    return replace(config, policy=policy)
