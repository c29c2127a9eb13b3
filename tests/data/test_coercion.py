"""Numbers stored as text: lossless conversion, checked against an exact Decimal oracle."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.data.coercion import NUMERAL, numbers_from_text


def oracle(text: str) -> float | None:
    """The float of ``text`` when the text is a correct rounding of it at the text's last digit, by exact
    fractions (``fractions.Fraction``, not the Decimal arithmetic of the implementation); else None."""
    text = text.strip()
    if not re.fullmatch(NUMERAL, text):
        return None
    number = float(text)
    if not np.isfinite(number):
        return None
    exponent = Decimal(text).as_tuple().exponent
    unit = Fraction(10) ** exponent
    return number if 2 * abs(Fraction(text) - Fraction(number)) <= unit else None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=40))
def test_every_float_written_as_text_converts_to_itself(numbers):
    for written in ([repr(x) for x in numbers], [f"{x:.17g}" for x in numbers], [f"{x:.16e}" for x in numbers]):
        found = numbers_from_text(pd.Series(written, dtype="str"))
        assert found.values.tolist() == numbers and found.converted == len(numbers) and found.wrong_type == 0


numeral_like = st.text(alphabet="0123456789.,eE+- xa/", max_size=24)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(numeral_like, st.none(), st.from_regex(r"[0-9]{14,20}(\.[0-9]{0,6})?([eE][+-]?[0-9]{1,3})?",
                                                               fullmatch=True),
                          st.floats(allow_nan=False).map(repr), st.floats(allow_nan=False).map(lambda x: f"{x:.18g}")),
                max_size=30))
def test_conversion_agrees_with_the_decimal_oracle(texts):
    found = numbers_from_text(pd.Series(texts, dtype="str"))
    expected = [None if t is None else oracle(t) for t in texts]
    for got, want, text in zip(found.values.tolist(), expected, texts, strict=True):
        assert (np.isnan(got) and want is None) or got == want, (text, got, want)
    assert found.converted == sum(w is not None for w in expected)
    assert found.wrong_type == sum(t is not None and w is None for t, w in zip(texts, expected, strict=True))


def test_ambiguous_or_broken_text_is_a_wrong_type_value_never_a_number():
    found = numbers_from_text(pd.Series(["7.4", "1,5", "n/a", "12abc", "", None, " 0.25 ", "1e400", "1e-400",
                                         "9007199254740993", "0.000", "-0", "1e-99999999999"], dtype="str"))
    assert found.values.tolist()[:1] == [7.4] and found.values.tolist()[6] == 0.25
    assert np.isnan(found.values.tolist()[1:6]).all() and np.isnan(found.values.tolist()[7:10]).all()
    assert found.values.tolist()[10:12] == [0.0, 0.0] and np.isnan(found.values.tolist()[12])
    assert (found.converted, found.wrong_type, found.example) == (4, 8, "1,5")  # "" is text, not a missing value


def test_an_object_column_keeps_its_numbers_and_flags_other_objects():
    found = numbers_from_text(pd.Series([1.5, "2.5", True, None, np.int64(3)], dtype=object))
    assert found.values.tolist()[:2] == [1.5, 2.5] and found.values.tolist()[4] == 3.0
    assert (found.converted, found.wrong_type, found.example) == (1, 1, True)
