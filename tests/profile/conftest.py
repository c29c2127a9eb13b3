"""Seeded synthetic frames for the profile tests: numeric columns of several shapes and categorical columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

N_NUMERIC = 20
LEVELS = (2, 3, 5, 12, 35)


def make_frame(n: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    """20 numeric columns (normal, lognormal, uniform, integer-valued with ties) and 5 categorical (2 to 35 levels)."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for j in range(N_NUMERIC):
        kind = j % 4
        if kind == 0:
            x = rng.normal(10.0 * j, 1.0 + j, size=n)
        elif kind == 1:
            x = rng.lognormal(0.0, 0.5, size=n)
        elif kind == 2:
            x = rng.uniform(-1.0, 1.0, size=n)
        else:
            x = rng.poisson(4.0, size=n).astype(np.float64)
        data[f"num_{j}"] = x + shift * (np.std(x) if shift else 0.0)
    for j, levels in enumerate(LEVELS):
        weights = np.arange(1, levels + 1, dtype=np.float64)
        weights /= weights.sum()
        data[f"cat_{j}"] = pd.array(rng.choice([f"L{k}" for k in range(levels)], size=n, p=weights), dtype="str")
    return pd.DataFrame(data)


@pytest.fixture(scope="session")
def reference_frame() -> pd.DataFrame:
    return make_frame(20_000, seed=1)


@pytest.fixture(scope="session")
def fitted_profile(reference_frame: pd.DataFrame):
    from driftloop.profile import ReferenceProfile

    return ReferenceProfile().fit(reference_frame)
