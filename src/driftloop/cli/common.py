"""What every command shares: the ``--tracking-uri`` option and the translation of library errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from driftloop.errors import DriftloopError


class CommandError(click.ClickException):
    """A :class:`DriftloopError` shown as one line, with its exit code."""

    def __init__(self, error: DriftloopError) -> None:
        super().__init__(error.message)
        self.exit_code = error.exit_code


def handle_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a :class:`DriftloopError` raised by a command into a one-line message and its exit code."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except DriftloopError as error:
            raise CommandError(error) from None

    return wrapper


tracking_uri_option = click.option(
    "--tracking-uri",
    default=None,
    metavar="URI",
    help="MLflow tracking store. Default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the working folder.",
)
