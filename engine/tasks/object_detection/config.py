"""The settings only object detection has; the rest is engine.config.RunConfig's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from engine.config import AugmentConfig, RunConfig

if TYPE_CHECKING:
    from engine.resolve import DataFacts, ModelFacts

DEFAULT_DETECTOR = "fcos-mobilenetv2"  # see docs/benchmarks.md, "Object detection", for why
DEFAULT_DETECTION_SIZE = 320  # pixels of the letterboxed square the detector sees (CPU-friendly)
# Epochs and peak learning rates per mode for detectors (AdamW for the torchvision detectors; Ultralytics' own
# optimiser for YOLO). `linear-probe` is "head only": the pretrained backbone stays frozen.
DETECTION_MODE_DEFAULTS: dict[str, dict[str, float]] = {
    "linear-probe": {"epochs": 40, "lr": 2e-3, "patience": 15},
    "fine-tune": {"epochs": 40, "lr": 1e-3, "patience": 15},
    "full": {"epochs": 40, "lr": 1e-3, "patience": 15},
    "scratch": {"epochs": 100, "lr": 2e-3, "patience": 30},
}


class ObjectDetectionConfig(RunConfig):
    """A run that learns to draw boxes around objects."""

    task: Literal["object-detection"] = "object-detection"
    model: str = DEFAULT_DETECTOR
    image_size: int | None = Field(None, ge=64, le=1280, description="Side of the square input, pixels; None: "
                                   f"{DEFAULT_DETECTION_SIZE}.")
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    conf: float = Field(0.25, gt=0, lt=1, description="Boxes less confident than this are not shown.")
    iou: float = Field(0.5, gt=0, lt=1, description="Non-maximum suppression: a box overlapping a more confident "
                       "box of its class by more than this is dropped.")
    max_det: int = Field(100, ge=1, le=1000)

    def resolve_task_settings(self, model: ModelFacts, data: DataFacts) -> dict[str, Any]:
        """The detector's mode (auto: fine-tune with pretrained weights, else from scratch), schedule and sizes."""
        pretrained = model.pretrained_available and self.mode != "scratch"
        mode = self.mode
        if mode == "auto":
            mode, code = ("fine-tune", "detection_pretrained") if pretrained else ("full", "no_pretrained")
        else:
            code = "settings" if pretrained or mode in ("scratch", "full") else "no_pretrained"
            if not pretrained and mode in ("linear-probe", "fine-tune"):
                mode = "full"
        schedule = mode if pretrained else "scratch"
        row = DETECTION_MODE_DEFAULTS[schedule]
        from engine.resolve import mode_reason_text

        params = {"model": model.name}
        return {"mode": mode, "pretrained": pretrained, "schedule": schedule,
                "mode_reason_code": code, "mode_reason_params": params, "mode_reason": mode_reason_text(code, params),
                "epochs": int(self.epochs or row["epochs"]), "lr": float(self.lr or row["lr"]),
                "patience": int(row["patience"] if self.early_stopping_patience is None
                                else self.early_stopping_patience),
                "layer_decay": None, "trainable_fraction": None, "cv": False,
                "image_size": int(self.image_size or DEFAULT_DETECTION_SIZE),
                "augment": self.augment.preset, "hflip": self.augment.hflip,
                "conf": self.conf, "iou": self.iou, "max_det": self.max_det}


CONFIG = ObjectDetectionConfig
