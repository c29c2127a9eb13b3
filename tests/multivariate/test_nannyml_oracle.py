"""NannyML's reconstruction error as the oracle of driftloop's, on the same data, in a side environment.

NannyML needs pandas < 3, so it lives in its own environment; point ``DRIFTLOOP_BENCH_SIDE_PYTHON`` at that
environment's python (as for ``bench/drift.py``) to run this test; it is skipped otherwise."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftloop.multivariate import MultivariateDrift

SIDE_PYTHON = os.environ.get("DRIFTLOOP_BENCH_SIDE_PYTHON")
SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "multivariate_nannyml.py"

pytestmark = pytest.mark.skipif(not SIDE_PYTHON or not Path(SIDE_PYTHON).exists(),
                                reason="needs DRIFTLOOP_BENCH_SIDE_PYTHON, a python with NannyML")


def nannyml_error(tmp_path: Path, reference: pd.DataFrame, window: pd.DataFrame, categorical: list[str]) -> float:
    reference.to_parquet(tmp_path / "reference.parquet")
    window.to_parquet(tmp_path / "window.parquet")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run([SIDE_PYTHON, str(SCRIPT), "--reference", str(tmp_path / "reference.parquet"), "--window",
                           str(tmp_path / "window.parquet"), "--categorical", *categorical],
                          capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["reconstruction_error"]


@pytest.mark.parametrize("flip", [False, True])
def test_window_reconstruction_error_equals_nannyml(tmp_path, flip):
    rng = np.random.default_rng(11)

    def frame(n: int, rho: float) -> pd.DataFrame:
        x = rng.normal(size=(n, 5))
        x[:, 1] = rho * x[:, 0] + np.sqrt(1 - rho * rho) * x[:, 1]
        data = pd.DataFrame(x * [1.0, 2.0, 0.5, 3.0, 1.0] + [0.0, 5.0, -1.0, 2.0, 0.0],
                            columns=[f"num_{i}" for i in range(5)])
        data["level"] = rng.choice(["a", "b", "c", "d"], size=n, p=[0.4, 0.3, 0.2, 0.1])
        return data

    reference, window = frame(5_000, 0.8), frame(1_000, -0.8 if flip else 0.8)
    detectors = MultivariateDrift(detectors=("pca",)).fit(reference)
    (ours,) = detectors.compare(window)
    theirs = nannyml_error(tmp_path, reference, window, ["level"])
    assert ours.statistics["reconstruction_error"] == pytest.approx(theirs, rel=1e-9)
