"""The folder holding a retrain's copy of its training rows, which never outlives the retrain.

The MLflow project reads the training rows from a CSV file, written to ``<temp>/driftloop-retrain-<pid>-<random>/``
(the system's temporary folder, ``TMPDIR`` when set). The folder is removed

* when the retrain ends, normally or by an exception;
* on SIGINT and SIGTERM: while the folder exists, SIGTERM is turned into :class:`KeyboardInterrupt`, as SIGINT is,
  so MLflow cancels the project's process (it does so on KeyboardInterrupt), the folder is removed, and the
  previous handler is restored afterwards;
* after SIGKILL or a power cut, which no process can handle: by the next retrain on this machine, which removes
  every ``driftloop-retrain-<pid>-*`` folder whose process is gone (:func:`remove_orphans`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

PREFIX = "driftloop-retrain-"
_OWNED = re.compile(re.escape(PREFIX) + r"(\d+)-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_orphans(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the training folders in ``root`` (default: the temporary folder) whose retrain process is gone;
    return them."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(PREFIX + "*"):
        match = _OWNED.match(folder.name)
        if match and folder.is_dir() and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt for the block (only the main thread can handle signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def training_folder() -> Iterator[Path]:
    """A private folder for the training rows, removed when the block ends (see the module docstring)."""
    remove_orphans()
    with _sigterm_interrupts(), tempfile.TemporaryDirectory(prefix=f"{PREFIX}{os.getpid()}-") as folder:
        yield Path(folder)
