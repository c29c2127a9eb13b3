"""The cell tallies of a numeric column in one window, as the numpy engine's data quality counts them
(:func:`driftloop.monitor.quality.quality_metrics`) and its drift leaves cells out
(:meth:`~driftloop.profile.ReferenceProfile.compare_summaries`):

- ``missing``: cells that hold no value, null or NaN (pandas' missing value);
- ``infinite``: cells holding ``inf`` or ``-inf``;
- ``outside``: finite values outside the reference's ``[low, high]`` (``value < low`` or ``value > high``).

A window's tallies are the sums of its pieces' tallies (each is a count), so they are computed wherever the cells
pass. Two forms of the one definition:

- :func:`finite_and_tallies` over an array of cells (null read as NaN): the Python workers that pack every numeric
  value for the drift (:mod:`driftloop.spark.ecdf`) tally the cells they already hold, so the window aggregate of
  :mod:`driftloop.spark.monitor` does not read those columns a second time (one scan of the data less);
- :func:`tally_aggregates` as Spark aggregate expressions, for the columns no packing worker sees (numbers the
  profile does not compare as numbers) and for the plan of windows too large for one task
  (:mod:`driftloop.spark.ecdf_sorted`), whose values are not packed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

#: The Spark type of each tally, in :class:`Tallies` order (columns of the packed pieces and of the summaries).
TALLIES_SCHEMA = "missing long, infinite long, outside long"


class Tallies(NamedTuple):
    """One (window, column)'s cells: missing (null or NaN), infinite, and finite outside the reference's range."""

    missing: int
    infinite: int
    outside: int

    def plus(self, other: Tallies) -> Tallies:
        """The tallies of both pieces of cells.

        >>> Tallies(1, 0, 2).plus(Tallies(0, 3, 1))
        Tallies(missing=1, infinite=3, outside=3)
        """
        return Tallies(self.missing + other.missing, self.infinite + other.infinite, self.outside + other.outside)


def finite_and_tallies(cells: NDArray[np.float64], bounds: tuple[float, float] | None
                       ) -> tuple[NDArray[np.float64], Tallies]:
    """The finite values of ``cells`` (in their order) and the cells' :class:`Tallies` against ``bounds``
    (``(low, high)``, the reference's ``[min, max]``; ``None``: no range, nothing counted outside).

    >>> values, tallies = finite_and_tallies(np.array([0.0, 5.0, -1.0, np.nan, np.inf, -np.inf, 2.0]), (0.0, 2.0))
    >>> values.tolist(), tallies
    ([0.0, 5.0, -1.0, 2.0], Tallies(missing=1, infinite=2, outside=2))
    """
    keep = np.isfinite(cells)
    values = cells[keep]
    missing = int(np.count_nonzero(np.isnan(cells)))
    infinite = len(cells) - len(values) - missing
    outside = 0
    if bounds is not None:
        low, high = bounds
        outside = int(np.count_nonzero(values < low) + np.count_nonzero(values > high))
    return values, Tallies(missing, infinite, outside)


def tally_aggregates(frame, name: str, bounds: tuple[float, float] | None, suffix: str) -> list:
    """The Spark aggregate expressions of column ``name``'s tallies, aliased ``missing{suffix}``,
    ``infinite{suffix}`` and ``outside{suffix}`` (read back by :func:`tallies_of_row`); a column that is not a
    number has only ``missing``."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import NumericType

    from driftloop.spark.cells import present, quoted

    column = quoted(name)
    counts = [F.sum(F.when(~present(frame, name), 1).otherwise(0)).alias(f"missing{suffix}")]
    if isinstance(frame.schema[name].dataType, NumericType):
        infinite = column.isin(float("inf"), float("-inf"))
        counts.append(F.sum(F.when(infinite, 1).otherwise(0)).alias(f"infinite{suffix}"))
        if bounds is not None:
            low, high = bounds
            outside = present(frame, name) & ~infinite & ((column < low) | (column > high))
            counts.append(F.sum(F.when(outside, 1).otherwise(0)).alias(f"outside{suffix}"))
    return counts


def tallies_of_row(row, suffix: str) -> Tallies:
    """The :class:`Tallies` in an aggregate row of :func:`tally_aggregates` (0 for a tally it has not)."""
    held = row.asDict()
    return Tallies(*(int(held.get(f"{kind}{suffix}") or 0) for kind in Tallies._fields))
