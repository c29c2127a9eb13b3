"""The datasets ``driftloop simulate`` can replay: the bundled bike-sharing data or a time-indexed table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from driftloop.errors import DriftloopError
from driftloop.simulate.replay import Dataset


def bike_dataset() -> Dataset:
    """Hourly bike rentals; the first champion trains on January-March 2011 (as the demo)."""
    from driftloop.demo.bike import FEATURES, TARGET, TIMESTAMP, TRAIN_END, load_hourly, make_regressor

    return Dataset(load_hourly(), FEATURES, TARGET, TIMESTAMP, TRAIN_END, make_regressor)


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
    frame = frame.dropna(subset=[target])
    train_end = frame[timestamp].min() + pd.Timedelta(days=train_days)
    return Dataset(frame.reset_index(drop=True), features, target, timestamp, train_end, make_regressor)


def load_dataset(name: str, *, target: str = "cnt", timestamp: str = "timestamp", train_days: int = 90) -> Dataset:
    """``bike``, ``wine`` (refused: it has no timestamps) or a path."""
    if name == "bike":
        return bike_dataset()
    if name == "wine":
        raise DriftloopError(
            "The '--data' option: the wine-quality data has no timestamps, so it cannot be replayed as production "
            "traffic; use --data bike or the path of a table with a timestamp column."
        )
    if not Path(name).exists():
        raise DriftloopError(f"The '--data' option must be bike, wine or the path of a data file; got {name!r}.")
    return table_dataset(name, target=target, timestamp=timestamp, train_days=train_days)
