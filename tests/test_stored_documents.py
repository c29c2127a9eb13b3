"""The stored form shared by profiles, multivariate detectors and estimators: exact round trip, clear refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays as numpy_arrays

from driftloop.errors import DriftloopError
from driftloop.estimate.storage import FORMAT as ESTIMATOR
from driftloop.multivariate.storage import FORMAT as MULTIVARIATE
from driftloop.profile.storage import FORMAT as PROFILE
from driftloop.stored_documents import DocumentFormat, read_document, write_document

FORM = DocumentFormat("driftloop.test", 3, "thing.json", "thing.npz", noun="test thing", short="thing",
                      json_values="names")
finite_or_not = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(finite_or_not, max_size=20),
       array=numpy_arrays(np.float64, st.integers(0, 50), elements=finite_or_not))
def test_documents_and_arrays_come_back_bit_for_bit(tmp_path_factory, values, array) -> None:
    folder = tmp_path_factory.mktemp("doc")
    write_document(folder, FORM, {"values": values}, {"a.b": array, "ints": np.arange(3)})
    document, arrays = read_document(folder, FORM)
    assert (document["format"], document["format_version"]) == ("driftloop.test", 3)
    assert "driftloop_version" in document
    assert np.array_equal(np.asarray(document["values"], dtype=np.float64), np.asarray(values, dtype=np.float64),
                          equal_nan=True)
    assert arrays["a.b"].tobytes() == array.tobytes() and arrays["a.b"].dtype == np.float64
    assert arrays["ints"].tolist() == [0, 1, 2]


def test_refusals_name_the_file_and_what_was_expected(tmp_path) -> None:
    write_document(tmp_path, FORM, {"x": 1}, {})
    path = tmp_path / "thing.json"
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, "format_version": 4}))
    with pytest.raises(DriftloopError, match=r"thing.json' has thing format version 4; this driftloop reads version 3"):
        read_document(tmp_path, FORM)
    path.write_text(json.dumps({**document, "format": "other"}))
    with pytest.raises(DriftloopError, match=r"must be a driftloop test thing \(format 'driftloop.test'\); got format "
                                             r"'other'"):
        read_document(tmp_path, FORM)
    path.write_text("[1, 2]")
    with pytest.raises(DriftloopError, match="got format None"):
        read_document(tmp_path, FORM)
    path.write_text("{not json")
    with pytest.raises(DriftloopError, match="thing.json' is not valid JSON"):
        read_document(tmp_path, FORM)
    write_document(tmp_path, FORM, {"x": 1}, {})
    (tmp_path / "thing.npz").unlink()
    with pytest.raises(DriftloopError, match=r"needs its arrays in .*thing.npz', which is missing"):
        read_document(tmp_path, FORM)
    with pytest.raises(DriftloopError, match=r"The test thing could not be saved: .*; names must be strings, numbers"):
        write_document(tmp_path, FORM, {"x": object()}, {})


@pytest.mark.parametrize("written, read", [(PROFILE, ESTIMATOR), (ESTIMATOR, MULTIVARIATE), (MULTIVARIATE, PROFILE)])
def test_each_kind_refuses_the_others_documents(tmp_path, written: DocumentFormat, read: DocumentFormat) -> None:
    write_document(tmp_path, written, {}, {})
    (tmp_path / written.json_file).rename(tmp_path / read.json_file)
    (tmp_path / written.arrays_file).rename(tmp_path / read.arrays_file)
    with pytest.raises(DriftloopError, match=f"must be a driftloop {read.noun} .*; got format '{written.name}'"):
        read_document(tmp_path, read)
