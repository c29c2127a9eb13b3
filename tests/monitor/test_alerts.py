"""Alert rules: loading and validation, evaluation across windows, the payload, and the webhook against a real
local HTTP server."""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.errors import DriftloopError
from driftloop.monitor.alerts import (
    AlertRule,
    alert_payload,
    check_webhook_url,
    evaluate,
    load_rules,
    redact_webhook_url,
    rules_from_toml,
    send_webhook,
)
from driftloop.monitor.results import WindowResult

NAN = float("nan")


def make_windows(values: list[float | None], key: str = "performance/mae") -> list[WindowResult]:
    start = pd.Timestamp("2024-01-01")
    windows = []
    for index, value in enumerate(values):
        metrics = {"rows": 100.0} if value is None else {"rows": 100.0, key: value}
        begin = start + pd.Timedelta(weeks=index)
        windows.append(WindowResult(index, begin, begin + pd.Timedelta(weeks=1), 100, metrics=metrics))
    return windows


RULE_TOML = """
[[rule]]
name = "performance degraded"
metric = "performance/mae"
comparison = ">"
threshold = 1.25
relative_to = "training"
consecutive = 2
severity = "alert"
"""

# ------------------------------------------------------------------------------------------------------ loading


def test_default_rules_load_and_cover_the_documented_cases() -> None:
    rules = {rule.name: rule for rule in load_rules()}
    assert rules["drift widespread"] == AlertRule("drift widespread", "drift/share", ">=", 0.25, severity="warn")
    assert rules["drift widespread, sustained"].consecutive == 2
    assert rules["drift widespread, sustained"].severity == "alert"
    mae = rules["performance degraded (mae)"]
    assert (mae.metric, mae.comparison, mae.threshold, mae.relative_to, mae.consecutive) == (
        "performance/mae", ">", 1.25, "training", 2)
    assert rules["performance degraded (rmse)"].relative_to == "training"
    assert rules["performance degraded (accuracy)"].comparison == "<"
    assert rules["missing values"].severity == "warn"
    assert rules["columns missing"].severity == "alert"
    wrong_type = rules["values of the wrong type"]
    assert (wrong_type.metric, wrong_type.comparison, wrong_type.threshold, wrong_type.severity) == (
        "quality/*/type_errors", ">", 0, "warn")


def test_a_rules_file_adds_to_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(RULE_TOML, encoding="utf-8")
    rules = load_rules(path)
    assert rules[:-1] == load_rules()
    assert rules[-1] == AlertRule("performance degraded", "performance/mae", ">", 1.25, severity="alert",
                                  relative_to="training", consecutive=2)


def test_a_retrain_only_file_keeps_every_default_rule(tmp_path: Path) -> None:
    """The README's [retrain] example passed as --rules used to switch every alert off."""
    path = tmp_path / "rules.toml"
    path.write_text('[retrain]\npolicy = "performance"\nmetric = "relative_mae"\nlimit = 1.0\n', encoding="utf-8")
    assert load_rules(path) == load_rules()


def test_a_rule_named_as_a_default_replaces_it_in_place(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[rule]]\nname = "drift widespread"\nmetric = "drift/share"\ncomparison = ">="\n'
                    'threshold = 0.5\nseverity = "warn"\n', encoding="utf-8")
    defaults, merged = load_rules(), load_rules(path)
    assert [rule.name for rule in merged] == [rule.name for rule in defaults]
    (changed,) = [(old, new) for old, new in zip(defaults, merged, strict=True) if old != new]
    assert changed[1] == AlertRule("drift widespread", "drift/share", ">=", 0.5, severity="warn")
    windows = make_windows([0.3], key="drift/share")
    evaluate(windows, merged)
    assert windows[0].verdict == "ok"  # 0.3 fired the default (0.25), not the replacement (0.5)


def test_disable_takes_glob_patterns(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('disable = ["drift*"]\n', encoding="utf-8")
    assert [rule.name for rule in load_rules(path)] == [r.name for r in load_rules() if not r.name.startswith("drift")]
    path.write_text('disable = ["*"]\n' + RULE_TOML, encoding="utf-8")
    assert [rule.name for rule in load_rules(path)] == ["performance degraded"]


def test_disable_drops_defaults_by_name(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('disable = ["drift widespread", "drift widespread, sustained"]\n', encoding="utf-8")
    names = [rule.name for rule in load_rules(path)]
    assert names == [rule.name for rule in load_rules() if not rule.name.startswith("drift widespread")]
    windows = make_windows([0.9, 0.9], key="drift/share")
    evaluate(windows, load_rules(path))
    assert [w.verdict for w in windows] == ["ok", "ok"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('disable = ["drift wide"]\n', "'disable' names 'drift wide', which is not a built-in rule; the built-in "
                                        "rules are: 'drift widespread', "),
        ('disable = "drift widespread"\n', "'disable' must be a list of rule names"),
        ('disable = ["missing values"]\n[[rule]]\nname = "missing values"\nmetric = "quality/missing_rate"\n'
         'comparison = ">"\nthreshold = 0.2\nseverity = "warn"\n',
         "the rule 'missing values' is both in 'disable' and redefined"),
    ],
)
def test_bad_disable_lists_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DriftloopError) as caught:
        load_rules(path)
    assert message in caught.value.message and str(path) in caught.value.message


def test_the_default_rules_file_names_the_real_option() -> None:
    from importlib import resources

    from driftloop.cli.monitor import monitor

    text = resources.files("driftloop.monitor").joinpath("default_alerts.toml").read_text(encoding="utf-8")
    options = {name for parameter in monitor.params for name in parameter.opts}
    mentioned = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))
    assert mentioned and mentioned <= options, mentioned - options


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DriftloopError, match="does not exist"):
        load_rules(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('comparison = ">"', 'comparison = "=="'),
         "Alert rule 'performance degraded': the 'comparison' key must be one of > >= < <=; got '=='."),
        (("threshold = 1.25", 'threshold = "high"'),
         "Alert rule 'performance degraded': the 'threshold' key must be a finite number; got 'high'."),
        (("threshold = 1.25", "threshold = nan"),
         "Alert rule 'performance degraded': the 'threshold' key must be a finite number; got nan."),
        (("consecutive = 2", "consecutive = 0"),
         "Alert rule 'performance degraded': the 'consecutive' key must be an integer >= 1; got 0."),
        (("consecutive = 2", "consecutive = 1.5"),
         "Alert rule 'performance degraded': the 'consecutive' key must be an integer >= 1; got 1.5."),
        (('severity = "alert"', 'severity = "critical"'),
         "Alert rule 'performance degraded': the 'severity' key must be 'warn' or 'alert'; got 'critical'."),
        (('relative_to = "training"', 'relative_to = "baseline"'),
         "Alert rule 'performance degraded': the 'relative_to' key must be 'training'"),
        (('metric = "performance/mae"', 'metric = ""'),
         "Alert rule 'performance degraded': the 'metric' key must be a non-empty metric key"),
        (('consecutive = 2', 'consecutiv = 2'),
         "Alert rule 'performance degraded': the 'consecutiv' key must be one of the known keys"),
        (('threshold = 1.25', ''),
         "Alert rule 'performance degraded' in rules.toml: the 'threshold' key is missing."),
        (('[[rule]]', '[rule]'), "'rule' must be an array of tables"),
        (('comparison = ">"', 'comparison = >'), "rules.toml is not valid TOML"),
    ],
)
def test_bad_rules_are_named(change: tuple[str, str], message: str) -> None:
    text = RULE_TOML.replace(*change)
    with pytest.raises(DriftloopError) as caught:
        rules_from_toml(text, source="rules.toml")
    assert message in caught.value.message


def test_duplicate_names_and_stray_keys_are_rejected() -> None:
    with pytest.raises(DriftloopError, match="the 'name' key must be unique"):
        rules_from_toml(RULE_TOML + RULE_TOML)
    with pytest.raises(DriftloopError, match="got the top-level key\\(s\\) rules"):
        rules_from_toml("rules = 1\n" + RULE_TOML)


# --------------------------------------------------------------------------------------------------- evaluation


def test_relative_to_training_with_reason() -> None:
    windows = make_windows([95.0, 120.0, 152.3, 160.0, 100.0])
    evaluate(windows, rules_from_toml(RULE_TOML), training_metrics={"mae": 90.0})
    assert [w.verdict for w in windows] == ["ok", "ok", "alert", "alert", "ok"]
    assert windows[2].reasons == [
        "performance degraded: performance/mae = 152.3 > 112.5 (1.25 x training 90) for 2 windows"]
    assert windows[3].reasons[0].endswith("for 3 windows")
    assert [w.metrics["verdict"] for w in windows] == [0.0, 0.0, 2.0, 2.0, 0.0]


def test_training_value_under_the_full_key_wins() -> None:
    windows = make_windows([120.0, 120.0])
    evaluate(windows, rules_from_toml(RULE_TOML), training_metrics={"performance/mae": 100.0, "mae": 10.0})
    assert [w.verdict for w in windows] == ["ok", "ok"]


def test_relative_rule_without_training_value_does_not_fire(caplog: pytest.LogCaptureFixture) -> None:
    windows = make_windows([500.0, 500.0])
    evaluate(windows, rules_from_toml(RULE_TOML), training_metrics={"rmse": 1.0})
    assert [w.verdict for w in windows] == ["ok", "ok"]
    assert "no training value for 'performance/mae'" in caplog.text


def test_missing_or_nan_values_break_the_run() -> None:
    windows = make_windows([200.0, NAN, 200.0, None, 200.0, 200.0])
    evaluate(windows, rules_from_toml(RULE_TOML), training_metrics={"mae": 100.0})
    assert [w.verdict for w in windows] == ["ok", "ok", "ok", "ok", "ok", "alert"]


def test_worst_severity_wins_and_all_reasons_are_listed() -> None:
    rules = load_rules()
    windows = make_windows([0.3, 0.5, 0.1], key="drift/share")
    windows[2].metrics["quality/missing_rate"] = 0.2
    evaluate(windows, rules, training_metrics={})
    assert [w.verdict for w in windows] == ["warn", "alert", "warn"]
    assert windows[1].reasons == [
        "drift widespread: drift/share = 0.5 >= 0.25 for 2 windows",
        "drift widespread, sustained: drift/share = 0.5 >= 0.25 for 2 windows",
    ]
    assert windows[2].reasons == ["missing values: quality/missing_rate = 0.2 > 0.1"]


def test_glob_rules_judge_each_matching_key() -> None:
    rule = AlertRule("unseen", "quality/*/unseen", ">", 0.05, severity="warn")
    windows = make_windows([0.1, 0.0], key="quality/colour/unseen")
    windows[1].metrics["quality/grape/unseen"] = 0.5
    evaluate(windows, [rule])
    assert windows[0].reasons == ["unseen: quality/colour/unseen = 0.1 > 0.05"]
    assert windows[1].reasons == ["unseen: quality/grape/unseen = 0.5 > 0.05"]


def test_evaluate_is_idempotent_and_keeps_foreign_reasons() -> None:
    windows = make_windows([200.0, 200.0, 50.0])
    windows[2].reasons.append("empty labels file")
    rules = rules_from_toml(RULE_TOML)
    evaluate(windows, rules, training_metrics={"mae": 100.0})
    first = [(w.verdict, list(w.reasons), dict(w.metrics)) for w in windows]
    evaluate(windows, rules, training_metrics={"mae": 100.0})
    assert [(w.verdict, w.reasons, w.metrics) for w in windows] == first
    assert windows[2].reasons == ["empty labels file"]
    # a later pass with better values clears the verdict again
    windows[1].metrics["performance/mae"] = 50.0
    evaluate(windows, rules, training_metrics={"mae": 100.0})
    assert [w.verdict for w in windows] == ["ok", "ok", "ok"]


values = st.lists(st.one_of(st.none(), st.just(NAN), st.floats(0, 10, allow_nan=False)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(values=values, k=st.integers(1, 5), comparison=st.sampled_from([">", ">=", "<", "<="]),
       threshold=st.floats(0, 10, allow_nan=False))
def test_consecutive_fires_iff_the_last_k_windows_all_hold(values: list[float | None], k: int, comparison: str,
                                                           threshold: float) -> None:
    rule = AlertRule("r", "m", comparison, threshold, severity="warn", consecutive=k)
    windows = make_windows(values, key="m")
    evaluate(windows, [rule])
    ops = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}

    def holds(value: float | None) -> bool:
        return value is not None and not math.isnan(value) and ops[comparison](value, threshold)

    for i, window in enumerate(windows):
        expected = i >= k - 1 and all(holds(values[j]) for j in range(i - k + 1, i + 1))
        assert (window.verdict == "warn") is expected
        assert window.metrics["verdict"] == (1.0 if expected else 0.0)


def test_payload_lists_fired_windows() -> None:
    windows = make_windows([200.0, 200.0, 200.0])
    evaluate(windows, rules_from_toml(RULE_TOML), training_metrics={"mae": 100.0})
    payload = alert_payload(windows, "bikes@champion", "run123", "https://me:pw@mlflow.example.org", version=4)
    assert json.loads(json.dumps(payload)) == payload
    assert payload["schema"] == "driftloop.alert/1"
    assert (payload["model"], payload["version"], payload["run_id"]) == ("bikes@champion", "4", "run123")
    assert payload["tracking_uri"] == "https://***@mlflow.example.org"
    assert (payload["verdict"], payload["windows"], payload["alerts"], payload["warnings"]) == ("alert", 3, 2, 0)
    assert [f["window"] for f in payload["fired"]] == [1, 2]
    assert payload["fired"][0] == {"window": 1, "start": "2024-01-08T00:00:00", "end": "2024-01-15T00:00:00",
                                   "verdict": "alert", "reasons": windows[1].reasons}


# ------------------------------------------------------------------------------------------------------ webhook


class Hook:
    """A real HTTP server on 127.0.0.1 whose answers are scripted: a list of (status, delay seconds)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, float]] = []
        self.received: list[dict[str, object]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append({"body": json.loads(body), "type": self.headers["Content-Type"]})
                status, delay = hook.script.pop(0) if hook.script else (200, 0.0)
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:  # the client gave up (timeout)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_webhook_success(hook: Hook) -> None:
    result = send_webhook(hook.url, {"verdict": "alert"})
    assert (result.ok, result.attempts, result.status, result.error) == (True, 1, 200, None)
    assert hook.received == [{"body": {"verdict": "alert"}, "type": "application/json"}]


def test_webhook_retries_a_server_error(hook: Hook) -> None:
    hook.script = [(500, 0.0), (503, 0.0)]
    started = time.monotonic()
    result = send_webhook(hook.url, {"n": 1}, backoff=0.05)
    assert (result.ok, result.attempts, result.status) == (True, 3, 200)
    assert len(hook.received) == 3
    assert time.monotonic() - started >= 0.05 + 0.1  # exponential backoff: 0.05 s, then 0.1 s


def test_webhook_gives_up_after_the_retries(hook: Hook) -> None:
    hook.script = [(500, 0.0)] * 5
    result = send_webhook(hook.url, {}, retries=2, backoff=0.01)
    assert (result.ok, result.attempts, result.status) == (False, 3, 500)
    assert result.error is not None and "HTTP 500" in result.error
    assert len(hook.received) == 3


def test_webhook_does_not_retry_a_client_error(hook: Hook) -> None:
    hook.script = [(400, 0.0)]
    result = send_webhook(hook.url, {}, backoff=0.01)
    assert (result.ok, result.attempts, result.status) == (False, 1, 400)
    assert len(hook.received) == 1


def test_webhook_timeout_is_retried_then_reported(hook: Hook) -> None:
    hook.script = [(200, 1.0), (200, 1.0)]
    started = time.monotonic()
    result = send_webhook(hook.url, {}, timeout=0.2, retries=1, backoff=0.01)
    elapsed = time.monotonic() - started
    assert (result.ok, result.attempts, result.status) == (False, 2, None)
    assert result.error is not None and "timed out" in result.error
    assert elapsed < 0.9  # the client did not wait for the slow server


def test_webhook_connection_refused_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    result = send_webhook(url, {}, retries=1, backoff=0.01)
    assert (result.ok, result.attempts, result.status) == (False, 2, None)
    assert result.error is not None and "refused" in result.error.lower()
    assert "webhook" in caplog.text and "failed after 2 attempt(s)" in caplog.text


def test_numpy_numbers_are_judged() -> None:
    import numpy as np

    windows = make_windows([0.0, 0.0], key="drift/share")
    windows[0].metrics["drift/share"] = np.float32(0.5)  # type: ignore[assignment]
    windows[1].metrics["drift/share"] = np.float64(0.5)
    evaluate(windows, load_rules())
    assert [w.verdict for w in windows] == ["warn", "alert"]


def test_webhook_with_a_bad_payload_or_url_never_raises() -> None:
    assert send_webhook("http://127.0.0.1:9/hook", {"x": float("nan")}).error.startswith("payload is not JSON")
    assert send_webhook("file:///etc/passwd", {}).attempts == 0


SECRET = "s3cr3t-T0KEN"


def test_a_failed_webhook_never_prints_the_path_query_or_password(caplog: pytest.LogCaptureFixture) -> None:
    """Chat and incident hooks carry their token in the path or the query: a failure shows scheme, host and port."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/{SECRET}?token={SECRET}#{SECRET}"
    result = send_webhook(url, {}, retries=1, backoff=0.01)
    assert not result.ok and result.error is not None and "refused" in result.error.lower()
    assert SECRET not in result.error and SECRET not in caplog.text
    assert f"http://127.0.0.1:{port}/…" in caplog.text


def test_a_malformed_webhook_path_is_not_repeated_by_urllib(hook: Hook, caplog: pytest.LogCaptureFixture) -> None:
    result = send_webhook(f"{hook.url}/a b/{SECRET}?token={SECRET}", {}, retries=0)  # urllib quotes the path back
    assert not result.ok and result.attempts == 1 and result.error is not None
    assert SECRET not in result.error and SECRET not in caplog.text and hook.received == []


@pytest.mark.parametrize(("url", "received"), [
    (f"ftp://example.org/{SECRET}", "a URL with scheme 'ftp'"),
    (f"{SECRET}/hook", "a URL with scheme ''"),
    (f"https:///{SECRET}", "a URL without a host"),
    (f"http://[::1/{SECRET}", "a URL that cannot be parsed"),
    (f"http://example.org:{SECRET}/hook", "a URL that cannot be parsed"),
])
def test_a_bad_webhook_url_is_refused_without_repeating_it(url: str, received: str) -> None:
    with pytest.raises(DriftloopError) as error:
        check_webhook_url(url)
    assert received in str(error.value) and SECRET not in str(error.value)
    assert SECRET not in str(send_webhook(url, {}).error)


def test_a_webhook_url_is_redacted_to_scheme_host_and_port() -> None:
    assert redact_webhook_url(f"https://u:{SECRET}@[::1]:8443/x?t={SECRET}") == "https://[::1]:8443/…"
    assert redact_webhook_url("http://example.org") == "http://example.org"
    assert redact_webhook_url(f"http://[::1/{SECRET}") == "<a URL that is not http(s)>"


def test_the_default_estimated_rules_fire_on_the_bands_optimistic_bound() -> None:
    from driftloop.monitor.alerts import evaluate, load_rules

    day = pd.Timestamp("2024-01-01")

    def window(i: int, lower: float) -> WindowResult:
        return WindowResult(i, day, day, 100, metrics={"estimated/mae": lower + 0.1, "estimated/mae/lower": lower,
                                                       "estimated/mae/upper": lower + 0.2})

    windows = [window(0, 0.70), window(1, 0.70), window(2, 0.60), window(3, 0.70)]
    evaluate(windows, load_rules(None), training_metrics={"performance/mae": 0.5})   # fires above 0.625
    fired = [[r for r in w.reasons if r.startswith("estimated performance degraded (mae)")] for w in windows]
    assert [bool(f) for f in fired] == [False, True, False, False]
    assert "estimated/mae/lower" in fired[1][0] and "1.25 x training 0.5" in fired[1][0]
