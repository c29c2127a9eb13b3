"""Streaming change detectors over one stream of numbers each: ADWIN, Page-Hinkley and CUSUM.

Pure computation (Python and numpy, no I/O): a detector takes values one at a time (:meth:`update`) or a batch at
once (:meth:`update_many`), says where it detected a change, and saves its whole state as a small JSON-compatible
dict (:meth:`state`, :func:`detector_from_state`) so that a service can keep it across restarts. As in river
(``river.drift``), a detector starts afresh after each detection, so that one change raises one alarm and the
detector then learns the new level.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def parse_detectors(specs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The detectors and parameters that ``specs`` name, each ``NAME`` or ``NAME:PARAMETER=VALUE,...``, checked by
    building each detector (a ``ValueError`` names the detector, the parameter, what was expected and what was
    received). Values are read as integers, else as numbers, else kept as text.

    >>> parse_detectors(["adwin", "page_hinkley:threshold=20,delta=0.1"])
    {'adwin': {}, 'page_hinkley': {'threshold': 20, 'delta': 0.1}}
    >>> parse_detectors(["cusum:treshold=3"])
    Traceback (most recent call last):
    ...
    ValueError: 'cusum:treshold=3': CUSUM has no parameter 'treshold'; its parameters: warmup, slack, threshold, mode.
    """
    chosen: dict[str, dict[str, Any]] = {}
    for spec in specs:
        name, _, listed = spec.strip().partition(":")
        kind = DETECTORS.get(name.strip())
        if kind is None:
            raise ValueError(f"{spec!r}: unknown stream detector {name.strip()!r}; expected one of "
                             f"{', '.join(DETECTORS)}, optionally followed by :PARAMETER=VALUE,...")
        if kind.name in chosen:
            raise ValueError(f"{spec!r}: {kind.name} is given twice; give each detector once.")
        parameters: dict[str, Any] = {}
        for item in filter(str.strip, listed.split(",")):
            key, equals, text = (part.strip() for part in item.partition("="))
            if not equals or not key:
                raise ValueError(f"{spec!r}: expected PARAMETER=VALUE, got {item.strip()!r}.")
            if key not in kind.parameters:
                raise ValueError(f"{spec!r}: {kind.__name__} has no parameter {key!r}; its parameters: "
                                 f"{', '.join(kind.parameters)}.")
            parameters[key] = _value(text)
        try:
            kind(**parameters)
        except ValueError as error:
            raise ValueError(f"{spec!r}: {error}") from None
        chosen[kind.name] = parameters
    return chosen


def _value(text: str) -> int | float | str:
    for read in (int, float):
        try:
            return read(text)
        except ValueError:
            pass
    return text


__all__ = ["ADWIN", "CUSUM", "DETECTORS", "PageHinkley", "StreamDetector", "detector_from_state", "parse_detectors"]
