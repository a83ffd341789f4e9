"""The torchvision detectors' training loop: a short explicit loop over letterboxed, jittered pictures.

Modes: `linear-probe` (head only: the pretrained body frozen, the feature pyramid and head train), `fine-tune`
(the body's two upper stages train too, at a tenth of the learning rate, every BatchNorm of the body keeps its
ImageNet statistics), `full` / `scratch` (everything trains). AdamW with a warmup and a cosine decay; every
epoch ends with checkpoints/last.pt, so a killed run resumes where it stopped and sees the same batches; the
epoch with the best validation mAP50-95 is checkpoints/best.pt, the detection checkpoint
(engine.tasks.object_detection.detector).
"""

from __future__ import annotations

import math
import time
from typing import Any

from engine.training.common import Context, seed_everything

BODY_LR_SCALE = 0.1  # fine-tune: the pretrained stages learn this much slower than the new layers
GRAD_CLIP = 10.0
# Validation every epoch for up to this many pictures; for more, about VAL_TIMES evaluations a run (and the last).
VAL_EVERY_EPOCH_UP_TO = 60
VAL_TIMES = 15


def lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warmup to `peak`, then a cosine decay to 1 % of it."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def trainable_groups(net, mode: str, lr: float) -> tuple[list[dict[str, Any]], list[Any]]:
    """AdamW parameter groups for `mode` and the BatchNorm layers that stay in eval mode (frozen statistics)."""
    from torch import nn

    body = net.body()
    body_ids = {id(p) for p in body.parameters()}
    new = [p for p in net.parameters() if id(p) not in body_ids]
    if mode in ("full", "scratch"):
        groups = [{"params": new, "scale": 1.0}, {"params": list(body.parameters()), "scale": 1.0}]
        frozen_bn: list[nn.Module] = []
    else:
        upper = [p for stage in body.stages[1:] for p in stage.parameters()] if mode == "fine-tune" else []
        groups = [{"params": new, "scale": 1.0}] + ([{"params": upper, "scale": BODY_LR_SCALE}] if upper else [])
        frozen_bn = [m for m in body.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    trainable = {id(p) for g in groups for p in g["params"]}
    for p in net.parameters():
        p.requires_grad = id(p) in trainable
    for g in groups:
        g["lr"] = lr * g["scale"]
    return groups, frozen_bn


def detection_checkpoint(ctx: Context, net, recipe: dict[str, Any], *, pretrained: bool, source: str,
                         epoch: int, **extra) -> dict[str, Any]:
    """The detection checkpoint dict (what detector.from_checkpoint reads)."""
    r = ctx.resolved
    return {"task": "object-detection", "model": r.model, "family": r.family, "labels": list(ctx.labels),
            "image_size": int(r.image_size), "recipe": recipe,
            "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
            "pretrained": pretrained, "weights_source": source, "dataset": ctx.manifest["id"],
            "fingerprint": ctx.manifest["fingerprint"], "epoch": int(epoch), "conf": float(r.conf),
            "iou": float(r.iou), "max_det": int(r.max_det), **extra}


def validate(ctx: Context, net, epoch: int) -> float:
    """Validation mAP of the network as it is now (through the same Detector as final scoring); its score."""
    from engine.tasks.object_detection.detector import Detector
    from engine.tasks.object_detection.metrics import evaluate_items, selection_score

    r = ctx.resolved
    net.eval()
    detector = Detector(net, list(ctx.labels), int(r.image_size), conf=float(r.conf), iou=float(r.iou),
                        max_det=int(r.max_det), device=ctx.device)
    metrics, _ = evaluate_items(detector, ctx.splits["val"].items, ctx.dataset_dir)
    values = {"map50": metrics["map50"], "map50_95": metrics["map50_95"]}
    ctx.events.emit("metrics", epoch=epoch, split="val", values=values)
    return selection_score(values)


def train(ctx: Context, mode: str) -> dict[str, Any]:
    """Train the run's torchvision detector in `mode`; {"epochs_run", "best_epoch", "params", "pretrained",
    "weights_source"}. checkpoints/best.pt is the detection checkpoint of the best epoch."""
    import torch
    from torch.utils.data import DataLoader

    from engine.checkpoint import load_checkpoint, save_checkpoint
    from engine.models.tvdet_family.data import BoxDataset, collate
    from engine.models.tvdet_family.network import build_detector

    r = ctx.resolved
    seed_everything(r.seed)
    pretrained = bool(r.pretrained) and mode != "scratch"
    net, recipe, source = build_detector(r.model, len(ctx.labels), int(r.image_size), pretrained=pretrained,
                                         weights=ctx.cfg.weights, cache_dir=ctx.cache_root / "weights")
    pretrained = pretrained or ctx.cfg.weights is not None
    ctx.info(f"Model {r.model}: {source}.")
    groups, frozen_bn = trainable_groups(net, mode, float(r.lr))
    opt = torch.optim.AdamW(groups, lr=float(r.lr), weight_decay=float(r.weight_decay))

    ckpt_dir = ctx.run_dir / "checkpoints"
    last_path = ckpt_dir / "last.pt"
    state: dict[str, Any] = {"epoch": 0, "best_score": -math.inf, "best_epoch": 0, "elapsed": 0.0}
    if last_path.exists() or last_path.with_suffix(".pt.prev").exists():
        resume = load_checkpoint(last_path, warn=ctx.warn)
        net.load_state_dict(resume["state_dict"])
        opt.load_state_dict(resume["optimizer"])
        state.update(resume["train_state"])
        ctx.info(f"Resuming from the end of epoch {state['epoch']} of {r.epochs}.")
        ctx.events.emit("resumed", epoch=state["epoch"], elapsed_s=state["elapsed"])

    device = ctx.device
    net.to(device)
    train_items = ctx.splits["train"].items
    data = BoxDataset(train_items, ctx.dataset_dir, list(ctx.labels), int(r.image_size), preset=r.augment,
                      hflip=bool(r.hflip), seed=int(r.seed))
    batch_size = max(1, min(int(r.batch_size), len(data)))
    drop_last = len(data) > batch_size and len(data) % batch_size == 1  # no lonely last picture
    shuffle_gen = torch.Generator()
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, num_workers=int(r.num_workers),
                        collate_fn=collate, drop_last=drop_last, generator=shuffle_gen,
                        persistent_workers=False)
    epochs = int(r.epochs)
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * epochs
    warmup = min(int(round(float(r.warmup_epochs) * steps_per_epoch)), max(0, total_steps - 1))
    use_amp = device == "cuda" and bool(r.amp)
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    has_val = bool(ctx.splits["val"].items)
    val_every = 1 if len(ctx.splits["val"].items) <= VAL_EVERY_EPOCH_UP_TO else max(1, epochs // VAL_TIMES)
    budget_s = float(r.budget_minutes) * 60 if r.budget_minutes else None
    attempt_start = time.monotonic()
    first_step = state["epoch"] * steps_per_epoch
    stop_reason = None
    params = sum(p.numel() for p in net.parameters())
    lr = float(r.lr)

    for epoch in range(state["epoch"] + 1, epochs + 1):
        net.train()
        for m in frozen_bn:
            m.eval()
        # Seeded per epoch, so a resumed run sees the same batches and jitter as an uninterrupted one.
        shuffle_gen.manual_seed(int(r.seed) + epoch)
        seed_everything(int(r.seed) + epoch)
        data.epoch = epoch
        running, seen = 0.0, 0
        epoch_start = time.monotonic()
        for i, (x, targets) in enumerate(loader):
            step = (epoch - 1) * steps_per_epoch + i
            lr = lr_at(step, total_steps, warmup, float(r.lr))
            for g in opt.param_groups:
                g["lr"] = lr * g.get("scale", 1.0)
            x = x.to(device, non_blocking=True)
            targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
            with torch.autocast(device_type="cuda", dtype=amp_dtype, enabled=use_amp):
                losses = net.losses(x, targets)
                loss = sum(losses.values())
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], GRAD_CLIP)
            scaler.step(opt)
            scaler.update()
            running += float(loss.detach()) * len(targets)
            seen += len(targets)
            ctx.progress("train", step + 1, total_steps, epoch=epoch, phase_started=attempt_start,
                         step_offset=first_step)
        ctx.events.emit("metrics", epoch=epoch, split="train",
                        values={"loss": round(running / max(1, seen), 5), "lr": lr})
        state["epoch"] = epoch
        state["elapsed"] += time.monotonic() - epoch_start
        # Without validation pictures the last epoch (the end of the cosine schedule) is the one kept.
        score = float(epoch)
        over_budget = budget_s is not None and time.monotonic() - attempt_start > budget_s
        evaluated = not has_val or epoch % val_every == 0 or epoch == epochs or over_budget
        if has_val and evaluated:
            score = validate(ctx, net, epoch)
        if evaluated and score > state["best_score"] + 1e-9:
            state.update(best_score=score, best_epoch=epoch)
            save_checkpoint(ckpt_dir / "best.pt", detection_checkpoint(ctx, net, recipe, pretrained=pretrained,
                                                                       source=source, epoch=epoch),
                            keep_previous=False)
        save_checkpoint(last_path, detection_checkpoint(ctx, net, recipe, pretrained=pretrained, source=source,
                                                        epoch=epoch, optimizer=opt.state_dict(),
                                                        train_state=dict(state)))
        ctx.events.emit("epoch_end", epoch=epoch, epochs=epochs, elapsed_s=state["elapsed"])
        if has_val and r.patience and epoch - state["best_epoch"] >= int(r.patience):
            stop_reason = f"no validation gain for {epoch - state['best_epoch']} epochs; stopped early at epoch {epoch}"
            break
        if over_budget:
            stop_reason = f"the time budget of {r.budget_minutes:g} minutes is used up; stopped at epoch {epoch}"
            break
    if stop_reason:
        ctx.info(stop_reason[0].upper() + stop_reason[1:] + ".")
    result = {"epochs_run": state["epoch"], "best_epoch": state["best_epoch"], "params": params,
              "pretrained": pretrained, "weights_source": source}
    if stop_reason:
        result["stopped"] = stop_reason
    return result
