"""What a multivariate detector reports for one window."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The detectors, by the name used in metric keys (``multivariate/<name>/<statistic>``), with their labels.
LABELS = {"pca": "PCA reconstruction error", "classifier": "domain classifier", "mmd": "MMD"}


@dataclass(frozen=True)
class DetectorResult:
    """One detector on one window.

    ``statistics`` maps a statistic's name to its value (the metric ``multivariate/<detector>/<name>``);
    ``p_value`` is NaN when the detector could not judge the window, and ``reason`` then says why; ``summary``
    describes the finding in a few words for the window's reasons; ``columns`` names the columns that carry the
    drift, most important first, and ``importances`` each column's share in the finding (the domain classifier's
    permutation importances), when the detector can tell.
    """

    detector: str
    statistics: dict[str, float] = field(default_factory=dict)
    p_value: float = float("nan")
    summary: str = ""
    reason: str | None = None
    columns: tuple[str, ...] = ()
    importances: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return LABELS.get(self.detector, self.detector)


def not_computed(detector: str, reason: str) -> DetectorResult:
    """A result for a window the detector could not judge."""
    return DetectorResult(detector, reason=reason)


def too_small(detector: str, n_rows: int, minimum: int) -> DetectorResult:
    """A window with fewer rows than the detector's ``min_rows``.

    >>> too_small("mmd", 5, 20).reason
    'the window has 5 row(s), fewer than the 20 MMD needs (min_rows)'
    """
    return not_computed(detector, f"the window has {n_rows} row(s), fewer than the {minimum} "
                                  f"{LABELS.get(detector, detector)} needs (min_rows)")
