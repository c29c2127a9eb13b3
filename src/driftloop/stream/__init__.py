"""Streaming change detectors over one stream of numbers each: ADWIN, Page-Hinkley and CUSUM.

Pure computation (Python and numpy, no I/O): a detector takes values one at a time (:meth:`update`) or a batch at
once (:meth:`update_many`), says where it detected a change, and saves its whole state as a small JSON-compatible
dict (:meth:`state`, :func:`detector_from_state`) so that a service can keep it across restarts. As in river
(``river.drift``), a detector starts afresh after each detection, so that one change raises one alarm and the
detector then learns the new level.
"""

from __future__ import annotations

from typing import Any

from driftloop.stream.adwin import ADWIN
from driftloop.stream.base import StreamDetector
from driftloop.stream.cusum import CUSUM
from driftloop.stream.page_hinkley import PageHinkley

DETECTORS: dict[str, type[StreamDetector]] = {"adwin": ADWIN, "page_hinkley": PageHinkley, "cusum": CUSUM}
"""The built-in detectors by name (the name used in metrics: ``stream/<name>/<signal>``)."""


def detector_from_state(state: dict[str, Any]) -> StreamDetector:
    """Rebuild a detector from :meth:`StreamDetector.state`.

    >>> detector = PageHinkley(threshold=5.0)
    >>> _ = detector.update_many([0.0] * 40)
    >>> copy = detector_from_state(detector.state())
    >>> copy.state() == detector.state()
    True
    """
    kind = DETECTORS.get(state.get("detector"))  # type: ignore[arg-type]
    if kind is None:
        raise ValueError(f"Unknown stream detector {state.get('detector')!r}; expected one of {', '.join(DETECTORS)}.")
    return kind.from_state(state)


__all__ = ["ADWIN", "CUSUM", "DETECTORS", "PageHinkley", "StreamDetector", "detector_from_state"]
