"""Alert rules over window metrics, their evaluation across windows, and the JSON webhook.

A rule says: *metric* compared with *threshold*, for *consecutive* windows in a row, raises *severity*. Rules live in
TOML: the packaged defaults are ``default_alerts.toml``, next to this module, with the reasoning for each; a user's
file (``driftloop monitor --rules``) adds rules to them, replaces a default by giving its name, and drops defaults
with a top-level ``disable = ["name", ...]`` (names or glob patterns; ``["*"]`` drops them all) (:func:`load_rules`)::

    [[rule]]
    name = "performance degraded"    # unique; starts every reason the rule writes
    metric = "performance/mae"       # a WindowResult.metrics key, or a glob pattern (fnmatch): "quality/*/unseen"
    comparison = ">"                 # one of > >= < <=
    threshold = 1.25                 # absolute, or a factor when relative_to = "training"
    relative_to = "training"         # optional: the threshold is multiplied by the training metric of the same name
    consecutive = 2                  # optional, default 1: windows in a row before the rule fires
    severity = "alert"               # "warn" or "alert"

Semantics
---------
* **Globs.** A pattern is expanded to every metric key of the windows that matches it; each key is judged on its
  own (its own consecutive run, its own reason). A pattern that matches nothing never fires.
* **Missing values.** A metric that is absent from a window, or NaN there (no labels arrived, an empty window),
  does not satisfy the rule *and breaks the consecutive run*: "two windows in a row" means two windows with a value.
* **relative_to = "training".** The training value is looked up in ``training_metrics`` under the full key
  (``performance/mae``), then under its last segment (``mae``, the name the training run logged). When neither is
  there the rule cannot be judged, never fires, and a warning is logged.
* **Order.** Windows are judged in the order given (the monitor gives them in time order). A rule with
  ``consecutive = k`` fires at window *i* iff the *k* windows ending at *i* all satisfy the comparison.
* **Verdict.** :func:`evaluate` sets each window's ``verdict`` to the most urgent of the severities firing there
  and of its coverage verdict (:func:`driftloop.monitor.window_coverage.judge_coverage`: ``unknown`` when nothing
  could be judged, ``warn`` when part could not), ``"ok"`` when none, in the order ok < warn < unknown < alert; writes
  ``metrics["verdict"]`` (0 = ok, 1 = warn, 2 = alert, -1 = unknown) and replaces the reasons written by these
  rules and by the coverage judgement (other reasons, e.g. the monitor's own, are kept). It depends only on the
  windows' metrics and row counts, so evaluating again gives the same result.
"""

from __future__ import annotations

import fnmatch
import http.client
import json
import logging
import math
import numbers
import operator
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from driftloop.errors import DriftloopError
from driftloop.monitor.results import VERDICT_CODES, VERDICTS, WindowResult
from driftloop.monitor.window_coverage import REASON_PREFIX, CoveragePolicy, judge_coverage
from driftloop.settings import redact_uri

log = logging.getLogger(__name__)

DEFAULT_RULES_FILE = "default_alerts.toml"
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
SEVERITIES = ("warn", "alert")
RELATIVE_TO = ("training",)
SEVERITY_LEVEL = {verdict: level for level, verdict in enumerate(VERDICTS)}  # ok 0, warn 1, unknown 2, alert 3
PAYLOAD_SCHEMA = "driftloop.alert/1"

_REQUIRED = ("name", "metric", "comparison", "threshold", "severity")
_OPTIONAL = ("relative_to", "consecutive")


@dataclass(frozen=True)
class AlertRule:
    """One alert rule; see the module docstring for its semantics.

    >>> rule = AlertRule("drift", "drift/share", ">=", 0.25, severity="warn")
    >>> rule.holds(0.3, 0.25), rule.holds(float("nan"), 0.25)
    (True, False)
    """

    name: str
    metric: str
    comparison: str
    threshold: float
    severity: str = "alert"
    relative_to: str | None = None
    consecutive: int = 1

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def is_pattern(self) -> bool:
        """Whether ``metric`` is a glob pattern rather than one key."""
        return any(char in self.metric for char in "*?[")

    def keys(self, available: Sequence[str]) -> list[str]:
        """The metric keys this rule judges, among ``available`` (sorted, for a stable order of reasons); a rule on
        a metric no window has (accuracy for a regressor) judges nothing, and so warns of no missing training value.
        """
        if not self.is_pattern:
            return [self.metric] if self.metric in available else []
        return sorted({key for key in available if fnmatch.fnmatchcase(key, self.metric)})

    def holds(self, value: float | None, threshold: float) -> bool:
        """Whether ``value`` satisfies the comparison; a missing or NaN value never does."""
        number = as_number(value)
        if number is None:
            return False
        return COMPARISONS[self.comparison](number, threshold)


def as_number(value: object) -> float | None:
    """``value`` as a finite float (Python or numpy number), else None (missing, NaN, infinite, bool, text).

    >>> as_number(3), as_number(float("nan")), as_number(True), as_number("1")
    (3.0, None, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _rule_error(rule: str, key: str, expected: str, received: object) -> DriftloopError:
    return DriftloopError(f"Alert rule {rule!r}: the {key!r} key must be {expected}; got {received!r}.")


def _validate(rule: AlertRule) -> None:
    name = rule.name
    if not isinstance(name, str) or not name.strip():
        raise _rule_error(str(name), "name", "a non-empty string", name)
    if not isinstance(rule.metric, str) or not rule.metric.strip():
        raise _rule_error(name, "metric", "a non-empty metric key such as 'performance/mae'", rule.metric)
    if rule.comparison not in COMPARISONS:
        raise _rule_error(name, "comparison", f"one of {' '.join(COMPARISONS)}", rule.comparison)
    threshold = rule.threshold
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise _rule_error(name, "threshold", "a finite number", threshold)
    if rule.severity not in SEVERITIES:
        raise _rule_error(name, "severity", "'warn' or 'alert'", rule.severity)
    if rule.relative_to is not None and rule.relative_to not in RELATIVE_TO:
        raise _rule_error(name, "relative_to", "'training' (or no key, for an absolute threshold)", rule.relative_to)
    consecutive = rule.consecutive
    if isinstance(consecutive, bool) or not isinstance(consecutive, int) or consecutive < 1:
        raise _rule_error(name, "consecutive", "an integer >= 1", consecutive)


def rules_from_toml(text: str, *, source: str = "<string>") -> list[AlertRule]:
    """Parse and validate the rules of TOML text (one ``[[rule]]`` table per rule); the defaults are not added.

    >>> rules_from_toml('[[rule]]\\nname = "x"\\nmetric = "drift/share"\\ncomparison = ">"\\nthreshold = 0.5\\n'
    ...                 'severity = "warn"')
    [AlertRule(name='x', metric='drift/share', comparison='>', threshold=0.5, severity='warn', relative_to=None, consecutive=1)]
    >>> rules_from_toml('[[rule]]\\nname = "x"\\nmetric = "drift/share"\\ncomparison = "=="\\nthreshold = 0.5\\n'
    ...                 'severity = "warn"')
    Traceback (most recent call last):
    ...
    driftloop.errors.DriftloopError: Alert rule 'x': the 'comparison' key must be one of > >= < <=; got '=='.
    """
    return _parse_rules_file(text, source)[0]


def _parse_rules_file(text: str, source: str) -> tuple[list[AlertRule], list[str]]:
    """The ``[[rule]]`` tables of a rules file, and the names its top-level ``disable`` array lists."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DriftloopError(f"Alert rules file {source} is not valid TOML: {error}.") from None
    unknown = sorted(set(document) - {"rule", "disable", "retrain"})  # [retrain]: driftloop.retrain.policies
    if unknown:
        raise DriftloopError(
            f"Alert rules file {source} must hold only [[rule]] tables, a 'disable' list of rule names and a "
            f"[retrain] table; got the top-level key(s) {', '.join(unknown)}."
        )
    disable = document.get("disable", [])
    if not isinstance(disable, list) or not all(isinstance(name, str) for name in disable):
        raise DriftloopError(f"Alert rules file {source}: 'disable' must be a list of rule names "
                             f"(disable = [\"drift widespread\"]); got {disable!r}.")
    tables = document.get("rule", [])
    if not isinstance(tables, list):
        raise DriftloopError(f"Alert rules file {source}: 'rule' must be an array of tables ([[rule]]); got a single table.")
    rules: list[AlertRule] = []
    seen: set[str] = set()
    for position, table in enumerate(tables, start=1):
        if not isinstance(table, dict):
            raise DriftloopError(f"Alert rules file {source}: rule #{position} must be a [[rule]] table; got {table!r}.")
        label = str(table.get("name", f"#{position}"))
        unknown = sorted(set(table) - set(_REQUIRED) - set(_OPTIONAL))
        if unknown:
            raise _rule_error(label, unknown[0], f"one of the known keys ({', '.join(_REQUIRED + _OPTIONAL)})",
                              table[unknown[0]])
        missing = [key for key in _REQUIRED if key not in table]
        if missing:
            raise DriftloopError(f"Alert rule {label!r} in {source}: the {missing[0]!r} key is missing.")
        rule = AlertRule(**table)
        if rule.name in seen:
            raise _rule_error(rule.name, "name", "unique among the rules", rule.name)
        seen.add(rule.name)
        rules.append(rule)
    return rules, disable


def default_rules() -> list[AlertRule]:
    """The packaged rules (``default_alerts.toml``, next to this module, with the reasoning behind each).

    >>> [rule.name for rule in default_rules()][:2]
    ['drift widespread', 'drift widespread, sustained']
    """
    text = resources.files("driftloop.monitor").joinpath(DEFAULT_RULES_FILE).read_text(encoding="utf-8")
    return rules_from_toml(text, source=f"driftloop/monitor/{DEFAULT_RULES_FILE}")


def merge_rules(defaults: Sequence[AlertRule], own: Sequence[AlertRule], disable: Sequence[str] = (), *,
                source: str = "<string>") -> list[AlertRule]:
    """The rules a monitor applies: ``defaults`` minus those named in ``disable`` (names, or glob patterns such as
    ``"drift*"``; ``"*"`` drops them all), each replaced by the rule of ``own`` with the same name, then the other
    rules of ``own`` in their order.

    >>> defaults = [AlertRule("a", "drift/share", ">", 0.25), AlertRule("b", "quality/missing_rate", ">", 0.1)]
    >>> merged = merge_rules(defaults, [AlertRule("a", "drift/share", ">", 0.5), AlertRule("c", "rows", "<", 10)],
    ...                      ["b"])
    >>> [(rule.name, rule.threshold) for rule in merged]
    [('a', 0.5), ('c', 10)]
    >>> [rule.name for rule in merge_rules(defaults, [AlertRule("c", "rows", "<", 10)], ["*"])]
    ['c']
    >>> merge_rules(defaults, [], ["d"])
    Traceback (most recent call last):
    ...
    driftloop.errors.DriftloopError: Alert rules file <string>: 'disable' names 'd', which is not a built-in rule; the built-in rules are: 'a', 'b'.
    """
    names = [rule.name for rule in defaults]
    dropped: set[str] = set()
    for pattern in disable:
        matched = fnmatch.filter(names, pattern)
        if not matched:
            raise DriftloopError(f"Alert rules file {source}: 'disable' names {pattern!r}, which is not a built-in "
                                 f"rule; the built-in rules are: {', '.join(map(repr, names))}.")
        dropped.update(matched)
    replacing = {rule.name: rule for rule in own}
    both = sorted(dropped & set(replacing))
    if both:
        raise DriftloopError(f"Alert rules file {source}: the rule {both[0]!r} is both in 'disable' and redefined by a "
                             f"[[rule]] table; keep one.")
    merged = [replacing.get(rule.name, rule) for rule in defaults if rule.name not in dropped]
    return merged + [rule for rule in own if rule.name not in names]


def load_rules(path: str | Path | None = None) -> list[AlertRule]:
    """The alert rules of a monitor: the packaged defaults, amended by the rules file at ``path`` when given.

    A rules file adds its ``[[rule]]`` tables to the defaults; a rule with the name of a default replaces it, and a
    top-level ``disable = ["name", ...]`` drops defaults by name or glob pattern, ``["*"]`` all of them
    (:func:`merge_rules`). A file with only a ``[retrain]`` table therefore keeps every default rule.

    >>> [rule.name for rule in load_rules()][:2]
    ['drift widespread', 'drift widespread, sustained']
    """
    if path is None:
        return default_rules()
    own, disable = _parse_rules_file(read_rules_file(path, "alert rules file"), str(path))
    return merge_rules(default_rules(), own, disable, source=str(path))


def read_rules_file(path: str | Path, what: str) -> str:
    """The text of a rules file; a missing or unreadable file is a :class:`DriftloopError` naming it as ``what``."""
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DriftloopError(f"The {what} {str(file)!r} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DriftloopError(f"The {what} {str(file)!r} cannot be read: {error}.") from None


# --------------------------------------------------------------------------------------------------- evaluation


def fmt(value: float) -> str:
    """A number as reasons show it: four significant digits.

    >>> fmt(152.3456), fmt(0.25), fmt(2.0), fmt(1234567.0)
    ('152.3', '0.25', '2', '1.235e+06')
    """
    return f"{value:.4g}"


def training_value(key: str, training_metrics: Mapping[str, float]) -> float | None:
    """The training value a relative rule on ``key`` uses: under ``key``, else under its last segment; for an
    estimate or its bound (``estimated/<metric>``, ``estimated/<metric>/upper``), that of ``performance/<metric>``,
    else ``<metric>``.

    >>> training_value("performance/mae", {"mae": 90.0}), training_value("performance/f1", {"mae": 90.0})
    (90.0, None)
    >>> training_value("estimated/mae/lower", {"performance/mae": 80.0, "mae": 90.0})
    80.0
    """
    parts = key.split("/")
    names = [key, f"performance/{parts[1]}", parts[1]] if parts[0] == "estimated" and len(parts) > 1 else \
        [key, parts[-1]]
    for name in names:
        value = as_number(training_metrics.get(name))
        if value is not None:
            return value
    return None


def _judge(rule: AlertRule, key: str, windows: Sequence[WindowResult],
           training_metrics: Mapping[str, float]) -> list[str | None]:
    """For each window, the reason when ``rule`` fires on ``key`` there, else None."""
    threshold = rule.threshold
    basis = ""
    if rule.relative_to == "training":
        trained = training_value(key, training_metrics)
        if trained is None:
            log.warning("alert rule %r: no training value for %r; the rule is not judged", rule.name, key)
            return [None] * len(windows)
        threshold = rule.threshold * trained
        basis = f" ({fmt(rule.threshold)} x training {fmt(trained)})"
    fired: list[str | None] = []
    run = 0
    for window in windows:
        value = as_number(window.metrics.get(key))
        run = run + 1 if rule.holds(value, threshold) else 0
        if run >= rule.consecutive:
            assert value is not None
            streak = f" for {run} windows" if run > 1 else ""
            fired.append(f"{rule.name}: {key} = {fmt(value)} {rule.comparison} {fmt(threshold)}{basis}{streak}")
        else:
            fired.append(None)
    return fired


def evaluate(windows: Sequence[WindowResult], rules: Sequence[AlertRule], *,
             training_metrics: Mapping[str, float] | None = None, coverage: CoveragePolicy | None = None) -> None:
    """Judge ``windows`` (in time order) with ``rules`` and their coverage (``coverage``, default
    :class:`~driftloop.monitor.window_coverage.CoveragePolicy`); set each window's verdict, reasons and
    ``metrics["verdict"]``.

    >>> import pandas as pd
    >>> day = pd.Timestamp("2024-01-01")
    >>> windows = [WindowResult(i, day, day, 100, metrics={"performance/mae": mae})
    ...            for i, mae in enumerate([10.0, 13.0, 14.0, float("nan"), 15.0])]
    >>> rule = AlertRule("mae up", "performance/mae", ">", 1.25, relative_to="training", consecutive=2)
    >>> evaluate(windows, [rule], training_metrics={"mae": 10.0})
    >>> [w.verdict for w in windows]
    ['ok', 'ok', 'alert', 'ok', 'ok']
    >>> windows[2].reasons
    ['mae up: performance/mae = 14 > 12.5 (1.25 x training 10) for 2 windows']
    """
    training_metrics = training_metrics or {}
    names = {rule.name for rule in rules}
    available = sorted({key for window in windows for key in window.metrics})
    levels = [0] * len(windows)
    new_reasons: list[list[str]] = [[] for _ in windows]
    for rule in rules:
        for key in rule.keys(available):
            for position, reason in enumerate(_judge(rule, key, windows, training_metrics)):
                if reason is not None:
                    new_reasons[position].append(reason)
                    levels[position] = max(levels[position], SEVERITY_LEVEL[rule.severity])
    policy = coverage or CoveragePolicy()
    prefixes = tuple(f"{name}: " for name in names) + (REASON_PREFIX,)
    for window, level, reasons in zip(windows, levels, new_reasons, strict=True):
        covered, coverage_reasons = judge_coverage(window, policy)
        if covered is not None:
            level = max(level, SEVERITY_LEVEL[covered])
        window.reasons = [r for r in window.reasons if not r.startswith(prefixes)] + coverage_reasons + reasons
        window.verdict = VERDICTS[level]
        window.metrics["verdict"] = VERDICT_CODES[window.verdict]


# ------------------------------------------------------------------------------------------------------ webhook


def redact_webhook_url(url: object) -> str:
    """What may be printed of a webhook URL: its scheme, host and port, never its user, path, query or fragment
    (chat and incident hooks carry their secret token there).

    >>> redact_webhook_url("https://hooks.example.org:8443/services/T0/B1/s3cr3t?token=abc#x")
    'https://hooks.example.org:8443/…'
    >>> redact_webhook_url("http://me:pw@127.0.0.1/hook"), redact_webhook_url("not a url")
    ('http://127.0.0.1/…', '<a URL that is not http(s)>')
    """
    try:
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        host, port = (parts.hostname, parts.port) if parts is not None else (None, None)
    except ValueError:  # an unbalanced [ in the host, a port that is not a number
        parts, host, port = None, None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        return "<a URL that is not http(s)>"
    host = f"[{host}]" if ":" in host else host
    hidden = "/…" if (parts.path.strip("/") or parts.query or parts.fragment or parts.username) else ""
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "") + hidden


def _scrub_url(text: str, url: str) -> str:
    """``text`` with every part of ``url`` that :func:`redact_webhook_url` hides replaced by ``…`` (urllib puts the
    URL into some of its error messages)."""
    parts = urllib.parse.urlsplit(url)
    secrets = [url, parts.netloc, parts.path, parts.query, parts.fragment, parts.username, parts.password]
    for secret in sorted((s for s in secrets if s and len(s) > 1), key=len, reverse=True):
        text = text.replace(secret, "…")
    return text


def alert_payload(windows: Sequence[WindowResult], model: str, run_id: str | None, tracking_uri: str | None, *,
                  version: str | int | None = None) -> dict[str, Any]:
    """The JSON object POSTed to the webhook.

    Schema (``"schema": "driftloop.alert/1"``)::

        {
          "schema": "driftloop.alert/1",
          "text": "driftloop: wine-quality@champion: alert in 2 of 40 windows (...)",   # one line, for chat hooks
          "model": "wine-quality@champion",     # as given to the monitor
          "version": "3" | null,                # the registered model version
          "run_id": "..." | null,               # the MLflow monitoring run
          "tracking_uri": "..." | null,         # without user and password
          "verdict": "ok" | "warn" | "unknown" | "alert",   # the most urgent verdict over all windows
          "windows": 40,                        # windows judged
          "alerts": 2, "warnings": 3, "unknown": 1,   # windows with each verdict
          "fired": [                            # every window whose verdict is not ok, in order
            {"window": 12, "start": "ISO 8601", "end": "ISO 8601", "verdict": "alert", "reasons": ["..."]}
          ]                                     # count windows without time stamps: "first_row", "last_row"
                                                # (from 1) instead of "start" and "end"
        }

    >>> import pandas as pd
    >>> w = WindowResult(0, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-08"), 50, verdict="warn",
    ...                  reasons=["drift widespread: drift/share = 0.3 >= 0.25"])
    >>> payload = alert_payload([w], "wine@champion", "abc", "sqlite:///mlflow.db", version=3)
    >>> payload["verdict"], payload["fired"][0]["end"], payload["text"]
    ('warn', '2024-01-08T00:00:00', 'driftloop: wine@champion (version 3): warn in 1 of 1 windows; latest 2024-01-01: drift widespread: drift/share = 0.3 >= 0.25')
    """
    fired = [
        {"window": w.index, **w.bounds(), "verdict": w.verdict, "reasons": list(w.reasons)}
        for w in windows if w.verdict != "ok"
    ]
    level = max((SEVERITY_LEVEL.get(w.verdict, 0) for w in windows), default=0)
    verdict = VERDICTS[level]
    alerts = sum(w.verdict == "alert" for w in windows)
    warnings = sum(w.verdict == "warn" for w in windows)
    unknown = sum(w.verdict == "unknown" for w in windows)
    label = model if version is None else f"{model} (version {version})"
    text = f"driftloop: {label}: {verdict}"
    if fired:
        text += f" in {len(fired)} of {len(windows)} windows"
        latest = [w for w in windows if w.verdict != "ok"][-1]
        if latest.reasons:
            text += f"; latest {latest.label()}: {latest.reasons[0]}"
    return {
        "schema": PAYLOAD_SCHEMA,
        "text": text,
        "model": model,
        "version": None if version is None else str(version),
        "run_id": run_id,
        "tracking_uri": None if tracking_uri is None else redact_uri(tracking_uri),
        "verdict": verdict,
        "windows": len(windows),
        "alerts": alerts,
        "warnings": warnings,
        "unknown": unknown,
        "fired": fired,
    }


@dataclass(frozen=True)
class WebhookResult:
    """What became of one webhook delivery: ``ok`` when a 2xx answer came back; ``status`` is the last HTTP
    status (None when no answer came); ``error`` says why it failed."""

    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None


def check_webhook_url(url: str) -> str:
    """Validate a webhook URL (call it when parsing options, before monitoring); return it. The error names what is
    wrong without repeating the URL (its path or query may hold a token).

    >>> check_webhook_url("ftp://example.org/hook/s3cr3t")
    Traceback (most recent call last):
    ...
    driftloop.errors.DriftloopError: The 'webhook' parameter of monitor must be an http:// or https:// URL with a host; got a URL with scheme 'ftp'.
    """
    try:
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parts is not None:
            parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        parts, received = None, "a URL that cannot be parsed (host or port malformed)"
    else:
        received = f"a {type(url).__name__}" if parts is None else f"a URL with scheme {parts.scheme!r}"
    if parts is not None and parts.scheme in ("http", "https"):
        if parts.hostname:
            return url
        received = "a URL without a host"
    raise DriftloopError(
        f"The 'webhook' parameter of monitor must be an http:// or https:// URL with a host; got {received}."
    )


def send_webhook(url: str, payload: Mapping[str, Any], *, timeout: float = 5.0, retries: int = 3,
                 backoff: float = 0.5) -> WebhookResult:
    """POST ``payload`` as JSON to ``url``; never raises for network or HTTP errors.

    Up to ``1 + retries`` attempts: a connection error, a timeout (``timeout`` seconds per attempt) or a 5xx answer
    is retried after ``backoff * 2 ** (attempt - 1)`` seconds (0.5 s, 1 s, 2 s by default); a 4xx answer is not
    (the request itself is wrong). A failure is logged as a warning and returned.

    >>> send_webhook("not a url", {}).error
    'not an http(s) URL'
    """
    try:
        check_webhook_url(url)
    except DriftloopError:
        log.warning("webhook not sent: not an http(s) URL")
        return WebhookResult(ok=False, attempts=0, error="not an http(s) URL")
    try:
        body = json.dumps(payload, allow_nan=False, default=str).encode("utf-8")
    except (TypeError, ValueError) as error:  # NaN or a circular payload: a bug, but the monitor must finish
        log.warning("webhook not sent: the payload is not JSON: %s", error)
        return WebhookResult(ok=False, attempts=0, error=f"payload is not JSON: {error}")
    headers = {"Content-Type": "application/json", "User-Agent": "driftloop"}
    attempts, status, error = 0, None, None
    for attempt in range(1, max(0, retries) + 2):
        attempts = attempt
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked)
                status = response.status
            return WebhookResult(ok=True, attempts=attempts, status=status)
        except urllib.error.HTTPError as answer:
            status, error = answer.code, f"HTTP {answer.code} {answer.reason}"
            answer.close()
            if answer.code < 500:
                break
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as failure:
            # refused, unreachable, timed out, a path urllib refuses (InvalidURL), a broken answer
            reason = getattr(failure, "reason", failure)
            status, error = None, _scrub_url(f"{type(reason).__name__}: {reason}", url)
        if attempt <= retries:
            time.sleep(backoff * 2 ** (attempt - 1))
    log.warning("webhook %s failed after %d attempt(s): %s", redact_webhook_url(url), attempts, error)
    return WebhookResult(ok=False, attempts=attempts, status=status, error=error)
