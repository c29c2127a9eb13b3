"""The datasets ``driftloop simulate`` can replay: the bundled bike-sharing and wine-quality data, or a time-indexed
table."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

import pandas as pd

from driftloop.errors import DriftloopError
from driftloop.simulate.replay import Dataset

logger = logging.getLogger(__name__)


def bike_dataset() -> Dataset:
    """Hourly bike rentals; the first champion trains on January-March 2011 (as the demo). The seasonal naive
    benchmark is the same hour a week earlier (rentals follow the week: commutes on working days, leisure at
    weekends)."""
    from driftloop.demo.bike import FEATURES, TARGET, TIMESTAMP, TRAIN_END, load_hourly, make_regressor

    return Dataset(load_hourly(), FEATURES, TARGET, TIMESTAMP, TRAIN_END, make_regressor,
                   naive_lag=pd.Timedelta(days=7))


WINE_FEATURES = ["fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides",
                 "free sulfur dioxide", "total sulfur dioxide", "density", "pH", "sulphates", "alcohol"]
WINE_START = pd.Timestamp("2024-01-01", tz="UTC")
WINE_TRAIN_DAYS = 42


def wine_dataset(seed: int = 0) -> Dataset:
    """Red wines, then white wines, arriving one an hour: the champion is trained on the first six weeks of red wines.

    The wine-quality data has no time, so the replay gives it an arrival clock: the 1,599 red wines (shuffled with
    ``seed``) from 2024-01-01 00:00 UTC, one per hour, then the 4,898 white wines (shuffled too). The first
    ``WINE_TRAIN_DAYS`` days (1,008 red wines) train the first champion; production is the remaining 591 red wines
    (about 3.5 weeks) followed by the white wines (about 29 weeks): an abrupt change of population, as when a model
    made for red wines is pointed at white ones. The target is the quality score, predicted as a number (MAE/RMSE).
    """
    from driftloop.demo.bike import make_regressor

    parts = []
    for colour in ("red", "white"):
        with resources.as_file(resources.files("driftloop.datasets") / "wine_quality" / f"winequality-{colour}.csv") \
                as path:
            part = pd.read_csv(path, sep=";")
        parts.append(part.sample(frac=1.0, random_state=seed).assign(colour=colour))
    frame = pd.concat(parts, ignore_index=True)
    frame[WINE_FEATURES] = frame[WINE_FEATURES].astype("float64")
    frame["quality"] = frame["quality"].astype("float64")
    frame["timestamp"] = WINE_START + pd.to_timedelta(range(len(frame)), unit="h")
    train_end = WINE_START + pd.Timedelta(days=WINE_TRAIN_DAYS)
    return Dataset(frame, WINE_FEATURES, "quality", "timestamp", train_end, make_regressor)


def table_dataset(path: str, *, target: str, timestamp: str, train_days: int) -> Dataset:
    """A CSV/Parquet table: the numeric columns other than the target are the features; the first champion trains
    on its first ``train_days`` days."""
    from driftloop.data.readers import read_table
    from driftloop.data.windows import parse_timestamps
    from driftloop.demo.bike import make_regressor

    frame = read_table(path)
    if target not in frame.columns:
        raise DriftloopError(f"The target column {target!r} is not in {path}; its columns are: "
                             f"{', '.join(map(str, frame.columns))}. Name it with --target.")
    frame = frame.assign(**{timestamp: parse_timestamps(frame, timestamp)}).sort_values(timestamp)
    features = [c for c in frame.columns if c not in (target, timestamp) and pd.api.types.is_numeric_dtype(frame[c])]
    if not features:
        raise DriftloopError(f"{path} has no numeric feature columns besides the target {target!r}.")
    if not pd.api.types.is_numeric_dtype(frame[target]):
        raise DriftloopError(f"The target column {target!r} must be numeric (the simulation replays a regressor).")
    unlabelled = int(frame[target].isna().sum())
    if unlabelled:
        # A replay scores every production row against its label: a row without one cannot be scored or trained on.
        logger.warning("%d row(s) of %s have no %r value and are left out of the replay.", unlabelled, path, target)
        frame = frame.dropna(subset=[target])
    train_end = frame[timestamp].min() + pd.Timedelta(days=train_days)
    return Dataset(frame.reset_index(drop=True), features, target, timestamp, train_end, make_regressor)


def load_dataset(name: str, *, target: str = "cnt", timestamp: str = "timestamp", train_days: int = 90) -> Dataset:
    """``bike``, ``wine`` (red wines then white ones, see :func:`wine_dataset`) or a path."""
    if name == "bike":
        return bike_dataset()
    if name == "wine":
        return wine_dataset()
    if not Path(name).exists():
        raise DriftloopError(f"The '--data' option must be bike, wine or the path of a data file; got {name!r}.")
    return table_dataset(name, target=target, timestamp=timestamp, train_days=train_days)
