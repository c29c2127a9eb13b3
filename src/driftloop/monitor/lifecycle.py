"""A window's life: *open* while its rows and labels may still arrive, *closed* once its label delay has passed.

Definitions (``W`` is the pass's *watermark*: the latest time stamp in the data, or the row count of data cut by
count without time stamps; ``end`` is the window's end in the same unit; ``d`` the label delay):

* A window is **complete** when no more rows are expected in it: a time window once ``W >= end`` (the data holds a
  row at or after its end); a count window once it holds its ``N`` rows.
* A complete window **may close** when every one of its rows has a label, or when ``W >= end + d``; a window of data
  without labels may close as soon as it is complete (there is nothing to wait for).
* Windows close **in order**: a window closes only if every earlier window is closed or closes in the same pass, so
  that a closed window's verdict (alert rules look back over consecutive windows) never depends on provisional
  figures.

A closed window is final: its figures are written once to the monitoring run's chart series. Rows or labels that
arrive for it later are counted and reported (:func:`late_arrivals`), not merged: give a longer label delay to keep
windows open longer.

Verdicts: each pass compares every window's verdict with the last one recorded for it (:func:`verdict_changes`);
a change is recorded as a revision, and an alert for a window is notified once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from driftloop.data.windows import parse_window_length
from driftloop.errors import DriftloopError
from driftloop.monitor.results import WindowResult


@dataclass(frozen=True)
class LabelDelay:
    """How long after its end a window stays open for late labels and rows: a length of time (``7d``) for windows
    with time stamps, or a number of rows (``5000``) for windows cut by count without time stamps."""

    length: pd.Timedelta | None = None
    rows: int = 0

    def after(self, end: pd.Timestamp, *, by_rows: bool) -> pd.Timestamp:
        """The watermark at which a window ending at ``end`` has waited its delay."""
        if by_rows:
            return end + pd.Timedelta(self.rows, "ns")  # row offsets are stored as nanoseconds after the epoch
        return end + (self.length if self.length is not None else pd.Timedelta(0))


def parse_label_delay(text: str | None, *, by_rows: bool) -> LabelDelay:
    """``--label-delay``: a length (``7d``, ``12h``) or, for windows cut by count without time stamps, a row count.

    >>> parse_label_delay("2d", by_rows=False).length
    Timedelta('2 days 00:00:00')
    >>> parse_label_delay("1500", by_rows=True).rows
    1500
    """
    if text is None:
        return LabelDelay()
    stripped = text.strip()
    if by_rows:
        if not stripped.isdigit():
            raise DriftloopError(
                f"The 'label-delay' option must be a number of rows for windows cut by count without time stamps "
                f"(give --timestamp-column to use a length of time); got {text!r}."
            )
        return LabelDelay(rows=int(stripped))
    if stripped.isdigit():
        if int(stripped) == 0:
            return LabelDelay(length=pd.Timedelta(0))
        raise DriftloopError(f"The 'label-delay' option must be a length such as 7d or 12h for windows with time "
                             f"stamps (a row count applies to windows cut by count without them); got {text!r}.")
    return LabelDelay(length=parse_window_length(stripped, option="label-delay"))


@dataclass(frozen=True)
class WindowFacts:
    """What the lifecycle needs to know of one window of this pass's data."""

    step: int
    end: pd.Timestamp
    complete: bool
    rows: int
    labelled: int | None  # rows with a label; None when the data carries no labels


def closing_steps(facts: Sequence[WindowFacts], closed: Iterable[int], watermark: pd.Timestamp, delay: LabelDelay,
                  *, by_rows: bool) -> list[int]:
    """The steps of ``facts`` that close in this pass (see the module docstring), in order.

    >>> day = pd.Timestamp("2024-01-02", tz="UTC")
    >>> facts = [WindowFacts(0, day, True, 10, 10), WindowFacts(1, day + pd.Timedelta("1d"), True, 10, 4),
    ...          WindowFacts(2, day + pd.Timedelta("2d"), True, 10, 10)]
    >>> closing_steps(facts, [], day + pd.Timedelta("2d"), LabelDelay(pd.Timedelta("3d")), by_rows=False)
    [0]
    >>> closing_steps(facts, [], day + pd.Timedelta("4d"), LabelDelay(pd.Timedelta("3d")), by_rows=False)
    [0, 1, 2]
    """
    done = set(closed)
    closing: list[int] = []
    for fact in sorted(facts, key=lambda f: f.step):
        if fact.step in done:
            continue
        waited = watermark >= delay.after(fact.end, by_rows=by_rows)
        labelled = fact.labelled is None or fact.labelled >= fact.rows
        if not (fact.complete and (labelled or waited)):
            break
        closing.append(fact.step)
    return closing


def late_arrivals(facts: Sequence[WindowFacts], closed: Mapping[int, WindowResult]) -> tuple[int, int, list[int]]:
    """Rows and labels that arrived in windows after they closed: ``(rows, labels, steps)``.

    A closed window records ``rows`` and ``performance/labelled_rows``; the data now holding more is late data.
    """
    rows = labels = 0
    steps: list[int] = []
    for fact in facts:
        window = closed.get(fact.step)
        if window is None:
            continue
        extra_rows = max(0, fact.rows - window.rows)
        logged_labels = window.metrics.get("performance/labelled_rows", 0.0)
        logged_labels = 0 if logged_labels != logged_labels else int(logged_labels)
        extra_labels = max(0, (fact.labelled or 0) - logged_labels) if fact.labelled is not None else 0
        if extra_rows or extra_labels:
            rows, labels = rows + extra_rows, labels + extra_labels
            steps.append(fact.step)
    return rows, labels, steps


@dataclass(frozen=True)
class VerdictChange:
    """A window whose verdict differs from the one last recorded for it (``previous`` is None the first time)."""

    window: WindowResult
    previous: str | None
    closed: bool

    @property
    def is_revision(self) -> bool:
        """Whether an earlier pass recorded another verdict for this window."""
        return self.previous is not None

    def to_json(self) -> dict[str, object]:
        return {"window": self.window.index, **self.window.bounds(), "verdict": self.window.verdict,
                "previous": self.previous, "reasons": list(self.window.reasons), "closed": self.closed}


def verdict_changes(windows: Sequence[WindowResult], recorded: Mapping[int, str], closed_steps: Iterable[int]
                    ) -> list[VerdictChange]:
    """The windows whose verdict is not the one last recorded for them. A window seen for the first time is a
    change only when its verdict is not ``ok`` (the record stays small: windows without one were ok).

    >>> day = pd.Timestamp("2024-01-01")
    >>> w = [WindowResult(0, day, day, 5, verdict="alert"), WindowResult(1, day, day, 5), WindowResult(2, day, day, 5)]
    >>> [(c.window.index, c.previous) for c in verdict_changes(w, {1: "warn", 2: "ok"}, [0])]
    [(0, None), (1, 'warn')]
    """
    closing = set(closed_steps)
    changes = []
    for window in windows:
        previous = recorded.get(window.index)
        if window.verdict != (previous or "ok"):
            changes.append(VerdictChange(window, previous, window.index in closing))
    return changes
