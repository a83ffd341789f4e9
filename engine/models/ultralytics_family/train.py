"""Training of the Ultralytics family: Ultralytics' own trainer, driven by our RunConfig, reporting through our events.

Everything Ultralytics writes lives in `run_dir/ultralytics/`: `data/` (the train/val folder layout it reads,
hard links to the imported dataset's images, and its `.cache` files) and `train/` (its args.yaml, results.csv
and weights/{last,best}.pt). When it is done, its best weights become our `checkpoints/best.pt` and the final
metrics are computed by `engine.training.score_final` on our own split files, exactly as for a timm run.

Validation: Ultralytics needs validation images and, without a `val` folder, silently validates on `test`.
So the layout never holds the test split, and when the dataset has no validation images a small stratified
share of the training images (15 %, at least one per class with three or more images) is held out for it;
those images are then not trained on. Only when no class has enough images to spare does validation reuse
training images; the run says so, and the last epoch is kept instead of the "best" one.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from engine.errors import WeightsUnavailable
from engine.events import elapsed_before, read_events
from engine.fsutil import atomic_write, atomic_write_text
from engine.models.ultralytics_family import ULTRA_DIR
from engine.models.ultralytics_family.layout import carve_validation, write_layout
from engine.training import Context, checkpoint_payload, loader_settings, resolve_run, schedule, score_final

GOOD_COPY_EVERY_S = 30.0
# Our augmentation presets in Ultralytics' classification terms. Its training transform always starts with a
# RandomResizedCrop (area from 1 - scale to 1); colour jitter is its HSV triple (brightness = hsv_v,
# saturation = hsv_s, hue = hsv_h), applied only when auto_augment is off.
AUGMENT_ARGS: dict[str, dict[str, Any]] = {
    "none": {"scale": 0.0, "hsv_h": 0.0, "hsv_s": 0.0, "hsv_v": 0.0, "erasing": 0.0, "auto_augment": None},
    "light": {"scale": 0.25, "hsv_h": 0.0, "hsv_s": 0.0, "hsv_v": 0.1, "erasing": 0.0, "auto_augment": None},
    "medium": {"scale": 0.5, "hsv_h": 0.02, "hsv_s": 0.2, "hsv_v": 0.2, "erasing": 0.0, "auto_augment": None},
    "strong": {"scale": 0.65, "hsv_h": 0.04, "hsv_s": 0.3, "hsv_v": 0.3, "erasing": 0.3,
               "auto_augment": "randaugment"},
}
AUGMENT_NOTES = {
    "none": "Ultralytics always crops at a random aspect ratio (3:4 to 4:3) of the whole picture when training",
    "light": "brightness ±10 % is mapped; contrast has no Ultralytics equivalent",
    "medium": "rotation, shift and zoom have no Ultralytics equivalent without auto_augment",
    "strong": "RandAugment stands for rotation, shear, perspective, grey and blur; Ultralytics then skips its "
              "colour jitter",
}
# Fine-tuning trains the upper half of the network: Ultralytics freezes the first layers by index.
FINE_TUNE_TRAINABLE = 0.5


# --- RunConfig -> Ultralytics arguments ---------------------------------------------------------

def ultralytics_args(ctx: Context, mode: str, *, epochs: int, lr: float, layout: Path, n_layers: int,
                     patience: int) -> dict:
    """The Ultralytics training arguments our RunConfig maps onto (what is not mapped is listed in the record)."""
    cfg = ctx.cfg
    aug = dict(AUGMENT_ARGS[cfg.augment.preset])
    batch, workers = loader_settings(ctx)
    batch = max(1, min(batch, len(ctx.splits["train"].items)))
    args = {
        "model": f"{cfg.model}.yaml", "data": str(layout), "task": "classify", "epochs": epochs, "batch": batch,
        # Gradients are not accumulated up to Ultralytics' nominal batch of 64: a few dozen images would
        # then get one optimizer step an epoch.
        "nbs": batch,
        "imgsz": int(ctx.resolved.image_size), "optimizer": "AdamW", "lr0": lr, "lrf": 0.01, "cos_lr": True,
        "weight_decay": cfg.weight_decay, "warmup_epochs": cfg.warmup_epochs, "seed": cfg.seed,
        "deterministic": True, "device": "0" if ctx.device == "cuda" else "cpu", "workers": workers,
        "patience": patience, "amp": bool(ctx.device == "cuda" and cfg.amp),
        "fliplr": 0.5 if cfg.augment.hflip and cfg.augment.preset != "none" else 0.0, "flipud": 0.0, **aug,
        "dropout": 0.0, "pretrained": False, "cache": False, "plots": False, "val": True, "verbose": False,
        "exist_ok": True, "project": str(ctx.run_dir / ULTRA_DIR), "name": "train", "save_period": -1,
        "freeze": int(math.floor(n_layers * (1 - FINE_TUNE_TRAINABLE))) if mode == "fine-tune" else None,
    }
    return args


# --- the run --------------------------------------------------------------------------------------

def _trainer_class():
    from ultralytics.models.yolo.classify import ClassificationTrainer

    class KonstruktorTrainer(ClassificationTrainer):
        """Ultralytics' classification trainer that starts from our model (weights loaded safely by us)."""

        prebuilt = None
        in_final_eval = False

        def get_model(self, cfg=None, weights=None, verbose=True):
            if self.prebuilt is not None and not self.resume:
                for p in self.prebuilt.parameters():
                    p.requires_grad = True
                return self.prebuilt
            return super().get_model(cfg=cfg, weights=weights, verbose=False)

        def final_eval(self):
            self.in_final_eval = True
            super().final_eval()

    return KonstruktorTrainer


def offline_amp_check(model) -> bool:
    """AMP on CUDA without Ultralytics' check, which downloads a detection model to compare outputs."""
    return next(model.parameters()).device.type == "cuda"


def read_ultralytics_ckpt(path: Path) -> dict | None:
    """Ultralytics' own checkpoint through its restricted (weights-only) loader; None when torn or unreadable."""
    import contextlib
    import io

    from ultralytics.nn.tasks import torch_safe_load

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            ckpt, _ = torch_safe_load(str(path), safe_only=True)
    except Exception:
        return None
    return ckpt if isinstance(ckpt, dict) else None


def keep_good_copy(last: Path) -> None:
    """Ultralytics writes last.pt in place without fsync; a synced copy survives a kill mid-write."""
    good = last.with_name("last.good.pt")
    data = last.read_bytes()
    atomic_write(good, lambda f: f.write(data))


def _macro_f1(validator) -> float | None:
    from sklearn.metrics import f1_score

    if not getattr(validator, "pred", None):
        return None
    y = np.concatenate([t.numpy() for t in validator.targets])
    p = np.concatenate([t[:, 0].numpy() for t in validator.pred])
    present = sorted(set(y.tolist()) | set(p.tolist()))
    return round(float(f1_score(y, p, labels=present, average="macro", zero_division=0)), 6)


def resume_point(ctx: Context, last: Path, epochs: int) -> tuple[dict | None, bool, bool]:
    """(Ultralytics' last checkpoint or None, whether that run finished, whether to resume it): a damaged
    last.pt is replaced by its last synced good copy first."""
    ckpt = read_ultralytics_ckpt(last) if last.exists() else None
    good = last.with_name("last.good.pt")
    if last.exists() and ckpt is None and good.exists():
        ctx.warn(f"{last.name} is damaged; resuming from the previous good copy.")
        shutil.copyfile(good, last)
        ckpt = read_ultralytics_ckpt(last)
    # Ultralytics marks a finished run's last.pt with epoch -1; a synced copy of the final epoch counts too.
    finished = ckpt is not None and (int(ckpt.get("epoch", -1)) == -1 or int(ckpt["epoch"]) + 1 >= epochs)
    return ckpt, finished, ckpt is not None and not finished


def train(ctx: Context, mode: str) -> dict[str, Any]:
    """Train a YOLO11 classifier with Ultralytics' trainer; our events, checkpoints and final metrics."""
    from engine.checkpoint import save_checkpoint
    from engine.models import build
    from engine.models.ultralytics_family import prepare_ultralytics
    from engine.models.ultralytics_family.network import read_weights

    cfg = ctx.cfg
    prepare_ultralytics(ctx.cache_root / "ultralytics")
    import ultralytics.engine.trainer as ul_trainer

    ul_trainer.check_amp = offline_amp_check
    root = ctx.run_dir / ULTRA_DIR
    save_dir = root / "train"
    last = save_dir / "weights" / "last.pt"

    try:
        built = build(cfg.model, len(ctx.labels), pretrained=mode != "scratch", weights=cfg.weights,
                      image_size=cfg.image_size, cache_dir=ctx.cache_root / "weights")
    except WeightsUnavailable as e:
        ctx.warn(f"{e} Training {cfg.model} from scratch instead.")
        # The weights that looked available are not: the run is resolved again, as one without them.
        ctx.resolved = resolve_run(ctx, pretrained_available=False, mode=mode)
        built = build(cfg.model, len(ctx.labels), pretrained=False, image_size=cfg.image_size,
                      cache_dir=ctx.cache_root / "weights")
    if not built.pretrained:
        ctx.info(f"{cfg.model} trains from scratch (random initial weights): expect much lower accuracy with little "
                 "data than a pretrained network.")
        if mode == "fine-tune":
            ctx.info("Without pretrained weights there is nothing to keep frozen, so every layer trains.")
            mode = "full"
    else:
        ctx.info(f"Model {built.name}: {built.weights_source}.")
    # A network without pretrained weights gets the scratch schedule (more epochs, a higher learning rate).
    plan = schedule(ctx)
    epochs, lr, wait = plan["epochs"], plan["lr"], plan["patience"]

    ckpt, finished, resume = resume_point(ctx, last, epochs)

    layout = root / "data"
    train_items = ctx.splits["train"].items
    val_items = ctx.splits["val"].items
    val_note = "the dataset's own validation split"
    keep_last = False
    if not val_items:
        train_items, val_items = carve_validation(train_items, ctx.labels, cfg.seed)
        val_note = (f"{len(val_items)} training images held out (stratified) because the dataset has no "
                    "validation images; they are not trained on")
        if not val_items:
            train_items, val_items = ctx.splits["train"].items, ctx.splits["train"].items
            keep_last = True
            val_note = ("training images, because no class has enough images to hold some out; the last epoch "
                        "is kept, not the one that scores best on them")
    if not resume and not finished:
        placed = write_layout(ctx.dataset_dir, layout, ctx.labels, {"train": train_items, "val": val_items})
        ctx.log.info("ultralytics layout: %s", placed)
    ctx.info(f"Ultralytics validates on {val_note}.")

    n_layers = len(built.model.model)
    args = ultralytics_args(ctx, mode, epochs=epochs, lr=lr, layout=layout, n_layers=n_layers, patience=wait)
    if keep_last:
        args["patience"] = 0  # scores on training images say nothing about when to stop
    record = {"ultralytics": ultralytics_version(), "mode": mode, "weights_source": built.weights_source,
              "validation": val_note, "augment_preset": cfg.augment.preset,
              "augment_not_mapped": AUGMENT_NOTES[cfg.augment.preset],
              "not_mapped": ["label_smoothing (Ultralytics classification has none)",
                             "imbalance (no class weights for classification in Ultralytics)",
                             "layer-wise learning-rate decay (fine-tune freezes the lower layers instead)",
                             "frozen BatchNorm statistics (Ultralytics updates them in every layer)"],
              "args": args}
    art = ctx.run_dir / "artifacts"
    art.mkdir(exist_ok=True)
    atomic_write_text(art / "ultralytics_args.yaml", yaml.safe_dump(record, sort_keys=False, allow_unicode=True))
    ctx.events.emit("artifact", kind="ultralytics_args", path=f"artifacts/{ULTRA_DIR}_args.yaml", args=args)

    prior = elapsed_before(read_events(ctx.run_dir)[0])
    attempt_start = time.monotonic()
    trainer = None
    stop: dict[str, str] = {}
    if not finished:
        overrides = dict(args)
        if resume:
            # save_dir too: the checkpoint remembers where the run folder was when it started.
            overrides.update(resume=str(last), model=str(last), save_dir=str(save_dir))
            ctx.info(f"Resuming Ultralytics training after epoch {int(ckpt['epoch']) + 1} of {epochs}.")
            ctx.events.emit("resumed", epoch=int(ckpt["epoch"]) + 1, elapsed_s=prior)
        trainer = _trainer_class()(overrides=overrides)
        if not resume:
            trainer.prebuilt = built.model.to_ultralytics()
        stop = attach_callbacks(trainer, ctx, prior, attempt_start,
                                budget_s=cfg.budget_minutes * 60 if cfg.budget_minutes else None,
                                epoch_values=classification_epoch_values)
        trainer.train()
        names = list(trainer.data["names"].values())
        if names != list(ctx.labels):
            raise RuntimeError(f"Ultralytics' class order {names} differs from ours {ctx.labels}")

    best_file = save_dir / "weights" / "best.pt"
    if keep_last or not best_file.exists():
        best_file = last
    last_sd = read_weights(last)
    best_sd = read_weights(best_file)
    epochs_run = int(trainer.epoch + 1) if trainer is not None else epochs
    best_epoch = epochs_run if keep_last or trainer is None else int(trainer.stopper.best_epoch or epochs_run)
    ckpt_dir = ctx.run_dir / "checkpoints"
    built.model.load_state_dict(last_sd)
    save_checkpoint(ckpt_dir / "last.pt", checkpoint_payload(ctx, built, mode=mode, epoch=epochs_run),
                    keep_previous=False)
    built.model.load_state_dict(best_sd)
    save_checkpoint(ckpt_dir / "best.pt", checkpoint_payload(ctx, built, mode=mode, epoch=best_epoch),
                    keep_previous=False)

    result = score_final(ctx, built, epochs_run=epochs_run, best_epoch=best_epoch)
    if trainer is not None and epochs_run < epochs:
        result["stopped"] = stop.get("reason") or (f"no validation gain for {wait} epochs; "
                                                   f"stopped early at epoch {epochs_run}")
        ctx.info(result["stopped"][0].upper() + result["stopped"][1:] + ".")
    return result


def ultralytics_version() -> str:
    from importlib.metadata import version

    return version("ultralytics")


def classification_epoch_values(tr) -> list[tuple[str, dict[str, float]]]:
    """An epoch's (split, values) of a classification trainer: the same shapes as timm runs."""
    loss = tr.label_loss_items(tr.tloss, prefix="train") if tr.tloss else {}
    values: dict[str, float] = {"loss": round(float(sum(loss.values())), 5) if loss else float("nan"),
                                "lr": float(next(iter(tr.lr.values()))) if tr.lr else 0.0}
    rows = [("train", values)]
    if tr.metrics:
        val = {"loss": round(float(tr.metrics.get("val/loss", float("nan"))), 5),
               "accuracy": float(tr.metrics.get("metrics/accuracy_top1", 0.0))}
        f1 = _macro_f1(tr.validator)
        if f1 is not None:
            val["macro_f1"] = f1
        rows.append(("val", val))
    return rows


def attach_callbacks(trainer, ctx: Context, prior: float, attempt_start: float, *, budget_s: float | None,
                     epoch_values: Callable[[Any], list[tuple[str, dict[str, float]]]]) -> dict[str, str]:
    """Ultralytics' callbacks as our events: progress per batch, `epoch_values(trainer)` as metrics per epoch,
    epoch_end. The trainer class has an `in_final_eval` flag (set in its final_eval).

    Returns a dict that gets a "reason" when our time budget stops training (Ultralytics' own `time` argument
    would stretch the epochs to fill the time instead).
    """
    batch = {"i": 0}
    stop: dict[str, str] = {}

    def on_train_epoch_start(tr) -> None:
        batch["i"] = 0

    def on_train_batch_end(tr) -> None:
        batch["i"] += 1
        nb = len(tr.train_loader)
        ctx.progress("train", tr.epoch * nb + batch["i"], tr.epochs * nb, epoch=tr.epoch + 1,
                     phase_started=attempt_start, step_offset=tr.start_epoch * nb)

    def on_fit_epoch_end(tr) -> None:
        if tr.in_final_eval:  # Ultralytics re-validates best.pt at the end; our final metrics come later
            return
        epoch = tr.epoch + 1
        for split, values in epoch_values(tr):
            ctx.events.emit("metrics", epoch=epoch, split=split, values=values)
        ctx.events.emit("epoch_end", epoch=epoch, epochs=tr.epochs,
                        elapsed_s=round(prior + time.monotonic() - attempt_start, 2))
        if budget_s is not None and time.monotonic() - attempt_start > budget_s and not tr.stop:
            tr.stop = True  # checked by Ultralytics right after this callback
            stop["reason"] = f"the time budget of {budget_s / 60:g} minutes is used up; stopped at epoch {epoch}"

    synced = {"at": float("-inf")}

    def on_model_save(tr) -> None:
        # A synced copy of a 15 MB checkpoint costs ~0.1 s, a lot beside a one-second epoch of a few dozen
        # images: keep one at most every GOOD_COPY_EVERY_S (a kill then repeats at most that much training).
        if time.monotonic() - synced["at"] >= GOOD_COPY_EVERY_S:
            keep_good_copy(tr.last)
            synced["at"] = time.monotonic()

    trainer.add_callback("on_train_epoch_start", on_train_epoch_start)
    trainer.add_callback("on_train_batch_end", on_train_batch_end)
    trainer.add_callback("on_fit_epoch_end", on_fit_epoch_end)
    trainer.add_callback("on_model_save", on_model_save)
    return stop
