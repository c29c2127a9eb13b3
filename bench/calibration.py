"""Calibration on real data: random exchangeable splits of real data sets should almost never be flagged.

For each data set of ``tests/profile/real_data.py`` (shipped by scikit-learn, statsmodels and driftloop; nothing is
downloaded), ``--splits`` seeded random splits of its rows into a reference half and a window half — the same data on
both sides, so any flag is a false alarm. A profile with the default settings is fitted on the reference and
compares the window; a window counts as flagged when any row is ``drifted``. The goal: at most 1 in 20 per data set.

Power, in the same run: the same splits with the window's most heavy-tailed column (largest distance from the median
in interquartile ranges, among columns with a positive IQR) shifted by half its interquartile range; the share of
those windows where that column is flagged.

    python bench/calibration.py --splits 20 [--sets digits "breast cancer"] [--json results.json]

Run it against another checkout's sources (``PYTHONPATH=/other/src``) to compare before and after.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from driftloop.profile import ReferenceProfile  # noqa: E402
from tests.profile.real_data import ALL, exchangeable_split  # noqa: E402


def heaviest_tail(frame: pd.DataFrame) -> tuple[str, float]:
    """The column reaching farthest from its median in interquartile ranges (IQR > 0), and its IQR."""
    best, best_ratio, best_iqr = "", -1.0, 0.0
    for name in frame.columns:
        q1, median, q3 = frame[name].quantile([0.25, 0.5, 0.75])
        iqr = q3 - q1
        if iqr > 0 and (ratio := float((frame[name] - median).abs().max() / iqr)) > best_ratio:
            best, best_ratio, best_iqr = name, ratio, float(iqr)
    return best, best_iqr


def flagged(result: pd.DataFrame) -> list[str]:
    rows = result[result.drifted.fillna(False).astype(bool)]
    return [f"{c}/{s}" for c, s in zip(rows.column, rows.statistic, strict=True)]


def run(data_set, splits: int) -> dict:
    frame = data_set.load()
    column, iqr = heaviest_tail(frame)
    false_alarms, detected, seconds, nonfinite = [], 0, [], 0
    for seed in range(splits):
        reference, window = exchangeable_split(frame, seed)
        start = time.perf_counter()
        profile = ReferenceProfile().fit(reference)
        result = profile.compare(window)
        seconds.append(time.perf_counter() - start)
        nonfinite += int((~np.isfinite(result.value)).sum())
        if rows := flagged(result):
            false_alarms.append((seed, rows))
        shifted = window.assign(**{column: window[column] + 0.5 * iqr})
        shift_result = profile.compare(shifted, columns=[column])
        detected += bool(shift_result.drifted.fillna(False).any())
    return {
        "data set": data_set.name, "rows": len(frame), "columns": frame.shape[1], "splits": splits,
        "flagged": len(false_alarms), "false alarms": false_alarms, "non-finite values": nonfinite,
        "shifted column": column, "shift detected": detected, "seconds per split": float(np.median(seconds)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--sets", nargs="*", default=None, help="names of data sets (default: all)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = []
    for data_set in ALL:
        if args.sets and data_set.name not in args.sets:
            continue
        try:
            outcome = run(data_set, args.splits)
        except ImportError as exc:
            print(f"{data_set.name}: skipped ({exc})")
            continue
        results.append(outcome)
        print(f"{outcome['data set']:<24} {outcome['rows']:>6} rows x {outcome['columns']:>2}  flagged "
              f"{outcome['flagged']:>2}/{args.splits}  non-finite values {outcome['non-finite values']:>3}  "
              f"shift of IQR/2 in {outcome['shifted column']!r} detected {outcome['shift detected']}/{args.splits}  "
              f"{outcome['seconds per split']:.2f} s/split", flush=True)
        for seed, rows in outcome["false alarms"]:
            print(f"    split {seed}: {', '.join(rows[:8])}{' ...' if len(rows) > 8 else ''}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
