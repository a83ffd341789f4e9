"""A text run: choose the encoder, embed the texts once (cached), fit a logistic-regression head, score it.

The head is written as plain arrays (checkpoints/head.npz, text_model.json), read back by textmodel.TextModel,
the same class predict, explain and the exported predict.py use, so every score here is what they will see.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError
from engine.fsutil import atomic_write_json
from engine.tasks.text_classification.checks import MAX_CHARS
from engine.tasks.text_classification.textmodel import (
    HEAD_FILE,
    MODEL_FILE,
    NGRAMS_FILE,
    TextModel,
    char_ngrams,
)
from engine.training.common import Context

MODEL_DIR = "checkpoints"  # the run's text_model.json, head.npz (and ngrams.json) live here
MAX_NGRAMS = 30000  # the TF-IDF vocabulary keeps the n-grams found in most training texts


def pick_encoder(ctx: Context) -> tuple[str, str]:
    """(encoder name, why) of the run's model setting: `text-auto` chooses by the languages and the platform."""
    from engine.models import get_spec
    from engine.models.text_family import AUTO, choose_encoder, runs_here

    spec = get_spec(ctx.cfg.model)
    if "text-classification" not in spec.tasks:
        raise UserError(f"{spec.name} is not a text model; choose one of the text-classification models "
                        "(`python -m engine models`).")
    if spec.name == AUTO:
        return choose_encoder(ctx.manifest.get("languages") or {})
    if not runs_here(spec.name):
        raise UserError(f"The encoder {spec.name} is not installed on this computer or does not run on it; choose "
                        "text-auto, use-multilingual or tfidf-char.")
    return spec.name, "chosen in the settings"


def fit_tfidf(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """(n-grams, idf) of the training texts: the MAX_NGRAMS n-grams in most texts, smooth idf."""
    df: dict[str, int] = {}
    for t in texts:
        for g in char_ngrams(t[:MAX_CHARS]):
            df[g] = df.get(g, 0) + 1
    ngrams = sorted(df, key=lambda g: (-df[g], g))[:MAX_NGRAMS]
    n = len(texts)
    idf = np.array([np.log((1 + n) / (1 + df[g])) + 1.0 for g in ngrams])
    return ngrams, idf


def cached_features(model: TextModel, texts: list[str], key: str, cache_dir: Path, ctx: Context,
                    split: str) -> np.ndarray:
    """The encoder's features of `texts`, from the embedding cache when this encoder has seen them."""
    path = cache_dir / f"text-{key}-{hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:20]}.npy"
    if key != "tfidf-char" and path.is_file():
        return np.load(path)
    t0 = time.monotonic()
    parts = []
    step = 64
    for i in range(0, len(texts), step):
        parts.append(model.features(texts[i:i + step]))
        ctx.progress(f"embed-{split}", min(i + step, len(texts)), len(texts), phase_started=t0)
    feats = np.concatenate(parts) if parts else np.zeros((0, model.W.shape[1]))
    if texts and key != "tfidf-char":
        rate = len(texts) / max(1e-6, time.monotonic() - t0)
        ctx.info(f"Embedded {len(texts)} {split} texts with {key} at {rate:.0f} texts/s.")
        np.save(path, feats)
    return feats


def fit_head(x: np.ndarray, y: np.ndarray, n_classes: int, c: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(W [C, D], b [C]) of a multinomial logistic regression; classes absent from `y` get a very low score."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    clf.fit(x, y)
    W = np.zeros((n_classes, x.shape[1]))
    b = np.full(n_classes, -30.0)
    if len(clf.classes_) == 2:  # sklearn keeps one row for two classes: softmax of ±z/2 is its sigmoid
        (lo, hi), z, z0 = clf.classes_, clf.coef_[0], clf.intercept_[0]
        W[lo], W[hi], b[lo], b[hi] = -z / 2, z / 2, -z0 / 2, z0 / 2
    else:
        W[clf.classes_], b[clf.classes_] = clf.coef_, clf.intercept_
    return W, b


def train(ctx: Context) -> dict[str, Any]:
    """Train and score a text run; metrics.json's dict."""
    from engine.tasks.image_classification.metrics import report_split

    cfg, labels = ctx.cfg, ctx.labels
    counts = ctx.task.part("dataset").class_counts(ctx.splits["train"], labels)
    empty = [lab for lab, n in counts.items() if n == 0]
    if empty:
        raise UserError(f"Class(es) {', '.join(empty)} have no training texts; add texts or remove the class.")
    encoder, why = pick_encoder(ctx)
    mode, mode_reason = "linear-probe", f"{encoder}: {why}; a frozen encoder with a linear head"
    if cfg.mode not in ("auto", "linear-probe"):
        mode_reason += f" (mode {cfg.mode} is not available for texts yet)"
    resolved = {"model": cfg.model, "encoder": encoder, "mode": mode, "head_c": cfg.head_c, "max_chars": MAX_CHARS,
                "seed": cfg.seed}
    atomic_write_json(ctx.run_dir / "resolved.json", resolved)
    ctx.events.emit("start", task=cfg.task, model=cfg.model, mode=mode, mode_reason=mode_reason,
                    mode_reason_code="text_linear_probe", mode_reason_params={"encoder": encoder},
                    device="cpu", labels=labels, n_train=len(ctx.splits["train"].items),
                    n_val=len(ctx.splits["val"].items), n_test=len(ctx.splits["test"].items),
                    dataset=ctx.manifest["id"], resumed=False, resolved=resolved)
    ctx.info(f"Mode: {mode} — {mode_reason}.")
    out = ctx.run_dir / MODEL_DIR
    out.mkdir(exist_ok=True)
    train_texts = list(ctx.splits["train"].files)
    info = {"encoder": encoder, "labels": labels, "max_chars": MAX_CHARS, "model": cfg.model}
    t_load = time.monotonic()
    if encoder == "tfidf-char":
        ngrams, idf = fit_tfidf(train_texts)
        (out / NGRAMS_FILE).write_text(json.dumps(ngrams, ensure_ascii=False), encoding="utf-8")
        np.savez(out / HEAD_FILE, W=np.zeros((len(labels), len(ngrams))), b=np.zeros(len(labels)), idf=idf)
    else:
        np.savez(out / HEAD_FILE, W=np.zeros((len(labels), 1)), b=np.zeros(len(labels)))
    atomic_write_json(out / MODEL_FILE, info)
    model = TextModel(out)
    load_s = time.monotonic() - t_load
    t_embed = time.monotonic()
    feats = {s: cached_features(model, list(ctx.splits[s].files), encoder, ctx.cache_root / "embeddings", ctx, s)
             for s in ("train", "val", "test")}
    embed_s = time.monotonic() - t_embed
    W, b = fit_head(feats["train"], ctx.splits["train"].targets, len(labels), cfg.head_c, cfg.seed)
    extra = {"idf": np.load(out / HEAD_FILE)["idf"]} if encoder == "tfidf-char" else {}
    np.savez(out / HEAD_FILE, W=W, b=b, **extra)
    model.W, model.b = W, b
    ctx.events.emit("epoch_end", epoch=1, epochs=1, elapsed_s=round(time.monotonic() - ctx.started, 2))
    result: dict[str, Any] = {}
    for split in ("val", "test"):
        if len(ctx.splits[split].items):
            result[split] = report_split(ctx, split, model.scores(feats[split]))
    n_embedded = sum(len(f) for f in feats.values())
    result.update({"mode": mode, "mode_reason": mode_reason, "mode_reason_code": "text_linear_probe",
                   "mode_reason_params": {"encoder": encoder}, "model": cfg.model, "encoder": encoder,
                   "device": "cpu", "epochs_run": 1, "best_epoch": 1, "pretrained": encoder != "tfidf-char",
                   "encoder_load_seconds": round(load_s, 2), "embed_seconds": round(embed_s, 2),
                   "texts_per_second": round(n_embedded / embed_s, 1) if embed_s > 0 else None,
                   "dataset": {"id": ctx.manifest["id"], "fingerprint": ctx.manifest["fingerprint"],
                               **{f"n_{s}": len(ctx.splits[s].items) for s in ("train", "val", "test")}}})
    return result


def load_run_model(run_dir: str | Path):
    """The run's TextModel (its encoder loaded); UserError when the run has not finished."""
    folder = Path(run_dir) / MODEL_DIR
    if not (folder / MODEL_FILE).is_file() or not (Path(run_dir) / "metrics.json").is_file():
        raise UserError(f"{run_dir} has no trained text classifier yet; train it first "
                        f"(python -m engine train {run_dir}).")
    return TextModel(folder)
