"""Benchmark of the command line's start-up: ``driftloop --help`` and a monitoring pass of a 1,000-row file, end to
end (a new process each time), against a baseline commit measured in the same run.

Target (issue 12, item 7): ``driftloop --help`` <= 0.5 s; ``driftloop monitor`` of 1,000 rows <= 3 s.

Set-up (not timed): the baseline's ``src/`` is extracted from git (``git archive``) into a temporary folder; a
scikit-learn ElasticNet on the bundled red wines is registered as ``bench-wine@champion`` in a temporary SQLite store
and given its reference profile; the production file holds 1,000 white wines with their quality (4 windows of 250
rows). Each code version then runs the same commands, alternating, ``--repeats`` times; every monitoring pass writes
to a new experiment, so that each one assesses and logs all 4 windows.

The floor, measured in the same run: a process that only imports what any monitoring pass of a scikit-learn model
on a SQLite store must import (MLflow with its SQL tracking and registry stores, pandas, scipy.stats, and the
scikit-learn flavour's loader with skops, which lists scikit-learn's estimators at import) and exits.

    python bench/startup.py --baseline 77d08d2 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BASELINE = "77d08d2"  # main before issue 12's lazy imports
TARGETS = {"--help": 0.5, "monitor 1,000 rows": 3.0}
FLOOR_IMPORTS = ("import pandas, scipy.stats, mlflow.pyfunc, mlflow.sklearn, skops.io; "
                 "import mlflow.store.tracking.sqlalchemy_store, mlflow.store.model_registry.sqlalchemy_store")


def extract_src(ref: str, destination: Path) -> Path:
    """The ``src/`` folder of commit ``ref``, written under ``destination``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref, "src"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    return destination / "src"


def prepare_store(folder: Path) -> tuple[str, Path]:
    """A store with ``bench-wine@champion`` and its reference profile, and a production file of 1,000 rows."""
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import ElasticNet

    from driftloop.profile import ReferenceProfile
    from driftloop.tracking import connect
    from driftloop.tracking.profiles import log_profile
    from driftloop.tracking.store import use_tracking_uri

    data = REPO / "src" / "driftloop" / "datasets" / "wine_quality"
    red = pd.read_csv(data / "winequality-red.csv", sep=";")
    white = pd.read_csv(data / "winequality-white.csv", sep=";").iloc[:1000]
    features = [c for c in red.columns if c != "quality"]
    model = ElasticNet(alpha=0.01, l1_ratio=0.5).fit(red[features], red["quality"])
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = connect(uri)
    run_id = client.create_run(client.create_experiment("bench-training")).info.run_id
    with use_tracking_uri(uri), mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({"mae": float((model.predict(red[features]) - red["quality"]).abs().mean())})
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name="bench-wine",
                                        signature=infer_signature(red[features], model.predict(red[features])))
    client.set_registered_model_alias("bench-wine", "champion", str(info.registered_model_version))
    log_profile(client, run_id, ReferenceProfile().fit(red[features].assign(prediction=model.predict(red[features]))))
    production = folder / "production.csv"
    white.to_csv(production, index=False)
    return uri, production


def timed(src: Path, arguments: list[str], cwd: Path) -> float:
    """Seconds for ``python -m driftloop ARGUMENTS`` with ``src`` first on the path, from start to exit."""
    environment = {**os.environ, "PYTHONPATH": str(src), "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "80"}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "driftloop", *arguments], cwd=cwd, env=environment,
                            capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 3):  # 3: an alert fired, which the monitor reports by its exit code
        raise SystemExit(f"driftloop {' '.join(arguments)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed


def timed_floor(cwd: Path) -> float:
    """Seconds for a process that imports :data:`FLOOR_IMPORTS` and exits."""
    environment = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR_IMPORTS], cwd=cwd, env=environment, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git commit to compare with")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="driftloop-startup-") as tmp:
        folder = Path(tmp)
        versions = {f"baseline {args.baseline}": extract_src(args.baseline, folder / "baseline"),
                    "this tree": REPO / "src"}
        uri, production = prepare_store(folder)
        times: dict[tuple[str, str], list[float]] = {}
        for repeat in range(args.repeats):
            for label, src in versions.items():  # alternating, so that a busy moment hits both alike
                times.setdefault((label, "--help"), []).append(timed(src, ["--help"], folder))
                experiment = f"bench-{label.split()[0]}-{repeat}"
                times.setdefault((label, "monitor 1,000 rows"), []).append(timed(src, [
                    "monitor", "--model", "bench-wine@champion", "--data", str(production), "--rows", "250",
                    "--target", "quality", "--experiment", experiment, "--tracking-uri", uri], folder))
            times.setdefault(("floor", "imports"), []).append(timed_floor(folder))
    print(f"{'command':<20} {'code':<20} {'median s':>9} {'min s':>7} {'target s':>9}")
    for command, target in TARGETS.items():
        for label in versions:
            values = times[(label, command)]
            print(f"{command:<20} {label:<20} {statistics.median(values):>9.2f} {min(values):>7.2f} {target:>9.1f}")
        base, new = (statistics.median(times[(label, command)]) for label in versions)
        print(f"{'':<20} {'speed-up':<20} {base / new:>8.1f}x")
    floor = times[("floor", "imports")]
    print(f"{'imports (floor)':<20} {'any version':<20} {statistics.median(floor):>9.2f} {min(floor):>7.2f}")
    print(f"{args.repeats} repeats, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
