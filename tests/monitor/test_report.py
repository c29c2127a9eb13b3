"""The HTML report: structure, self-containment, escaping, gaps, edge sizes; and rendering in headless Chromium."""

from __future__ import annotations

import math
import re
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from driftloop.monitor.alerts import evaluate, load_rules
from driftloop.monitor.report import most_drifted, render_report, write_report
from driftloop.monitor.results import FeatureDistribution, WindowResult

CHROMIUM = Path("/usr/bin/chromium")
EVIL = '<script>alert("x")</script>&"col\''
TRAINING = {"mae": 90.0, "rmse": 120.0, "r2": 0.8, "accuracy": 0.6}


def _numeric_distribution(column: str, rng: np.random.Generator, shift: float, statistic: str,
                          value: float) -> FeatureDistribution:
    edges = np.linspace(0.0, 1.0, 9)
    labels = ["< 0"] + [f"[{a:.3g}, {b:.3g})" for a, b in zip(edges[:-1], edges[1:], strict=True)] + [">= 1"]
    centres = np.concatenate([[-0.05], (edges[:-1] + edges[1:]) / 2, [1.05]])
    reference = np.exp(-((centres - 0.5) ** 2) / 0.06)
    window = np.exp(-((centres - 0.5 - shift) ** 2) / 0.06) * rng.uniform(0.9, 1.1, centres.size)
    return FeatureDistribution(column, labels, list(reference / reference.sum()), list(window / window.sum()),
                               statistic, value)


def fake_windows(count: int = 40, *, seed: int = 7, columns: tuple[str, ...] = ("temp", "humidity", "season"),
                 labels_from: int = 0) -> list[WindowResult]:
    """Weekly windows of a regressor degrading: MAE grows, the drift share rises, a few quality problems; the
    distributions of three features; verdicts from the default rules."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2011-10-03")
    windows = []
    for i in range(count):
        progress = i / max(count - 1, 1)
        mae = 90.0 * (1 + 0.8 * progress ** 3) * rng.uniform(0.93, 1.07)
        metrics = {
            "rows": float(1000 + rng.integers(-80, 80)),
            "drift/share": min(1.0, round(max(0.0, 0.9 * progress ** 2.5 + rng.normal(0, 0.05)) * 8) / 8),
            "quality/missing_rate": 0.01 + (0.14 if i == count // 3 else 0.0) + rng.uniform(0, 0.01),
            "quality/missing_columns": 0.0,
            f"quality/{columns[0]}/out_of_range": max(0.0, 0.25 * progress ** 2 + rng.normal(0, 0.01)),
            f"quality/{columns[1]}/out_of_range": max(0.0, 0.05 * progress + rng.normal(0, 0.005)),
            "performance/label_coverage": 1.0 if i < count - 3 else [0.6, 0.2, 0.0][i - count + 3],
        }
        if i >= labels_from and metrics["performance/label_coverage"] > 0:
            metrics["performance/mae"] = mae
            metrics["performance/rmse"] = mae * 1.3
            metrics["performance/r2"] = 0.8 - 0.5 * progress
        for column in columns:
            metrics[f"drift/{column}/jensen_shannon"] = 0.02 + 0.3 * progress * rng.uniform(0.5, 1.5)
        begin = start + pd.Timedelta(weeks=i)
        window = WindowResult(i, begin, begin + pd.Timedelta(weeks=1), int(metrics["rows"]), metrics=metrics)
        window.distributions = [
            _numeric_distribution(column, rng, 0.4 * progress * (k + 1) / len(columns), "jensen_shannon",
                                  metrics[f"drift/{column}/jensen_shannon"])
            for k, column in enumerate(columns[:-1])
        ]
        categories = ["winter", "spring", "summer", "autumn"]
        reference = [0.25, 0.25, 0.25, 0.25]
        current = [0.25 + 0.5 * progress, 0.25 - 0.2 * progress, 0.25 - 0.2 * progress, 0.25 - 0.1 * progress]
        window.distributions.append(FeatureDistribution(columns[-1], categories, reference, current,
                                                        "jensen_shannon",
                                                        metrics[f"drift/{columns[-1]}/jensen_shannon"]))
        windows.append(window)
    evaluate(windows, load_rules(), training_metrics=TRAINING)
    return windows


def render(windows: list[WindowResult], **kwargs: object) -> str:
    options = {"title": "Monitoring report", "model": "bike-sharing@champion (version 3)",
               "subtitle": "weekly windows", "alert_rules": load_rules(), "training_metrics": TRAINING}
    options.update(kwargs)
    return render_report(windows, **options)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------- structure


def test_the_fake_run_has_every_verdict() -> None:
    verdicts = {w.verdict for w in fake_windows()}
    assert verdicts == {"ok", "warn", "alert"}


def test_report_holds_every_section() -> None:
    windows = fake_windows()
    html = render(windows)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    for heading in ("Verdict per window", "Performance", "Drift", "Data quality", "Most drifted features",
                    "Alert rules", "Windows"):
        assert f"<h2>{heading}</h2>" in html
    assert html.count('class="cell-') == 40
    assert html.count("<tbody>") == 2 and html.count('<tr class="') == 40
    alerts = sum(w.verdict == "alert" for w in windows)
    assert f'<div class="value">{alerts}</div>' in html
    assert "2011-10-03 → 2012-07-09" in html
    assert "band-alert" in html and "band-warn" in html  # alert and warn windows are marked on the timelines
    for caption in ("MAE", "RMSE", "R²", "Label coverage (share of rows with a label)", "Share of features drifted"):
        assert f"<figcaption>{caption}</figcaption>" in html
    assert "training 90" in html and "alert &gt; 112.5 (2 in a row)" in html  # thresholds drawn from the rules


def test_report_is_self_contained() -> None:
    html = render(fake_windows())
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower() and "@import" not in html and "url(" not in html


def test_column_names_and_reasons_are_escaped() -> None:
    windows = fake_windows(12, columns=(EVIL, "humidity", "season"))
    windows[5].reasons.append(f"custom: {EVIL}")
    html = render(windows, title=EVIL, model=EVIL, subtitle=EVIL)
    assert "<script" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&quot;col&#x27;" in html
    assert EVIL not in html


def test_nan_metrics_leave_gaps_and_dashes() -> None:
    windows = fake_windows(10)
    for i in (3, 4, 7):
        windows[i].metrics["performance/mae"] = math.nan
    windows[2].metrics["drift/share"] = math.nan
    html = render(windows)
    assert "nan" not in html.lower().replace("nannyml", "")
    assert "—" in html  # the table shows a dash for a NaN
    mae_panel = html.split("<figcaption>MAE</figcaption>")[1].split("</figure>")[0]
    # window 9 has no labels: runs 0-2 and 5-6 are lines, window 8 alone is a dot
    assert mae_panel.count("<polyline") == 2
    assert mae_panel.count("<circle") == 6


def test_windows_without_labels_say_so() -> None:
    html = render(fake_windows(8, labels_from=100))
    assert "No labels arrived for these windows" in html


def test_single_window() -> None:
    windows = fake_windows(1)
    html = render(windows)
    assert html.count('class="cell-') == 1 and "<svg" in html


def test_zero_windows_give_a_clear_page() -> None:
    html = render([])
    assert "<h2>No windows</h2>" in html and "<svg" not in html
    assert "no data" in html


def test_hundreds_of_windows_thin_the_labels() -> None:
    windows = fake_windows(400)
    html = render(windows)
    timeline = html.split("<figcaption>Share of features drifted</figcaption>")[1].split("</figure>")[0]
    tick_labels = re.findall(r'<text x="[^"]+" y="[^"]+" text-anchor="middle" fill="#616e7c">(\d{4}-\d\d-\d\d)',
                             timeline)
    assert 3 <= len(tick_labels) <= 16
    assert timeline.count("<circle") < 10  # no dot per window at this density
    assert len(html) < 2_500_000


def test_most_drifted_orders_features_by_their_peak() -> None:
    windows = fake_windows()
    chosen = most_drifted(windows, top=2)
    assert len(chosen) == 2
    assert chosen[0][0].value >= chosen[1][0].value
    for dist, window in chosen:
        assert dist.value == max(d.value for w in windows for d in w.distributions if d.column == dist.column)
        assert dist in window.distributions


def test_many_categories_are_folded() -> None:
    windows = fake_windows(3)
    labels = [f"cat{i}" for i in range(60)]
    share = [1 / 60] * 60
    windows[1].distributions = [FeatureDistribution("city", labels, share, share, "chi2", 99.0)]
    html = render(windows)
    assert "(other 41)" in html


def test_write_report(tmp_path: Path) -> None:
    path = write_report(tmp_path / "deep" / "report.html", render(fake_windows(5)))
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# ------------------------------------------------------------------------------------------------- rendering


def png_pixels(path: Path) -> tuple[int, int, set[bytes]]:
    """Width, height and a sample of distinct pixels of a non-interlaced 8-bit RGB(A) PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        chunk = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    channels = {2: 3, 6: 4}[colour]
    assert depth == 8
    raw = zlib.decompress(idat)
    stride = width * channels
    colours: set[bytes] = set()
    previous = bytearray(stride)
    for row in range(height):  # undo the PNG filters, row by row
        kind, line = raw[row * (stride + 1)], bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        if row % 7 == 0:
            colours.update(bytes(line[i:i + 3]) for i in range(0, stride, channels * 5))
        previous = line
    return width, height, colours


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", "--force-color-profile=srgb", f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (Debian's chromium package): "
                                                  "the report is not rendered in a browser")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = write_report(tmp_path / "report.html", render(fake_windows()))
    screenshot = tmp_path / "report.png"
    shot = chromium(f"--screenshot={screenshot}", "--window-size=1280,2000", page.as_uri(),
                    profile=tmp_path / "profile")
    assert screenshot.exists(), shot.stderr[-2000:]
    width, height, colours = png_pixels(screenshot)
    assert (width, height) == (1280, 2000)
    assert len(colours) > 30, "the screenshot is (nearly) blank"
    assert bytes.fromhex("d64545") in colours or bytes.fromhex("f9dcdc") in colours  # alert red is on screen

    dom = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile").stdout
    assert dom.count("<svg") >= 8
    assert dom.count('class="cell-') == 40
    assert "<polyline" in dom and 'class="bar-window"' in dom


@settings(max_examples=300, deadline=None)
@given(st.floats(-1e12, 1e12), st.floats(0, 1e3), st.integers(-16, 0))
@example(0.0, 5e-324, 0)  # a subnormal width: the step underflowed to 0 (found by the full suite)
@example(0.0, 1e-300, 0)
def test_axis_ticks_end_and_cover_any_range(low: float, width: float, scale: int) -> None:
    """Ranges far below a value's float precision (a near-perfect model's errors around a large level) used to
    loop forever: the ticks were accumulated by adding a step that no longer changed the value."""
    from driftloop.monitor.charts import nice_ticks

    high = low + width * 10.0**scale
    ticks = nice_ticks(low, high)
    assert 2 <= len(ticks) <= 12 and ticks == sorted(ticks)
    span = ticks[-1] - ticks[0]
    assert ticks[0] <= low + 1e-9 * span and ticks[-1] >= high - 1e-9 * span


def uncovered_windows() -> list[WindowResult]:
    """The fake run, with coverage: windows 10-14 lose a column, 20-24 could not be judged, 30 is empty."""
    windows = fake_windows()
    for window in windows:
        i = window.index
        columns = 0.0 if 20 <= i < 25 else 2 / 3 if 10 <= i < 15 else 1.0
        window.metrics.update({"coverage/columns": columns, "coverage/predictions": 0.0 if 20 <= i < 25 else 1.0})
        if 20 <= i < 25:
            window.metrics.pop("drift/share")
        if i == 30:
            window.rows, window.metrics = 0, {"rows": 0.0}
    evaluate(windows, load_rules(), training_metrics=TRAINING)
    return windows


def test_coverage_and_the_unknown_verdict_are_shown() -> None:
    windows = uncovered_windows()
    assert [w.index for w in windows if w.verdict == "unknown"] == [20, 21, 22, 23, 24, 30]
    html = render(windows)
    assert "<h2>Coverage</h2>" in html and "<figcaption>Share of each window that could be judged</figcaption>" in html
    assert "6 window(s) could not be judged at all</b> (verdict unknown) and 5 only in part" in html
    assert html.count('class="cell-unknown"') == 6 and html.count('<tr class="unknown">') == 6
    assert "band-unknown" in html and "6 unknown" in html
    assert html.count('<span class="pill unknown">unknown</span>') == 6
    assert "<th class=num>columns compared</th>" in html and "<td class=num>66.7%</td>" in html
    assert "coverage: coverage/columns = 0.6667 &lt; 1 (profiled columns compared)" in html
    assert "No coverage figures in these windows" in render(fake_windows())  # windows logged before coverage
    judged = fake_windows()
    for window in judged:
        window.metrics.update({"coverage/columns": 1.0, "coverage/predictions": 1.0})
    assert "Every window was judged in full" in render(judged)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (Debian's chromium package): "
                                                  "the report is not rendered in a browser")
def test_unknown_windows_are_drawn_in_their_own_colour_in_chromium(tmp_path: Path) -> None:
    page = write_report(tmp_path / "report.html", render(uncovered_windows()))
    screenshot = tmp_path / "report.png"
    shot = chromium(f"--screenshot={screenshot}", "--window-size=1280,1200", page.as_uri(),
                    profile=tmp_path / "profile")
    assert screenshot.exists(), shot.stderr[-2000:]
    _, _, colours = png_pixels(screenshot)
    assert bytes.fromhex("6b5b95") in colours  # the unknown cells of the verdict strip, above the fold
    assert bytes.fromhex("e9e4f2") in colours  # the unknown band behind the coverage timeline


def test_open_windows_and_count_windows_are_shown_as_such() -> None:
    """Windows still open are marked open (their figures are provisional); count windows without time stamps are
    named by their rows, not by dates in 1970."""
    windows = fake_windows(6)
    for position, window in enumerate(windows):  # 6 count windows of 1,000 rows, the last one 400
        rows = 400 if position == 5 else 1000
        window.start, window.end = pd.Timestamp(position * 1000, tz="UTC"), pd.Timestamp(position * 1000 + rows,
                                                                                         tz="UTC")
        window.rows, window.by_rows = rows, True
    html = render(windows, open_steps=[4, 5])
    table = html[html.index("<h2>Windows</h2>"):]
    assert table.count('<span class="pill open">open</span>') == 2 and table.count("<td>closed</td>") == 4
    assert "<td>row 5,001</td><td>row 5,400</td>" in table
    assert "2 open" in html and "its figures are provisional" in html
    assert "1970" not in html and "rows 5001–5400" in html
    plain = render(fake_windows(6))
    assert "pill open" not in plain and "provisional" not in plain
