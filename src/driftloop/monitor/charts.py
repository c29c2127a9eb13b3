"""Inline SVG charts for the monitoring report, drawn in Python: no JavaScript, no external file.

Three charts: :func:`line_chart` (metric timelines with verdict bands and threshold lines), :func:`bar_chart`
(reference-versus-window shares per bin) and :func:`verdict_strip` (one coloured cell per window). Each returns one
``<svg>`` element as a string; every piece of text in it is escaped. Windows sit on evenly spaced slots (window *i*
at the centre of slot *i*), so time- and count-based windows draw alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from driftloop.monitor.alerts import as_number

# A calm palette: blues, teal and slate for data; red and amber only for verdicts.
SERIES_COLOURS = ("#2f6fb5", "#2a9d8f", "#7b61c9", "#5f6b7a", "#b5762f")
VERDICT_COLOURS = {"ok": "#4caf7d", "warn": "#e5a03a", "unknown": "#6b5b95", "alert": "#d64545"}
BAND_COLOURS = {"warn": "#fcefd6", "unknown": "#e9e4f2", "alert": "#f9dcdc"}
REFERENCE_COLOUR = "#b9c3ce"
WINDOW_COLOUR = "#2f6fb5"
TEXT = "#1f2933"
MUTED = "#616e7c"
GRID = "#e6e9ee"
AXIS = "#9aa5b1"
FONT = 11  # px, tick labels

MAX_CELL = 36  # px, widest cell of the verdict strip (a few windows make a short strip, not a few wide bars)
MARKERS_UP_TO = 80  # windows; beyond, lines only (isolated points still get a dot)
TITLES_UP_TO = 400  # windows; beyond, points get no hover title (keeps the document small)


@dataclass(frozen=True)
class Series:
    """One line of a timeline: a name for the legend and one value per window (NaN = no value, a gap)."""

    name: str
    values: Sequence[float]
    colour: str = SERIES_COLOURS[0]


@dataclass(frozen=True)
class Threshold:
    """A horizontal line: a rule's threshold (``kind`` = ``"warn"``/``"alert"``) or a ``"training"`` value."""

    value: float
    label: str
    kind: str = "alert"


@dataclass(frozen=True)
class Frame:
    """A plot area inside an SVG of ``width`` x ``height``."""

    width: float
    height: float
    left: float = 60.0
    right: float = 14.0
    top: float = 12.0
    bottom: float = 34.0

    @property
    def inner_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def inner_height(self) -> float:
        return self.height - self.top - self.bottom

    @property
    def base(self) -> float:
        return self.top + self.inner_height


# ------------------------------------------------------------------------------------------------------- scales


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2, 2.5 or 5 x 10^k apart) covering [low, high].

    >>> nice_ticks(0, 1)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> nice_ticks(83, 161)
    [80.0, 100.0, 120.0, 140.0, 160.0, 180.0]
    >>> nice_ticks(5, 5)
    [4.0, 4.5, 5.0, 5.5, 6.0]
    """
    # One value, or a range below float precision or near the smallest floats (whose steps would underflow to 0).
    if not high - low > max(1e-9 * max(abs(low), abs(high)), 1e-300):
        middle = (low + high) / 2
        pad = max(abs(middle) * 0.2 if abs(middle) > 1e-300 else 1.0, high - low)
        low, high = middle - pad, middle + pad
    raw = (high - low) / max(count, 1)
    exponent = math.floor(math.log10(raw))
    step = next(m * 10.0**exponent for m in (1, 2, 2.5, 5, 10) if m * 10.0**exponent >= raw)
    first = math.floor(low / step + 1e-9) * step
    # Counted, not accumulated: adding a step far below a value's precision would never reach ``high``. The last
    # tick is the first at or above ``high`` (up to a billionth of a step, so round-off adds no empty step); the
    # tolerance is relative to the step, as every range here may be far below 1.
    steps = math.ceil((high - first) / step - 1e-9)
    ticks = [first + i * step for i in range(steps + 1)]
    return [float(round(value, max(0, 2 - exponent))) for value in ticks]


def thin(count: int, room: int) -> list[int]:
    """Indices of at most ``room`` labels out of ``count``, evenly spaced by a round step (1, 2, 5, 10, ...).

    >>> thin(5, 10)
    [0, 1, 2, 3, 4]
    >>> thin(40, 8)
    [0, 5, 10, 15, 20, 25, 30, 35]
    >>> len(thin(500, 8)) <= 8
    True
    """
    if count <= 0:
        return []
    room = max(room, 1)
    step = 1
    for multiplier in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000):
        step = multiplier
        if math.ceil(count / step) <= room:
            break
    return list(range(0, count, step))


def fmt_tick(value: float, percent: bool = False) -> str:
    """A tick label.

    >>> fmt_tick(0.25, percent=True), fmt_tick(1200.0), fmt_tick(0.125), fmt_tick(3e-5)
    ('25%', '1,200', '0.125', '3e-05')
    """
    if percent:
        return f"{value * 100:.{0 if abs(value * 100 - round(value * 100)) < 1e-9 else 1}f}%"
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) < 1e-3:
        return f"{value:.0e}"
    return f"{value:.4g}"


def finite(values: Sequence[float]) -> list[float]:
    """The finite numbers among ``values``."""
    return [number for number in map(as_number, values) if number is not None]


def _domain(series: Sequence[Series], thresholds: Sequence[Threshold],
            fixed: tuple[float | None, float | None]) -> tuple[float, float]:
    values = [v for s in series for v in finite(s.values)] + [t.value for t in thresholds]
    low = min(values, default=0.0)
    high = max(values, default=1.0)
    if low >= 0 and (low < 0.5 * high or fixed[0] is not None):
        low = 0.0
    low = fixed[0] if fixed[0] is not None else low
    high = max(high, fixed[1]) if fixed[1] is not None else high
    return low, high


# ------------------------------------------------------------------------------------------------ SVG elements


def _attrs(**attributes: object) -> str:
    return " ".join(f'{name.rstrip("_").replace("_", "-")}="{escape(str(value))}"'
                    for name, value in attributes.items() if value is not None)


def _text(x: float, y: float, content: str, **attributes: object) -> str:
    return f"<text {_attrs(x=f'{x:.1f}', y=f'{y:.1f}', **attributes)}>{escape(content)}</text>"


def _svg(width: float, height: float, body: list[str], label: str, css_class: str) -> str:
    return (f'<svg class="{css_class}" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="100%" role="img" aria-label="{escape(label)}" font-size="{FONT}" fill="{TEXT}">'
            f"<title>{escape(label)}</title>{''.join(body)}</svg>")


def _y_axis(frame: Frame, ticks: list[float], scale_y, percent: bool, label: str) -> list[str]:
    parts = []
    for tick in ticks:
        y = scale_y(tick)
        parts.append(f'<line x1="{frame.left:.1f}" x2="{frame.width - frame.right:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(_text(frame.left - 6, y + 3.5, fmt_tick(tick, percent), text_anchor="end", fill=MUTED))
    if label:
        x, y = 13, frame.top + frame.inner_height / 2
        parts.append(_text(x, y, label, text_anchor="middle", fill=MUTED, transform=f"rotate(-90 {x} {y:.1f})"))
    return parts


def _fit(x: float, label: str, low: float, high: float) -> float:
    """Move a centred label's x so that the label stays within [low, high]."""
    half = len(label) * FONT * 0.31
    return min(max(x, low + half), high - half)


def _x_axis(frame: Frame, labels: Sequence[str], slot: float) -> list[str]:
    parts = [f'<line x1="{frame.left:.1f}" x2="{frame.width - frame.right:.1f}" y1="{frame.base:.1f}" '
             f'y2="{frame.base:.1f}" stroke="{AXIS}" stroke-width="1"/>']
    widest = max((len(label) for label in labels), default=1)
    room = int(frame.inner_width // (widest * FONT * 0.62 + 14))
    for i in thin(len(labels), room):
        x = frame.left + (i + 0.5) * slot
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.base:.1f}" y2="{frame.base + 4:.1f}" '
                     f'stroke="{AXIS}"/>')
        parts.append(_text(_fit(x, labels[i], 0, frame.width), frame.base + 16, labels[i], text_anchor="middle",
                           fill=MUTED))
    return parts


def _bands(frame: Frame, verdicts: Sequence[str], slot: float) -> list[str]:
    """Shade runs of warn / unknown / alert windows behind the plot."""
    parts = []
    i = 0
    while i < len(verdicts):
        kind = verdicts[i]
        j = i
        while j + 1 < len(verdicts) and verdicts[j + 1] == kind:
            j += 1
        if kind in BAND_COLOURS:
            parts.append(f'<rect class="band-{kind}" x="{frame.left + i * slot:.1f}" y="{frame.top:.1f}" '
                         f'width="{(j - i + 1) * slot:.1f}" height="{frame.inner_height:.1f}" '
                         f'fill="{BAND_COLOURS[kind]}"/>')
        i = j + 1
    return parts


def _threshold_line(frame: Frame, threshold: Threshold, y: float) -> str:
    colour = VERDICT_COLOURS.get(threshold.kind, MUTED)
    dash = "2 3" if threshold.kind == "training" else "6 4"
    return (f'<g class="threshold"><line x1="{frame.left:.1f}" x2="{frame.width - frame.right:.1f}" '
            f'y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="1.2" stroke-dasharray="{dash}"/>'
            + _text(frame.width - frame.right - 4, y - 4, threshold.label, text_anchor="end", fill=colour,
                    font_size=FONT - 1)
            + "</g>")


def _line(series: Series, xs: list[float], scale_y, labels: Sequence[str], percent: bool) -> str:
    """A series as polylines over its runs of finite values, with dots (and hover titles) where readable."""
    n = len(series.values)
    ok = [as_number(v) is not None for v in series.values]
    parts = []
    run: list[str] = []
    for i in range(n + 1):
        if i < n and ok[i]:
            run.append(f"{xs[i]:.1f},{scale_y(series.values[i]):.1f}")
            continue
        if len(run) > 1:
            parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{series.colour}" '
                         f'stroke-width="1.8" stroke-linejoin="round" stroke-linecap="round"/>')
        run = []
    for i in range(n):
        if not ok[i]:
            continue
        isolated = not (i > 0 and ok[i - 1]) and not (i + 1 < n and ok[i + 1])
        if n > MARKERS_UP_TO and not isolated:
            continue
        title = ""
        if n <= TITLES_UP_TO:
            title = f"<title>{escape(f'{labels[i]}: {series.name} = {fmt_tick(series.values[i], percent)}')}</title>"
        parts.append(f'<circle cx="{xs[i]:.1f}" cy="{scale_y(series.values[i]):.1f}" r="2.6" '
                     f'fill="{series.colour}">{title}</circle>')
    return f'<g class="series">{"".join(parts)}</g>'


def line_chart(labels: Sequence[str], series: Sequence[Series], *, verdicts: Sequence[str] = (),
               thresholds: Sequence[Threshold] = (), percent: bool = False, y_label: str = "",
               y_min: float | None = None, y_max: float | None = None, width: float = 560,
               height: float = 210) -> str:
    """A timeline: one x slot per window (``labels`` under thinned ticks), one line per series, warn/alert windows
    shaded behind, thresholds as dashed lines. Values that are NaN leave gaps.

    >>> svg = line_chart(["w1", "w2", "w3"], [Series("mae", [1.0, float("nan"), 3.0])], verdicts=["ok", "ok", "alert"])
    >>> svg.count("<circle"), "band-alert" in svg, "<polyline" in svg
    (2, True, False)
    """
    frame = Frame(width, height)
    low, high = _domain(series, thresholds, (y_min, y_max))
    ticks = nice_ticks(low, high)
    low, high = min(ticks[0], low), max(ticks[-1], high)

    def scale_y(value: float) -> float:
        return frame.base - (value - low) / (high - low) * frame.inner_height

    slot = frame.inner_width / max(len(labels), 1)
    xs = [frame.left + (i + 0.5) * slot for i in range(len(labels))]
    body = _bands(frame, verdicts, slot)
    body += _y_axis(frame, ticks, scale_y, percent, y_label)
    body += _x_axis(frame, labels, slot)
    body += [_threshold_line(frame, t, scale_y(t.value)) for t in thresholds]
    body += [_line(s, xs, scale_y, labels, percent) for s in series]
    if not any(finite(s.values) for s in series):
        body.append(_text(frame.left + frame.inner_width / 2, frame.top + frame.inner_height / 2,
                          "no values in these windows", text_anchor="middle", fill=MUTED))
    name = ", ".join(s.name for s in series)
    return _svg(width, height, body, f"{name} per window", "chart timeline")


# ----------------------------------------------------------------------------------------------------- bar chart


def _short(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(labels: Sequence[str], reference: Sequence[float], window: Sequence[float], *, width: float = 560,
              height: float = 240, window_name: str = "window") -> str:
    """Grouped bars: the reference's share (grey) and the window's share (blue) of each bin or category.

    >>> svg = bar_chart(["a", "b"], [0.5, 0.5], [0.9, 0.1])
    >>> svg.count('class="bar-reference"'), svg.count('class="bar-window"')
    (2, 2)
    """
    count = max(len(labels), 1)
    widest = max((len(label) for label in labels), default=1)
    slot_px = (width - 74) / count
    rotate = widest * FONT * 0.6 > slot_px - 4
    limit = 18 if rotate else max(int(slot_px / (FONT * 0.6)), 3)
    frame = Frame(width, height, bottom=74 if rotate else 34)
    high = max(finite(list(reference) + list(window)), default=1.0)
    ticks = nice_ticks(0.0, max(high, 1e-9), 4)
    top = ticks[-1]

    def scale_y(value: float) -> float:
        return frame.base - value / top * frame.inner_height

    slot = frame.inner_width / count
    bar = min(slot * 0.36, 28)
    body = _y_axis(frame, ticks, scale_y, True, "share of rows")
    body.append(f'<line x1="{frame.left}" x2="{width - frame.right}" y1="{frame.base:.1f}" y2="{frame.base:.1f}" '
                f'stroke="{AXIS}"/>')
    for i, label in enumerate(labels):
        centre = frame.left + (i + 0.5) * slot
        for offset, share, colour, kind, who in ((-bar, reference[i], REFERENCE_COLOUR, "reference", "reference"),
                                                 (0.0, window[i], WINDOW_COLOUR, "window", window_name)):
            value = share if math.isfinite(share) else 0.0
            y = scale_y(value)
            tip = f"{label}: {who} {fmt_tick(value, True)}"
            body.append(f'<rect class="bar-{kind}" x="{centre + offset:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                        f'height="{frame.base - y:.1f}" fill="{colour}" rx="1.5"><title>{escape(tip)}</title></rect>')
        text = _short(label, limit)
        if rotate:
            body.append(_text(centre, frame.base + 12, text, text_anchor="end", fill=MUTED,
                              transform=f"rotate(-35 {centre:.1f} {frame.base + 12:.1f})"))
        else:
            body.append(_text(centre, frame.base + 16, text, text_anchor="middle", fill=MUTED))
    return _svg(width, height, body, "reference and window shares per bin", "chart bars")


# ------------------------------------------------------------------------------------------------ verdict strip


def verdict_strip(verdicts: Sequence[str], labels: Sequence[str], *, width: float = 1140, height: float = 50) -> str:
    """One cell per window, coloured by its verdict, with thinned date labels underneath.

    >>> svg = verdict_strip(["ok", "warn", "unknown", "alert"], ["a", "b", "c", "d"])
    >>> [svg.count(f'class="cell-{v}"') for v in ("ok", "warn", "unknown", "alert")]
    [1, 1, 1, 1]
    """
    frame = Frame(width, height, left=2, right=2, top=2, bottom=20)
    slot = min(frame.inner_width / max(len(verdicts), 1), MAX_CELL)
    gap = 1.0 if slot >= 4 else 0.0
    body = []
    for i, verdict in enumerate(verdicts):
        colour = VERDICT_COLOURS.get(verdict, GRID)
        title = f"<title>{escape(f'{labels[i]}: {verdict}')}</title>" if len(verdicts) <= TITLES_UP_TO else ""
        body.append(f'<rect class="cell-{escape(verdict)}" x="{frame.left + i * slot:.2f}" y="{frame.top}" '
                    f'width="{max(slot - gap, 0.5):.2f}" height="{frame.inner_height:.0f}" fill="{colour}" '
                    f'rx="{2 if slot >= 8 else 0}">{title}</rect>')
    widest = max((len(label) for label in labels), default=1)
    for i in thin(len(labels), int(slot * len(labels) // (widest * FONT * 0.62 + 16))):
        x = frame.left + (i + 0.5) * slot
        body.append(_text(_fit(x, labels[i], 0, width), height - 5, labels[i], text_anchor="middle", fill=MUTED))
    return _svg(width, height, body, "verdict per window", "strip")
