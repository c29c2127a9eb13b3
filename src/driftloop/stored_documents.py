"""The one on-disk form of everything driftloop fits: a versioned JSON document beside a ``.npz`` of arrays, no pickle.

The reference profile (:mod:`driftloop.profile.storage`), the multivariate detectors
(:mod:`driftloop.multivariate.storage`) and the performance estimator (:mod:`driftloop.estimate.storage`) each
write a JSON document that starts with ``format`` (a name), ``format_version`` (an integer) and
``driftloop_version``, and a ``.npz`` file of numpy arrays read back with ``allow_pickle=False``. Floats are written
with ``repr`` precision (JSON) or as the arrays they are, so what is read back gives bit-identical results.

A reader refuses a document whose ``format`` is not the one it reads and a ``format_version`` it does not know, with
one message naming the file, what was expected and what was found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from driftloop.errors import DriftloopError


@dataclass(frozen=True)
class DocumentFormat:
    """What one kind of stored document is called and where it lives in its folder.

    ``noun`` names it in messages ("must be a driftloop <noun>"), ``short`` in the version message ("has <short>
    format version 2"); ``json_values`` names what must be JSON values, for the message when saving fails
    ("categories")."""

    name: str
    version: int
    json_file: str
    arrays_file: str
    noun: str
    short: str
    json_values: str


def write_document(folder: Path, form: DocumentFormat, document: dict[str, Any],
                   arrays: dict[str, np.ndarray]) -> Path:
    """Write ``document`` (format name and versions prepended) and ``arrays`` into ``folder`` (created if needed;
    the files of this format already there are replaced). The arrays are written first and the JSON last, so a
    folder whose JSON is there has its arrays too."""
    from driftloop import __version__

    folder.mkdir(parents=True, exist_ok=True)
    header = {"format": form.name, "format_version": form.version, "driftloop_version": __version__}
    try:
        text = json.dumps({**header, **document}, indent=1, allow_nan=True)
    except TypeError as exc:
        raise DriftloopError(f"The {form.noun} could not be saved: {exc}; {form.json_values} must be strings, "
                             "numbers or booleans.") from exc
    np.savez(folder / form.arrays_file, **arrays)
    (folder / form.json_file).write_text(text, encoding="utf-8")
    return folder


def read_document(folder: Path, form: DocumentFormat) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The document and the arrays written by :func:`write_document`. The caller checks that the JSON file exists
    (a missing one means different things to each); a file of another format or version is refused here."""
    path = folder / form.json_file
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DriftloopError(f"{str(path)!r} is not valid JSON: {exc}") from exc
    found = document.get("format") if isinstance(document, dict) else None
    if found != form.name:
        raise DriftloopError(f"{str(path)!r} must be a driftloop {form.noun} (format {form.name!r}); got format "
                             f"{found!r}.")
    version = document.get("format_version")
    if version != form.version:
        raise DriftloopError(f"{str(path)!r} has {form.short} format version {version!r}; this driftloop reads "
                             f"version {form.version} only. Upgrade driftloop or refit the profile.")
    arrays_path = folder / form.arrays_file
    if not arrays_path.is_file():
        raise DriftloopError(f"{str(path)!r} needs its arrays in {str(arrays_path)!r}, which is missing; copy the "
                             f"whole folder, or refit the profile.")
    with np.load(arrays_path, allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    return document, arrays
