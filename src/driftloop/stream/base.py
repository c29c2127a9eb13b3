"""The contract of a streaming detector (as in river's ``base.DriftDetector``, with a saved state)."""

from __future__ import annotations

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
    _state: ClassVar[tuple[str, ...]] = ()
    """The attributes that hold the state (restored as saved)."""

    def reset(self) -> None:
        """Forget the stream: back to a new detector with the same parameters."""
        raise NotImplementedError

    def update(self, value: float) -> bool:
        """Take one value; ``True`` when a change is detected at it (the detector then starts afresh)."""
        raise NotImplementedError

    def update_many(self, values: ArrayLike) -> list[int]:
        """Take a batch of values in order; the positions (0-based, in the batch) where a change was detected.

        Non-finite values (NaN, infinities) are skipped: they are not part of the stream.
        """
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        update = self.update
        if finite.all():
            return [i for i, value in enumerate(values.tolist()) if update(value)]
        positions = np.flatnonzero(finite).tolist()
        return [i for i, value in zip(positions, values[finite].tolist()) if update(value)]

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
                "state": {name.lstrip("_"): getattr(self, name) for name in self._state}}

    @classmethod
    def from_state(cls, saved: dict[str, Any]) -> StreamDetector:
        """The detector that :meth:`state` described."""
        detector = cls(**saved["parameters"])
        for name in cls._state:
            setattr(detector, name, saved["state"][name.lstrip("_")])
        return detector

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.parameters)
        return f"{type(self).__name__}({shown})"


def check_parameter(owner: str, name: str, value: Any, ok: bool, expected: str) -> None:
    """Raise ``ValueError`` naming the parameter, its owner, what was expected and what was received."""
    if not ok:
        raise ValueError(f"{owner}: {name} must be {expected}; got {value!r}.")
