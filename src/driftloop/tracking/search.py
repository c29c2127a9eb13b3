"""Searching MLflow for exact values that come from users (model names, tag values).

MLflow's filter strings have no escape sequence: its parser (``mlflow/utils/search_utils.py``) takes a string literal
between single or double quotes and drops the two quotes, nothing else, and the tokenizer (sqlparse) reads a
backslash before a quote as an escaped quote. So every value is written in one of two ways:

* exactly, ``key = 'value'`` (or ``key = "value"`` when the value holds a ``'``), when the value holds no backslash
  and not both kinds of quote;
* otherwise as a pattern, ``key LIKE 'v_lue'``, where each ``'``, ``"``, ``\\``, ``%`` and ``_`` becomes the
  one-character wildcard ``_``: a superset of the exact matches.

Every search here then keeps only the exact matches in Python, which also makes it exact on stores whose ``=``
ignores case (MySQL's default collation). Results are read page by page, so none is lost past the first page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion

PAGE_SIZE = 1000
_WILDCARDED = frozenset("'\"\\%_")


def exact_literal(value: str) -> str | None:
    """``value`` as a quoted literal MLflow's parser reads back exactly, or None when there is none.

    >>> exact_literal("wine"), exact_literal("o'brien"), exact_literal("100%_x")
    ("'wine'", '"o\\'brien"', "'100%_x'")
    >>> exact_literal("both ' and \\"") is None, exact_literal("a\\\\b") is None
    (True, True)
    """
    if "\\" in value:
        return None
    for quote in ("'", '"'):
        if quote not in value:
            return f"{quote}{value}{quote}"
    return None


def match_clause(key: str, value: str) -> str:
    """A filter clause selecting ``key`` equal to ``value``: exact when MLflow can express it, else a LIKE pattern
    that selects a superset (see the module docstring).

    >>> match_clause("name", "o'brien"), match_clause("name", "it's \\"x\\"")
    ('name = "o\\'brien"', "name LIKE 'it_s _x_'")
    """
    literal = exact_literal(value)
    if literal is not None:
        return f"{key} = {literal}"
    pattern = "".join("_" if character in _WILDCARDED else character for character in value)
    return f"{key} LIKE '{pattern}'"


def _pages(search: Any, **arguments: Any) -> Iterator[Any]:
    token = None
    while True:
        page = search(**arguments, max_results=PAGE_SIZE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def runs_with_tags(client: MlflowClient, experiment_ids: Sequence[str], tags: Mapping[str, str], *,
                   order_by: Sequence[str] | None = None) -> list[Run]:
    """The active runs of the experiments whose tags hold exactly ``tags``, in ``order_by`` order."""
    query = " and ".join(match_clause(f"tags.`{key}`", value) for key, value in tags.items())
    found = _pages(client.search_runs, experiment_ids=list(experiment_ids), filter_string=query,
                   order_by=list(order_by or []))
    return [run for run in found if all(run.data.tags.get(key) == value for key, value in tags.items())]


def model_versions(client: MlflowClient, name: str, *, run_id: str | None = None) -> list[ModelVersion]:
    """Every version of registered model ``name`` (only those made by run ``run_id`` when given)."""
    query = match_clause("name", name)
    if run_id is not None:
        query += " and " + match_clause("run_id", run_id)
    found = _pages(client.search_model_versions, filter_string=query)
    return [v for v in found if v.name == name and (run_id is None or v.run_id == run_id)]


def versions_from(client: MlflowClient, *, source: str | None = None, run_id: str | None = None) -> list[ModelVersion]:
    """The versions of every registered model whose source is exactly ``source`` (``models:/m-<id>``), or that
    were made by run ``run_id``."""
    key, value = ("source_path", source) if source is not None else ("run_id", run_id)
    if value is None:
        raise ValueError("versions_from needs a source or a run id")
    found = _pages(client.search_model_versions, filter_string=match_clause(key, value))
    return [v for v in found if (v.source if source is not None else v.run_id) == value]
