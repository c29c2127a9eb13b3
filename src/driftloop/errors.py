"""The one root exception of driftloop.

Every error that a user can cause (a wrong argument, a missing file, an unknown run) is raised as a
:class:`DriftloopError` whose message names the parameter or column, what was expected and what was received.
The CLI turns it into a one-line message and the error's exit code; it is never shown as a traceback.
"""

from __future__ import annotations


class DriftloopError(Exception):
    """A user-facing error with a clear message and a process exit code."""

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class NoRowsError(DriftloopError):
    """The input holds no rows, so nothing could be measured (exit code 4, as when a window's verdict is
    ``unknown``)."""

    exit_code = 4


class NotFittedError(DriftloopError):
    """An object that must be fitted first was used before ``fit``."""


def invalid_parameter(name: str, owner: str, expected: str, received: object) -> DriftloopError:
    """Build the standard error: the parameter, its owner, what was expected, what was received.

    >>> print(invalid_parameter("window", "monitor", "a positive row count", -3))
    The 'window' parameter of monitor must be a positive row count; got -3.
    """
    return DriftloopError(f"The {name!r} parameter of {owner} must be {expected}; got {received!r}.")
