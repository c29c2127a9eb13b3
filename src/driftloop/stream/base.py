"""The contract of a streaming detector (as in river's ``base.DriftDetector``, with a saved state)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike


class StreamDetector:
    """A change detector over a stream of finite numbers.

    ``__init__`` takes and checks the parameters (listed in :attr:`parameters`) and calls :meth:`reset`;
    :meth:`update` takes one value and returns whether a change was detected at it, after which the detector starts
    afresh with the next value; :meth:`update_many` takes a batch. :meth:`state` and :meth:`from_state` save and
    restore everything as JSON-compatible values.
    """

    name: ClassVar[str] = ""
    parameters: ClassVar[tuple[str, ...]] = ()

    def reset(self) -> None:
        """Forget the stream: back to a new detector with the same parameters."""
        raise NotImplementedError

    def update_finite(self, values: np.ndarray) -> np.ndarray:
        """Take ``values`` (float64, finite: not checked) in order, in one compiled pass; the positions of the
        detections (int64). For a caller that has checked its values already; else use :meth:`update_many`."""
        raise NotImplementedError

    def _saved(self) -> dict[str, Any]:
        """The state as JSON-compatible values."""
        raise NotImplementedError

    def _restore(self, saved: dict[str, Any]) -> None:
        """Set the state from :meth:`_saved`."""
        raise NotImplementedError

    def _packed(self) -> list[np.ndarray]:
        """The state as arrays, for :meth:`pack`."""
        raise NotImplementedError

    def _unpack(self, data: np.ndarray) -> None:
        """Set the state from the concatenated arrays of :meth:`_packed`."""
        raise NotImplementedError

    def update(self, value: float) -> bool:
        """Take one value; ``True`` when a change is detected at it (the detector then starts afresh)."""
        return len(self.update_finite(np.array([value], dtype=np.float64))) > 0

    def update_many(self, values: ArrayLike) -> list[int]:
        """Take a batch of values in order; the positions (0-based, in the batch) where a change was detected.

        Non-finite values (NaN, infinities) are skipped: they are not part of the stream. The whole batch is one
        call of compiled code: the same detections as value-by-value updates, much faster.
        """
        values = np.asarray(values, dtype=np.float64).ravel()
        finite = np.isfinite(values)
        if finite.all():
            return self.update_finite(values).tolist()
        positions = np.flatnonzero(finite)
        return positions[self.update_finite(values[finite])].tolist()

    @property
    def statistic(self) -> float:
        """The current test statistic (what the detector compares with its threshold), for a gauge."""
        raise NotImplementedError

    @property
    def seen(self) -> int:
        """Values taken since the detector last started afresh."""
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """The parameters and the state, as JSON-compatible values; ``detector`` names the detector."""
        return {"detector": self.name, "parameters": {name: getattr(self, name) for name in self.parameters},
                "state": self._saved()}

    @classmethod
    def from_state(cls, saved: dict[str, Any]) -> StreamDetector:
        """The detector that :meth:`state` described."""
        detector = cls(**saved["parameters"])
        detector._restore(saved["state"])
        return detector

    def pack(self) -> bytes:
        """The state (not the parameters) as bytes, to be saved often: a few microseconds, where :meth:`state` as
        JSON takes tens to hundreds (every float written out in decimal). :meth:`unpack` restores it exactly."""
        return np.concatenate([part.ravel() for part in self._packed()], dtype=np.float64).tobytes()

    def unpack(self, data: bytes) -> StreamDetector:
        """Restore the state that :meth:`pack` gave (by a detector with the same parameters); return self.

        >>> from driftloop.stream import ADWIN
        >>> detector = ADWIN()
        >>> _ = detector.update_many(range(100))
        >>> ADWIN().unpack(detector.pack()).state() == detector.state()
        True
        """
        self.reset()
        self._unpack(np.frombuffer(data, dtype=np.float64))
        return self

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.parameters)
        return f"{type(self).__name__}({shown})"


class CountAndSums(StreamDetector):
    """A detector whose state is a count of values (``_n``, int64) and a few running sums (``_sums``, float64, one
    per name in ``_NAMES``), updated in place by its compiled kernel: saved, packed and restored here."""

    _NAMES: ClassVar[tuple[str, ...]] = ()

    def reset(self) -> None:
        self._n = np.zeros(1, dtype=np.int64)
        self._sums = np.zeros(len(self._NAMES))

    def _saved(self) -> dict[str, Any]:
        return {"n": int(self._n[0]), **dict(zip(self._NAMES, self._sums.tolist(), strict=True))}

    def _restore(self, saved: dict[str, Any]) -> None:
        self._n[0] = saved["n"]
        self._sums[:] = [saved[name] for name in self._NAMES]

    def _packed(self) -> list[np.ndarray]:
        return [self._n, self._sums]

    def _unpack(self, data: np.ndarray) -> None:
        self._n[0] = data[0]
        self._sums[:] = data[1:]

    @property
    def seen(self) -> int:
        return int(self._n[0])


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite real number (not a bool, not a string).

    >>> is_number(0.5), is_number(3), is_number(True), is_number("1"), is_number(float("inf"))
    (True, True, False, False, False)
    """
    return (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
            and math.isfinite(value))


def check_parameter(owner: str, name: str, value: Any, ok: bool, expected: str) -> None:
    """Raise ``ValueError`` naming the parameter, its owner, what was expected and what was received."""
    if not ok:
        raise ValueError(f"{owner}: {name} must be {expected}; got {value!r}.")
