"""The timm family's training loop for fine-tune, full and scratch: a short explicit loop a reader can follow.

Layer groups train from the head down with decaying learning rates (LP-FT: the head starts as a linear probe);
every epoch ends with a checkpoint, so a killed run resumes where it stopped and sees the same batches.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from engine.fsutil import atomic_write_json
from engine.training.common import (
    Context,
    balanced,
    build_model,
    checkpoint_payload,
    embeddings,
    loader_settings,
    schedule,
    score_final,
    seed_everything,
)
from engine.training.linear_probe import maybe_cv


def _lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def finetune(ctx: Context, mode: str) -> dict[str, Any]:
    """Train the timm network in `mode` (fine-tune, full, scratch): LP-FT warm start, layer-wise learning rates,
    best-epoch checkpoints, resume from last.pt; the final metrics of the best epoch."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, WeightedRandomSampler

    from engine.augment import build_train_transform
    from engine.checkpoint import load_checkpoint, save_checkpoint
    from engine.data import ImageDataset
    from engine.embed import predict_probs

    cfg = ctx.cfg
    heads = ctx.task.part("heads")
    views = ctx.task.part("metrics")
    d = schedule(ctx)
    epochs, peak_lr, wait = d["epochs"], d["lr"], d["patience"]
    built = build_model(ctx, pretrained=mode != "scratch")
    model = built.model
    ckpt_dir = ctx.run_dir / "checkpoints"
    last_path = ckpt_dir / "last.pt"
    state: dict[str, Any] = {"epoch": 0, "best_score": -math.inf, "best_epoch": 0, "bad_epochs": 0, "elapsed": 0.0}
    resume = None
    if last_path.exists() or last_path.with_suffix(".pt.prev").exists():
        resume = load_checkpoint(last_path, warn=ctx.warn)
        model.load_state_dict(resume["state_dict"])
        state.update(resume["train_state"])
        ctx.info(f"Resuming from the end of epoch {state['epoch']} of {epochs}.")
        ctx.events.emit("resumed", epoch=state["epoch"], elapsed_s=state["elapsed"])
    elif mode in ("fine-tune", "full") and built.pretrained:
        # LP-FT: start from a head fitted on frozen features, so fine-tuning doesn't wreck them.
        X = embeddings(ctx, built, tuple(s for s in ("train", "val") if ctx.splits[s].items))
        W, b, C = heads.fit_linear_head(X["train"], ctx.splits["train"].targets, len(ctx.labels),
                                        balanced=balanced(ctx), seed=cfg.seed)
        heads.set_head(model, W, b)
        ctx.info(f"Head initialised by a linear probe (C={C}); now fine-tuning.")
        # Re-training the whole network k x r times is too slow on a CPU. Features the network was
        # fine-tuned on would flatter any CV, so the spread is measured on the frozen features.
        frozen_cv = maybe_cv(ctx, X, C=C, balanced=balanced(ctx))
        if frozen_cv is not None:
            frozen_cv["what"] = ("linear probe on the frozen pretrained features (the fine-tuned network itself "
                                 "is not cross-validated)")
            atomic_write_json(ctx.run_dir / "artifacts" / "cv_frozen.json", frozen_cv)

    # Which layer groups train, and at what learning rate (layer-wise decay from the head down).
    groups = built.layer_groups
    n_train_groups = max(1, math.ceil(len(groups) * d["trainable_fraction"]))
    trainable = groups[-n_train_groups:]
    for p in model.parameters():
        p.requires_grad = False
    param_groups = []
    for depth, params in enumerate(reversed(trainable)):
        for p in params:
            p.requires_grad = True
        decay = d["layer_decay"] ** depth
        param_groups.append({"params": params, "lr": peak_lr * decay, "scale": decay})
    # Batch statistics of a few dozen images are noise: when fine-tuning a pretrained network, every
    # BatchNorm keeps its ImageNet statistics (its scale and shift still train where unfrozen).
    frozen_bn = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                 and (mode == "fine-tune" or not any(p.requires_grad for p in m.parameters()))]
    opt = torch.optim.AdamW(param_groups, lr=peak_lr, weight_decay=cfg.weight_decay)
    if resume is not None and resume.get("optimizer"):
        opt.load_state_dict(resume["optimizer"])

    device = ctx.device
    model.to(device)
    if device == "cpu":
        model.to(memory_format=torch.channels_last)
    train_set = ImageDataset(ctx.dataset_dir, "train",
                             build_train_transform(cfg.augment.preset, built.preprocess, hflip=cfg.augment.hflip,
                                                   seed=cfg.seed))
    targets = ctx.splits["train"].targets
    counts = np.bincount(targets, minlength=len(ctx.labels)).astype(np.float64)
    weight = None
    sampler = None
    imbalanced = balanced(ctx)
    if imbalanced and cfg.imbalance == "balanced-sampler":
        w = 1.0 / counts[targets]
        sampler = WeightedRandomSampler(torch.as_tensor(w), num_samples=len(targets), replacement=True,
                                        generator=torch.Generator().manual_seed(cfg.seed))
    elif imbalanced:
        weight = torch.as_tensor(heads.class_weights(targets, len(ctx.labels)), dtype=torch.float32).to(device)
    batch, workers = loader_settings(ctx)
    batch_size = min(batch, len(train_set))
    drop_last = len(train_set) > batch_size and len(train_set) % batch_size == 1
    shuffle_gen = torch.Generator()
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=sampler is None, sampler=sampler,
                        num_workers=workers, drop_last=drop_last, generator=shuffle_gen,
                        persistent_workers=bool(workers))
    loss_fn = heads.loss_function(weight, cfg.label_smoothing)
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * epochs
    warmup = int(round(cfg.warmup_epochs * steps_per_epoch)) if mode != "fine-tune" or resume else 0
    warmup = min(warmup, max(0, total_steps - 1))
    use_amp = device == "cuda" and cfg.amp
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    val = ctx.splits["val"]
    attempt_start = time.monotonic()
    budget_s = cfg.budget_minutes * 60 if cfg.budget_minutes else None
    stop_reason = None
    first_step = state["epoch"] * steps_per_epoch

    def val_score(epoch: int) -> float:
        """Macro-F1 on validation (loss breaks the frequent ties of a tiny set); events carry the numbers."""
        p = predict_probs(model, val.files, built.preprocess, len(ctx.labels), device=device, use_onnx=False)
        vm = views.compute_metrics(val.targets, p, ctx.labels, top_k=cfg.eval.top_k)
        val_loss = float(-np.log(np.clip(p[np.arange(len(val.targets)), val.targets], 1e-7, 1)).mean())
        values = {"loss": round(val_loss, 5), "accuracy": vm["accuracy"], "macro_f1": vm["macro_f1"]}
        ctx.events.emit("metrics", epoch=epoch, split="val", values=values)
        return views.selection_score({**values, "loss": val_loss})  # the unrounded loss, as always

    if resume is None and val.items and mode == "fine-tune" and built.pretrained:
        # The linear-probe start is a candidate too: fine-tuning is kept only where it beats it.
        state.update(best_score=val_score(0), best_epoch=0)
        save_checkpoint(ckpt_dir / "best.pt", checkpoint_payload(ctx, built, mode=mode, epoch=0), keep_previous=False)

    for epoch in range(state["epoch"] + 1, epochs + 1):
        model.train()
        for m in frozen_bn:
            m.eval()
        # Seeded per epoch, so a resumed run sees the same batches as an uninterrupted one.
        shuffle_gen.manual_seed(cfg.seed + epoch)
        seed_everything(cfg.seed + epoch)
        running, seen = 0.0, 0
        epoch_start = time.monotonic()
        for i, (x, y) in enumerate(loader):
            step = (epoch - 1) * steps_per_epoch + i
            lr = _lr_at(step, total_steps, warmup, peak_lr)
            for g in opt.param_groups:
                g["lr"] = lr * g.get("scale", 1.0)
            x = x.to(device, non_blocking=True)
            if device == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)
            y = y.to(device, non_blocking=True)
            with torch.autocast(device_type="cuda", dtype=amp_dtype, enabled=use_amp):
                loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            running += float(loss.detach()) * len(y)
            seen += len(y)
            ctx.progress("train", step + 1, total_steps, epoch=epoch, phase_started=attempt_start,
                         step_offset=first_step)
        train_loss = running / max(1, seen)
        values: dict[str, float] = {"loss": round(train_loss, 5), "lr": lr}
        ctx.events.emit("metrics", epoch=epoch, split="train", values=values)
        # Without validation images the last epoch (end of the cosine schedule) is the one kept.
        score = float(epoch)
        if val.items:
            score = val_score(epoch)
        state["epoch"] = epoch
        state["elapsed"] = state["elapsed"] + (time.monotonic() - epoch_start)
        improved = score > state["best_score"] + 1e-9
        if improved:
            state.update(best_score=score, best_epoch=epoch, bad_epochs=0)
            save_checkpoint(ckpt_dir / "best.pt", checkpoint_payload(ctx, built, mode=mode, epoch=epoch),
                            keep_previous=False)
        else:
            state["bad_epochs"] += 1
        save_checkpoint(last_path, checkpoint_payload(ctx, built, mode=mode, epoch=epoch,
                                                       optimizer=opt.state_dict(), train_state=dict(state)))
        ctx.events.emit("epoch_end", epoch=epoch, epochs=epochs, elapsed_s=state["elapsed"])
        if wait and val.items and state["bad_epochs"] >= wait:
            stop_reason = f"no validation gain for {state['bad_epochs']} epochs; stopped early at epoch {epoch}"
            break
        if budget_s is not None and time.monotonic() - attempt_start > budget_s:
            stop_reason = f"the time budget of {cfg.budget_minutes:g} minutes is used up; stopped at epoch {epoch}"
            break
    if stop_reason:
        ctx.info(stop_reason[0].upper() + stop_reason[1:] + ".")

    best = load_checkpoint(ckpt_dir / "best.pt", warn=ctx.warn)
    model.load_state_dict(best["state_dict"])
    result = score_final(ctx, built, epochs_run=state["epoch"], best_epoch=state["best_epoch"])
    if stop_reason:
        result["stopped"] = stop_reason
    cv_file = ctx.run_dir / "artifacts" / "cv_frozen.json"
    if cv_file.exists():
        from engine.fsutil import read_json

        result["cv"] = read_json(cv_file)
    return result
