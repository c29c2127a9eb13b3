"""The on-disk format of a reference profile: a folder, versioned, no pickle.

Layout (format version 1)::

    <folder>/
      profile.json   format name and version, driftloop version, parameters, threshold parameters, one entry per
                     column (kind, counts of rows and missing values, moments, bin edges and counts, category
                     table, quantile-summary error bounds, names of its arrays) and the calibrated nulls
      arrays.npz     numpy arrays, read with allow_pickle=False: per column ``c<i>.values`` (sorted finite values or
                     the quantile summary; numeric only) and ``c<i>.calibration`` (calibration rows, row order)

``profile.json`` holds, at the top level: ``format`` (``"driftloop.reference_profile"``), ``format_version`` (an
integer; a reader refuses versions it does not know), ``driftloop_version``, ``params`` (the constructor's
parameters, ``thresholds`` as a mapping), ``n_rows``, ``columns`` and ``nulls`` (``{column: {size: {"statistics":
[...], "n_eff": [...], "values": [[...], ...]}}}``, leave-one-chunk-out) and ``split_nulls`` (the same for the
exchangeable nulls; a profile written before them has none, and computes them on its first compare). Floats are
written with ``repr`` precision, so a loaded profile gives bit-identical results. The folder is what
:func:`driftloop.tracking.profiles.log_profile` logs as an MLflow artifact.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from driftloop.errors import DriftloopError
from driftloop.profile.columns import CategoricalColumn, NumericColumn
from driftloop.stored_documents import DocumentFormat, read_document, write_document
from driftloop.thresholds import DriftThresholds, NullSample

if TYPE_CHECKING:
    from driftloop.profile.reference import ReferenceProfile

#: Version of the folder format written by :func:`save_profile`.
FORMAT_VERSION = 1
JSON_FILE = "profile.json"
ARRAYS_FILE = "arrays.npz"
FORMAT = DocumentFormat("driftloop.reference_profile", FORMAT_VERSION, JSON_FILE, ARRAYS_FILE,
                        noun="reference profile", short="profile", json_values="categories")


def _floats(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64)]


def save_profile(profile: ReferenceProfile, folder: Path) -> Path:
    """Write ``profile`` to ``folder`` (created if needed; existing profile files are replaced)."""
    arrays: dict[str, np.ndarray] = {}
    columns: list[dict[str, Any]] = []
    for i, column in enumerate(profile.columns_.values()):
        key = f"c{i}"
        arrays[f"{key}.calibration"] = column.calibration
        if isinstance(column, NumericColumn):
            arrays[f"{key}.values"] = column.values
            columns.append({
                "name": column.name, "kind": "numeric", "key": key, "n": column.n, "n_missing": column.n_missing,
                "n_nonfinite": column.n_nonfinite, "minimum": column.minimum, "maximum": column.maximum,
                "mean": column.mean, "std": column.std, "edges": _floats(column.edges),
                "counts": [int(c) for c in column.counts], "exact": column.exact, "ks_error": column.ks_error,
                "wasserstein_error": column.wasserstein_error,
            })
        else:
            columns.append({
                "name": column.name, "kind": "categorical", "key": key, "n": column.n,
                "n_missing": column.n_missing, "categories": list(column.categories),
                "counts": [int(c) for c in column.counts],
            })

    def nulls_document(nulls: dict[str, dict[int, NullSample]]) -> dict[str, Any]:
        return {
            name: {
                str(size): {
                    "statistics": [s.name for s in profile._distances(profile.columns_[name])],
                    "sample_size": int(null.sample_size),
                    "n_eff": _floats(null.n_eff),
                    "values": [_floats(row) for row in null.values],
                }
                for size, null in sorted(by_size.items())
            }
            for name, by_size in nulls.items()
        }
    params = profile.get_params()
    params["thresholds"] = profile.thresholds_.to_dict()
    document = {
        "params": params,
        "n_rows": profile.n_rows_,
        "columns": columns,
        "nulls": nulls_document(profile.nulls_),
        "split_nulls": nulls_document(profile.split_nulls_),
    }
    return write_document(folder, FORMAT, document, arrays)


def load_profile(folder: Path) -> ReferenceProfile:
    """Read a profile folder written by :func:`save_profile`; refuse unknown formats and versions."""
    from driftloop.profile.reference import ReferenceProfile

    if not (folder / JSON_FILE).is_file():
        raise DriftloopError(f"The 'path' parameter of ReferenceProfile.load must be a folder holding {JSON_FILE}; "
                             f"got {str(folder)!r}, which has none.")
    document, arrays = read_document(folder, FORMAT)
    params = dict(document["params"])
    policy = DriftThresholds(**params.pop("thresholds"))
    profile = ReferenceProfile(thresholds=policy, **params)
    columns: dict[str, NumericColumn | CategoricalColumn] = {}
    for entry in document["columns"]:
        key = entry["key"]
        if entry["kind"] == "numeric":
            columns[entry["name"]] = NumericColumn(
                name=entry["name"], n=entry["n"], n_missing=entry["n_missing"], n_nonfinite=entry["n_nonfinite"],
                minimum=entry["minimum"], maximum=entry["maximum"], mean=entry["mean"], std=entry["std"],
                edges=np.asarray(entry["edges"], dtype=np.float64),
                counts=np.asarray(entry["counts"], dtype=np.int64), values=arrays[f"{key}.values"],
                exact=entry["exact"], ks_error=entry["ks_error"], wasserstein_error=entry["wasserstein_error"],
                calibration=arrays[f"{key}.calibration"],
            )
        else:
            columns[entry["name"]] = CategoricalColumn(
                name=entry["name"], n=entry["n"], n_missing=entry["n_missing"], categories=entry["categories"],
                counts=np.asarray(entry["counts"], dtype=np.int64), calibration=arrays[f"{key}.calibration"],
            )
    profile.columns_ = columns
    profile.n_rows_ = document["n_rows"]
    profile.thresholds_ = policy.validate()

    def read_nulls(nulls: dict[str, Any]) -> dict[str, dict[int, NullSample]]:
        return {
            name: {
                int(size): NullSample(np.asarray(null["values"], dtype=np.float64).reshape(len(null["n_eff"]), -1),
                                      np.asarray(null["n_eff"], dtype=np.float64), int(null["sample_size"]))
                for size, null in by_size.items()
            }
            for name, by_size in nulls.items()
        }

    profile.nulls_ = read_nulls(document["nulls"])
    # profiles saved before the exchangeable nulls existed compute them on their first compare
    profile.split_nulls_ = read_nulls(document.get("split_nulls", {c: {} for c in columns}))
    profile._init_caches()
    return profile
