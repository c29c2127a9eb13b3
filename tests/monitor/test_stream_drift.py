"""A window's share of the service's stream detections: counted by the rows that set them off, zero for a detector
and stream that ran and found nothing in the window, the errors stream only where labels arrived."""

from __future__ import annotations

import pandas as pd

from driftloop.monitor.stream_drift import StreamActivity, stream_detections


def activity() -> StreamActivity:
    detectors = pd.DataFrame({"detector": ["adwin", "adwin", "cusum"], "signal": ["predictions", "errors", "errors"]})
    events = pd.DataFrame({"detector": ["adwin", "cusum", "adwin", "adwin"],
                           "signal": ["predictions", "errors", "predictions", "errors"],
                           "model_version": ["1", "1", "2", "2"], "row_id": ["b", "c", "e", None]})
    return StreamActivity.from_log(detectors, events)


def window(ids: list[str], labels: list[float | None] | None) -> pd.DataFrame:
    frame = pd.DataFrame({"id": ids, "timestamp": pd.date_range("2026-11-30", periods=len(ids), freq="min", tz="UTC")})
    if labels is not None:
        frame["label"] = labels
    return frame


def test_detections_are_counted_in_the_window_of_their_row() -> None:
    metrics, reasons = stream_detections(activity(), window(["a", "b", "c", "d", "e"], [1.0, None, 2.0, None, None]))
    assert metrics == {"stream/adwin/predictions": 2.0, "stream/adwin/errors": 0.0, "stream/cusum/errors": 1.0}
    assert reasons == [
        "stream drift: adwin on predictions: 2 change(s) detected (model version 1, 2; first at row b, logged "
        "2026-11-30T00:01:00+00:00)",
        "stream drift: cusum on errors: 1 change(s) detected (model version 1; first at row c, logged "
        "2026-11-30T00:02:00+00:00)",
    ]


def test_without_labels_only_the_predictions_stream_is_judged() -> None:
    assert stream_detections(activity(), window(["x", "y"], None)) == ({"stream/adwin/predictions": 0.0}, [])
    assert stream_detections(activity(), window(["x", "y"], [None, None])) == ({"stream/adwin/predictions": 0.0}, [])
