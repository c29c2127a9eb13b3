"""The service's Prometheus metrics, in a registry of their own (never prometheus-client's global one), so that
several apps in one process (tests) keep separate counts."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from driftloop.data.log_streams import StreamUpdate

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Request latency buckets in seconds: fine below 10 ms, where a single-row prediction should be."""
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
"""Buckets of the number of requests sharing one group commit of the inference log."""


class ServiceMetrics:
    """Counters, histograms and gauges of one prediction service."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("driftloop_requests", "HTTP requests answered, by endpoint and status code.",
                                ["endpoint", "status"], registry=r)
        self.latency = Histogram("driftloop_request_latency_seconds",
                                 "Time from the request's arrival in the handler to its answer, by endpoint.",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.rows = Counter("driftloop_predicted_rows", "Rows predicted and answered with 200.", registry=r)
        self.rejected_rows = Counter("driftloop_rejected_rows",
                                     "Rows rejected because they do not match the model signature "
                                     "(422; 400 on /invocations).", registry=r)
        self.rows_logged = Counter("driftloop_logged_rows", "Prediction rows committed to the inference log.",
                                   registry=r)
        self.labels = Counter("driftloop_feedback_labels", "Labels received on /feedback and committed.", registry=r)
        self.orphans = Counter("driftloop_feedback_orphans",
                               "Labels whose id matched no logged prediction when they arrived (stored all the same).",
                               registry=r)
        self.log_commit = Histogram("driftloop_log_commit_seconds", "Duration of one group commit of the log.",
                                    buckets=LATENCY_BUCKETS, registry=r)
        self.log_group = Histogram("driftloop_log_group_requests", "Requests sharing one group commit of the log.",
                                   buckets=GROUP_BUCKETS, registry=r)
        self.model_info = Gauge("driftloop_model_info", "The model version serving now (value 1).",
                                ["name", "version", "alias"], registry=r)
        self.model_swaps = Counter("driftloop_model_swaps", "Times the alias moved and a new version was swapped in.",
                                   registry=r)
        self.model_failures = Counter("driftloop_model_refresh_failures",
                                      "Registry polls or model loads that failed (the old version kept serving).",
                                      registry=r)
        self.stream_values = Counter("driftloop_stream_values",
                                     "Values fed to the streaming detectors, by stream (predictions, errors) and "
                                     "detector.", ["signal", "detector"], registry=r)
        self.stream_detections = Counter("driftloop_stream_detections",
                                         "Changes detected by the streaming detectors, by stream and detector.",
                                         ["signal", "detector"], registry=r)
        self.stream_statistic = Gauge("driftloop_stream_statistic",
                                      "The streaming detector's current statistic (ADWIN: the window's mean; "
                                      "Page-Hinkley: the cumulative deviation; CUSUM: the larger sum in reference "
                                      "standard deviations), for the model version last fed.",
                                      ["signal", "detector"], registry=r)
        self.stream_last_detection = Gauge("driftloop_stream_last_detection_timestamp_seconds",
                                           "When the streaming detector last detected a change (Unix time).",
                                           ["signal", "detector"], registry=r)
        self.predict_latency = self.latency.labels("/predict")
        self.feedback_latency = self.latency.labels("/feedback")

    def set_model(self, old_version: tuple[str, str, str] | None, new_version: tuple[str, str, str]) -> None:
        """Point the model-info gauge at ``(name, version, alias)``."""
        if old_version is not None:
            try:
                self.model_info.remove(*old_version)
            except KeyError:
                pass
        self.model_info.labels(*new_version).set(1)

    def on_commit(self, requests: int, rows: int, seconds: float) -> None:
        """Called by the log writer after each group commit."""
        self.log_commit.observe(seconds)
        self.log_group.observe(requests)

    def on_streams(self, updates: list[StreamUpdate]) -> None:
        """Called by the log after each flush of the streaming detectors."""
        for update in updates:
            labels = (update.signal, update.detector)
            self.stream_values.labels(*labels).inc(update.values)
            self.stream_statistic.labels(*labels).set(update.statistic)
            if update.detections:
                self.stream_detections.labels(*labels).inc(update.detections)
                self.stream_last_detection.labels(*labels).set(time.time())

    def render(self) -> bytes:
        return generate_latest(self.registry)
