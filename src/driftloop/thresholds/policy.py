"""The named parameters of drift verdicts, with their defaults and the reasons for them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from driftloop.errors import invalid_parameter


@dataclass(frozen=True)
class DriftThresholds:
    """How a window's statistics become verdicts.

    Parameters
    ----------
    alpha_tests
        False discovery rate of the Benjamini–Hochberg procedure run across all test rows (KS, chi-squared, CvM,
        Anderson–Darling) of one window. Under no drift each test's p-value is uniform, so BH then flags anything
        in a window with probability at most ``alpha_tests``, at any window size.
    alpha_distances
        Chance, under no drift, that any distance row of a window is flagged. It is split evenly (Bonferroni) over
        the window's distance rows; each row's threshold is the fitted null's quantile at
        ``1 - alpha_distances / m``.

        Defaults 0.001 and 0.001: a stable window is then flagged with probability <= 0.2 %. A monitor judges many
        windows, and what users need is "at most about one false alarm in fifty windows" (the acceptance bar of the
        drift engine): with a per-window rate q, P(at most 1 of 50 flagged) is 0.91 for q = 1 %, 0.97 for
        q = 0.5 % and 0.995 for q = 0.2 %. (Measured with 0.005 + 0.005: 2 of 300 stable windows flagged by KS,
        none by a distance; one seeded set of 50 had two windows with a 1-in-10,000 column.)
    n_chunks
        Contiguous chunks of the calibration rows (leave-one-chunk-out). Default 20: each comparison keeps 95 % of
        the reference.
    draws
        Samples drawn per chunk. Default 20: 400 null values per column and statistic, enough to estimate the two
        moments the tail fit needs (with 100 the variance is often underestimated by half, and the fitted tail
        flags stable windows).
    max_rows
        Calibration uses at most this many reference rows per column (an even stride through the reference, row
        order kept). Default 20,000: the calibration of 25 columns then takes about a second on two cores, and
        half a chunk (500 rows) is the largest window calibrated directly; larger windows use the size-scaling
        law (the reference-without-a-chunk only has to be large against the sample; its size enters
        :math:`n_{\mathrm{eff}}`).
    seed
        Seed of the calibration draws.

    Examples
    --------
    >>> DriftThresholds(alpha_tests=0.01).alpha_tests
    0.01
    >>> DriftThresholds(n_chunks=1).validate()
    Traceback (most recent call last):
    ...
    driftloop.errors.DriftloopError: The 'n_chunks' parameter of DriftThresholds must be an integer >= 2; got 1.
    """

    alpha_tests: float = 0.001
    alpha_distances: float = 0.001
    n_chunks: int = 20
    draws: int = 20
    max_rows: int = 20_000
    seed: int = 0

    def validate(self) -> DriftThresholds:
        """Check every parameter; return self."""
        for name in ("alpha_tests", "alpha_distances"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
                raise invalid_parameter(name, "DriftThresholds", "a number in (0, 1)", value)
        for name, low in (("n_chunks", 2), ("draws", 1), ("max_rows", 4), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise invalid_parameter(name, "DriftThresholds", f"an integer >= {low}", value)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
