"""Training of YOLO11 detectors: Ultralytics' own DetectionTrainer, driven by the resolved run, reporting through
our events.

Everything Ultralytics writes lives in `run_dir/ultralytics/`: `data/` (the YOLO layout of our train and val
splits, see layout.py, and its `.cache` files) and `train/` (its args.yaml, results.csv and
weights/{last,best}.pt). When it is done, its best weights become THE DETECTION CHECKPOINT at
`run_dir/checkpoints/best.pt`, which engine.tasks.object_detection.training scores on val and test.

Validation: Ultralytics needs validation pictures. Without a validation split it validates on the training
pictures; the run says so, and the last epoch is kept instead of the "best" one (scores on pictures it trains on
say nothing about when to stop).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import yaml

from engine.events import elapsed_before, read_events
from engine.fsutil import atomic_write_text
from engine.models.ultralytics_family.train import (
    FINE_TUNE_TRAINABLE,
    attach_callbacks,
    offline_amp_check,
    resume_point,
    ultralytics_version,
)
from engine.models.yolo_det_family import ULTRA_DIR
from engine.models.yolo_det_family.layout import DATA_YAML, write_layout
from engine.training.common import Context

# Our augmentation presets in Ultralytics' detection terms (its defaults are "medium"). Mosaic (four pictures in
# one) multiplies the objects and backgrounds a few pictures show; it is switched off for the last epochs, as
# Ultralytics does, so the detector ends on whole pictures.
AUGMENT_ARGS: dict[str, dict[str, float]] = {
    "none": {"mosaic": 0.0, "mixup": 0.0, "scale": 0.0, "translate": 0.0, "degrees": 0.0, "shear": 0.0,
             "hsv_h": 0.0, "hsv_s": 0.0, "hsv_v": 0.0},
    "light": {"mosaic": 1.0, "mixup": 0.0, "scale": 0.3, "translate": 0.1, "degrees": 0.0, "shear": 0.0,
              "hsv_h": 0.0, "hsv_s": 0.3, "hsv_v": 0.2},
    "medium": {"mosaic": 1.0, "mixup": 0.0, "scale": 0.5, "translate": 0.1, "degrees": 0.0, "shear": 0.0,
               "hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4},
    "strong": {"mosaic": 1.0, "mixup": 0.1, "scale": 0.5, "translate": 0.1, "degrees": 10.0, "shear": 2.0,
               "hsv_h": 0.02, "hsv_s": 0.7, "hsv_v": 0.4},
}
CLOSE_MOSAIC_SHARE = 0.1  # of the epochs, at least one and at most Ultralytics' own 10
VAL_LOSS_KEYS = ("box_loss", "cls_loss", "dfl_loss")
# Our names of the validator's box metrics (Ultralytics' keys are `metrics/<name>(B)`).
VAL_METRICS = {"map50": "mAP50", "map50_95": "mAP50-95", "precision": "precision", "recall": "recall"}


def close_mosaic_epochs(epochs: int, mosaic: float) -> int:
    """How many final epochs train without mosaic."""
    return 0 if mosaic <= 0 else max(1, min(10, round(epochs * CLOSE_MOSAIC_SHARE)))


def frozen_layers(mode: str, n_layers: int) -> int | None:
    """Ultralytics' `freeze` (the first N layers): head-only keeps all but the Detect head, fine-tune the lower
    half, other modes none."""
    if mode == "linear-probe":
        return n_layers - 1
    if mode == "fine-tune":
        return int(math.floor(n_layers * (1 - FINE_TUNE_TRAINABLE)))
    return None


def ultralytics_args(ctx: Context, mode: str, *, data_yaml: Path, n_layers: int, patience: int) -> dict[str, Any]:
    """The Ultralytics training arguments, every value from the resolved run."""
    r = ctx.resolved
    aug = dict(AUGMENT_ARGS[r.augment])
    batch = max(1, min(int(r.batch_size), len(ctx.splits["train"].items)))
    return {
        "model": f"{r.model}.yaml", "data": str(data_yaml), "task": "detect", "epochs": int(r.epochs),
        # Gradients are not accumulated up to Ultralytics' nominal batch of 64: a few dozen pictures would then get
        # one optimizer step an epoch.
        "batch": batch, "nbs": batch,
        "imgsz": int(r.image_size), "optimizer": "AdamW", "lr0": float(r.lr), "lrf": 0.01, "cos_lr": True,
        "weight_decay": float(r.weight_decay), "warmup_epochs": float(r.warmup_epochs), "seed": int(r.seed),
        "deterministic": True, "device": "0" if ctx.device == "cuda" else "cpu", "workers": int(r.num_workers),
        "patience": patience, "amp": bool(ctx.device == "cuda" and r.amp),
        "fliplr": 0.5 if r.hflip and r.augment != "none" else 0.0, "flipud": 0.0, **aug,
        "close_mosaic": close_mosaic_epochs(int(r.epochs), aug["mosaic"]),
        "pretrained": False, "cache": False, "plots": False, "val": True, "verbose": False, "exist_ok": True,
        "project": str(ctx.run_dir / ULTRA_DIR), "name": "train", "save_period": -1,
        "freeze": frozen_layers(mode, n_layers),
    }


def _trainer_class():
    from ultralytics.models.yolo.detect import DetectionTrainer

    class KonstruktorDetectionTrainer(DetectionTrainer):
        """Ultralytics' detection trainer that starts from our model (weights loaded safely by us)."""

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

    return KonstruktorDetectionTrainer


def _go_offline() -> None:
    """Ultralytics' checks that would reach the network: AMP's (it downloads a model) and the dataset check's
    font download (a HEAD request even when the font is never drawn; plots are off)."""
    import ultralytics.data.utils as ul_data
    import ultralytics.engine.trainer as ul_trainer

    ul_trainer.check_amp = offline_amp_check
    ul_data.check_font = lambda *a, **k: None


def _splits_for_ultralytics(ctx: Context) -> tuple[list[dict], list[dict], str, bool]:
    """(train items, val items, where validation comes from, whether the last epoch is kept)."""
    train_items, val_items = ctx.splits["train"].items, ctx.splits["val"].items
    if val_items:
        return train_items, val_items, "the dataset's own validation split", False
    return train_items, train_items, ("the training pictures, because the dataset has no validation pictures; the "
                                      "last epoch is kept, not the one that scores best on them"), True


def train(ctx: Context, mode: str) -> dict[str, Any]:
    """Train a YOLO11 detector with Ultralytics' trainer; our events and THE DETECTION CHECKPOINT at
    checkpoints/best.pt. {"epochs_run", "best_epoch", "params", "pretrained", "weights_source"}."""
    from engine.models.ultralytics_family import prepare_ultralytics
    from engine.models.yolo_det_family.network import build_detection_model, load_weights

    cfg, r = ctx.cfg, ctx.resolved
    prepare_ultralytics(ctx.cache_root / "ultralytics")
    _go_offline()
    root = ctx.run_dir / ULTRA_DIR
    save_dir = root / "train"
    last = save_dir / "weights" / "last.pt"

    model = build_detection_model(f"{cfg.model}.yaml", len(ctx.labels))
    pretrained, source = load_weights(model, cfg.model, weights=cfg.weights, use_cache=mode != "scratch",
                                      cache_dir=ctx.cache_root / "weights")
    if pretrained:
        ctx.info(f"Model {cfg.model}: {source}.")
    else:
        ctx.info(f"{cfg.model} trains from scratch (random initial weights): expect far fewer found objects with "
                 "little data than from a pretrained detector.")
        if mode in ("linear-probe", "fine-tune"):
            ctx.info("Without pretrained weights there is nothing to keep frozen, so every layer trains.")
            mode = "full"
    epochs = int(r.epochs)
    ckpt, finished, resume = resume_point(ctx, last, epochs)

    layout = root / "data"
    train_items, val_items, val_note, keep_last = _splits_for_ultralytics(ctx)
    if not resume and not finished:
        placed = write_layout(ctx.dataset_dir, layout, ctx.labels, {"train": train_items, "val": val_items})
        ctx.log.info("ultralytics layout: %s", placed)
    ctx.info(f"Ultralytics validates on {val_note}.")

    args = ultralytics_args(ctx, mode, data_yaml=layout / DATA_YAML, n_layers=len(model.model),
                            patience=0 if keep_last else int(r.patience))
    _write_record(ctx, args, mode=mode, source=source, val_note=val_note)

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
            trainer.prebuilt = model
        budget = r.budget_minutes * 60 if r.budget_minutes else None
        stop = attach_callbacks(trainer, ctx, prior, attempt_start, budget_s=budget,
                                epoch_values=detection_epoch_values)
        trainer.train()
        names = list(trainer.data["names"].values())
        if names != list(ctx.labels):
            raise RuntimeError(f"Ultralytics' class order {names} differs from ours {ctx.labels}")

    best_file = save_dir / "weights" / "best.pt"
    if keep_last or not best_file.exists():
        best_file = last
    epochs_run = int(trainer.epoch + 1) if trainer is not None else epochs
    best_epoch = epochs_run if keep_last or trainer is None else int(trainer.stopper.best_epoch or epochs_run)
    params = save_detection_checkpoint(ctx, best_file, model, epoch=best_epoch, pretrained=pretrained,
                                       source=source)
    result = {"epochs_run": epochs_run, "best_epoch": best_epoch, "params": params, "pretrained": pretrained,
              "weights_source": source}
    if trainer is not None and epochs_run < epochs:
        result["stopped"] = stop.get("reason") or (f"no validation gain for {r.patience} epochs; "
                                                   f"stopped early at epoch {epochs_run}")
        ctx.info(result["stopped"][0].upper() + result["stopped"][1:] + ".")
    return result


def save_detection_checkpoint(ctx: Context, ultra_ckpt: Path, model, *, epoch: int, pretrained: bool,
                              source: str) -> int:
    """Ultralytics' checkpoint `ultra_ckpt` as THE DETECTION CHECKPOINT (float tensors, the yaml recipe) at
    run_dir/checkpoints/best.pt; the network's parameter count."""
    from engine.checkpoint import save_checkpoint
    from engine.models.ultralytics_family.network import read_weights
    from engine.models.yolo_det_family.network import recipe_of

    sd = {k: (v.float() if v.is_floating_point() else v).detach().cpu().contiguous()
          for k, v in read_weights(ultra_ckpt).items()}
    model.load_state_dict(sd)  # every key must fit: the file is this run's own
    r = ctx.resolved
    payload = {"task": "object-detection", "model": ctx.cfg.model, "family": "yolo-det", "labels": list(ctx.labels),
               "image_size": int(r.image_size), "state_dict": sd, "recipe": recipe_of(model),
               "pretrained": pretrained, "weights_source": source, "dataset": ctx.manifest["id"],
               "fingerprint": ctx.manifest["fingerprint"], "epoch": int(epoch), "conf": float(r.conf),
               "iou": float(r.iou), "max_det": int(r.max_det)}
    save_checkpoint(ctx.run_dir / "checkpoints" / "best.pt", payload, keep_previous=False)
    return int(sum(p.numel() for p in model.parameters()))


def _write_record(ctx: Context, args: dict[str, Any], *, mode: str, source: str, val_note: str) -> None:
    """artifacts/ultralytics_args.yaml: what Ultralytics was given, and why."""
    record = {"ultralytics": ultralytics_version(), "mode": mode, "weights_source": source,
              "validation": val_note, "augment_preset": ctx.resolved.augment,
              "not_mapped": ["imbalance (Ultralytics' detection loss has no class weights here)",
                             "layer-wise learning-rate decay (fine-tune freezes the lower layers instead)"],
              "args": args}
    art = ctx.run_dir / "artifacts"
    art.mkdir(exist_ok=True)
    atomic_write_text(art / "ultralytics_args.yaml", yaml.safe_dump(record, sort_keys=False, allow_unicode=True))
    ctx.events.emit("artifact", kind="ultralytics_args", path="artifacts/ultralytics_args.yaml", args=args)


def detection_epoch_values(tr) -> list[tuple[str, dict[str, float]]]:
    """An epoch's (split, values): the training losses (box, cls, dfl and their sum) and the validator's mAP."""
    losses = {k.split("/", 1)[1]: v for k, v in tr.label_loss_items(tr.tloss, prefix="train").items()} \
        if tr.tloss else {}
    values: dict[str, float] = {"loss": round(float(sum(losses.values())), 5) if losses else float("nan"),
                                **losses, "lr": float(next(iter(tr.lr.values()))) if tr.lr else 0.0}
    rows = [("train", values)]
    if tr.metrics:
        m = tr.metrics
        val = {key: round(float(m.get(f"metrics/{name}(B)", 0.0)), 6) for key, name in VAL_METRICS.items()}
        parts = [float(m[f"val/{k}"]) for k in VAL_LOSS_KEYS if f"val/{k}" in m]
        if parts:
            val["loss"] = round(sum(parts), 5)
        rows.append(("val", val))
    return rows
