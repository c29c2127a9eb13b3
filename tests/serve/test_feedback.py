"""Feedback bodies: labels checked against what the model predicts, ids and labels bounded, numbers that fit."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow.types import ColSpec, Schema, TensorSpec

from driftloop.serve.errors import BadRequest, InvalidInput
from driftloop.serve.feedback import LabelRule, parse_feedback
from driftloop.serve.limits import RequestLimits

LIMITS = RequestLimits(max_id_length=10, max_label_length=5)


@pytest.mark.parametrize("schema, kind", [
    (Schema([TensorSpec(np.dtype("float64"), (-1,))]), "number"),
    (Schema([TensorSpec(np.dtype("int64"), (-1,))]), "integer"),
    (Schema([TensorSpec(np.dtype("bool"), (-1,))]), "boolean"),
    (Schema([TensorSpec(np.dtype("str"), (-1,))]), "string"),
    (Schema([ColSpec("double")]), "number"),
    (Schema([ColSpec("long", "class")]), "integer"),
    (Schema([ColSpec("string")]), "string"),
    (Schema([ColSpec("double", "a"), ColSpec("double", "b")]), "scalar"),
    (None, "scalar"),
])
def test_the_label_kind_follows_the_output_schema(schema: Schema | None, kind: str) -> None:
    assert LabelRule.from_output_schema(schema).kind == kind


@pytest.mark.parametrize("kind, good, bad", [
    ("number", [5, 5.5, -(2**63), 2**63 - 1], ["5", True, None, 2**63, float("inf"), float("nan"), [5], {"v": 5}]),
    ("integer", [3, 3.0, 2**63 - 1], [3.5, "3", False, 2**63, -(2**63) - 1, float("inf")]),
    ("string", ["cat", "12345"], ["123456", 1, True, None, ["cat"]]),
    ("boolean", [True, False], [1, 0, "true", None]),
    ("scalar", [1, 1.5, "abc", True], [2**64, float("-inf"), "abcdef", None, [1]]),
])
def test_labels_of_each_kind(kind: str, good: list, bad: list) -> None:
    rule = LabelRule(kind, "test values")
    assert [rule.accepts(label, 5) for label in good] == [True] * len(good)
    assert [rule.accepts(label, 5) for label in bad] == [False] * len(bad)


def test_every_bad_item_is_named_and_nothing_is_kept() -> None:
    rule = LabelRule("number", "float64 values")
    items = [{"id": "a", "label": 1}, {"id": "b" * 11, "label": 2}, {"id": "c", "label": "high"}, "x",
             {"id": 5, "label": 2**63}, {"id": ""}]
    with pytest.raises(InvalidInput) as caught:
        parse_feedback(items, rule, LIMITS)
    cells = [(e.row, e.column) for e in caught.value.errors]
    assert cells == [(1, "id"), (2, "label"), (3, None), (4, "id"), (4, "label"), (5, "id"), (5, "label")]
    assert "at most 10 characters" in caught.value.errors[0].expected
    assert "a regressor" in caught.value.errors[1].expected
    assert parse_feedback({"id": "a", "label": 2.5}, rule, LIMITS) == [("a", 2.5)]
    with pytest.raises(BadRequest, match="JSON list"):
        parse_feedback({"rows": []}, rule, LIMITS)
