"""Simulated classifiers and regressors whose truth is known."""

from __future__ import annotations

import numpy as np

WEIGHTS = np.random.default_rng(42).normal(size=(3, 4))


def classifier_rows(rng: np.random.Generator, n: int, k: int, *, sharpness: float = 1.8, shift: float = 0.0):
    """Class scores of an overconfident model (logits times ``sharpness``) and labels drawn from the true
    probabilities; ``shift`` moves the inputs (covariate shift: P(y | x) unchanged)."""
    x = rng.normal(size=(n, 3)) + shift
    logits = x @ WEIGHTS[:, :k]
    truth = np.exp(logits - logits.max(axis=1, keepdims=True))
    truth /= truth.sum(axis=1, keepdims=True)
    labels = (truth.cumsum(axis=1) > rng.uniform(size=(n, 1))).argmax(axis=1)
    scores = np.exp(sharpness * (logits - logits.max(axis=1, keepdims=True)))
    scores /= scores.sum(axis=1, keepdims=True)
    return scores, labels
