"""Real data sets for the calibration tests and ``bench/calibration.py``: nothing downloaded, all shipped in packages.

Each set is chosen for a shape that breaks naive nulls: columns held at one value, many zeros, ties, rare values
far out in the tail (sentinels), heavy tails, tiny interquartile ranges. ``columns=None`` keeps every numeric column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class RealDataSet:
    name: str
    source: str  # the package that ships it, and its licence
    shapes: str  # what makes it hard
    load: Callable[[], pd.DataFrame]
    module: str | None = None  # optional package to import (the test skips without it)


def _sklearn(loader: str, **kwargs: object) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from sklearn import datasets

        frame = getattr(datasets, loader)(as_frame=True, **kwargs).frame
        return frame.astype("float64")

    return load


def _project(folder: str, file: str, drop: tuple[str, ...], sep: str = ",") -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        with resources.as_file(resources.files("driftloop.datasets") / folder / file) as path:
            frame = pd.read_csv(path, sep=sep)
        return frame.drop(columns=list(drop)).astype("float64")

    return load


def _statsmodels(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import importlib

        frame = importlib.import_module(f"statsmodels.datasets.{name}").load_pandas().data
        return frame.select_dtypes("number").astype("float64")

    return load


DIGITS = RealDataSet(
    "digits", "scikit-learn (BSD-3; UCI optical digits, 1,797 rows x 64 pixel counts 0-16)",
    "3 pixel columns held at 0 (more in a half: a few pixels are non-zero once or twice); border pixels almost "
    "always 0 with a few readings up to 16 (interquartile range 0); ties everywhere",
    _sklearn("load_digits"))
BREAST_CANCER = RealDataSet(
    "breast cancer", "scikit-learn (BSD-3; UCI Wisconsin diagnostic, 569 rows x 30 measurements)",
    "heavy right tails: 'area error' reaches 19 interquartile ranges from its median; 'concavity error' has zeros",
    _sklearn("load_breast_cancer"))
WINE = RealDataSet(
    "wine", "scikit-learn (BSD-3; UCI wine recognition, 178 rows x 13 measurements)",
    "a tiny reference (89 rows: half a leave-one-chunk-out chunk is 2 rows); heavy-ish tails, ties",
    _sklearn("load_wine"))
DIABETES = RealDataSet(
    "diabetes", "scikit-learn (BSD-3; Efron et al. 2004, 442 rows, raw units)",
    "ties: sex takes two values, age and blood tests are rounded; a small reference (221 rows)",
    _sklearn("load_diabetes", scaled=False))
BIKE_DAY = RealDataSet(
    "bike sharing, daily", "driftloop/datasets (UCI, Fanaee-T and Gama 2013; citation asked)",
    "rare values: holiday is 1 on 21 of 731 days, weather situation 3 on 21 days; one humidity reading of 0; "
    "casual riders heavy-tailed",
    _project("bike_sharing", "day.csv", ("instant", "dteday")))
WINE_RED = RealDataSet(
    "wine quality, red", "driftloop/datasets (UCI, Cortez et al. 2009; citation asked)",
    "heavy tails: chlorides reach 27 interquartile ranges from the median, residual sugar 19; ties from rounding",
    _project("wine_quality", "winequality-red.csv", (), sep=";"))
AFFAIRS = RealDataSet(
    "affairs", "statsmodels (BSD-3; Fair 1978, 6,366 rows, included with the author's permission)",
    "68 % zeros and a sentinel-like tail: 'affairs' reaches 119 interquartile ranges from its median",
    _statsmodels("fair"), module="statsmodels")
RAND_HIE = RealDataSet(
    "RAND health insurance", "statsmodels (BSD-3; RAND HIE, 20,190 rows, public domain)",
    "many zeros (physlm 83 %; hlthp is 1 on 302 of 20,190 rows), counts with a heavy tail (mdvis 19 "
    "interquartile ranges out)",
    _statsmodels("randhie"), module="statsmodels")
ANES96 = RealDataSet(
    "ANES 1996", "statsmodels (BSD-3; American National Election Studies, 944 rows, public domain)",
    "'popul' reaches 67 interquartile ranges from its median (a few large cities among villages); ordinal ties",
    _statsmodels("anes96"), module="statsmodels")

ALL = (WINE, DIGITS, BREAST_CANCER, DIABETES, BIKE_DAY, WINE_RED, AFFAIRS, RAND_HIE, ANES96)


def exchangeable_split(frame: pd.DataFrame, seed: int, reference_share: float = 0.5) -> tuple[pd.DataFrame,
                                                                                               pd.DataFrame]:
    """A seeded random split of the rows: (reference, window) drawn from the same data, exchangeable by design."""
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = int(round(len(frame) * reference_share))
    return frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(drop=True)
