"""Spark conditions on a cell, as the numpy engine reads cells: missing is null, or NaN in a floating-point column
(pandas' missing value); a number is finite when it is neither missing nor infinite."""

from __future__ import annotations


def quoted(name: str):
    """The Spark column of a data column named ``name``, whatever it holds: dots, spaces and backticks (doubled
    inside the quotes, Spark's escape) are not read as structure."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def present(frame, name: str):
    """The cell of column ``name`` of ``frame`` holds a value: not null, and not NaN in a floating-point column."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    column = quoted(name)
    if isinstance(frame.schema[name].dataType, DoubleType | FloatType):
        return column.isNotNull() & ~F.isnan(column)
    return column.isNotNull()


def finite(value):
    """The double ``value`` (a Spark column) is a finite number: not null, not NaN, not infinite."""
    from pyspark.sql import functions as F

    return value.isNotNull() & ~F.isnan(value) & ~value.isin(float("inf"), float("-inf"))
