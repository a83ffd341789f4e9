"""The torchvision detectors Konstruktor offers: plain data (no torch)."""

from __future__ import annotations

from engine.models.base import ModelSpec

TASKS = ("object-detection",)
HINT = ("The ImageNet backbone ships with Konstruktor (installed from the package registry); the detection head "
        "learns from your boxes.")

# params_m: measured with 3 classes (the head depends a little on the class count).
SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("fcos-mobilenetv2", "torchvision-det", 2.9, 320, True,
              "FCOS (anchor-free) on a pretrained MobileNetV2 with a small feature pyramid (128 channels, P3–P6) and "
              "a light head: the default for a few dozen pictures on a CPU.", HINT, TASKS),
    ModelSpec("ssdlite-mobilenetv2", "torchvision-det", 3.1, 320, True,
              "SSDlite (default boxes, depthwise head) on a pretrained MobileNetV2: quick, weaker on small "
              "objects than FCOS.", HINT, TASKS),
    ModelSpec("fcos-lite0", "torchvision-det", 4.1, 320, True,
              "FCOS on a pretrained EfficientNet-Lite0 with the same pyramid and head: a stronger backbone, "
              "slower on a CPU.", HINT, TASKS),
)
