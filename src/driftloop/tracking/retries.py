"""Riding out a tracking store that goes away for a moment: a database server restarting, a network blip.

A monitoring pass writes its windows in one phase that can be repeated: under the model's monitor lock it re-reads
what the run holds, adopts what an interrupted earlier attempt already wrote (the steps being written are recorded
first, :mod:`driftloop.tracking.monitoring`), and writes the rest. So when the connection to the store is lost in
that phase, the whole phase is simply attempted again after a pause — :data:`RETRY_DELAYS_SECONDS`, 31 s in all —
and nothing reaches a chart twice. If the store does not come back, the pass ends with one line saying so, and the
same command run later completes the windows.

Connection losses are recognised by their type anywhere in the exception's chain (SQLAlchemy's and the database
drivers' ``OperationalError``, ``InterfaceError``; ``requests``' connection errors) or, for what MLflow re-raises as
an ``MlflowException`` with the original only in its message, by the driver's words for a lost connection. (A
tracking server's HTTP client retries by itself, for minutes — ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` — and what it
finally gives up on is not retried again here.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from driftloop.errors import DriftloopError
from driftloop.settings import redact_uri
from driftloop.tracking.quiet import quiet_loggers

T = TypeVar("T")

RETRY_DELAYS_SECONDS = (1.0, 2.0, 4.0, 8.0, 16.0)
"""Pauses before the second, third, ... attempt of a phase whose connection to the store was lost."""

_LOST_TYPES = ("OperationalError", "InterfaceError", "ConnectionError", "ConnectTimeout", "ReadTimeout",
               "RemoteDisconnected", "ConnectionRefusedError", "ConnectionResetError", "BrokenPipeError")
_LOST_WORDS = ("connection refused", "connection failed", "server closed the connection", "could not connect",
               "connection reset", "terminating connection", "connection is closed", "connection timed out",
               "lost connection")
_MLFLOW_DATABASE_LOGGER = "mlflow.store.db.utils"

logger = logging.getLogger(__name__)


def is_connection_loss(error: BaseException) -> bool:
    """Whether ``error`` (or an exception in its chain) says the connection to the store was lost."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ in _LOST_TYPES:
            return True
        if any(words in str(current).lower() for words in _LOST_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def retry_on_connection_loss(action: Callable[[], T], *, uri: str, what: str,
                             delays: tuple[float, ...] | None = None,
                             sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``action``; when it fails because the connection to the store at ``uri`` was lost, run it again after
    each of ``delays`` (default :data:`RETRY_DELAYS_SECONDS`). ``action`` must be safe to repeat after a partial
    run. ``what`` ("writing the windows") names the phase in the warnings and in the final :class:`DriftloopError`."""
    delays = RETRY_DELAYS_SECONDS if delays is None else delays
    for attempt, delay in enumerate((*delays, None), start=1):
        try:
            # MLflow logs every failed database call with a traceback before raising it; the caller reports it
            with quiet_loggers(_MLFLOW_DATABASE_LOGGER, level=logging.CRITICAL):
                return action()
        except DriftloopError:
            raise
        except Exception as error:
            if not is_connection_loss(error):
                raise
            if delay is None:
                raise DriftloopError(
                    f"Lost the connection to the tracking store {redact_uri(uri)} while {what}, and it did not come "
                    f"back within {sum(delays):g} s ({attempt} attempts): {first_line(error)}. What was written is "
                    "kept: run the same command again once the store answers (nothing is written twice). Until then "
                    "MLflow shows the run as RUNNING: the store could not be told that this pass failed."
                ) from None
            logger.warning("Lost the connection to the tracking store while %s (%s); attempt %d in %g s.",
                           what, first_line(error), attempt + 1, delay)
            sleep(delay)
    raise AssertionError("unreachable")
