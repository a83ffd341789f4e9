"""Image classification's metrics and the views they feed: scores, per-class report, confusion matrix,
calibration, the misclassified list.

Pure functions on labels and probabilities (no model code), so every model family is scored by
the same code. scikit-learn computes the metrics; matplotlib (Agg, no pyplot) draws the plots.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.fsutil import atomic_write_bytes, atomic_write_json

# Fonts tried after matplotlib's own DejaVu Sans for labels it cannot draw (CJK, say); only the
# ones installed are used, nothing is downloaded.
_FALLBACK_FONTS = (
    "Noto Sans",
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "WenQuanYi Zen Hei",
    "Arial Unicode MS",
    "Microsoft YaHei",
    "Segoe UI",
    "PingFang SC",
)
_MAX_LABEL = 28  # characters of a class name shown in plots and tables


def compute_metrics(
    y_true: Sequence[int] | np.ndarray, probs: np.ndarray, labels: Sequence[str], top_k: int = 5
) -> dict[str, Any]:
    """Scores of predicted probabilities (n, C) against true class indices; JSON-ready.

    macro-F1 and balanced accuracy average over the classes that occur in y_true (and, for F1,
    in the predictions), so a class missing from a small test split is not counted as a failure.
    """
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
        top_k_accuracy_score,
    )

    y, p = _check(y_true, probs, labels)
    classes = list(range(len(labels)))
    y_pred = p.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, y_pred, labels=classes, zero_division=0
    )
    with warnings.catch_warnings():
        # Raised when a predicted class is absent from y_true; the score then leaves it out, as intended.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        balanced = balanced_accuracy_score(y, y_pred)
    metrics: dict[str, Any] = {
        "n": len(y),
        "accuracy": float(accuracy_score(y, y_pred)),
        "balanced_accuracy": float(balanced),
        "macro_f1": float(f1_score(y, y_pred, average="macro", zero_division=0)),
    }
    # Top-k with k >= C is always 1; top-1 is the accuracy. Neither says anything.
    k = min(top_k, len(classes) - 1)
    if k >= 2:
        value = top_k_accuracy_score(y, p, k=k, labels=classes)
        metrics["top_k_accuracy"] = {"k": k, "value": float(value)}
    metrics["ece"] = expected_calibration_error(y, p)
    metrics["per_class"] = {
        label: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }
    metrics["confusion_matrix"] = confusion_matrix(y, y_pred, labels=classes).tolist()
    metrics["labels"] = list(labels)
    return metrics


def expected_calibration_error(
    y_true: Sequence[int] | np.ndarray, probs: np.ndarray, bins: int = 10
) -> float:
    """How far confidence is from accuracy: the sample-weighted mean gap over equal-width confidence bins."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    if len(y) == 0:
        return 0.0
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    # Bins are (0, 1/bins], (1/bins, 2/bins], ...; a confidence of exactly 1 falls into the last.
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    gap = 0.0
    for b in np.unique(which):
        mask = which == b
        gap += mask.sum() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(gap / len(y))


def misclassified(
    files: Sequence[str | Path],
    y_true: Sequence[int] | np.ndarray,
    probs: np.ndarray,
    labels: Sequence[str],
    limit: int | None = None,
    top: int = 3,
) -> list[dict[str, Any]]:
    """The wrong predictions, most confident first: what a person should look at first."""
    y, p = _check(y_true, probs, labels)
    if len(files) != len(y):
        raise ValueError(f"{len(files)} files for {len(y)} labels")
    y_pred = p.argmax(axis=1)
    rows = []
    for i in np.flatnonzero(y_pred != y):
        order = np.argsort(-p[i], kind="stable")[:top]
        rows.append(
            {
                "file": str(files[i]),
                "true": labels[y[i]],
                "predicted": labels[y_pred[i]],
                "confidence": float(p[i, y_pred[i]]),
                "true_prob": float(p[i, y[i]]),
                "top": [{"label": labels[j], "prob": float(p[i, j])} for j in order],
            }
        )
    rows.sort(key=lambda r: r["confidence"], reverse=True)
    return rows if limit is None else rows[:limit]


def save_confusion_matrix(
    metrics: dict[str, Any], out_dir: str | Path, name: str = "confusion_matrix"
) -> tuple[Path, Path]:
    """Write <name>.png (counts, colour = share of the true class) and <name>.json; returns both paths."""
    out_dir = Path(out_dir)
    labels = list(metrics["labels"])
    matrix = np.asarray(metrics["confusion_matrix"], dtype=np.int64).reshape(len(labels), len(labels))
    json_path = atomic_write_json(
        out_dir / f"{name}.json",
        {"labels": labels, "rows": "true", "columns": "predicted", "matrix": matrix.tolist()},
    )
    png_path = atomic_write_bytes(out_dir / f"{name}.png", _confusion_png(matrix, labels))
    return png_path, json_path


def format_report(metrics: dict[str, Any]) -> str:
    """A compact plain-text summary and per-class table for the terminal."""
    head = [
        f"images: {metrics['n']}",
        f"accuracy: {metrics['accuracy']:.3f}",
        f"balanced accuracy: {metrics['balanced_accuracy']:.3f}",
        f"macro-F1: {metrics['macro_f1']:.3f}",
    ]
    if "top_k_accuracy" in metrics:
        top = metrics["top_k_accuracy"]
        head.append(f"top-{top['k']}: {top['value']:.3f}")
    if "ece" in metrics:
        head.append(f"calibration error: {metrics['ece']:.3f}")
    names = {label: _short(label) for label in metrics["per_class"]}
    width = max([len("class"), *(len(n) for n in names.values())])
    lines = ["   ".join(head), "", f"{'class':<{width}}  precision  recall     f1  support"]
    for label, row in metrics["per_class"].items():
        lines.append(
            f"{names[label]:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}  {row['support']:7d}"
        )
    return "\n".join(lines)


def _check(
    y_true: Sequence[int] | np.ndarray, probs: np.ndarray, labels: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(probs, dtype=np.float64)
    if len(y) == 0:
        raise ValueError("no samples to evaluate")
    if p.ndim != 2 or p.shape != (len(y), len(labels)):
        raise ValueError(
            f"probabilities of shape {p.shape} do not match {len(y)} samples x {len(labels)} classes"
        )
    if y.min() < 0 or y.max() >= len(labels):
        raise ValueError(f"true class indices must lie in 0..{len(labels) - 1}")
    return y, p


def top_predictions(labels: Sequence[str], probs: np.ndarray, top_k: int) -> dict[str, Any]:
    """One picture's answer: the most likely label, its probability and the top-k list (predict's output)."""
    k = max(1, min(top_k, len(labels)))
    order = np.argsort(-probs)[:k]
    return {"label": labels[order[0]], "prob": float(probs[order[0]]),
            "top": [{"label": labels[i], "prob": float(probs[i])} for i in order]}


def selection_score(val_values: dict[str, float]) -> float:
    """How a validation result ranks when the best epoch is kept: macro-F1, the loss breaking the frequent ties
    of a tiny set. The UI marks the best epoch on its plots with the same rule."""
    return val_values["macro_f1"] - 0.01 * val_values["loss"]


def report_split(ctx: Any, split: str, probs: np.ndarray) -> dict[str, Any]:
    """A split's final metrics, with their events and views (confusion matrix, misclassified list) in the run."""
    art = ctx.run_dir / "artifacts"
    sp = ctx.splits[split]
    m = compute_metrics(sp.targets, probs, ctx.labels, top_k=ctx.cfg.eval.top_k)
    ctx.events.emit("metrics", epoch=None, split=split, final=True,
                    values={k: m[k] for k in ("accuracy", "balanced_accuracy", "macro_f1")})
    png, _ = save_confusion_matrix(m, art, name=f"confusion_matrix_{split}")
    ctx.events.emit("artifact", kind="confusion_matrix", split=split, path=str(png.relative_to(ctx.run_dir)))
    wrong = misclassified(sp.files, sp.targets, probs, ctx.labels)
    originals = {f: it["original"] for f, it in zip(sp.files, sp.items, strict=True)}
    for w in wrong:
        w["original"] = originals.get(w["file"])
    atomic_write_json(art / f"misclassified_{split}.json", wrong)
    ctx.events.emit("artifact", kind="misclassified", split=split, path=f"artifacts/misclassified_{split}.json",
                    count=len(wrong))
    return m


def _short(label: str) -> str:
    return label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"


def _confusion_png(matrix: np.ndarray, labels: list[str]) -> bytes:
    import matplotlib

    fonts = {"font.family": ["DejaVu Sans", *_installed_fonts(_FALLBACK_FONTS)]}
    with matplotlib.rc_context(fonts), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        return _draw_confusion(matrix, labels)


def _draw_confusion(matrix: np.ndarray, labels: list[str]) -> bytes:
    from matplotlib.figure import Figure

    n = len(labels)
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=np.float64), where=totals > 0)
    cell = 0.5 if n <= 30 else 0.32  # inches per class
    side = min(3.5 + cell * n, 30.0)
    fontsize = 10 if n <= 12 else 9 if n <= 20 else 8 if n <= 30 else 6
    fig = Figure(figsize=(side + 1.5, side), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02, label="share of the true class")
    if n <= 40:
        for (i, j), count in np.ndenumerate(matrix):
            if count:
                colour = "white" if share[i, j] > 0.5 else "black"
                ax.text(j, i, str(count), ha="center", va="center", color=colour, fontsize=fontsize)
    names = [_short(label) for label in labels]
    ax.set_xticks(
        range(n),
        names,
        rotation=45 if n <= 12 else 90,
        ha="right" if n <= 12 else "center",
        rotation_mode="anchor" if n <= 12 else "default",
        fontsize=fontsize,
    )
    ax.set_yticks(range(n), names, fontsize=fontsize)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix ({int(matrix.sum())} images)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _installed_fonts(candidates: Sequence[str]) -> list[str]:
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return [name for name in candidates if name in installed]
