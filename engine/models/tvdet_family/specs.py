"""The torchvision detectors Konstruktor offers: plain data (no torch)."""

from __future__ import annotations

from engine.models.base import ModelSpec

TASKS = ("object-detection",)
HINT = ("The ImageNet backbone ships with Konstruktor (installed from the package registry); the detection head "
        "learns from your boxes.")

# params_m: measured with 3 classes (the head depends a little on the class count).
SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("fcos-mobilenetv2", "torchvision-det", 5.0, 320, True,
              "FCOS (anchor-free) on a pretrained MobileNetV2 with a feature pyramid: the default for a few dozen "
              "pictures on a CPU.", HINT, TASKS),
)
