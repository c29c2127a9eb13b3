"""The datasets ``driftloop simulate`` can replay: the bundled bike-sharing and wine-quality data, or a time-indexed
table."""

from __future__ import annotations

import logging
from datetime import date
from importlib import resources
from pathlib import Path

import pandas as pd

from driftloop.errors import DriftloopError
from driftloop.monitor.performance import seasonal_naive
from driftloop.simulate.replay import Dataset
from driftloop.simulate.scoring import TASKS, encode_classes, task_of_target

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


def _bundled(folder: str, name: str, **read_csv: object) -> pd.DataFrame:
    with resources.as_file(resources.files("driftloop.datasets") / folder / name) as path:
        return pd.read_csv(path, **read_csv)


DAILY_TRAIN_DAYS = 365
"""Daily data retrains on the last year of labels (365 rows; 90 days would be 90 rows)."""


def seattle_weather(kind: str = "weather") -> Dataset:
    """Daily Seattle weather, 2012-2015 (NOAA via vega_datasets; ``driftloop/datasets/README.md``): the first
    champion trains on 2012, production is 2013-2015 (weekly windows of 7 days).

    ``kind="weather"`` — a multiclass stream: the recorded weather type (drizzle, fog, rain, snow, sun) from the
    day's precipitation, temperature extremes, wind and month. The labelling changes over the years (2012 has 191
    rain days and 5 fog days, 2014 3 rain days and 151 fog days): concept drift, which no feature shows.
    ``kind="rain"`` — a binary stream: whether any rain fell (precipitation > 0) from the temperature extremes,
    wind and month. The naive benchmark of both is the persistence forecast (yesterday's label).
    """
    frame = _bundled("seattle_weather", "seattle-weather.csv")
    frame["timestamp"] = pd.to_datetime(frame["date"], format="%Y/%m/%d", utc=True)
    frame["month"] = frame["timestamp"].dt.month.astype("float64")
    features = ["precipitation", "temp_max", "temp_min", "wind", "month"]
    target = "weather"
    if kind == "rain":
        frame["rain"] = (frame["precipitation"] > 0).map({True: "rain", False: "dry"})
        features, target = features[1:], "rain"
    elif kind != "weather":
        raise DriftloopError(f"The 'kind' parameter of seattle_weather must be weather or rain; got {kind!r}.")
    frame[features] = frame[features].astype("float64")
    codes, classes = encode_classes(frame[target])
    frame = frame.assign(**{target: codes})[["timestamp", *features, target]]
    return Dataset(frame, features, target, "timestamp", pd.Timestamp("2013-01-01", tz="UTC"), make_classifier,
                   task="classification", classes=classes, naive_previous=True,
                   settings={"train_days": DAILY_TRAIN_DAYS})


def seattle_temps() -> Dataset:
    """Hourly temperature (°F) in Seattle through 2010 (NOAA via vega_datasets) from the hour of the day, the day
    of the year and the temperature a day earlier (known: a forecast made a day ahead); the first champion trains
    on January-March, production is April-December. The seasonal naive benchmark is the same hour a day earlier.
    The series is smooth — it moves by tenths of a degree from one day to the next at the same hour, as climate
    normals do, not by the degrees of real weather — so the naive forecast is hard to beat here."""
    from driftloop.demo.bike import make_regressor

    frame = _bundled("seattle_weather", "seattle-temps.csv")
    frame["timestamp"] = pd.to_datetime(frame["date"], format="%Y/%m/%d %H:%M", utc=True)
    frame = frame.sort_values("timestamp").reset_index(drop=True)
    frame["hour"] = frame["timestamp"].dt.hour.astype("float64")
    frame["day_of_year"] = frame["timestamp"].dt.day_of_year.astype("float64")
    frame["temp_day_before"] = seasonal_naive(frame["timestamp"], frame["temp"], pd.Timedelta(days=1))
    frame = frame.dropna(subset=["temp_day_before"]).reset_index(drop=True)
    features = ["hour", "day_of_year", "temp_day_before"]
    frame["temp"] = frame["temp"].astype("float64")
    return Dataset(frame[["timestamp", *features, "temp"]], features, "temp", "timestamp",
                   pd.Timestamp("2010-04-01", tz="UTC"), make_regressor, naive_lag=pd.Timedelta(days=1))


def trump_approval() -> Dataset:
    """Donald Trump's approval rating by FiveThirtyEight's model, daily from March 2017 to November 2019, from the
    ratings of five polling agencies (river's ``TrumpApproval``; FiveThirtyEight's data). The first champion trains
    on March-December 2017; production is 2018-2019. The naive benchmark is the persistence forecast (the previous
    day's rating)."""
    from driftloop.demo.bike import make_regressor

    frame = _bundled("trump_approval", "trump_approval.csv")
    frame["timestamp"] = pd.to_datetime(frame["ordinal_date"].map(date.fromordinal)).dt.tz_localize("UTC")
    features = ["gallup", "ipsos", "morning_consult", "rasmussen", "you_gov"]
    frame[[*features, "five_thirty_eight"]] = frame[[*features, "five_thirty_eight"]].astype("float64")
    return Dataset(frame[["timestamp", *features, "five_thirty_eight"]], features, "five_thirty_eight", "timestamp",
                   pd.Timestamp("2018-01-01", tz="UTC"), make_regressor, naive_previous=True,
                   settings={"train_days": DAILY_TRAIN_DAYS})


BUNDLED = {"bike": bike_dataset, "wine": wine_dataset, "seattle-weather": seattle_weather,
           "seattle-rain": lambda: seattle_weather("rain"), "seattle-temps": seattle_temps,
           "trump-approval": trump_approval}
"""The datasets ``--data`` names (see ``driftloop/datasets/README.md``)."""


def make_classifier(seed: int = 0):
    """The replay's classifier: scikit-learn's gradient boosting (the classification form of the demo's model)."""
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(n_estimators=100, max_depth=3, learning_rate=0.1, random_state=seed)


def table_dataset(path: str, *, target: str, timestamp: str, train_days: int, task: str | None = None) -> Dataset:
    """A CSV/Parquet table: the numeric columns other than the target are the features; the first champion trains
    on its first ``train_days`` days. The task is ``task`` or inferred from the target
    (:func:`~driftloop.simulate.scoring.task_of_target`); a classifier's naive benchmark is the persistence
    forecast (the previous row's label)."""
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
    unlabelled = int(frame[target].isna().sum())
    if unlabelled:
        # A replay scores every production row against its label: a row without one cannot be scored or trained on.
        logger.warning("%d row(s) of %s have no %r value and are left out of the replay.", unlabelled, path, target)
        frame = frame.dropna(subset=[target])
    task = task or task_of_target(frame[target])
    if task not in TASKS:
        raise DriftloopError(f"The '--task' option must be one of {', '.join(TASKS)}; got {task!r}.")
    train_end = frame[timestamp].min() + pd.Timedelta(days=train_days)
    frame = frame.reset_index(drop=True)
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(frame[target]):
            raise DriftloopError(f"The target column {target!r} must be numeric for a regression (it holds "
                                 f"{frame[target].dtype} values such as {frame[target].iloc[0]!r}); "
                                 f"replay a classifier with --task classification.")
        return Dataset(frame, features, target, timestamp, train_end, make_regressor)
    codes, classes = encode_classes(frame[target])
    return Dataset(frame.assign(**{target: codes}), features, target, timestamp, train_end, make_classifier,
                   task="classification", classes=classes, naive_previous=True)


def load_dataset(name: str, *, target: str = "cnt", timestamp: str = "timestamp", train_days: int = 90,
                 task: str | None = None) -> Dataset:
    """A bundled dataset by name (:data:`BUNDLED`) or a table at a path (:func:`table_dataset`)."""
    if name in BUNDLED:
        return BUNDLED[name]()
    if not Path(name).exists():
        raise DriftloopError(f"The '--data' option must be {', '.join(BUNDLED)} or the path of a data file; "
                             f"got {name!r}.")
    return table_dataset(name, target=target, timestamp=timestamp, train_days=train_days, task=task)
