"""The window lifecycle rules (open, closing, late arrivals), against a brute-force reading of their definition."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftloop.errors import DriftloopError
from driftloop.monitor.lifecycle import LabelDelay, WindowFacts, closing_steps, late_arrivals, parse_label_delay
from driftloop.monitor.results import WindowResult

DAY = pd.Timedelta("1d")
ORIGIN = pd.Timestamp("2024-01-04", tz="UTC")


@st.composite
def passes(draw):
    """Daily windows, some already closed (a prefix: windows close in order), a watermark and a delay."""
    count = draw(st.integers(1, 12))
    facts = []
    for step in range(count):
        rows = draw(st.integers(0, 5))
        labelled = draw(st.one_of(st.none(), st.integers(0, rows)))
        facts.append(WindowFacts(step, ORIGIN + (step + 1) * DAY, draw(st.booleans()), rows, labelled))
    closed = list(range(draw(st.integers(0, count))))
    watermark = ORIGIN + draw(st.integers(0, 20)) * DAY
    delay = LabelDelay(draw(st.integers(0, 5)) * DAY)
    return facts, closed, watermark, delay


@given(passes())
def test_windows_close_in_order_exactly_when_their_rule_holds(case):
    facts, closed, watermark, delay = case
    closing = closing_steps(facts, closed, watermark, delay, by_rows=False)

    def may_close(fact: WindowFacts) -> bool:  # the definition, read literally
        all_labelled = fact.labelled is None or fact.labelled == fact.rows
        return fact.complete and (all_labelled or watermark - fact.end >= delay.length)

    expected = []
    for fact in facts[len(closed):]:
        if not may_close(fact):
            break
        expected.append(fact.step)
    assert closing == expected


def test_late_rows_and_labels_are_counted_against_what_was_logged():
    day = pd.Timestamp("2024-01-04", tz="UTC")
    logged = {0: WindowResult(0, day, day + DAY, 10, {"performance/labelled_rows": 4.0}),
              1: WindowResult(1, day + DAY, day + 2 * DAY, 10, {})}
    now = [WindowFacts(0, day + DAY, True, 12, 9), WindowFacts(1, day + 2 * DAY, True, 10, None),
           WindowFacts(2, day + 3 * DAY, True, 3, 3)]
    assert late_arrivals(now, logged) == (2, 5, [0])


@pytest.mark.parametrize(("text", "by_rows", "message"), [
    ("7", False, "The 'label-delay' option must be a length such as 7d or 12h for windows with time stamps"),
    ("3d", True, "The 'label-delay' option must be a number of rows for windows cut by count without time stamps"),
    ("-2d", False, "The 'label-delay' option must be a positive length such as 1d, 7d, 1w or 6h; got '-2d'."),
])
def test_a_bad_label_delay_is_a_clear_error(text, by_rows, message):
    with pytest.raises(DriftloopError, match="^" + message.replace("(", r"\(").replace(".", r"\.")):
        parse_label_delay(text, by_rows=by_rows)
