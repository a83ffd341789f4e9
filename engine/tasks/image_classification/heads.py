"""Image classification's heads and loss: a linear or prototype head fitted on embeddings, and the
cross-entropy (label smoothing, class weights) that fine-tuning minimises.

numpy and scikit-learn for the heads; torch only inside `set_head` and `loss_function`.
"""

from __future__ import annotations

import numpy as np

# Per-feature standard deviations are floored at this fraction of their mean (see fit_linear_head).
SIGMA_FLOOR = 0.5
# Below this many images in the smallest class, the head is a nearest-class-mean (prototype) one.
PROTOTYPE_BELOW = 3
PROTOTYPE_TEMPERATURE = 10.0


def fit_linear_head(X: np.ndarray, y: np.ndarray, n_classes: int, *, balanced: bool, seed: int,
                    C: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Multinomial logistic regression on embeddings, standardisation folded into (W, b).

    Returns W (n_classes, D), b (n_classes,) and the C used; logits = X @ W.T + b, so the
    head drops into the network's own Linear layer unchanged.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    mu = X.mean(axis=0)
    std = X.std(axis=0)
    # Features that hardly vary in a handful of images must not get huge weights: they would
    # blow up on new images (and wreck fine-tuning that starts from this head).
    sigma = np.maximum(std, SIGMA_FLOOR * float(std.mean()) + 1e-8)
    Z = (X - mu) / sigma
    # With an L2 penalty the solution lies in the span of the (centred) training samples, so fitting
    # in that subspace is exact, and with few images far faster than in all D dimensions.
    _, S, Vt = np.linalg.svd(Z, full_matrices=False)
    Vt = Vt[S > S[0] * 1e-6] if S.size and S[0] > 0 else Vt[:1]
    P = Z @ Vt.T
    class_weight = "balanced" if balanced else None

    def make(c: float) -> LogisticRegression:
        return LogisticRegression(C=c, max_iter=1000, class_weight=class_weight, random_state=seed)

    if C is None:
        counts = np.bincount(y, minlength=n_classes)
        present = counts[counts > 0]
        folds = int(min(5, present.min())) if present.size else 0
        grid = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
        if folds >= 2:
            skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            scores = []
            for c in grid:
                acc = [float((make(c).fit(P[a], y[a]).predict(P[b]) == y[b]).mean()) for a, b in skf.split(P, y)]
                scores.append(np.mean(acc))
            C = grid[int(np.argmax(scores))]
        else:
            C = 0.1
    clf = make(C).fit(P, y)
    W = np.zeros((n_classes, X.shape[1]), dtype=np.float64)
    b = np.full(n_classes, -1e4, dtype=np.float64)  # a class absent from training is never predicted
    coef, intercept = clf.coef_ @ Vt, clf.intercept_
    if len(clf.classes_) == 2:  # sklearn's binary form: one row for the positive class
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    for row, cls in enumerate(clf.classes_):
        W[cls] = coef[row] / sigma
        b[cls] = intercept[row] - float(np.dot(coef[row], mu / sigma))
    return W.astype(np.float32), b.astype(np.float32), float(C)


def fit_prototype_head(X: np.ndarray, y: np.ndarray, n_classes: int,
                       temperature: float = PROTOTYPE_TEMPERATURE) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-class-mean head (cosine to L2-normalised class means) as a plain linear layer.

    With one or two images per class there is nothing to fit a regression on; prototypes are the
    reliable choice. logits = t * x . m_c / mean|x|: the same ranking as cosine similarity (|x| is
    common to all classes), scaled so probabilities are neither flat nor saturated.
    """
    norms = np.linalg.norm(X, axis=1, keepdims=True) + 1e-12
    unit = X / norms
    W = np.zeros((n_classes, X.shape[1]), dtype=np.float64)
    b = np.full(n_classes, -1e4, dtype=np.float64)
    for c in range(n_classes):
        if (y == c).any():
            m = unit[y == c].mean(axis=0)
            W[c] = m / (np.linalg.norm(m) + 1e-12)
            b[c] = 0.0
    W *= temperature / float(norms.mean())
    return W.astype(np.float32), b.astype(np.float32)


def head_probs(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Softmax probabilities of a linear head on embeddings."""
    logits = X @ W.T + b
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def set_head(model, W: np.ndarray, b: np.ndarray) -> None:
    """Copy a fitted head (W, b) into the network's own classifier layer."""
    import torch

    head = model.get_classifier()
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(W))
        head.bias.copy_(torch.from_numpy(b))


def class_weights(targets: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights, mean one over the classes (sklearn's "balanced")."""
    counts = np.bincount(targets, minlength=n_classes).astype(np.float64)
    return counts.sum() / (len(counts) * np.maximum(counts, 1))


def loss_function(weight, label_smoothing: float):
    """The training loss: cross-entropy with label smoothing and optional class weights (a tensor or None)."""
    from torch import nn

    return nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)
