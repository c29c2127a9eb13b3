"""Numbers stored as text, read in Spark as the numpy engine reads them: each value by
:func:`driftloop.data.coercion.numbers_from_text` (lossless decimal numerals become numbers; anything else that is
not missing is a wrong-type value), in Python workers, one Arrow batch at a time, only for such columns.

Spark's own cast would read other spellings (``"1e5d"``, ``"Infinity"``) and drop no digit it cannot hold without
saying so; the numpy engine's reader is the one the figures must agree with. Beside each column read from text the
frame holds its values that are not numbers (:func:`not_a_number`, null elsewhere), so that a window's wrong-type
values are counted, and the first of them (in the files' row order) named, by the aggregates that use them.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Prefix of the column beside a column read from text that holds its values that are not numbers.
NOT_A_NUMBER = "_driftloop_not_a_number:"


def not_a_number(name: str) -> str:
    """The name of the column holding the values of column ``name`` that are not numbers (as text)."""
    return NOT_A_NUMBER + name


def text_columns(frame, names: Sequence[str]) -> list[str]:
    """Those of ``names`` in ``frame`` that Spark does not hold as numbers (text, booleans, dates...)."""
    from pyspark.sql.types import NumericType

    return [c for c in names if c in frame.columns and not isinstance(frame.schema[c].dataType, NumericType)]


def _read(values):
    """One batch of a column: its numbers (``numbers_from_text``) and its non-missing values that are not numbers."""
    import pandas as pd

    from driftloop.data.coercion import numbers_from_text

    read = numbers_from_text(values)
    wrong = (read.values.isna() & values.notna()).to_numpy()
    texts = pd.Series(None, index=values.index, dtype=object)
    if wrong.any():
        texts[wrong] = [str(v) for v in values[wrong]]
    return pd.DataFrame({"value": read.values.to_numpy(), "wrong": texts})


def read_numbers_from_text(frame, names: Sequence[str]):
    """``frame`` with those of the columns ``names`` that Spark does not hold as numbers (:func:`text_columns`)
    replaced by their numbers (double; null where missing or not a number), each with its :func:`not_a_number`
    column; and the list of those columns."""
    from pyspark.sql import functions as F

    from driftloop.spark.cells import quoted

    text = text_columns(frame, names)
    if not text:
        return frame, []
    read = F.pandas_udf(_read, "value double, wrong string")
    parsed = {f"{NOT_A_NUMBER}{i}": read(quoted(name)) for i, name in enumerate(text)}
    frame = frame.withColumns(parsed)  # each column read once, then split into its number and its wrong text
    split = {}
    for i, name in enumerate(text):
        split[name] = F.col(f"`{NOT_A_NUMBER}{i}`.value")
        split[not_a_number(name)] = F.col(f"`{NOT_A_NUMBER}{i}`.wrong")
    return frame.withColumns(split).drop(*parsed), text
