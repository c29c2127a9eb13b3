"""The body of ``POST /feedback``: late labels, checked against the served model before they reach the log.

A label must be what the model predicts (:class:`LabelRule`, read from the output schema of the model's signature):
a number for a regressor, a class of the predicted type for a classifier. A string label for a regressor would be
stored and later break the monitor's realised performance; it is a 422 here instead. Ids and string labels are
bounded in length (``RequestLimits.max_id_length``, ``max_label_length``), and every number must fit the log's
columns (a 64-bit integer or a finite float), so that no label can make the log writer fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftloop.serve.errors import BadRequest, CellError, InvalidInput, describe
from driftloop.serve.limits import RequestLimits
from driftloop.serve.validation import fits_log

_KIND_OF_DTYPE = {"f": "number", "i": "integer", "u": "integer", "b": "boolean", "U": "string", "S": "string"}
_KIND_OF_TYPE = {"double": "number", "float": "number", "long": "integer", "integer": "integer",
                 "boolean": "boolean", "string": "string"}


@dataclass(frozen=True)
class LabelRule:
    """What a label must be: ``kind`` is ``number`` (a regressor), ``integer``, ``string`` or ``boolean`` (the
    classes a classifier predicts) or ``scalar`` (any of these: the model's output type is not known); ``predicts``
    says what the model's output schema holds.

    >>> rule = LabelRule.from_output_schema(None)
    >>> rule.kind, rule.accepts("a", 10), rule.accepts(2**63, 10)
    ('scalar', True, False)
    """

    kind: str
    predicts: str

    @classmethod
    def from_output_schema(cls, schema: Any) -> LabelRule:
        """The rule for a model whose signature's output schema is ``schema`` (``None`` when it has none).

        >>> import numpy as np
        >>> from mlflow.types import ColSpec, Schema, TensorSpec
        >>> LabelRule.from_output_schema(Schema([TensorSpec(np.dtype("float64"), (-1,))])).kind
        'number'
        >>> LabelRule.from_output_schema(Schema([ColSpec("string")])).kind
        'string'
        """
        inputs = getattr(schema, "inputs", None)
        if not inputs or len(inputs) != 1:
            return cls("scalar", "no single output type")
        spec = inputs[0]
        if schema.is_tensor_spec():
            dtype = spec.type
            return cls(_KIND_OF_DTYPE.get(dtype.kind, "scalar"), f"{dtype} values")
        type_name = getattr(spec.type, "name", str(spec.type))
        return cls(_KIND_OF_TYPE.get(type_name, "scalar"), f"{type_name} values")

    def expected(self, max_length: int) -> str:
        """What a label must be, for a message."""
        string = f"a string of at most {max_length} characters"
        return {
            "number": f"a finite number (the model predicts {self.predicts}: a regressor)",
            "integer": f"an integer within 64 bits (the model predicts {self.predicts})",
            "string": f"{string} (the model predicts {self.predicts})",
            "boolean": f"true or false (the model predicts {self.predicts})",
            "scalar": f"a finite number, an integer within 64 bits, {string} or a boolean",
        }[self.kind]

    def accepts(self, label: Any, max_length: int) -> bool:
        """Whether ``label`` (a decoded JSON value) is a label of this model that the log can store."""
        if label is None or not fits_log(label):
            return False
        kind = type(label)
        if kind is str:
            return self.kind in ("string", "scalar") and len(label) <= max_length
        if kind is bool:
            return self.kind in ("boolean", "scalar")
        if kind is int:
            return self.kind in ("number", "integer", "scalar")
        return self.kind in ("number", "scalar") or (self.kind == "integer" and label.is_integer())


def parse_feedback(payload: Any, rule: LabelRule, limits: RequestLimits) -> list[tuple[str, Any]]:
    """The ``(id, label)`` pairs of a decoded ``/feedback`` body: a list of ``{"id": ..., "label": ...}`` (or one
    such object). An invalid item makes the whole request a 422 naming each bad cell; nothing is stored then.

    >>> parse_feedback([{"id": "a", "label": 5.5}], LabelRule("number", "float64 values"), RequestLimits())
    [('a', 5.5)]
    >>> parse_feedback({"id": "a", "label": "good"}, LabelRule("number", "float64 values"), RequestLimits())
    Traceback (most recent call last):
    ...
    driftloop.serve.errors.InvalidInput: Row 0, column 'label': expected a finite number (the model predicts float64 values: a regressor); received 'good' (string).
    """
    if isinstance(payload, dict) and "id" in payload:
        payload = [payload]
    if not isinstance(payload, list):
        raise BadRequest(f"The body must be a JSON list of {{\"id\": ..., \"label\": ...}}; got {describe(payload)}.")
    max_id, max_label = limits.max_id_length, limits.max_label_length
    items, errors = [], []
    for index, item in enumerate(payload):
        if not isinstance(item, dict):
            errors.append(CellError(index, None, 'an object {"id": ..., "label": ...}', describe(item)))
            continue
        row_id, label = item.get("id"), item.get("label")
        valid = True
        if type(row_id) is not str or not 0 < len(row_id) <= max_id:
            errors.append(CellError(index, "id", f"a prediction id (a non-empty string of at most {max_id} "
                                                 "characters)", describe(row_id)))
            valid = False
        if not rule.accepts(label, max_label):
            received = "no label" if "label" not in item else describe(label)
            errors.append(CellError(index, "label", rule.expected(max_label), received))
            valid = False
        if valid:
            items.append((row_id, label))
    if errors:
        raise InvalidInput(errors)
    return items
