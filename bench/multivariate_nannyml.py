"""NannyML's PCA reconstruction error on one reference and one window, timed, for ``bench/multivariate.py`` and the
oracle test ``tests/multivariate/test_nannyml_oracle.py``.

Run by the python of a side environment holding NannyML (it needs ``pandas<3``; driftloop uses pandas 3):

    /path/to/side/bin/python bench/multivariate_nannyml.py --reference REF.parquet --window WIN.parquet \
        [--categorical COLUMN ...]

It fits ``nannyml.DataReconstructionDriftCalculator`` (its defaults: mean and most-frequent imputation, count
encoding of the categorical columns, standard scaling, ``PCA(n_components=0.65)``) on the reference with the window
as one chunk, calculates the window, and prints one JSON line: ``reconstruction_error`` (the window's mean),
``upper_threshold`` (NannyML's mean + 3 standard deviations of the reference chunks; one chunk here, so NaN),
``fit_s`` and ``calculate_s`` (the calls only; ``calculate_cpu_s`` the CPU time of the process during the latter), ``version``. Its usage telemetry is off. It does not import
driftloop.
"""

from __future__ import annotations

import os

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", required=True)
    parser.add_argument("--window", required=True)
    parser.add_argument("--categorical", nargs="*", default=[])
    args = parser.parse_args()
    import nannyml as nml
    import pandas as pd

    reference, window = pd.read_parquet(args.reference), pd.read_parquet(args.window)
    for column in args.categorical:
        reference[column], window[column] = reference[column].astype(object), window[column].astype(object)
    calculator = nml.DataReconstructionDriftCalculator(column_names=list(reference.columns), chunk_size=len(window))
    start = time.perf_counter()
    calculator.fit(reference)
    fitted, fitted_cpu = time.perf_counter(), time.process_time()
    result = calculator.calculate(window).filter(period="analysis").to_df()
    done, done_cpu = time.perf_counter(), time.process_time()
    row = result.iloc[-1]
    print(json.dumps({
        "version": nml.__version__,
        "reconstruction_error": float(row[("reconstruction_error", "value")]),
        "fit_s": fitted - start,
        "calculate_s": done - fitted,
        "calculate_cpu_s": done_cpu - fitted_cpu,
    }))


if __name__ == "__main__":
    main()
