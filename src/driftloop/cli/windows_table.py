"""The monitored windows as a terminal table that fits the terminal's width, with their reasons on their own lines.

Used by ``driftloop monitor`` and ``driftloop demo``. Numbers are shown with 3 significant digits (at most 5
characters, ``0.123``; whole numbers up to 999,999 in full) and never cut; a table of every column a window can have
is at most 79 characters wide, so it fits an 80-column terminal; the reasons, which can be long, are printed below
the table, one a line, wrapped to the width.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from driftloop.monitor.results import WindowResult

VERDICT_STYLE = {"ok": "green", "warn": "yellow", "unknown": "bold magenta", "alert": "bold red"}
#: Performance metrics shown when a window has them: (metric key under performance/, header).
PERFORMANCE_COLUMNS = (("mae", "mae"), ("rmse", "rmse"), ("relative_mae", "rel.mae"), ("accuracy", "acc."),
                       ("f1", "f1"))


def number(value: float | None, digits: int = 3) -> str:
    """A metric as the table shows it: ``digits`` significant digits, whole numbers from 1,000 to 999,999 in full
    (``1235``, not ``1.23e+03``); a missing or NaN value is a dash.

    >>> number(152.3456), number(1234.5678), number(0.25, 2), number(2.5e7), number(float("nan")), number(None)
    ('152', '1235', '0.25', '2.5e+07', '—', '—')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if 1000 <= abs(value) < 1_000_000:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def _starts(windows: Sequence[WindowResult]) -> list[str]:
    """Window starts as dates, with the time of day only when some window starts after midnight; count windows of
    data without time stamps as their row range (``rows 1–400``)."""
    with_time = any((w.start.hour, w.start.minute) != (0, 0) for w in windows if not w.by_rows)
    return [w.label("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d") for w in windows]


def windows_table(windows: Sequence[WindowResult], title: str, *, open_steps: Collection[int] = ()) -> Table:
    """One row per window: start (or row range), rows, drift share, realised performance, label coverage, verdict
    (the window's index, its MLflow step, is in the reasons). The start of a window in ``open_steps`` (its indexes)
    is marked ``*``, explained in the caption: its figures are provisional."""
    shown = [(key, header) for key, header in PERFORMANCE_COLUMNS
             if any(f"performance/{key}" in w.metrics for w in windows)]
    marked = any(w.index in open_steps for w in windows)
    caption = "* open: re-assessed by later passes while late labels and rows may arrive" if marked else None
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  collapse_padding=True, title_justify="left", caption_justify="left")
    first = "window" if windows and all(w.by_rows for w in windows) else "start"
    for header in (first, "rows", "drift", *(header for _, header in shown), "labels", "verdict"):
        table.add_column(header, justify="left" if header in (first, "verdict") else "right", no_wrap=True)
    for window, start in zip(windows, _starts(windows), strict=True):
        metrics = window.metrics
        table.add_row(
            f"{start}*" if window.index in open_steps else start,
            str(window.rows),
            number(metrics.get("drift/share"), 2),
            *[number(metrics.get(f"performance/{key}")) for key, _ in shown],
            number(metrics.get("performance/label_coverage"), 2),
            f"[{VERDICT_STYLE[window.verdict]}]{window.verdict}[/]",
        )
    return table


def print_reasons(console: Console, windows: Sequence[WindowResult]) -> None:
    """Each window's reasons under a line naming the window, the alert rules' reasons first, one a line."""
    explained = [w for w in windows if w.reasons]
    if not explained:
        return
    console.print("Reasons:")
    for window, start in zip(windows, _starts(windows), strict=True):
        if not window.reasons:
            continue
        console.print(Text.assemble(f"  {start} ", (window.verdict, VERDICT_STYLE[window.verdict]),
                                    f" (window {window.index})"))
        for reason in reversed(window.reasons):  # the alert rules' reasons come last: show them first
            console.print(Padding(Text(reason), (0, 0, 0, 4)))
