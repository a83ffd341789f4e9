"""From a RunConfig to the concrete values a run uses: one pure function, `resolve`.

Every "None means the default" of the config is decided here, from the defaults in engine.config and
the facts about the model, the device and the data; nothing reads a file or imports torch. The trainer
writes the result as run_dir/resolved.yaml and into its `start` event (Ultralytics keeps args.yaml
the same way), so a run always says what it really did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from engine.config import (
    AUTO_CPU_FINETUNE_LIMIT_S,
    AUTO_FEW_IMAGES,
    CPU_TRAIN_RATE_5M,
    MODE_DEFAULTS,
    RunConfig,
)
from engine.fsutil import atomic_write_text

RESOLVED_FILE = "resolved.yaml"

# Why `auto` (or the settings) chose a mode: a stable code per reason, its English sentence filled with params.
# The UI says the same reason in other languages by code (ui/i18n); the English sentence is the fallback.
MODE_REASONS = {
    "settings": "chosen in the settings",
    "no_pretrained": "no pretrained weights for {model} are on this computer, so it learns from scratch; expect "
                     "much lower accuracy with little data",
    "few_images": "the smallest class has only {smallest} training image(s): a linear head on frozen pretrained "
                  "features is the most reliable choice with so little data",
    "gpu": "{smallest}+ images per class and a GPU: fine-tuning the upper layers after a linear-probe warm start "
           "usually beats a frozen backbone",
    "cpu_slow": "fine-tuning {total} images would take about {minutes} minutes on this CPU; a linear probe takes "
                "seconds (pick fine-tune, or train on a GPU, for more accuracy)",
    "detection_pretrained": "the backbone of {model} is pretrained on ImageNet: the detector's head and its upper "
                            "layers learn your boxes, which needs far fewer pictures than learning from scratch",
    "cpu_ok": "{smallest}+ images per class and about {minutes} minute(s) on this CPU: fine-tuning the upper layers "
              "after a linear-probe warm start usually beats a frozen backbone",
}


@dataclass(frozen=True)
class ModelFacts:
    """What resolving needs to know about the model: its registry entry, its family's defaults, its weights."""

    name: str
    family: str
    params_m: float
    input_size: int
    pretrained_available: bool  # a weights file was given, or pretrained weights are on this computer
    default_batch: int
    default_workers: int


@dataclass(frozen=True)
class DataFacts:
    """What resolving needs to know about the data: examples per class in train, and the other splits' sizes."""

    train_counts: dict[str, int]
    n_val: int
    n_test: int

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> DataFacts:
        counts = {label: 0 for label in manifest["classes"]}
        n = {"val": 0, "test": 0}
        for item in manifest["items"]:
            if item["split"] == "train":
                counts[item["label"]] = counts.get(item["label"], 0) + 1
            elif item["split"] in n:
                n[item["split"]] += 1
        return cls(counts, n["val"], n["test"])


class ResolvedConfig(BaseModel):
    """Every concrete value of a run; a task's own resolved settings (image_size, augment, ...) are extra fields."""

    model_config = ConfigDict(extra="allow", frozen=True, protected_namespaces=())

    task: str
    model: str
    family: str
    device: str
    mode: str
    mode_reason_code: str
    mode_reason_params: dict[str, Any]
    mode_reason: str
    pretrained: bool
    schedule: str | None  # the row of MODE_DEFAULTS the numbers come from; None for a linear probe
    epochs: int | None
    lr: float | None
    layer_decay: float | None
    trainable_fraction: float | None
    patience: int | None
    warmup_epochs: float
    weight_decay: float
    batch_size: int
    num_workers: int
    amp: bool
    cv: bool  # cross-validation asked for (where the trainer can: the linear head on frozen features)
    cv_folds: int
    cv_repeats: int
    seed: int
    budget_minutes: float | None

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def save(self, run_dir: str | Path) -> Path:
        text = yaml.safe_dump(self.as_dict(), sort_keys=False, allow_unicode=True)
        return atomic_write_text(Path(run_dir) / RESOLVED_FILE, text)


def mode_reason_text(code: str, params: dict[str, Any]) -> str:
    """The English sentence of a mode reason code."""
    return MODE_REASONS[code].format(**params)


def pick_mode(cfg: RunConfig, model: ModelFacts, device: str, data: DataFacts) -> tuple[str, str, dict[str, Any]]:
    """The training mode, the code of the reason (a key of MODE_REASONS) and the reason's parameters."""
    if cfg.mode != "auto":
        return cfg.mode, "settings", {}
    if not model.pretrained_available:
        return "scratch", "no_pretrained", {"model": model.name}
    smallest = min(data.train_counts.values())
    total = sum(data.train_counts.values())
    if smallest < AUTO_FEW_IMAGES:
        return "linear-probe", "few_images", {"smallest": smallest}
    if device == "cuda":
        return "fine-tune", "gpu", {"smallest": smallest}
    epochs = cfg.epochs or MODE_DEFAULTS["fine-tune"]["epochs"]
    est = total * epochs / (CPU_TRAIN_RATE_5M * 5.0 / max(model.params_m, 0.5))
    if est > AUTO_CPU_FINETUNE_LIMIT_S:
        return "linear-probe", "cpu_slow", {"total": total, "minutes": round(est / 60)}
    return "fine-tune", "cpu_ok", {"smallest": smallest, "minutes": max(1, round(est / 60))}


def choose_mode_reason(cfg: RunConfig, train_counts: dict[str, int], device: str, pretrained_ok: bool,
                       params_m: float) -> tuple[str, str, dict[str, Any]]:
    """pick_mode for a caller that knows only the counts per class (the Train tab's preview of `auto`)."""
    facts = ModelFacts(cfg.model, "", params_m, 0, pretrained_ok, 0, 0)
    return pick_mode(cfg, facts, device, DataFacts(dict(train_counts), 0, 0))


def choose_mode(cfg: RunConfig, train_counts: dict[str, int], device: str, pretrained_ok: bool,
                params_m: float) -> tuple[str, str]:
    """The training mode and one plain sentence saying why."""
    mode, code, params = choose_mode_reason(cfg, train_counts, device, pretrained_ok, params_m)
    return mode, mode_reason_text(code, params)


def resolve(cfg: RunConfig, model: ModelFacts, device: str, data: DataFacts) -> ResolvedConfig:
    """The concrete values a run of `cfg` uses with this model on this device and data (pure)."""
    mode, code, params = pick_mode(cfg, model, device, data)
    pretrained = model.pretrained_available and mode != "scratch"
    if mode == "fine-tune" and not pretrained:
        mode = "full"  # without pretrained weights there is nothing worth keeping frozen
    schedule = None if mode == "linear-probe" else (mode if pretrained else "scratch")
    row = MODE_DEFAULTS[schedule] if schedule else {}
    ev = cfg.eval
    cv = ev.cv == "on" or (ev.cv == "auto" and data.n_val < ev.tiny_val_threshold)
    resolved: dict[str, Any] = {
        "task": cfg.task, "model": model.name, "family": model.family, "device": device, "mode": mode,
        "mode_reason_code": code, "mode_reason_params": params, "mode_reason": mode_reason_text(code, params),
        "pretrained": pretrained, "schedule": schedule,
        "epochs": int(cfg.epochs or row["epochs"]) if row else None,
        "lr": float(cfg.lr or row["lr"]) if row else None,
        "layer_decay": row.get("layer_decay"), "trainable_fraction": row.get("trainable_fraction"),
        "patience": (int(row["patience"] if cfg.early_stopping_patience is None else cfg.early_stopping_patience)
                     if row else None),
        "warmup_epochs": cfg.warmup_epochs, "weight_decay": cfg.weight_decay,
        "batch_size": int(cfg.batch_size or model.default_batch),
        "num_workers": int(model.default_workers if cfg.num_workers is None else cfg.num_workers),
        "amp": bool(cfg.amp and device == "cuda"), "cv": cv, "cv_folds": ev.cv_folds, "cv_repeats": ev.cv_repeats,
        "seed": cfg.seed, "budget_minutes": cfg.budget_minutes,
    }
    resolved.update(cfg.resolve_task_settings(model, data))
    return ResolvedConfig(**resolved)


def read_resolved(run_dir: str | Path) -> dict[str, Any] | None:
    """A run's resolved.yaml as a dict, or None for runs made before it was written."""
    path = Path(run_dir) / RESOLVED_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None
