"""Coverage: how much of a window could be judged, and how that enters its verdict.

A monitor is only worth its silence: a window whose columns, predictions or labels could not be judged must not be
called ``ok``. The engine (:mod:`driftloop.monitor.engine`) writes three shares per window:

=========================  ===========================================================================================
``coverage/columns``       profiled input columns whose drift was computed / profiled input columns (a column counts
                           when at least one of its statistics was computed; a column missing from the window, of
                           the wrong type, or without a single value is not compared)
``coverage/predictions``   window rows with a prediction (scored by the model or read from the data) / window rows;
                           0 when the model could not score the window
``coverage/labels``        window rows with both a label and a prediction / window rows, only when labels were
                           expected (``--target``, ``--labels``, or an inference log with feedback)
=========================  ===========================================================================================

and :func:`judge_coverage` turns them into a verdict (:class:`CoveragePolicy` holds the thresholds):

* ``unknown`` when nothing could be judged: the window has no rows, or no profiled column was compared and no row
  has a prediction (without predictions no performance can be judged either);
* ``warn`` when part could not be judged: a share below its minimum, or a share of 0 (something expected and
  entirely absent: a window without a single label when labels were expected);
* otherwise nothing (the alert rules decide).

The reasons start with ``coverage:`` and name the metric, so the verdict says what could not be judged; the
engine's own reasons say why (which column is missing, what the model's error was).
"""

from __future__ import annotations

from dataclasses import dataclass

from driftloop.errors import invalid_parameter
from driftloop.monitor.results import WindowResult

COLUMNS = "coverage/columns"
PREDICTIONS = "coverage/predictions"
LABELS = "coverage/labels"
REASON_PREFIX = "coverage: "


@dataclass(frozen=True)
class CoveragePolicy:
    """Minimum shares below which a window is ``warn`` (see the module docstring).

    Parameters
    ----------
    min_columns
        Share of the profiled input columns that must be compared. Default 1.0: every profiled column, since a
        column that is not compared cannot raise its drift.
    min_predictions
        Share of the rows that must have a prediction. Default 1.0.
    min_labels
        Share of the rows that must have a label (and a prediction) when labels are expected. Default 0.0: labels
        arrive late, so a partly labelled window is normal; a window with none still warns (a share of 0 always
        does), since its performance was not judged at all.

    >>> CoveragePolicy(min_labels=0.5).min_labels
    0.5
    """

    min_columns: float = 1.0
    min_predictions: float = 1.0
    min_labels: float = 0.0

    def __post_init__(self) -> None:
        for name in ("min_columns", "min_predictions", "min_labels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise invalid_parameter(name, "CoveragePolicy", "a share in [0, 1]", value)

    def minimum(self, key: str) -> float:
        return {COLUMNS: self.min_columns, PREDICTIONS: self.min_predictions, LABELS: self.min_labels}[key]


WHAT = {COLUMNS: "profiled columns compared", PREDICTIONS: "rows with a prediction",
        LABELS: "rows with a label and a prediction"}


def judge_coverage(window: WindowResult, policy: CoveragePolicy) -> tuple[str | None, list[str]]:
    """The coverage verdict of ``window`` (``"unknown"``, ``"warn"`` or None) and its reasons, from its metrics.

    >>> import pandas as pd
    >>> day = pd.Timestamp("2024-01-01")
    >>> judge_coverage(WindowResult(0, day, day, 0), CoveragePolicy())
    ('unknown', ['coverage: no rows'])
    >>> judge_coverage(WindowResult(0, day, day, 9, {COLUMNS: 0.0, PREDICTIONS: 0.0}), CoveragePolicy())[0]
    'unknown'
    >>> judge_coverage(WindowResult(0, day, day, 9, {COLUMNS: 10 / 11, PREDICTIONS: 1.0}), CoveragePolicy())
    ('warn', ['coverage: coverage/columns = 0.9091 < 1 (profiled columns compared)'])
    >>> judge_coverage(WindowResult(0, day, day, 9, {COLUMNS: 1.0, PREDICTIONS: 1.0, LABELS: 0.2}), CoveragePolicy())
    (None, [])
    """
    if window.rows == 0:
        return "unknown", [f"{REASON_PREFIX}no rows"]
    shares = {key: window.metrics[key] for key in (COLUMNS, PREDICTIONS, LABELS)
              if key in window.metrics and window.metrics[key] == window.metrics[key]}
    reasons = []
    for key, share in shares.items():
        minimum = policy.minimum(key)
        if share < minimum:
            reasons.append(f"{REASON_PREFIX}{key} = {share:.4g} < {minimum:.4g} ({WHAT[key]})")
        elif share == 0:
            reasons.append(f"{REASON_PREFIX}{key} = 0 (no {WHAT[key]})")
    if shares.get(COLUMNS) == 0 and not shares.get(PREDICTIONS, 0.0):
        return "unknown", [f"{REASON_PREFIX}nothing could be judged", *reasons]
    return ("warn" if reasons else None), reasons
