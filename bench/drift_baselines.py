"""One Evidently or NannyML drift computation, timed in its own process, for ``bench/drift.py``.

Run by the python of a *side* environment (Evidently needs ``pandas<3``, driftloop uses pandas 3, so they cannot
share one environment; see the "Drift engine" section of BENCHMARKS.md for how to create it):

    /path/to/side/bin/python bench/drift_baselines.py --tool evidently --reference REF.parquet --window WIN.parquet

It reads both Parquet files with pandas, runs the tool as ``bench/drift.py`` describes, and prints one JSON line:

* ``compute_s``: the tool's call only (Evidently: ``Report([DataDriftPreset()]).run(window, reference)``;
  NannyML: ``UnivariateDriftCalculator(...).fit(reference)`` then ``.calculate(window)``);
* ``read_s`` and ``import_s``: reading the two Parquet files, importing the tool;
* ``wall_s``: from the start of this process (as the kernel recorded it) to just before the JSON is printed,
  interpreter start-up, imports and reading included;
* ``peak_rss_mb``: the process's peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``);
* ``tool``, ``version`` and the versions of python, pandas, numpy and scipy.

If the tool cannot be imported, the line carries ``"error": "not installed: ..."`` and the exit code is 2.
This script deliberately does not import driftloop.
"""

from __future__ import annotations

import os
import time

_MODULE_START = time.perf_counter()  # fallback for wall_s where /proc is not available

# Both tools are run with their telemetry off (NannyML reports usage unless told not to; Evidently's switch is
# DO_NOT_TRACK). Set before the tools are imported.
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from typing import Any, Callable  # noqa: E402

TOOLS = ("evidently", "nannyml")


def process_age() -> float:
    """Seconds since this process started, from /proc (10 ms resolution); since module start elsewhere."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        start_ticks = int(fields[19])  # field 22 of stat, counted after "pid (comm)"
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return time.perf_counter() - _MODULE_START


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is in KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def evidently_runner() -> tuple[str, Callable[[Any, Any], Any]]:
    """Evidently's version and a function running DataDriftPreset on (reference, window)."""
    import evidently
    from evidently import Report
    from evidently.presets import DataDriftPreset

    def run(reference: Any, window: Any) -> Any:
        return Report([DataDriftPreset()]).run(window, reference)

    return evidently.__version__, run


def nannyml_runner() -> tuple[str, Callable[[Any, Any], Any]]:
    """NannyML's version and a function fitting UnivariateDriftCalculator on the reference, then calculating."""
    import nannyml as nml

    def run(reference: Any, window: Any) -> Any:
        numeric = [c for c in reference.columns if c.startswith("num_")]
        categorical = [c for c in reference.columns if c.startswith("cat_")]
        calculator = nml.UnivariateDriftCalculator(
            column_names=numeric + categorical, continuous_methods=["kolmogorov_smirnov", "wasserstein"],
            categorical_methods=["chi2", "jensen_shannon"], chunk_number=1,
        )
        calculator.fit(reference)
        return calculator.calculate(window)

    return nml.__version__, run


RUNNERS = {"evidently": evidently_runner, "nannyml": nannyml_runner}


def measure(tool: str, reference_path: str, window_path: str) -> dict[str, Any]:
    """Import the tool, read both files, time the tool's call; return the figures (without wall_s)."""
    start = time.perf_counter()
    try:
        version, run = RUNNERS[tool]()
    except ImportError as error:
        return {"tool": tool, "error": f"not installed: {error}"}
    import numpy as np
    import pandas as pd
    import scipy

    import_s = time.perf_counter() - start
    start = time.perf_counter()
    reference, window = pd.read_parquet(reference_path), pd.read_parquet(window_path)
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    run(reference, window)
    compute_s = time.perf_counter() - start
    return {
        "tool": tool, "version": version, "rows_reference": len(reference), "rows_window": len(window),
        "compute_s": compute_s, "read_s": read_s, "import_s": import_s,
        "python": platform.python_version(), "pandas": pd.__version__, "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time one Evidently or NannyML drift run in a fresh process.")
    parser.add_argument("--tool", choices=TOOLS, required=True)
    parser.add_argument("--reference", required=True, help="reference Parquet file")
    parser.add_argument("--window", required=True, help="window (current data) Parquet file")
    args = parser.parse_args(argv)
    result = measure(args.tool, args.reference, args.window)
    result["wall_s"] = process_age()
    result["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.flush()
    print(json.dumps(result), flush=True)
    return 2 if "error" in result else 0


if __name__ == "__main__":
    raise SystemExit(main())
