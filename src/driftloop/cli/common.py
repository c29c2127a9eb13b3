"""What every command shares: the ``--tracking-uri`` option, opening the store, and the translation of errors.

Commands import the library inside their function bodies (and through :func:`open_store`), so that loading the
command group, ``driftloop --help`` included, does not import MLflow, pandas or scikit-learn (seconds of start-up).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from driftloop.errors import DriftloopError

if TYPE_CHECKING:
    from mlflow import MlflowClient


class CommandError(click.ClickException):
    """A :class:`DriftloopError` shown as one line, with its exit code."""

    def __init__(self, error: DriftloopError) -> None:
        super().__init__(error.message)
        self.exit_code = error.exit_code


def _is_mlflow_error(error: Exception) -> bool:
    """Whether ``error`` is an :class:`mlflow.exceptions.MlflowException` (checked without importing MLflow)."""
    exceptions = sys.modules.get("mlflow.exceptions")
    return exceptions is not None and isinstance(error, exceptions.MlflowException)


def handle_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a :class:`DriftloopError` raised by a command into a one-line message and its exit code; an MLflow
    error (a store that went away, a server that refuses the request) becomes one line too."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except DriftloopError as error:
            raise CommandError(error) from None
        except Exception as error:
            if not _is_mlflow_error(error):
                raise
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise CommandError(DriftloopError(f"MLflow failed: {first_line}")) from None

    return wrapper


def open_store(tracking_uri: str | None) -> MlflowClient:
    """The MLflow client of a command (:func:`driftloop.tracking.connect`: the URI is checked, a server probed)."""
    from driftloop.tracking import connect

    return connect(tracking_uri)


def renamed(new_value: object, new: str, old_value: object, old: str) -> object:
    """The value of option ``new``, or of its deprecated hidden alias ``old`` (with a warning on stderr).

    Both options default to None; giving both is an error.
    """
    if old_value is None:
        return new_value
    if new_value is not None:
        raise DriftloopError(f"Give {new} only: {old} is its old name.")
    click.echo(f"Warning: {old} is deprecated; use {new}.", err=True)
    return old_value


tracking_uri_option = click.option(
    "--tracking-uri",
    default=None,
    metavar="URI",
    help="MLflow tracking store. Default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the working folder.",
)
