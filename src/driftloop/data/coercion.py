"""Numbers stored as text: read as numbers when nothing is lost, counted as wrong-type values when not.

Exports often write numeric columns as text (a Parquet file of strings, a CSV column where one stray value made
pandas read the whole column as text). A profiled numeric column that arrives as text is read value by value:

* a **decimal numeral** (``"7.4"``, ``" -0.25 "``, ``"1e-3"``, ``"12"``; surrounding spaces allowed) that a float64
  holds without loss is read as that number: *converted from text*;
* anything else that is not missing is a **wrong-type value**: ``"1,5"`` (a decimal comma or a thousands
  separator?), ``"n/a"``, ``"12abc"``, ``"0x1A"``, ``"inf"``, and numerals a float64 cannot hold
  (``"9007199254740993"``, ``"0.12345678901234567890"``, ``"1e400"``, ``"1e-400"``). It becomes NaN in the numbers
  and is reported, never silently dropped.

Lossless means that the text is what the float would be written as with the text's number of digits: the text's
decimal number lies within half a unit of its last digit of the float's exact binary value,
``|Decimal(text) - Decimal(float(text))| <= 10**e / 2`` where ``10**e`` is the place of the text's last digit
(computed exactly). So ``"7.40"``, ``"0.1"``, ``"0.10000000000000001"`` (``%.17g`` of 0.1) and every shortest
representation Python, numpy and pandas write all convert, while a digit the float cannot hold does not. The
per-value check is skipped for a numeral of at most :data:`EXACT_DIGITS` characters whose float is normal (so at
most 15 significant digits, which IEEE 754 binary64 always keeps: ``DBL_DIG``), and for a text equal to its float's
shortest representation (the closest of the shortest strings that read back as the float: within half a unit) or to
its ``%.17g`` (correctly rounded).

>>> import pandas as pd
>>> found = numbers_from_text(pd.Series(["7.4", " 12 ", None, "1,5", "n/a", "12abc", "9007199254740993"]))
>>> found.values.tolist()[:3], found.converted, found.wrong_type, found.example
([7.4, 12.0, nan], 2, 4, '1,5')
>>> numbers_from_text(pd.Series(["0.10000000000000001", "0.30000000000000004", "0.12345678901234567890"])).converted
2
"""

from __future__ import annotations

from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import is_bool_dtype, is_numeric_dtype

#: A decimal numeral: sign, ASCII digits with an optional point, optional exponent (no separators, no inf or nan).
NUMERAL = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
#: Significant digits that any decimal numeral can have and still round-trip through a float64 (DBL_DIG); a numeral
#: of at most this many characters has at most this many digits.
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


#: Enough digits for exact sums of a numeral and a float64 (whose exact value has at most 767 significant digits).
_EXACT = Context(prec=2000, Emax=MAX_EMAX, Emin=MIN_EMIN)


def _round_trips(text: str) -> bool:
    """Whether the numeral ``text`` is within half a unit of its last digit of its float's exact value (and the
    float is finite)."""
    try:
        number, written = float(text), Decimal(text)
        if not np.isfinite(number):
            return False
        unit = Decimal(1).scaleb(written.as_tuple().exponent, _EXACT)
        return _EXACT.multiply(_EXACT.abs(_EXACT.subtract(written, Decimal(number))), 2) <= unit
    except (ValueError, ArithmeticError):  # not a number, or an exponent beyond any Decimal context
        return False


def _read_numerals(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """For each text: whether it is a numeral read without loss, and its float64 (Arrow's parser, correctly
    rounded). Short numerals are decided at once; long ones written as their float's ``repr`` or ``%.17g`` next;
    the rest exactly (:func:`_round_trips`)."""
    text = pc.utf8_trim_whitespace(text)
    numeral = pc.fill_null(pc.match_substring_regex(text, f"^(?:{NUMERAL})$"), False)
    parsed = pc.cast(pc.if_else(numeral, text, pa.scalar(None, pa.string())), pa.float64())
    parsed = parsed.to_numpy(zero_copy_only=False)  # nulls (not numerals) become NaN
    numeral = numeral.to_numpy(zero_copy_only=False)
    size = np.abs(parsed)
    short = pc.utf8_length(text).to_numpy(zero_copy_only=False) <= EXACT_DIGITS  # at most 15 digits, then
    zero = (parsed == 0) & ~pc.fill_null(pc.match_substring_regex(text, "^[^eE]*[1-9]"), False).to_numpy(
        zero_copy_only=False)
    exact = numeral & short & (zero | ((size >= SMALLEST_NORMAL) & np.isfinite(size)))
    rest = np.flatnonzero(numeral & ~exact & np.isfinite(parsed))
    if len(rest):
        written = text.take(pa.array(rest)).to_pylist()
        # as Python, numpy and pandas write floats (repr), or as C and R do at full precision (%.17g)
        usual = np.array([t == repr(x) or t == f"{x:.17g}" for x, t in zip(parsed[rest].tolist(), written,
                                                                                strict=True)], dtype=bool)
        exact[rest[usual]] = True
        exact[rest[~usual]] = [_round_trips(t) for t, same in zip(written, usual, strict=True) if not same]
    return exact, parsed


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
        positions = np.flatnonzero(is_text)
        exact, parsed = _read_numerals(pa.array(values.iloc[positions].astype("str")))
        numbers[positions[exact]] = parsed[exact]
        good[positions[exact]] = True
    wrong = ~missing & ~good
    example = values[wrong].iloc[0] if wrong.any() else None
    return TextNumbers(pd.Series(numbers, index=values.index, name=values.name), int(good.sum() - is_number.sum()),
                       int(wrong.sum()), example)
