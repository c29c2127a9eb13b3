"""The detections of the service's streaming detectors in a window: metrics and reasons.

``driftloop serve`` runs streaming detectors (ADWIN, Page-Hinkley, CUSUM; :mod:`driftloop.data.log_streams`) on
each model version's stream of predictions and of errors (as labels arrive), and records every detection in the
inference log with the id of the logged prediction whose value, or whose label's error, set it off. A window
counts the detections of its own rows, so that a detection on the errors stream, made when the label arrived
days later, belongs to the window of the prediction, as the label's performance does.

Metrics (``stream/<detector>/<signal>``): the number of detections among the window's rows, for every detector
and stream the log's writer ran — ``predictions`` in every window with rows, ``errors`` in the windows with at
least one label (without labels the errors stream cannot have been fed). Reasons: one per detector and stream that
detected a change, ``stream drift: <detector> on <signal>: <n> change(s) detected (model version <v>; first at
row <id>, logged <time>)``. The default alert rules warn on ADWIN's detections (``stream detection``, see
``default_alerts.toml``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

PREFIX = "stream"
#: Every reason of a detection starts with it (table, JSON, report).
REASON_PREFIX = "stream drift: "
ID, TIMESTAMP, LABEL = "id", "timestamp", "label"  # the inference log's columns


@dataclass(frozen=True)
class StreamActivity:
    """What the log's streaming detectors did: the ``(detector, signal)`` pairs that ran, and the detections
    (:func:`driftloop.data.inference_log.read_stream_events`)."""

    streams: tuple[tuple[str, str], ...]
    events: pd.DataFrame

    @classmethod
    def from_log(cls, detectors: pd.DataFrame, events: pd.DataFrame) -> StreamActivity:
        pairs = dict.fromkeys(zip(detectors["detector"], detectors["signal"], strict=True))
        return cls(tuple(pairs), events[events["row_id"].notna()])


def stream_detections(activity: StreamActivity, frame: pd.DataFrame) -> tuple[dict[str, float], list[str]]:
    """The metrics and reasons of a window of the inference log (its columns ``id``, ``timestamp`` and, when some
    label arrived in the log, ``label``)."""
    labelled = LABEL in frame.columns and bool(frame[LABEL].notna().any())
    return detections_among(activity, frame[ID], frame[TIMESTAMP] if TIMESTAMP in frame.columns else None, labelled)


def detections_among(activity: StreamActivity, ids: pd.Series, stamps: pd.Series | None,
                     labelled: bool) -> tuple[dict[str, float], list[str]]:
    """:func:`stream_detections` of a window from the ids of its rows (only those that some detection names are
    needed: the Spark engine passes just these), their log times ``stamps`` (aligned with ``ids``, or ``None``) and
    whether any of its rows has a label."""
    hits = activity.events[activity.events["row_id"].isin(ids)]
    metrics: dict[str, float] = {}
    for detector, signal in activity.streams:
        if signal != "errors" or labelled:
            metrics[f"{PREFIX}/{detector}/{signal}"] = 0.0
    reasons = []
    for (detector, signal), found in hits.groupby(["detector", "signal"], sort=False):
        metrics[f"{PREFIX}/{detector}/{signal}"] = float(len(found))
        versions = ", ".join(dict.fromkeys(found["model_version"].astype(str)))
        first = found["row_id"].iloc[0]
        logged_at = stamps[(ids == first).to_numpy()] if stamps is not None else pd.Series()
        logged = f", logged {pd.Timestamp(logged_at.iloc[0]).isoformat()}" if len(logged_at) else ""
        reasons.append(f"{REASON_PREFIX}{detector} on {signal}: {len(found)} change(s) detected (model version "
                       f"{versions}; first at row {first}{logged})")
    return metrics, reasons
