"""Reading the monitor's input: a CSV file, a Parquet file or folder, or driftloop's inference log."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from driftloop.data.dataset import open_dataset
from driftloop.data.inference_log import is_inference_log, read_inference_log
from driftloop.data.log_export import is_log_export, read_log_export
from driftloop.errors import DriftloopError


#: Cells of a CSV file read as missing values: empty, and the spellings of a missing number that pandas and R write.
#: Other text (``n/a``, ``-``, ``#N/A``) stays text, so that a numeric column holding it is reported as having
#: values of the wrong type (:mod:`driftloop.data.coercion`) instead of being quietly read as missing.
CSV_MISSING = ("", "NA", "NaN", "nan", "<NA>", "null", "NULL", "None")


def _csv_separator(path: Path) -> str:
    """``;`` when the header has more semicolons than commas (the UCI wine files), else ``,``."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    return ";" if header.count(";") > header.count(",") else ","


def _parquet(source: Path, columns: Sequence[str] | None) -> pd.DataFrame:
    """A Parquet file or folder, only the ``columns`` it has (all without ``columns``)."""
    if columns is None:
        return pd.read_parquet(source)
    present = set(open_dataset(source).schema.names)
    return pd.read_parquet(source, columns=[c for c in dict.fromkeys(columns) if c in present])


def read_table(path: str | os.PathLike[str], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read ``path`` into a DataFrame: ``.csv`` (``,`` or ``;``), ``.parquet`` or a folder of Parquet files
    (hive partitions such as ``date=2024-01-01/`` become columns), a driftloop inference log (SQLite), or the
    export folder of the logs of several replicas (:mod:`driftloop.data.log_export`: their union).

    ``columns`` limits a Parquet read to those of the columns the data has (the others are not read at all);
    other formats are read whole."""
    source = Path(path)
    if not source.exists():
        raise DriftloopError(f"The data path {str(path)!r} does not exist.")
    try:
        if source.is_dir():
            if is_log_export(source):
                return read_log_export(source)
            if not any(source.rglob("*.parquet")):
                raise DriftloopError(f"The data folder {str(path)!r} holds no .parquet files.")
            return _parquet(source, columns)
        if is_inference_log(source):
            return read_inference_log(source)
        suffix = source.suffix.lower()
        if suffix in (".parquet", ".pq"):
            return _parquet(source, columns)
        if suffix in (".csv", ".txt", ".gz"):
            return pd.read_csv(source, sep=_csv_separator(source) if suffix != ".gz" else ",",
                               keep_default_na=False, na_values=list(CSV_MISSING))
    except DriftloopError:
        raise
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise DriftloopError(f"Could not read {str(path)!r}: {error}") from None
    raise DriftloopError(
        f"The data path {str(path)!r} must be a .csv file, a .parquet file or folder, or a driftloop inference log; "
        f"got a {suffix or 'suffix-less'} file."
    )
