"""The linear probe: a frozen backbone, its embeddings cached once, and the task's head fitted on them.

Seconds on a CPU and the right start for a handful of images per class; the fine-tune loop reuses its head
(LP-FT) and its cross-validation of the frozen features.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.training.common import (
    Context,
    balanced,
    build_model,
    checkpoint_payload,
    embeddings,
    final_metrics,
)


def linear_probe(ctx: Context) -> dict[str, Any]:
    """Fit the head on frozen pretrained features; checkpoints, final metrics and (for tiny sets) CV."""
    from engine.checkpoint import save_checkpoint

    heads = ctx.task.part("heads")
    built = build_model(ctx, pretrained=True)
    present = tuple(s for s in ("train", "val", "test") if ctx.splits[s].items)
    X = embeddings(ctx, built, present)
    y = ctx.splits["train"].targets
    weighted = balanced(ctx)
    smallest = int(np.bincount(y, minlength=len(ctx.labels)).min())
    if smallest < heads.PROTOTYPE_BELOW:
        W, b = heads.fit_prototype_head(X["train"], y, len(ctx.labels))
        C = None
        ctx.info(f"Only {smallest} image(s) in the smallest class: the head is the mean of each class's "
                 "features (nearest class mean), which is more reliable than fitting a regression.")
    else:
        W, b, C = heads.fit_linear_head(X["train"], y, len(ctx.labels), balanced=weighted, seed=ctx.cfg.seed)
        ctx.info(f"Linear head fitted on {len(y)} images (C={C}{', balanced class weights' if weighted else ''}).")
    heads.set_head(built.model, W, b)
    ckpt_dir = ctx.run_dir / "checkpoints"
    payload = checkpoint_payload(ctx, built, mode="linear-probe", epoch=1, head={"C": C, "balanced": weighted})
    save_checkpoint(ckpt_dir / "best.pt", payload, keep_previous=False)
    save_checkpoint(ckpt_dir / "last.pt", payload, keep_previous=False)
    probs = {s: heads.head_probs(X[s], W, b) for s in present if s != "train"}
    result = final_metrics(ctx, probs, params=sum(p.numel() for p in built.model.parameters()),
                           built=built, epochs_run=1, best_epoch=1)
    cv = maybe_cv(ctx, X, C=C if C is not None else 0.01, balanced=weighted)
    if cv is not None:
        result["cv"] = cv
    return result


def maybe_cv(ctx: Context, X: dict[str, np.ndarray], *, C: float, balanced: bool) -> dict | None:
    """Repeated stratified CV of the linear head over train+val, when validation is too small to trust."""
    from engine.evaluate import cross_validate

    heads = ctx.task.part("heads")
    ev = ctx.cfg.eval
    if not ctx.resolved.cv:
        return None
    parts = [s for s in ("train", "val") if s in X and len(X[s])]
    Xs = np.concatenate([X[s] for s in parts])
    ys = np.concatenate([ctx.splits[s].targets for s in parts])
    n_classes = len(ctx.labels)

    def fit_predict(Xa, ya, Xb):
        W, b, _ = heads.fit_linear_head(Xa, ya, n_classes, balanced=balanced, seed=ctx.cfg.seed, C=C)
        return heads.head_probs(Xb, W, b)

    cv = cross_validate(Xs, ys, fit_predict, folds=ev.cv_folds, repeats=ev.cv_repeats, seed=ctx.cfg.seed)
    cv["what"] = "linear head on frozen features, train+val pooled"
    if "accuracy" in cv:
        ctx.info(f"Cross-validation ({cv['folds']}-fold x {cv['repeats']}): accuracy "
                 f"{cv['accuracy']['mean']:.3f} ± {cv['accuracy']['std']:.3f}.")
    return cv
