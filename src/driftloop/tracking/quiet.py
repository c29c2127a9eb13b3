"""MLflow's log lines that driftloop reports better itself, or that say nothing to its users, kept off the terminal
for the length of one call."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_loggers(*names: str, level: int = logging.ERROR) -> Iterator[None]:
    """Raise the loggers ``names`` to ``level`` while the block runs, then restore their levels.

    >>> with quiet_loggers("mlflow.pyfunc"):
    ...     logging.getLogger("mlflow.pyfunc").level == logging.ERROR
    True
    """
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, previous in zip(loggers, levels, strict=True):
            logger.setLevel(previous)
