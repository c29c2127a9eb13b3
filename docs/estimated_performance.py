"""Draw docs/estimated_performance.png: the bike-sharing demo's MAE, estimated by DLE week by week before the labels
arrive, beside the realised MAE once they have.

    python docs/estimated_performance.py        # from the repository, with driftloop installed

The demo's model (``driftloop.demo.bike``: gradient boosting trained on January-March 2011) is fitted on its
training rows; DLE needs the model's errors on rows it was not fitted on, so the reference's predictions are
out-of-fold (five contiguous folds of the training rows, the same model refitted without each). The estimator is
fitted on those, then every week from April 2011 to June 2012 gets its estimate and band from the inputs and
predictions alone, and its realised MAE from the labels; the dashed line is the MAE at training (the demo's
held-out last two weeks). The script prints in how many weeks the realised MAE is inside the band.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, cross_val_predict

from driftloop.demo.bike import FEATURES, RETRAIN_AT, TARGET, TIMESTAMP, TRAIN_END, VALIDATION_DAYS, load_hourly
from driftloop.demo.bike import make_regressor
from driftloop.estimate import LossEstimator
from driftloop.monitor.charts import SERIES_COLOURS
from driftloop.monitor.results import WindowResult

OUT = Path(__file__).resolve().parent / "estimated_performance.png"


def main() -> None:
    frame = load_hourly()
    train = frame[frame[TIMESTAMP] < TRAIN_END]
    out_of_fold = cross_val_predict(make_regressor(), train[FEATURES], train[TARGET], cv=KFold(5))
    held_out = VALIDATION_DAYS * 24
    validation = make_regressor().fit(train[FEATURES].iloc[:-held_out], train[TARGET].iloc[:-held_out])
    training_mae = float(np.mean(np.abs(validation.predict(train[FEATURES].iloc[-held_out:])
                                        - train[TARGET].iloc[-held_out:])))
    model = make_regressor().fit(train[FEATURES], train[TARGET])
    dle = LossEstimator().fit({c: train[c].to_numpy() for c in FEATURES}, out_of_fold,
                              train[TARGET].to_numpy(dtype=float))
    production = frame[(frame[TIMESTAMP] >= TRAIN_END) & (frame[TIMESTAMP] < RETRAIN_AT)]
    windows = []
    for index, (week, rows) in enumerate(production.groupby((production[TIMESTAMP] - TRAIN_END) // pd.Timedelta(days=7))):
        if rows.empty:
            continue
        predicted = model.predict(rows[FEATURES])
        estimate = dle.estimate({c: rows[c].to_numpy() for c in FEATURES}, predicted)["mae"]
        realised = float(np.mean(np.abs(predicted - rows[TARGET].to_numpy())))
        start = TRAIN_END + pd.Timedelta(days=7) * int(week)
        windows.append(WindowResult(index, start, start + pd.Timedelta(days=7), len(rows), metrics={
            "estimated/mae": estimate.value, "estimated/mae/lower": estimate.lower,
            "estimated/mae/upper": estimate.upper, "performance/mae": realised}))
    inside = sum(w.metrics["estimated/mae/lower"] <= w.metrics["performance/mae"] <= w.metrics["estimated/mae/upper"]
                 for w in windows)
    print(f"{len(windows)} weeks; realised MAE inside the band in {inside}; training MAE {training_mae:.1f}")
    above = [w.metrics["estimated/mae/lower"] > 1.25 * training_mae for w in windows]
    fired = [w for i, w in enumerate(windows) if i and above[i] and above[i - 1]]
    print(f"'estimated performance degraded (mae)' (lower bound > 1.25 x training, two weeks in a row) fires in "
          f"{len(fired)} weeks, first the week ending {fired[0].end:%Y-%m-%d}" if fired else "the rule never fires")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ends = [w.end for w in windows]
    series = {key: [w.metrics[key] for w in windows] for key in windows[0].metrics}
    figure, axes = plt.subplots(figsize=(11.4, 3.6), dpi=100)
    axes.fill_between(ends, series["estimated/mae/lower"], series["estimated/mae/upper"], color=SERIES_COLOURS[0],
                      alpha=0.18, linewidth=0, label="95 % band of the estimate")
    axes.plot(ends, series["estimated/mae"], color=SERIES_COLOURS[0], linewidth=2,
              label="estimated MAE (DLE: inputs and predictions only)")
    axes.plot(ends, series["performance/mae"], color=SERIES_COLOURS[1], linewidth=2, marker="o", markersize=3,
              label="realised MAE (once the labels arrived)")
    axes.axhline(training_mae, color="#9aa5b1", linestyle="--", linewidth=1.2, label="MAE at training")
    axes.set_ylabel("MAE (rentals per hour)")
    axes.set_title("bike-sharing demo: weekly MAE of the January–March 2011 model, estimated and realised", fontsize=11)
    axes.grid(color="#e6e9ee")
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="upper left", frameon=False, fontsize=9)
    figure.tight_layout()
    figure.savefig(OUT, metadata={"Software": None})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
