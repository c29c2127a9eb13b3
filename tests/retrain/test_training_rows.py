"""Training-row fingerprints: the same row gives the same fingerprint whatever its position, index, column order or
integer/float form; rows found seen agree with a merge on every column (the oracle)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.retrain.training_rows import fingerprints, seen

ROWS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.sampled_from(["a", "b"])), min_size=1,
                max_size=30)


@settings(max_examples=60, deadline=None)
@given(ROWS, ROWS)
def test_seen_rows_are_those_a_merge_finds(trained_rows, holdout_rows) -> None:
    trained = pd.DataFrame(trained_rows, columns=["x", "y", "label"])
    holdout = pd.DataFrame(holdout_rows, columns=["x", "y", "label"], index=range(100, 100 + len(holdout_rows)))
    # recorded from a differently shaped copy: other column order, floats for integers
    recorded = np.unique(fingerprints(trained[["label", "y", "x"]].astype({"x": "float64", "y": "float64"})))
    merged = holdout.merge(trained.drop_duplicates(), on=["x", "y", "label"], how="left", indicator=True)
    assert seen(holdout, recorded).tolist() == (merged["_merge"] == "both").tolist()
