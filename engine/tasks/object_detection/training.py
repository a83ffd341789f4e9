"""A detection run: check the boxes, resolve the settings, hand the run to its family's trainer, score it.

Called by engine.training.orchestration (the task's `train` hook) with the run's Context; the family's
`train(ctx, mode)` writes checkpoints/best.pt (the detection checkpoint, see detector.py), and this module scores
that checkpoint on val and test through the same Detector that predict and the export use.
"""

from __future__ import annotations

import time
from typing import Any

from engine.errors import UserError
from engine.fsutil import atomic_write_json
from engine.tasks.object_detection.dataset import class_counts
from engine.tasks.object_detection.detector import CHECKPOINT, from_checkpoint, load_checkpoint
from engine.tasks.object_detection.metrics import evaluate_items
from engine.training.common import Context, resolve_run

GALLERY_FILE = "gallery_{split}.json"  # in run_dir/artifacts: per picture, the true and the predicted boxes


def train(ctx: Context) -> dict[str, Any]:
    """Train and score a detection run; metrics.json's dict."""
    from engine.models import available_offline, get_family, get_spec

    cfg, labels = ctx.cfg, ctx.labels
    counts = class_counts(ctx.splits["train"], labels)
    if sum(counts.values()) == 0:
        raise UserError("The training pictures have no boxes: draw boxes around the objects in the Data tab, or "
                        "bring label files (YOLO, COCO or Pascal VOC) with the pictures.")
    spec = get_spec(cfg.model)
    if "object-detection" not in spec.tasks:
        raise UserError(f"{spec.name} is not a detector; choose one of the object-detection models "
                        f"(`python -m engine models`).")
    family = get_family(spec.family)
    pretrained_ok = bool(cfg.weights) or (spec.pretrained_offline and available_offline(
        cfg.model, cache_dir=ctx.cache_root / "weights"))
    ctx.resolved = resolved = resolve_run(ctx, pretrained_available=pretrained_ok)
    resolved.save(ctx.run_dir)
    ckpt_dir = ctx.run_dir / "checkpoints"
    resumed = any(p.exists() for p in (ckpt_dir / "last.pt", *family.resume_files(ctx.run_dir)))
    ctx.events.emit("start", task=cfg.task, model=cfg.model, mode=resolved.mode, mode_reason=resolved.mode_reason,
                    mode_reason_code=resolved.mode_reason_code, mode_reason_params=resolved.mode_reason_params,
                    device=ctx.device, labels=labels, n_train=len(ctx.splits["train"].items),
                    n_val=len(ctx.splits["val"].items), n_test=len(ctx.splits["test"].items),
                    dataset=ctx.manifest["id"], resumed=resumed, resolved=resolved.as_dict())
    ctx.info(f"Mode: {resolved.mode} — {resolved.mode_reason}.")
    ctx.info("Boxes per class in training: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ".")
    out = family.train(ctx, resolved.mode)
    result = score(ctx)
    result.update({k: out.get(k) for k in ("epochs_run", "best_epoch", "params", "pretrained", "weights_source")})
    result.update({"mode": resolved.mode, "mode_reason": resolved.mode_reason,
                   "mode_reason_code": resolved.mode_reason_code, "mode_reason_params": resolved.mode_reason_params,
                   "model": cfg.model, "device": ctx.device, "input_size": resolved.image_size,
                   "conf": resolved.conf, "iou": resolved.iou})
    return result


def score(ctx: Context) -> dict[str, Any]:
    """The best checkpoint's metrics on val and test, the galleries written to artifacts/."""
    detector = from_checkpoint(load_checkpoint(ctx.run_dir / CHECKPOINT), device=ctx.device)
    art = ctx.run_dir / "artifacts"
    art.mkdir(exist_ok=True)
    result: dict[str, Any] = {}
    t0 = time.monotonic()
    for split in ("val", "test"):
        items = ctx.splits[split].items
        if not items:
            continue
        metrics, pictures = evaluate_items(
            detector, items, ctx.dataset_dir,
            progress=lambda a, b, s=split: ctx.progress(f"evaluate-{s}", a, b, phase_started=t0))
        result[split] = metrics
        name = GALLERY_FILE.format(split=split)
        atomic_write_json(art / name, pictures)
        ctx.events.emit("metrics", epoch=None, split=split, final=True,
                        values={k: metrics[k] for k in ("map50", "map50_95", "precision", "recall")})
        ctx.events.emit("artifact", kind="gallery", path=f"artifacts/{name}", split=split, count=len(pictures))
    result["dataset"] = {"id": ctx.manifest["id"], "fingerprint": ctx.manifest["fingerprint"],
                         **{f"n_{s}": len(ctx.splits[s].items) for s in ("train", "val", "test")}}
    return result
