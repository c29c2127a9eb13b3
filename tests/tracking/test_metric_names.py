"""Metric names for columns: every column name a pandas frame can hold becomes a valid, distinct MLflow metric name,
and the recorded mapping gives the column back."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow.utils.validation import MAX_ENTITY_KEY_LENGTH, _validate_metric

from driftloop.tracking.metric_names import MAX_SEGMENT, MetricNames, column_of

STATISTICS = ("drift/{}/ks_p_value", "drift/{}/wasserstein_normalized", "quality/{}/missing_rate")
GROUP_METRICS = ("drift/share", "drift/features_drifted", "quality/missing_rate", "performance/mae", "rows")
WINDOWS_NAME = re.compile(r"^[/\w.\- ]*$")  # MLflow's rule on Windows (no colon)

columns = st.lists(st.text(max_size=300), min_size=1, max_size=12, unique=True)


def window_keys(names: list[str]) -> list[str]:
    return [pattern.format(name) for name in names for pattern in STATISTICS] + list(GROUP_METRICS)


def assert_valid_distinct_and_reversible(names: MetricNames, keys: list[str]) -> None:
    metric_names = [names.metric(key) for key in keys]
    for name in metric_names:
        _validate_metric(name, 0.0, 0, 0)  # characters, path rules and length, as MLflow checks them
        assert WINDOWS_NAME.match(name) and name.isascii() and len(name) <= MAX_ENTITY_KEY_LENGTH
    assert len({name.lower() for name in metric_names}) == len(keys)  # distinct, also ignoring case
    folders = {name.rsplit("/", 1)[0].lower() for name in metric_names if name.count("/") == 2}
    assert not folders & {name.lower() for name in metric_names}  # no metric is another one's folder (file store)
    recorded = MetricNames.from_json(names.to_json())
    for key, name in zip(keys, metric_names, strict=True):
        column = column_of(key)
        if column is not None:
            assert recorded.column(name.split("/")[1]) == column


@settings(max_examples=300, deadline=None)
@given(columns)
def test_any_column_names_give_valid_distinct_metric_names_that_map_back(names_of_columns: list[str]) -> None:
    keys = window_keys(names_of_columns)
    names = MetricNames()
    names.add(keys)
    assert_valid_distinct_and_reversible(names, keys)


@settings(max_examples=150, deadline=None)
@given(columns, columns)
def test_a_later_pass_keeps_every_segment_and_stays_distinct(first: list[str], second: list[str]) -> None:
    names = MetricNames()
    names.add(window_keys(first))
    before = dict(names.segments)
    recorded = MetricNames.from_json(names.to_json())  # the next pass starts from the recorded mapping
    recorded.add(window_keys(first + [c for c in second if c not in first]))
    assert {c: recorded.segments[c] for c in before} == before
    assert_valid_distinct_and_reversible(recorded, window_keys(first + [c for c in second if c not in first]))


@pytest.mark.parametrize(("column", "segment"), [
    ("fixed acidity", "fixed acidity"),  # plain names keep their metric names
    ("temp (°C)", "temp_C"),
    ("price ($)", "price"),
    ("rate %", "rate"),
    ("km/h", "km_h"),
    ("ünïcode 名前", "unicode"),
    ("..", "column"),
    ("", "column"),
    ("x" * 300, "x" * (MAX_SEGMENT - 8)),
])
def test_documented_segments(column: str, segment: str) -> None:
    names = MetricNames()
    names.add([f"drift/{column}/ks"])
    assert names.segments == {column: segment}


def test_case_length_and_slug_collisions_get_a_counter() -> None:
    names = MetricNames()
    long_a, long_b = "y" * 200 + "a", "y" * 200 + "b"
    names.add([f"drift/{c}/ks" for c in ["Temp", "temp", "temp (C)", "temp_C", long_a, long_b, "share"]])
    assert names.segments["Temp"] == "Temp" and names.segments["temp"] == "temp-2"
    assert names.segments["temp_C"] == "temp_C" and names.segments["temp (C)"] == "temp_C-2"
    assert {names.segments[long_a], names.segments[long_b]} == {"y" * 56, "y" * 56 + "-2"}
    assert names.segments["share"] == "share"  # no drift/share metric among these keys


def test_a_group_metric_name_is_never_a_column_segment() -> None:
    names = MetricNames()
    names.add(["drift/share", "drift/share/ks", "quality/Missing_Rate/unseen", "quality/missing_rate"])
    assert names.segments == {"share": "share-2", "Missing_Rate": "Missing_Rate-2"}
