"""Heads fitted on embeddings: they are exact linear layers and behave as their models say."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from engine.tasks.image_classification.heads import (
    SIGMA_FLOOR,
    fit_linear_head,
    fit_prototype_head,
    head_probs,
)


def features(n_per_class: int, n_classes: int = 4, dim: int = 200, seed: int = 0):
    """Samples around class centres that are the same for every seed (the seed draws the noise)."""
    centres = np.random.default_rng(1234).normal(size=(n_classes, dim)) * 2
    rng = np.random.default_rng(seed)
    X = np.concatenate([centres[c] + rng.normal(size=(n_per_class, dim)) for c in range(n_classes)])
    return np.abs(X).astype(np.float32), np.repeat(np.arange(n_classes), n_per_class)


def test_linear_head_equals_a_full_logistic_regression_on_the_same_scaled_features():
    """Fitting in the span of the samples is exact, not an approximation."""
    X, y = features(6)
    W, b, C = fit_linear_head(X, y, 4, balanced=False, seed=0, C=0.1)
    std = X.std(axis=0)
    sigma = np.maximum(std, SIGMA_FLOOR * std.mean() + 1e-8)
    Z = (X - X.mean(axis=0)) / sigma
    ref = LogisticRegression(C=0.1, max_iter=5000, tol=1e-8).fit(Z, y)
    Xn, _ = features(5, seed=1)
    Zn = (Xn - X.mean(axis=0)) / sigma
    assert np.allclose(head_probs(Xn, W, b), ref.predict_proba(Zn), atol=2e-3)


def test_linear_head_learns_and_never_predicts_a_class_without_training_images():
    X, y = features(8)
    W, b, _ = fit_linear_head(X, y, 5, balanced=True, seed=0)
    Xt, yt = features(20, seed=3)
    p = head_probs(Xt, W, b)
    assert (p.argmax(1) == yt).mean() > 0.9
    assert p[:, 4].max() < 1e-6


def test_prototype_head_ranks_classes_like_cosine_to_class_means():
    X, y = features(1, n_classes=6, seed=5)
    W, b = fit_prototype_head(X, y, 6)
    Xt, _ = features(10, n_classes=6, seed=6)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    cosine = unit(Xt) @ unit(X).T
    assert (head_probs(Xt, W, b).argmax(1) == cosine.argmax(1)).all()


def test_binary_heads_work():
    X, y = features(6, n_classes=2)
    W, b, _ = fit_linear_head(X, y, 2, balanced=False, seed=0)
    assert W.shape == (2, X.shape[1]) and (head_probs(X, W, b).argmax(1) == y).all()
