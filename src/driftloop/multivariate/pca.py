r"""PCA reconstruction error: drift in the relations between columns, calibrated on the reference itself.

On the standardised reference (:mod:`~driftloop.multivariate.encoding`), keep the :math:`k` principal components
that explain a share ``variance_share`` of the variance; a row :math:`z` is then reconstructed from its projection,
and its *reconstruction error* is the Euclidean distance

.. math:: e(z) = \lVert (z - c) - V V^\top (z - c) \rVert_2

(:math:`c` the reference's centre, :math:`V` the :math:`p \times k` components). A window's statistic is its mean
error :math:`\bar e_w`. When the window keeps the reference's correlations, :math:`\bar e_w` stays near the
reference's own mean error :math:`\bar e_r`; when a correlation flips or a cluster rotates, rows leave the
principal subspace and :math:`\bar e_w` grows, although every column's distribution may stay the same [1]_.

The components are fitted on the reference, so the reference's own rows sit closer to them than new rows do (the
kept directions are those of the largest *sample* variance: with 25 columns of similar variance and 20,000 rows,
the in-sample error is a few per cent lower). The reference's mean error :math:`\bar e_r` is therefore measured
out of fold: each contiguous chunk of the reference (``DriftThresholds.n_chunks``) is reconstructed by the
components fitted on the other chunks (:func:`out_of_fold_errors`), as a window is by components that never saw it.

NannyML flags :math:`\bar e_w` outside :math:`\bar e_r \pm 3\sigma` of the reference chunks' errors, which ignores
the window's size. driftloop calibrates instead with the leave-one-chunk-out null of
:mod:`driftloop.thresholds.null`, at the window's size: on the calibration rows (the reference thinned to
``DriftThresholds.max_rows``, row order kept) the out-of-fold errors are computed the same way, and samples drawn
from a chunk give :math:`d = |\bar e_{sample} - \bar e_{rest}|`, the distance between a window that did not drift
and its reference (the other chunks), both out of fold. With :math:`z = n_{\mathrm{eff}} d^2`
(:math:`n_{\mathrm{eff}} = n_w n_r/(n_w + n_r)`, the mean's sampling noise) a scaled chi-squared is fitted to the
null draws (:func:`~driftloop.thresholds.fit_null`), at the window's size rounded down to a power of two, up to half
a chunk; larger windows use the size-scaling law. The test is two-sided: a window whose rows sit closer to the
principal subspace than the reference's (a column became constant, columns became copies of each other) has
changed its joint distribution too.

References
----------
.. [1] I. T. Jolliffe, *Principal Component Analysis*, 2nd ed., Springer, 2002, section 10.1 (detection of outliers
   by the residuals of the last components).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats as _scipy_stats

from driftloop.errors import NotFittedError, invalid_parameter
from driftloop.multivariate.results import DetectorResult, not_computed, too_small
from driftloop.thresholds import (
    DriftThresholds,
    NullModel,
    NullSample,
    chunk_bounds,
    distance_threshold,
    effective_size,
    fit_null,
    leave_one_chunk_out,
)

NAME = "pca"
_BLOCK = 65_536  # rows per block when measuring errors (bounds the temporary arrays)
_CANCELLATION = 1e-8  # below this share of a row's squared norm, its error is computed from the explicit residual
_ROUNDING = 1e-12  # an error below this (relative to 1 + the row's norm) is rounding noise: 0


def _subspace(total: NDArray[np.float64], gram: NDArray[np.float64], n: int, variance_share: float | None,
              n_components: int | None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Centre and components from the column sums ``total`` and the Gram matrix ``gram`` of ``n`` rows."""
    centre = total / n
    covariance = gram / n - np.outer(centre, centre)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = np.clip(eigenvalues[order], 0.0, None), eigenvectors[:, order]
    if n_components is None:
        variance = float(eigenvalues.sum())
        ratios = np.cumsum(eigenvalues) / variance if variance > 0.0 else np.ones_like(eigenvalues)
        n_components = int(np.searchsorted(ratios, variance_share, side="right")) + 1
        n_components = min(n_components, max(len(centre) - 1, 1))  # a residual direction left to measure
    return centre, np.ascontiguousarray(eigenvectors[:, : min(n_components, len(centre))])


def principal_subspace(rows: NDArray[np.float64], variance_share: float | None = None, *,
                       n_components: int | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Centre and components (``p x k``, orthonormal columns) of ``rows``: the fewest components whose explained
    variance exceeds ``variance_share`` (scikit-learn's rule for a float ``n_components``), at most ``p - 1`` so that
    a residual is left (all ``p`` components reconstruct every row exactly: its errors would be rounding noise, which
    the null cannot calibrate: two independent columns of equal variance need both for 65 %), or ``n_components``.

    >>> rows = np.random.default_rng(0).normal(size=(500, 3)) * [3.0, 1.0, 0.1]
    >>> centre, components = principal_subspace(rows, 0.65)
    >>> components.shape, np.abs(components[:, 0]).round(2).tolist()
    ((3, 1), [1.0, 0.01, 0.0])
    """
    return _subspace(rows.sum(axis=0), rows.T @ rows, len(rows), variance_share, n_components)


def reconstruction_errors(rows: NDArray[np.float64], centre: NDArray[np.float64],
                          components: NDArray[np.float64]) -> NDArray[np.float64]:
    """Euclidean distance of each row from its reconstruction on the components, block by block.

    With orthonormal components, :math:`e^2 = \lVert z - c\rVert^2 - \lVert V^\top (z - c)\rVert^2`: one
    ``p x k`` product per row instead of two (four times faster on a million rows). Where that difference cancels
    (:math:`e^2` below :math:`10^{-8}` of :math:`\lVert z - c\rVert^2`, a row almost in the subspace) the residual
    is computed explicitly, so every error keeps full precision. An error below :math:`10^{-12}(1 + \lVert z -
    c\rVert)` is rounding noise (a row in the subspace: columns that copy each other, a residual of directions
    without variance) and is 0: noise compared with noise would give any p-value.

    >>> reconstruction_errors(np.array([[1.0, 2.0], [3.0, 1e-9]]), np.zeros(2), np.array([[1.0], [0.0]])).tolist()
    [2.0, 1e-09]
    """
    out = np.empty(len(rows))
    for start in range(0, len(rows), _BLOCK):
        block = rows[start:start + _BLOCK] - centre
        projected = block @ components
        norms = np.einsum("ij,ij->i", block, block)
        squared = norms - np.einsum("ij,ij->i", projected, projected)
        close = squared < _CANCELLATION * norms
        if close.any():
            residual = block[close] - projected[close] @ components.T
            squared[close] = np.einsum("ij,ij->i", residual, residual)
        errors = np.sqrt(np.maximum(squared, 0.0))
        errors[errors <= _ROUNDING * (1.0 + np.sqrt(norms))] = 0.0
        out[start:start + _BLOCK] = errors
    return out


def out_of_fold_errors(rows: NDArray[np.float64], n_chunks: int, n_components: int) -> NDArray[np.float64]:
    """Reconstruction error of each row by the components fitted on the other chunks (contiguous, as
    :func:`~driftloop.thresholds.chunk_bounds`), with ``n_components`` kept: an error measured as a window's is,
    on rows the components did not see. Each chunk's sums and Gram matrix are computed once; the rest's are the
    totals minus the chunk's.

    >>> rows = np.random.default_rng(0).normal(size=(1000, 4))
    >>> errors = out_of_fold_errors(rows, 10, 2)
    >>> centre, components = principal_subspace(rows[100:], n_components=2)
    >>> bool(np.allclose(errors[:100], reconstruction_errors(rows[:100], centre, components)))
    True
    """
    bounds = chunk_bounds(len(rows), n_chunks)
    sums = [rows[a:b].sum(axis=0) for a, b in bounds]
    grams = [rows[a:b].T @ rows[a:b] for a, b in bounds]
    total, gram = np.sum(sums, axis=0), np.sum(grams, axis=0)
    errors = np.empty(len(rows))
    for (a, b), chunk_sum, chunk_gram in zip(bounds, sums, grams, strict=True):
        centre, components = _subspace(total - chunk_sum, gram - chunk_gram, len(rows) - (b - a), None,
                                       n_components)
        errors[a:b] = reconstruction_errors(rows[a:b], centre, components)
    return errors


def calibration_sizes(n_calibration: int, policy: DriftThresholds, min_rows: int) -> list[int]:
    """Window sizes calibrated directly: the powers of two from ``min_rows`` (rounded down) below half the
    smallest chunk, and half the smallest chunk; empty when the calibration rows cannot be cut into chunks.

    >>> calibration_sizes(20_000, DriftThresholds(), 20)
    [16, 32, 64, 128, 256, 500]
    """
    if n_calibration < 2 * policy.n_chunks:
        return []
    largest = max(1, min(b - a for a, b in chunk_bounds(n_calibration, policy.n_chunks)) // 2)
    sizes = [1 << j for j in range(max(int(min_rows), 1).bit_length() - 1, largest.bit_length())]
    return [s for s in sizes if s < largest] + [largest]


def _size_for(n_window: int, sizes: list[int]) -> int:
    """The calibrated size a window of ``n_window`` rows is judged at: the largest size not above it."""
    fitting = [s for s in sizes if s <= n_window]
    return fitting[-1] if fitting else sizes[0]


def null_p_value(null: NullSample, model: NullModel, z: float) -> float:
    r"""p-value of :math:`z = n_{\mathrm{eff}} d^2` against a null: the empirical tail
    :math:`(1 + \#\{z_i \ge z\})/(1 + N)` of the ``N`` null draws, and beyond the largest draw the smaller of that
    bound and the tail of the fitted scaled chi-squared (the same guard as
    :func:`~driftloop.thresholds.distance_threshold`, which never sets a threshold below the largest draw).

    >>> null = NullSample(np.sqrt(np.arange(1.0, 100.0)), np.ones(99), 1)
    >>> model = fit_null(null.values, null.n_eff, 2)
    >>> null_p_value(null, model, 50.0), null_p_value(null, model, 1000.0) < 1e-6
    (0.51, True)
    """
    drawn = null.n_eff * null.values ** 2
    beyond = int(np.count_nonzero(drawn >= z))
    p_value = (1.0 + beyond) / (1.0 + drawn.size)
    if beyond == 0 and model.scale > 0.0:
        p_value = min(p_value, float(_scipy_stats.chi2.sf(z / model.scale, model.dof)))
    elif beyond == 0 and model.scale == 0.0 and z > 0.0:
        p_value = 0.0  # a null identically zero: any departure is beyond it
    return p_value


class PCAReconstruction:
    """The PCA reconstruction error detector (see the module docstring).

    Parameters
    ----------
    variance_share
        Share of the reference's variance the kept components explain, in (0, 1). Default 0.65, NannyML's default:
        the last third of the variance is left to the residual, where broken correlations show.
    min_rows
        Smallest window judged. Default 20: below it the mean error of a window is mostly the noise of a few rows.

    Attributes
    ----------
    centre_, components_ : ndarray
        The reference's centre and its kept components (``p x k``).
    reference_error_ : float
        :math:`\\bar e_r`, the reference's mean reconstruction error.
    n_reference_ : int
        Rows of the reference.
    nulls_ : dict[int, NullSample]
        Leave-one-chunk-out null of :math:`d` per calibrated size.
    """

    name = NAME

    def __init__(self, *, variance_share: float = 0.65, min_rows: int = 20) -> None:
        self.variance_share = variance_share
        self.min_rows = min_rows

    def get_params(self) -> dict[str, Any]:
        return {"variance_share": self.variance_share, "min_rows": self.min_rows}

    def _validate(self) -> None:
        share = self.variance_share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 < share < 1.0:
            raise invalid_parameter("variance_share", "PCAReconstruction", "a number in (0, 1)", share)
        if isinstance(self.min_rows, bool) or not isinstance(self.min_rows, int) or self.min_rows < 2:
            raise invalid_parameter("min_rows", "PCAReconstruction", "an integer >= 2", self.min_rows)

    def fit(self, reference: NDArray[np.float64], calibration: NDArray[np.float64],
            policy: DriftThresholds) -> PCAReconstruction:
        """Fit on the standardised, imputed ``reference`` rows (in row order); calibrate on ``calibration`` (the
        reference thinned to at most ``policy.max_rows`` rows, in row order)."""
        self._validate()
        self.centre_, self.components_ = principal_subspace(reference, self.variance_share)
        k = self.components_.shape[1]
        self.n_reference_ = len(reference)
        chunks = min(policy.n_chunks, len(reference))
        self.reference_error_ = float(out_of_fold_errors(reference, chunks, k).mean()) if chunks >= 2 else \
            float(reconstruction_errors(reference, self.centre_, self.components_).mean())
        sizes = calibration_sizes(len(calibration), policy, self.min_rows)
        errors = out_of_fold_errors(calibration, policy.n_chunks, k) if sizes else np.empty(0)

        def evaluate(rest_error: float, sample: NDArray[np.float64]) -> list[float]:
            return [abs(float(sample.mean()) - rest_error)]

        self.nulls_ = {
            size: leave_one_chunk_out(errors, lambda rest: float(rest.mean()), evaluate, n_chunks=policy.n_chunks,
                                      draws=policy.draws, sample_size=size, seed=policy.seed)
            for size in sizes
        }
        self._models: dict[int, NullModel] = {}
        return self

    def _model(self, size: int) -> NullModel:
        if size not in self._models:
            null = self.nulls_[size]
            self._models[size] = fit_null(null.values[:, 0], null.n_eff, 2.0)
        return self._models[size]

    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise NotFittedError("This PCAReconstruction instance is not fitted yet; call 'fit' first.")

    def errors(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each of the standardised, imputed ``rows``' reconstruction error :math:`e(z)`: a window's statistic is
        their mean, which an engine holding the rows in pieces (Spark's partitions) sums piece by piece for
        :meth:`judge`."""
        self._check_fitted()
        return reconstruction_errors(rows, self.centre_, self.components_)

    def compare(self, window: NDArray[np.float64]) -> DetectorResult:
        """Judge the standardised, imputed ``window`` rows: :meth:`judge` of the mean of their :meth:`errors`."""
        self._check_fitted()
        unjudged = self._unjudged(len(window))  # known before the errors are computed
        return unjudged if unjudged is not None else self.judge(float(self.errors(window).mean()), len(window))

    def _unjudged(self, n: int) -> DetectorResult | None:
        """The reason a window of ``n`` rows is not judged: fewer than ``min_rows``, or a profile fitted before
        components were capped at ``p - 1`` (no residual to measure); ``None`` when it is judged."""
        if n < self.min_rows:
            return too_small(NAME, n, self.min_rows)
        if self.components_.shape[1] >= len(self.centre_):
            return not_computed(NAME, f"the profile's {self.components_.shape[1]} components span all its columns: "
                                      "no reconstruction error to measure (profile the model again)")
        return None

    def judge(self, mean_error: float, n_rows: int) -> DetectorResult:
        """Judge a window of ``n_rows`` rows whose mean reconstruction error is ``mean_error`` (the mean of
        :meth:`errors` over all its rows) against the reference's null at the window's size."""
        self._check_fitted()
        n = int(n_rows)
        unjudged = self._unjudged(n)
        if unjudged is not None:
            return unjudged
        error = float(mean_error)
        statistics = {"reconstruction_error": error, "reference_error": self.reference_error_}
        summary = f"mean {error:.4g} against {self.reference_error_:.4g} on the reference"
        if not self.nulls_:
            return DetectorResult(NAME, statistics, summary=summary, reason=(
                "the reference has too few rows to calibrate the reconstruction error (leave-one-chunk-out)"))
        size = _size_for(n, sorted(self.nulls_))
        z = effective_size(n, self.n_reference_) * (error - self.reference_error_) ** 2
        p_value = null_p_value(self.nulls_[size], self._model(size), z)
        return DetectorResult(NAME, statistics, p_value, summary)

    def upper_threshold(self, n_window: int, level: float) -> float:
        """The mean error above which a window of ``n_window`` rows is beyond the null at tail ``level``."""
        if not self.nulls_ or n_window < self.min_rows:
            return float("nan")
        model = self._model(_size_for(n_window, sorted(self.nulls_)))
        return self.reference_error_ + distance_threshold(model, n_window, self.n_reference_, level)

    # ---------------------------------------------------------------- persistence (see multivariate.storage)
    def state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        """The fitted state as a JSON document and named arrays."""
        document = {"params": self.get_params(), "reference_error": self.reference_error_,
                    "n_reference": self.n_reference_,
                    "nulls": {str(size): {"sample_size": null.sample_size} for size, null in self.nulls_.items()}}
        arrays = {"centre": self.centre_, "components": self.components_}
        for size, null in self.nulls_.items():
            arrays[f"null{size}.values"], arrays[f"null{size}.n_eff"] = null.values, null.n_eff
        return document, arrays

    @classmethod
    def from_state(cls, document: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> PCAReconstruction:
        detector = cls(**document["params"])
        detector.centre_, detector.components_ = arrays["centre"], arrays["components"]
        detector.reference_error_ = float(document["reference_error"])
        detector.n_reference_ = int(document["n_reference"])
        detector.nulls_ = {int(size): NullSample(arrays[f"null{size}.values"], arrays[f"null{size}.n_eff"],
                                                 int(entry["sample_size"]))
                           for size, entry in document["nulls"].items()}
        detector._models = {}
        return detector
