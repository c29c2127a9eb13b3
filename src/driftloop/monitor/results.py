"""What one monitoring pass produces: one :class:`WindowResult` per window.

Metric names are MLflow metric keys; the ``/`` groups them in the MLflow UI's chart view:

=================================  ===========================================================================
key                                meaning
=================================  ===========================================================================
``rows``                           rows in the window
``verdict``                        0 = ok, 1 = warn, 2 = alert, -1 = unknown (nothing could be judged)
``coverage/columns``               share of the profiled input columns whose drift was computed
``coverage/predictions``           share of the rows with a prediction
``coverage/labels``                share of the rows with a label and a prediction (when labels were expected)
``drift/share``                    share of the features (not the prediction) flagged as drifted
``drift/features_drifted``         number of features flagged as drifted
``drift/<column>/<statistic>``     a drift statistic of one feature (or of ``prediction``)
``drift/<column>/<stat>_p_value``  its p-value, for tests
``multivariate/<detector>/<stat>`` a multivariate detector's statistic (see :mod:`driftloop.monitor.multivariate_drift`)
``multivariate/<detector>/p_value`` its p-value; ``.../drifted`` 1 when flagged
``multivariate/drifted``           multivariate detectors flagged in the window
``stream/<detector>/<signal>``     detections of the service's streaming detector (adwin, page_hinkley, cusum) on
                                   its stream of ``predictions`` or ``errors`` among the window's rows (an
                                   inference log; see :mod:`driftloop.monitor.stream_drift`)
``quality/missing_rate``           share of missing cells over the model's input columns
``quality/missing_columns``        input columns the model expects that the window lacks
``quality/extra_columns``          columns of the window the model does not use
``quality/<column>/missing_rate``  share of missing values of one column
``quality/<column>/out_of_range``  share of values outside the reference's [min, max]
``quality/<column>/unseen``        share of values of a categorical column never seen in the reference
``quality/<column>/type_errors``   share of values that could not be read as the expected type
``quality/<column>/coerced_from_text``  share of values of a numeric column stored as text, read as numbers
``quality/label_type_errors``      share of rows whose label is not of the model's output type (a number for a
                                   model that outputs numbers): left out of performance
``quality/labels_coerced_from_text``  share of rows whose label was text read as a number (only when some were)
``performance/<metric>``           realised performance on the rows whose label has arrived
``performance/label_coverage``     share of the window's rows whose label has arrived
``performance/labelled_rows``      number of those rows
=================================  ===========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

#: The verdicts, from the least to the most urgent (:mod:`driftloop.monitor.window_coverage` sets ``unknown``).
VERDICTS = ("ok", "warn", "unknown", "alert")
#: ``metrics["verdict"]`` of each verdict (alert stays 2, as logged before ``unknown`` existed).
VERDICT_CODES = {"ok": 0.0, "warn": 1.0, "alert": 2.0, "unknown": -1.0}


@dataclass(frozen=True)
class FeatureDistribution:
    """Reference-versus-window distribution of one column in one window, for the report.

    ``labels`` are the bin labels (``"[0.1, 0.3)"``, ``"< 0.1"``, ``">= 2.4"``) or the categories;
    ``reference_share`` and ``window_share`` are the proportions per label (each sums to 1).
    """

    column: str
    labels: list[str]
    reference_share: list[float]
    window_share: list[float]
    statistic: str
    value: float


@dataclass
class WindowResult:
    """Everything computed for one window.

    A window cut by count from data without time stamps (``by_rows``) holds rows ``[start, end)`` of the data, the
    offsets written as nanoseconds after the epoch (:func:`driftloop.data.windows.row_windows`): it is shown and
    written as its row range (:attr:`row_range`), never as a date."""

    index: int
    start: pd.Timestamp
    end: pd.Timestamp
    rows: int
    metrics: dict[str, float] = field(default_factory=dict)
    verdict: str = "ok"
    reasons: list[str] = field(default_factory=list)
    drift: pd.DataFrame | None = None  # ReferenceProfile.compare() output for this window
    distributions: list[FeatureDistribution] = field(default_factory=list)
    by_rows: bool = False

    @property
    def row_range(self) -> tuple[int, int] | None:
        """The first and last row of a window cut by count without time stamps, counted from 1 (else None).

        >>> start, end = pd.Timestamp(1000, tz="UTC"), pd.Timestamp(2000, tz="UTC")
        >>> WindowResult(2, start, end, 1000, by_rows=True).row_range
        (1001, 2000)
        """
        return (self.start.value + 1, self.end.value) if self.by_rows else None

    def label(self, date_format: str = "%Y-%m-%d") -> str:
        """How the window is named to a user: its start as ``date_format``, or ``rows 1001–2000``.

        >>> WindowResult(0, pd.Timestamp(0, tz="UTC"), pd.Timestamp(400, tz="UTC"), 400, by_rows=True).label()
        'rows 1–400'
        >>> WindowResult(0, pd.Timestamp("2024-03-04"), pd.Timestamp("2024-03-11"), 90).label()
        '2024-03-04'
        """
        if self.row_range is not None:
            return f"rows {self.row_range[0]}–{self.row_range[1]}"
        return self.start.strftime(date_format)

    def bounds(self) -> dict[str, object]:
        """Where the window lies, for JSON: ``start`` and ``end`` (ISO 8601), or ``first_row`` and ``last_row``
        (from 1) for a window cut by count without time stamps."""
        if self.row_range is not None:
            return {"first_row": self.row_range[0], "last_row": self.row_range[1]}
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    def to_json(self) -> dict[str, object]:
        """The window as one JSON object: its bounds (:meth:`bounds`), rows, verdict, reasons, metrics."""
        return {
            "window": self.index,
            **self.bounds(),
            "rows": self.rows,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "metrics": {key: (None if pd.isna(value) else float(value)) for key, value in self.metrics.items()},
        }
