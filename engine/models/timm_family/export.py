"""What the timm family contributes to an export: a traceable probabilities network and its rebuild recipe."""

from __future__ import annotations

import copy
from typing import Any

from torch import nn

from engine.export.static_padding import freeze_same_padding

# export_templates/ file with predict_torch.py's build_model for timm networks.
TORCH_TEMPLATE = "torch_build_timm.py"


def probabilities_module(model: nn.Module, ckpt: dict[str, Any]) -> nn.Module:
    """A copy of `model` with TF-style padding fixed for the input size, returning probabilities."""
    from engine.tasks import get_task

    net = copy.deepcopy(model).eval()
    freeze_same_padding(net, int(ckpt["preprocess"]["input_size"]))
    return get_task(ckpt.get("task")).part("export").Probabilities(net).eval()


def build_recipe(ckpt: dict[str, Any]) -> dict[str, Any]:
    """`timm.create_model(name, num_classes=N)` (and the input size of a fixed-grid ViT)."""
    from engine.models.timm_family.network import has_fixed_grid

    kwargs: dict[str, Any] = {"num_classes": len(ckpt["labels"])}
    if has_fixed_grid(ckpt["model"]):
        kwargs["img_size"] = int(ckpt["preprocess"]["input_size"])
    return {"library": "timm", "name": ckpt["model"], "kwargs": kwargs}
