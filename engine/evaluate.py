"""Scores that do not depend on the task: repeated stratified cross-validation of any fit/predict pair.

The task's own metrics and views live with the task (engine.tasks.<task>.metrics); the names below the
cross-validation are image classification's, kept here for the callers that import them from engine.evaluate.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from engine.tasks.image_classification.metrics import (
    compute_metrics,
    expected_calibration_error,
    format_report,
    misclassified,
    save_confusion_matrix,
)

__all__ = ["compute_metrics", "cross_validate", "expected_calibration_error", "format_report", "misclassified",
           "save_confusion_matrix"]


def cross_validate(
    X: Any,
    y: Sequence[int] | np.ndarray,
    fit_predict: Callable[[Any, np.ndarray, Any], np.ndarray],
    *,
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Repeated stratified k-fold: the mean and spread of the scores, which a tiny split cannot give.

    fit_predict(X_train, y_train, X_test) returns probabilities (n_test, C) with columns in class
    index order. Folds are reduced to the size of the smallest class; a class with fewer than two
    samples makes the result {"skipped": reason}.
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
    from sklearn.model_selection import RepeatedStratifiedKFold

    y = np.asarray(y, dtype=np.int64)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        return {"skipped": "cross-validation needs at least two classes"}
    if counts.min() < 2:
        small = ", ".join(str(c) for c in classes[counts < 2])
        return {
            "skipped": f"cross-validation needs at least 2 samples in every class; with only one: class {small}"
        }
    n_splits = int(min(folds, counts.min()))
    splitter = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=repeats, random_state=seed)
    scores = []
    for i, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
        probs = np.asarray(fit_predict(_take(X, train), y[train], _take(X, test)))
        y_pred = probs.argmax(axis=1)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
            balanced = balanced_accuracy_score(y[test], y_pred)
        scores.append(
            {
                "repeat": i // n_splits,
                "fold": i % n_splits,
                "n": len(test),
                "accuracy": float(accuracy_score(y[test], y_pred)),
                "macro_f1": float(f1_score(y[test], y_pred, average="macro", zero_division=0)),
                "balanced_accuracy": float(balanced),
            }
        )
    result: dict[str, Any] = {"folds": n_splits, "repeats": repeats}
    for name in ("accuracy", "macro_f1", "balanced_accuracy"):
        values = np.array([s[name] for s in scores])
        result[name] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1 if len(values) > 1 else 0)),
        }
    result["scores"] = scores
    if n_splits < folds:
        result["note"] = f"{n_splits} folds instead of {folds}: the smallest class has {counts.min()} samples"
    return result


def _take(X: Any, idx: np.ndarray) -> Any:
    if hasattr(X, "shape"):  # numpy arrays and torch tensors index by an array of positions
        return X[idx]
    return [X[i] for i in idx]
