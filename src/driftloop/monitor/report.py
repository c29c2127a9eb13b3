"""The monitoring report: one self-contained HTML document per monitoring run.

Everything is inline — CSS, and SVG charts drawn by :mod:`driftloop.monitor.charts` — so the file renders offline,
attached to an MLflow run or sent by mail: no CDN, no script, no font or image to fetch. Every piece of text that
comes from data (column names, reasons, the model's name) is escaped.

Sections: a header (model, data range, windows, alerts); a verdict strip (one cell per window); the coverage (what
share of the profiled columns, predictions and labels could be judged: windows judged only in part are ``warn``,
windows where nothing could be judged ``unknown``); timelines of realised performance and label coverage, of the
drift share, and of data quality, with warn, unknown and alert windows shaded; reference-versus-window
distributions of the most drifted features; the alert rules; a table of windows.

>>> import pandas as pd
>>> from driftloop.monitor.results import WindowResult
>>> day = pd.Timestamp("2024-03-04")
>>> html = render_report([WindowResult(0, day, day + pd.Timedelta(days=7), 120, metrics={"drift/share": 0.1})],
...                      title="Monitoring", model="wine-quality@champion (version 3)")
>>> html.startswith("<!DOCTYPE html>"), "2024-03-04" in html, "<svg" in html
(True, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from html import escape
from pathlib import Path


from driftloop.monitor.alerts import AlertRule, training_value, as_number
from driftloop.monitor.charts import (
    SERIES_COLOURS,
    Series,
    Threshold,
    bar_chart,
    finite,
    fmt_tick,
    line_chart,
    verdict_strip,
)
from driftloop.monitor.results import FeatureDistribution, WindowResult

TOP_FEATURES = 6  # distributions shown, most drifted first
MAX_BINS = 20  # bins or categories per distribution chart; smaller categories are summed into "(other)"
QUALITY_COLUMNS = 3  # columns whose out-of-range share is drawn, the worst first

PERFORMANCE_ORDER = ("mae", "relative_mae", "naive_mae", "rmse", "r2", "accuracy", "f1", "roc_auc", "log_loss")
PERFORMANCE_NAMES = {"mae": "MAE", "rmse": "RMSE", "r2": "R²", "accuracy": "Accuracy", "f1": "F1",
                     "roc_auc": "ROC AUC", "log_loss": "Log loss", "relative_mae": "MAE / naive forecast's MAE",
                     "naive_mae": "MAE of the naive forecast", "precision": "Precision", "recall": "Recall"}
NOT_PERFORMANCE = ("label_coverage", "labelled_rows", "naive_rows")
ESTIMATED_ORDER = ("accuracy", "f1", "precision", "recall", "roc_auc", "mae", "rmse")
#: Estimated metrics defined as the realised ``performance/<metric>`` is, so that both go on one chart.
ESTIMATED_LIKE_REALISED = ("accuracy", "roc_auc", "mae", "rmse")


# -------------------------------------------------------------------------------------------------- formatting


def _date_format(windows: Sequence[WindowResult]) -> str:
    stamps = [t for w in windows if not w.by_rows for t in (w.start, w.end)]
    midnight = all(t.hour == 0 and t.minute == 0 and t.second == 0 for t in stamps)
    return "%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M"


def _fmt(value: float | None, percent: bool = False) -> str:
    """A table value; NaN or missing as an em dash.

    >>> _fmt(float("nan")), _fmt(0.1234, percent=True), _fmt(152.345), _fmt(12000.0)
    ('—', '12.3%', '152.3', '12,000')
    """
    value = as_number(value)
    if value is None:
        return "—"
    if percent:
        return f"{value * 100:.1f}%"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _end_label(window: WindowResult, date: str) -> str:
    """A window on a chart's axis: its end as ``date``, or its rows (count windows without time stamps)."""
    return window.label() if window.by_rows else window.end.strftime(date)


def _bounds(window: WindowResult, date: str) -> tuple[str, str]:
    """The first and last cell of the table: start and end as ``date``, or first and last row."""
    if window.row_range is not None:
        return f"row {window.row_range[0]:,}", f"row {window.row_range[1]:,}"
    return window.start.strftime(date), window.end.strftime(date)


def _pill(verdict: str) -> str:
    return f'<span class="pill {escape(verdict)}">{escape(verdict)}</span>'


def _section(title: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{escape(note)}</p>' if note else ""
    return f'<section><h2>{escape(title)}</h2>{note_html}{body}</section>'


def _panel(title: str, chart: str, legend: Sequence[tuple[str, str]] = (), wide: bool = False) -> str:
    items = "".join(f'<span class="key"><i class="{css}"></i>{escape(name)}</span>' for name, css in legend)
    legend_html = f'<div class="legend">{items}</div>' if items else ""
    return f'<figure class="panel{" wide" if wide else ""}"><figcaption>{escape(title)}</figcaption>' \
           f"{legend_html}{chart}</figure>"


# ------------------------------------------------------------------------------------------------- thresholds


def _thresholds(key: str, rules: Sequence[AlertRule], training: Mapping[str, float],
                percent: bool) -> list[Threshold]:
    """The rules' thresholds on ``key`` (a relative one only when its training value is known), the strictest
    severity kept when two coincide, plus the training value itself."""
    lines: dict[float, Threshold] = {}
    base = training_value(key, training)
    for rule in rules:
        if rule.is_pattern or rule.metric != key:
            continue
        value = rule.threshold
        if rule.relative_to == "training":
            if base is None:
                continue
            value = rule.threshold * base
        shown = fmt_tick(value, percent) if percent else _fmt(value)
        label = f"{rule.severity} {rule.comparison} {shown}"
        if rule.consecutive > 1:
            label += f" ({rule.consecutive} in a row)"
        if value not in lines or rule.severity == "alert":
            lines[value] = Threshold(value, label, rule.severity)
    if base is not None and key.startswith("performance/"):
        lines.setdefault(base, Threshold(base, f"training {_fmt(base)}", "training"))
    return list(lines.values())


def _legend(series: Sequence[Series], thresholds: Sequence[Threshold],
            verdicts: Sequence[str]) -> list[tuple[str, str]]:
    legend = [(s.name, f"line c{SERIES_COLOURS.index(s.colour)}") for s in series]
    kinds = {t.kind for t in thresholds}
    legend += [(name, f"dash {kind}") for kind, name in
               (("training", "training value"), ("warn", "warn threshold"), ("alert", "alert threshold"))
               if kind in kinds]
    legend += [(name, f"band {kind}") for kind, name in
               (("warn", "warn window"), ("unknown", "unknown window"), ("alert", "alert window")) if kind in verdicts]
    return legend


# ---------------------------------------------------------------------------------------------------- sections


def _header(windows: Sequence[WindowResult], title: str, model: str, subtitle: str, date: str,
            open_steps: Collection[int]) -> str:
    alerts = sum(w.verdict == "alert" for w in windows)
    warns = sum(w.verdict == "warn" for w in windows)
    unknown = sum(w.verdict == "unknown" for w in windows)
    if windows:
        span = f"{_bounds(windows[0], date)[0]} → {_bounds(windows[-1], date)[1]}"
        latest = windows[-1].verdict
    else:
        span, latest = "no data", "ok"
    opened = sum(w.index in open_steps for w in windows)
    cards = [
        ("Model", escape(model), ""),
        ("Data", escape(span), ""),
        ("Windows", f"{len(windows):,}", f"{sum(w.rows for w in windows):,} rows"
                                         + (f"; {opened:,} open" if opened else "")),
        ("Alerts", f"{alerts:,}", f"{warns:,} warning{'s' if warns != 1 else ''}, {unknown:,} unknown"),
        ("Latest window", _pill(latest) if windows else "—",
         "open: provisional" if windows and windows[-1].index in open_steps else ""),
    ]
    card_html = "".join(
        f'<div class="card{" alert" if name == "Alerts" and (alerts or unknown) else ""}">'
        f'<div class="label">{name}</div>'
        f'<div class="value">{value}</div><div class="sub">{escape(sub)}</div></div>'
        for name, value, sub in cards
    )
    sub_html = f'<p class="subtitle">{escape(subtitle)}</p>' if subtitle else ""
    return f'<header><h1>{escape(title)}</h1>{sub_html}<div class="cards">{card_html}</div></header>'


def _series(windows: Sequence[WindowResult], key: str) -> list[float]:
    values = []
    for w in windows:
        value = w.metrics.get(key)
        number = as_number(value)
        values.append(math.nan if number is None else number)
    return values


def _timeline(windows: Sequence[WindowResult], labels: Sequence[str], key: str, name: str,
              rules: Sequence[AlertRule], training: Mapping[str, float], *, percent: bool = False,
              colour: str = SERIES_COLOURS[0], y_min: float | None = None, y_max: float | None = None,
              wide: bool = False, title: str | None = None) -> str:
    series = [Series(name, _series(windows, key), colour)]
    thresholds = _thresholds(key, rules, training, percent)
    verdicts = [w.verdict for w in windows]
    chart = line_chart(labels, series, verdicts=verdicts, thresholds=thresholds, percent=percent, y_label=name,
                       y_min=y_min, y_max=y_max, width=1140 if wide else 560)
    return _panel(title or name, chart, _legend(series, thresholds, verdicts), wide)


def _performance_section(windows: Sequence[WindowResult], labels: Sequence[str], rules: Sequence[AlertRule],
                         training: Mapping[str, float]) -> str:
    keys = {k.split("/", 1)[1] for w in windows for k in w.metrics if k.startswith("performance/")}
    names = [n for n in PERFORMANCE_ORDER if n in keys] + sorted(keys - set(PERFORMANCE_ORDER) - set(NOT_PERFORMANCE))
    names = [n for n in names if "/" not in n and finite(_series(windows, f"performance/{n}"))]
    if not names:
        return _section("Performance", '<p class="empty">No labels arrived for these windows: realised performance '
                                       "cannot be measured yet.</p>")
    panels = [_timeline(windows, labels, f"performance/{n}", PERFORMANCE_NAMES.get(n, n), rules, training)
              for n in names]
    if "label_coverage" in keys:
        panels.append(_timeline(windows, labels, "performance/label_coverage", "label coverage", rules, training,
                                percent=True, colour=SERIES_COLOURS[1], y_min=0.0, y_max=1.0,
                                title="Label coverage (share of rows with a label)"))
    return _section("Performance", f'<div class="grid">{"".join(panels)}</div>',
                    "Realised performance on the rows whose label has arrived; gaps are windows without labels.")


COVERAGE_SERIES = (("coverage/columns", "profiled columns compared"),
                   ("coverage/predictions", "rows with a prediction"), ("coverage/labels", "rows with a label"))


def _estimated_section(windows: Sequence[WindowResult], labels: Sequence[str], rules: Sequence[AlertRule],
                       training: Mapping[str, float]) -> str:
    """One chart per ``estimated/<metric>``: the estimate, its band, the realised ``performance/<metric>`` where
    labels arrived and it is the same figure (:data:`ESTIMATED_LIKE_REALISED`), the training value, the rules."""
    names = [n for n in ESTIMATED_ORDER if finite(_series(windows, f"estimated/{n}"))]
    if not names:
        return ""
    verdicts = [w.verdict for w in windows]
    panels = []
    for name in names:
        series = [Series("estimated", _series(windows, f"estimated/{name}"), SERIES_COLOURS[0]),
                  Series("band, lower bound", _series(windows, f"estimated/{name}/lower"), SERIES_COLOURS[3]),
                  Series("band, upper bound", _series(windows, f"estimated/{name}/upper"), SERIES_COLOURS[4])]
        realised = _series(windows, f"performance/{name}")
        if name in ESTIMATED_LIKE_REALISED and finite(realised):
            series.append(Series("realised", realised, SERIES_COLOURS[1]))
        thresholds = [t for bound in ("lower", "upper")
                      for t in _thresholds(f"estimated/{name}/{bound}", rules, training, False)]
        base = training_value(f"estimated/{name}", training)
        if base is not None:
            thresholds.append(Threshold(base, f"training {_fmt(base)}", "training"))
        shown = PERFORMANCE_NAMES.get(name, name)
        chart = line_chart(labels, series, verdicts=verdicts, thresholds=thresholds, y_label=f"{shown} (estimated)")
        title = f"{shown}, estimated and realised" if len(series) > 3 else f"{shown}, estimated"
        panels.append(_panel(title, chart, _legend(series, thresholds, verdicts)))
    return _section("Estimated performance", f'<div class="grid">{"".join(panels)}</div>',
                    "Estimated from the model's outputs on every row (CBPE for a classifier, DLE for a regressor), "
                    "whether or not labels arrived, with the band that holds the realised value in 95 % of windows "
                    "like the reference; the realised value is drawn where labels arrived (for accuracy, ROC AUC, "
                    "MAE and RMSE: the realised F1 is macro-averaged, the estimated F1, precision and recall of two "
                    "classes are the positive class's).")


def _coverage_section(windows: Sequence[WindowResult], labels: Sequence[str]) -> str:
    """How much of each window could be judged; a sentence that counts the windows judged in part or not at all."""
    series = [Series(name, _series(windows, key), SERIES_COLOURS[i])
              for i, (key, name) in enumerate(COVERAGE_SERIES) if finite(_series(windows, key))]
    unknown = [w for w in windows if w.verdict == "unknown"]
    partial = [w for w in windows if w.verdict != "unknown" and any(r.startswith("coverage: ") for r in w.reasons)]
    if unknown or partial:
        summary = (f'<p class="coverage-alarm"><b>{len(unknown)} window(s) could not be judged at all</b> (verdict '
                   f"unknown) and {len(partial)} only in part: their silence is not an all-clear. The reasons in the "
                   "table say what was missing.</p>")
    elif series:
        summary = '<p class="note">Every window was judged in full: all profiled columns compared, every row ' \
                  "predicted, and labels where they were expected.</p>"
    else:
        summary = '<p class="empty">No coverage figures in these windows (logged by an earlier driftloop).</p>'
    note = ("A window judged only in part (a profiled column not compared, a row without a prediction, no label "
            "where labels were expected) is warn; one where nothing could be judged is unknown.")
    if not series:
        return _section("Coverage", summary, note)
    verdicts = [w.verdict for w in windows]
    chart = line_chart(labels, series, verdicts=verdicts, thresholds=[], percent=True, y_min=0.0, y_max=1.0,
                       y_label="share judged", width=1140)
    return _section("Coverage", summary + _panel("Share of each window that could be judged", chart,
                                                 _legend(series, [], verdicts), wide=True), note)


def _drift_section(windows: Sequence[WindowResult], labels: Sequence[str], rules: Sequence[AlertRule],
                   training: Mapping[str, float]) -> str:
    if not finite(_series(windows, "drift/share")):
        return _section("Drift", '<p class="empty">No drift measured in these windows: no profiled column could be '
                                 "compared (see Coverage and the reasons in the table).</p>")
    panel = _timeline(windows, labels, "drift/share", "drifted features", rules, training, percent=True,
                      y_min=0.0, wide=True, title="Share of features drifted")
    return _section("Drift", panel, "Share of the model's features whose distribution differs from the reference "
                                    "(calibrated per feature: a stable window flags any feature with chance <= 2%).")


def _out_of_range_columns(windows: Sequence[WindowResult]) -> list[tuple[str, str]]:
    prefix, suffix = "quality/", "/out_of_range"
    keys = {k for w in windows for k in w.metrics if k.startswith(prefix) and k.endswith(suffix)}
    peaks = {k: max(finite(_series(windows, k)), default=0.0) for k in keys}
    worst = sorted((k for k in keys if peaks[k] > 0), key=lambda k: (-peaks[k], k))[:QUALITY_COLUMNS]
    return [(k, k[len(prefix):-len(suffix)]) for k in worst]


def _quality_section(windows: Sequence[WindowResult], labels: Sequence[str], rules: Sequence[AlertRule],
                     training: Mapping[str, float]) -> str:
    series, keys = [], []
    if finite(_series(windows, "quality/missing_rate")):
        series.append(Series("missing cells", _series(windows, "quality/missing_rate"), SERIES_COLOURS[0]))
        keys.append("quality/missing_rate")
    for position, (key, column) in enumerate(_out_of_range_columns(windows), start=1):
        series.append(Series(f"{column}: outside reference range", _series(windows, key), SERIES_COLOURS[position]))
    if not series:
        return _section("Data quality", '<p class="empty">No data-quality figures in these windows.</p>')
    thresholds = [t for key in keys for t in _thresholds(key, rules, training, True)]
    verdicts = [w.verdict for w in windows]
    chart = line_chart(labels, series, verdicts=verdicts, thresholds=thresholds, percent=True, y_min=0.0,
                       y_label="share", width=1140)
    missing = [(w, w.metrics.get("quality/missing_columns")) for w in windows]
    broken = sum(1 for _, v in missing if (as_number(v) or 0.0) > 0)
    note = "Missing cells over the model's inputs, and the columns with the largest share of values outside the " \
           "reference's range."
    if broken:
        note += f" {broken} window(s) lack columns the model expects (see the table)."
    return _section("Data quality", _panel("Missing and out-of-range values",
                                           chart, _legend(series, thresholds, verdicts), wide=True), note)


def _fold(distribution: FeatureDistribution, limit: int = MAX_BINS) -> tuple[list[str], list[float], list[float]]:
    """The distribution's labels and shares, its smallest categories summed into "(other)" beyond ``limit``."""
    labels = list(distribution.labels)
    reference, window = list(distribution.reference_share), list(distribution.window_share)
    if len(labels) <= limit:
        return labels, reference, window
    order = sorted(range(len(labels)), key=lambda i: -max(reference[i], window[i]))
    kept, rest = sorted(order[: limit - 1]), order[limit - 1:]
    return ([labels[i] for i in kept] + [f"(other {len(rest)})"],
            [reference[i] for i in kept] + [sum(reference[i] for i in rest)],
            [window[i] for i in kept] + [sum(window[i] for i in rest)])


def most_drifted(windows: Sequence[WindowResult], top: int = TOP_FEATURES) -> list[tuple[FeatureDistribution,
                                                                                          WindowResult]]:
    """For each column, its distribution in the window where its statistic peaks; the ``top`` highest first.

    Statistics are ranked by value, so the ranking assumes the distributions of a run carry comparable statistics
    (one statistic for all columns, as the monitor writes them).
    """
    best: dict[str, tuple[FeatureDistribution, WindowResult]] = {}
    for window in windows:
        for dist in window.distributions:
            value = dist.value if math.isfinite(dist.value) else -math.inf
            held = best.get(dist.column)
            if held is None or value > (held[0].value if math.isfinite(held[0].value) else -math.inf):
                best[dist.column] = (dist, window)
    ranked = sorted(best.values(), key=lambda pair: (-(pair[0].value if math.isfinite(pair[0].value)
                                                         else -math.inf), pair[0].column))
    return ranked[:top]


def _distributions_section(windows: Sequence[WindowResult], date: str) -> str:
    chosen = most_drifted(windows)
    if not chosen:
        return _section("Most drifted features", '<p class="empty">No feature distributions were recorded.</p>')
    panels = []
    for dist, window in chosen:
        labels, reference, current = _fold(dist)
        chart = bar_chart(labels, reference, current, window_name=f"window {window.index}")
        title = f"{dist.column} — {dist.statistic} {_fmt(dist.value)}"
        when = f"window {window.index}: {' → '.join(_bounds(window, date))}"
        panels.append(_panel(title, chart, [("reference", "bar ref"), (when, "bar win")]))
    return _section("Most drifted features", f'<div class="grid">{"".join(panels)}</div>',
                    "Each feature in the window where it drifted most, against the reference; "
                    "bins are fixed on the reference, with overflow bins for values outside it.")


def _condition(rule: AlertRule, training: Mapping[str, float]) -> str:
    """``> 1.25 × training (112.5)``, or ``>= 0.25``."""
    text = f"{rule.comparison} {_fmt(rule.threshold)}"
    if rule.relative_to != "training":
        return escape(text)
    base = training_value(rule.metric, training)
    text += " × training"
    if base is not None and not rule.is_pattern:
        text += f" ({_fmt(rule.threshold * base)})"
    return escape(text)


def _rules_section(rules: Sequence[AlertRule], training: Mapping[str, float]) -> str:
    if not rules:
        return ""
    rows = "".join(
        f"<tr><td>{escape(r.name)}</td><td><code>{escape(r.metric)}</code></td>"
        f"<td>{_condition(r, training)}</td><td class=num>{r.consecutive}</td><td>{_pill(r.severity)}</td></tr>"
        for r in rules
    )
    table = ("<table><thead><tr><th>rule</th><th>metric</th><th>condition</th><th class=num>windows in a row</th>"
             f"<th>severity</th></tr></thead><tbody>{rows}</tbody></table>")
    return _section("Alert rules", table)


def _table_section(windows: Sequence[WindowResult], date: str, open_steps: Collection[int]) -> str:
    perf = next((f"performance/{n}" for n in PERFORMANCE_ORDER
                 if any(f"performance/{n}" in w.metrics for w in windows)), None)
    perf_head = f"<th class=num>{escape(PERFORMANCE_NAMES[perf.split('/')[1]])}</th>" if perf else ""
    rows = []
    for w in windows:
        reasons = "<br>".join(escape(r) for r in w.reasons) or '<span class="muted">—</span>'
        perf_cell = f"<td class=num>{_fmt(w.metrics.get(perf))}</td>" if perf else ""
        first, last = _bounds(w, date)
        state = '<span class="pill open">open</span>' if w.index in open_steps else "closed"
        rows.append(
            f'<tr class="{escape(w.verdict)}{" open" if w.index in open_steps else ""}"><td class=num>{w.index}</td>'
            f"<td>{state}</td><td>{first}</td><td>{last}</td><td class=num>{w.rows:,}</td>"
            f"<td class=num>{_fmt(w.metrics.get('coverage/columns'), percent=True)}</td>"
            f"<td class=num>{_fmt(w.metrics.get('drift/share'), percent=True)}</td>{perf_cell}"
            f"<td>{_pill(w.verdict)}</td><td class=reasons>{reasons}</td></tr>"
        )
    table = ("<div class=scroll><table><thead><tr><th class=num>#</th><th>state</th><th>start</th><th>end</th>"
             f"<th class=num>rows</th><th class=num>columns compared</th><th class=num>drift share</th>{perf_head}"
             "<th>verdict</th><th>reasons</th>"
             f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
    note = ("An open window may still receive rows or labels: its figures are provisional, re-assessed by the next "
            "monitoring pass, and final once it closes." if any(w.index in open_steps for w in windows) else "")
    return _section("Windows", table, note)


# -------------------------------------------------------------------------------------------------------- page


CSS = """
:root{--text:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--ok:#4caf7d;--warn:#e5a03a;--unknown:#6b5b95;
--alert:#d64545}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.5 "Segoe UI",Roboto,"Helvetica Neue",
"Liberation Sans","DejaVu Sans",Arial,sans-serif}
main{max-width:1220px;margin:0 auto;padding:28px 28px 48px}
h1{font-size:24px;margin:0 0 2px;font-weight:600}
h2{font-size:17px;margin:0 0 4px;font-weight:600}
.subtitle{color:var(--muted);margin:0 0 14px}
header{margin-bottom:20px}
.cards{display:grid;grid-template-columns:2.2fr 2fr 1fr 1fr 1fr;gap:12px;margin-top:14px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:0}
.card .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:18px;font-weight:600;overflow-wrap:anywhere}
.card .sub{color:var(--muted);font-size:12px;min-height:1em}
.card.alert .value{color:var(--alert)}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin-bottom:16px}
.note{color:var(--muted);margin:0 0 10px;font-size:13px}
.empty{color:var(--muted);font-style:italic;margin:6px 0}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:14px 22px}
figure.panel{margin:0;min-width:0}
figure.panel.wide{grid-column:1/-1}
figcaption{font-weight:600;font-size:14px;margin:4px 0 2px;overflow-wrap:anywhere}
svg{display:block;height:auto}
svg text{font-family:inherit}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;color:var(--muted);margin:2px 0 4px}
.key{display:inline-flex;align-items:center;gap:6px}
.key i{display:inline-block;width:16px;height:10px}
.key i.line{height:3px;border-radius:2px}
.c0{background:#2f6fb5}.c1{background:#2a9d8f}.c2{background:#7b61c9}.c3{background:#5f6b7a}.c4{background:#b5762f}
.key i.dash{height:0;border-top:2px dashed var(--muted)}
.key i.dash.warn{border-color:var(--warn)}.key i.dash.alert{border-color:var(--alert)}
.key i.dash.training{border-top-style:dotted}
.key i.band.warn{background:#fcefd6}.key i.band.unknown{background:#e9e4f2}.key i.band.alert{background:#f9dcdc}
.key i.bar{width:12px;height:12px;border-radius:2px}.key i.ref{background:#b9c3ce}.key i.win{background:#2f6fb5}
.strip-legend{display:flex;gap:16px;font-size:12px;color:var(--muted);margin-top:4px}
.pill{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.pill.ok{background:var(--ok)}.pill.warn{background:var(--warn)}.pill.unknown{background:var(--unknown)}
.pill.alert{background:var(--alert)}.pill.open{background:none;color:var(--muted);border:1px dashed var(--muted)}
.coverage-alarm{margin:0 0 10px;padding:8px 12px;border-left:4px solid var(--unknown);background:#f3f0f8}
.scroll{max-height:560px;overflow:auto;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#f0f3f7;font-weight:600;position:sticky;top:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.alert td:first-child{box-shadow:inset 3px 0 var(--alert)}
tr.warn td:first-child{box-shadow:inset 3px 0 var(--warn)}
tr.unknown td:first-child{box-shadow:inset 3px 0 var(--unknown)}
td.reasons{color:#3e4c59;overflow-wrap:anywhere}
.muted{color:var(--muted)}
code{font-size:12px;background:#f0f3f7;padding:1px 4px;border-radius:3px}
footer{color:var(--muted);font-size:12px;text-align:center}
@media (max-width:900px){.grid{grid-template-columns:1fr}.cards{grid-template-columns:1fr 1fr}}
@media print{body{background:#fff}section{break-inside:avoid}}
"""


def _page(title: str, body: str) -> str:
    from driftloop import __version__

    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="driftloop {escape(__version__)}">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>"
            f"<body><main>{body}<footer>Report written by driftloop {escape(__version__)}.</footer></main>"
            "</body></html>\n")


def render_report(windows: Sequence[WindowResult], *, title: str, model: str, subtitle: str = "",
                  alert_rules: Sequence[AlertRule] | None = None,
                  training_metrics: Mapping[str, float] | None = None, open_steps: Collection[int] = ()) -> str:
    """The report of a monitoring run as one self-contained HTML document.

    ``windows`` in time order, their verdicts already set (:func:`driftloop.monitor.alerts.evaluate`);
    ``model`` as the reader should see it (``"wine-quality@champion (version 3)"``); ``alert_rules`` and
    ``training_metrics``, when given, draw the rules' thresholds on the timelines and list the rules;
    ``open_steps``, the windows still open (:mod:`driftloop.monitor.lifecycle`), are marked as such.
    """
    rules = list(alert_rules or [])
    training = dict(training_metrics or {})
    date = _date_format(windows) if windows else "%Y-%m-%d"
    parts = [_header(windows, title, model, subtitle, date, open_steps)]
    if not windows:
        parts.append(_section("No windows", '<p class="empty">The monitored data held no windows: there is nothing '
                                            "to chart. Check the data's time range and the window size.</p>"))
        return _page(title, "".join(parts))
    labels = [_end_label(w, date) for w in windows]
    strip = verdict_strip([w.verdict for w in windows], labels)
    keys = "".join(f'<span class="key"><i class="bar" style="background:var(--{v})"></i>{v}</span>'
                   for v in ("ok", "warn", "unknown", "alert"))
    parts.append(_section("Verdict per window", f'{strip}<div class="strip-legend">{keys}</div>',
                          "One cell per window, labelled by the window's end (count windows: by their rows)."))
    parts.append(_coverage_section(windows, labels))
    parts.append(_performance_section(windows, labels, rules, training))
    parts.append(_estimated_section(windows, labels, rules, training))
    parts.append(_drift_section(windows, labels, rules, training))
    parts.append(_quality_section(windows, labels, rules, training))
    parts.append(_distributions_section(windows, date))
    parts.append(_rules_section(rules, training))
    parts.append(_table_section(windows, date, open_steps))
    return _page(title, "".join(parts))


def write_report(path: str | Path, html: str) -> Path:
    """Write the report (UTF-8), creating the folder if needed; return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target
