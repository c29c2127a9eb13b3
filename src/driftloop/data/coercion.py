"""Numbers stored as text: read as numbers when nothing is lost, counted as wrong-type values when not.

Exports often write numeric columns as text (a Parquet file of strings, a CSV column where one stray value made
pandas read the whole column as text). A profiled numeric column that arrives as text is read value by value:

* a **decimal numeral** (``"7.4"``, ``" -0.25 "``, ``"1e-3"``, ``"12"``; surrounding spaces allowed) whose float64
  denotes the same number is read as that number: *converted from text*;
* anything else that is not missing is a **wrong-type value**: ``"1,5"`` (a decimal comma or a thousands
  separator?), ``"n/a"``, ``"12abc"``, ``"0x1A"``, ``"inf"``, and numerals a float64 cannot hold without change
  (``"9007199254740993"``, 17 significant digits and more, ``"1e400"``, ``"1e-400"``). It becomes NaN in the
  numbers and is reported, never silently dropped.

Lossless means: the decimal number the text denotes equals the decimal number of the float's shortest
representation, ``Decimal(text) == Decimal(repr(float(text)))``. A numeral of at most
:data:`EXACT_DIGITS` significant digits whose float is normal (not 0 from a non-zero numeral, not subnormal, not
infinite) always satisfies it (IEEE 754 binary64 keeps 15 decimal digits: ``DBL_DIG``), so only longer numerals and
extreme exponents are checked one by one.

>>> import pandas as pd
>>> found = numbers_from_text(pd.Series(["7.4", " 12 ", None, "1,5", "n/a", "12abc", "9007199254740993"]))
>>> found.values.tolist()[:3], found.converted, found.wrong_type, found.example
([7.4, 12.0, nan], 2, 4, '1,5')
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import NamedTuple

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

#: A decimal numeral: sign, ASCII digits with an optional point, optional exponent (no separators, no inf or nan).
NUMERAL = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
#: Significant digits that any decimal numeral can have and still round-trip through a float64 (DBL_DIG).
EXACT_DIGITS = 15
#: Smallest positive normal float64, 2**-1022: below it floats lose precision (subnormal) or become 0.
SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)


class TextNumbers(NamedTuple):
    """A column read as numbers.

    ``values``: float64, NaN where the value was missing or of the wrong type; ``converted``: text values read as
    numbers; ``wrong_type``: non-missing values that are not numbers (or would change as float64); ``example``: the
    first of those, for messages.
    """

    values: pd.Series
    converted: int
    wrong_type: int
    example: object | None


def is_text_column(values: pd.Series) -> bool:
    """Whether a column that should hold numbers arrives as something else (text, objects, booleans)."""
    return not is_numeric_dtype(values.dtype) or is_bool_dtype(values.dtype)


def _round_trips(text: str) -> bool:
    """``Decimal(text) == Decimal(repr(float(text)))`` for a numeral, and the float is finite."""
    try:
        number = float(text)
        return bool(np.isfinite(number)) and Decimal(text) == Decimal(repr(number))
    except (ValueError, InvalidOperation):
        return False


def numbers_from_text(values: pd.Series) -> TextNumbers:
    """Read a column of text (or of mixed Python objects) as float64, losslessly; see the module docstring.

    Python numbers inside an object column are numbers already (not counted as converted); booleans, dates and
    other objects are wrong-type values.
    """
    missing = values.isna().to_numpy()
    if isinstance(values.dtype, pd.StringDtype):
        is_text = ~missing
        is_number = np.zeros(len(values), dtype=bool)
    else:
        is_text = values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool) & ~missing
        is_number = values.map(lambda v: isinstance(v, (int, float, np.integer, np.floating))
                               and not isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool) & ~missing
    numbers = np.full(len(values), np.nan)
    if is_number.any():
        numbers[is_number] = values[is_number].astype("float64").to_numpy()
    good = is_number.copy()
    if is_text.any():
        text = values[is_text].astype("str").str.strip()
        numeral = text.str.fullmatch(NUMERAL).to_numpy(dtype=bool)
        parsed = pd.to_numeric(text.where(numeral), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        mantissa = text.str.replace(r"[eE].*$", "", regex=True)
        digits = mantissa.str.replace(r"[^0-9]", "", regex=True).str.lstrip("0").str.len().to_numpy()
        size = np.abs(parsed)
        zero = (parsed == 0) & ~mantissa.str.contains("[1-9]", regex=True).to_numpy(dtype=bool)
        surely_exact = numeral & (digits <= EXACT_DIGITS) & (zero | ((size >= SMALLEST_NORMAL) & np.isfinite(size)))
        to_check = numeral & ~surely_exact
        exact = surely_exact.copy()
        if to_check.any():
            exact[to_check] = [_round_trips(t) for t in text[to_check]]
        positions = np.flatnonzero(is_text)
        numbers[positions[exact]] = parsed[exact]
        good[positions[exact]] = True
    wrong = ~missing & ~good
    example = values[wrong].iloc[0] if wrong.any() else None
    return TextNumbers(pd.Series(numbers, index=values.index, name=values.name), int(good.sum() - is_number.sum()),
                       int(wrong.sum()), example)
