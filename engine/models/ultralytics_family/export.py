"""What the Ultralytics family contributes to an export: its network (plain convolutions) and its rebuild recipe."""

from __future__ import annotations

import copy
from typing import Any

from torch import nn

# export_templates/ file with predict_torch.py's build_model for Ultralytics networks.
TORCH_TEMPLATE = "torch_build_ultralytics.py"


def probabilities_module(model: nn.Module, ckpt: dict[str, Any]) -> nn.Module:
    """The wrapper's forward already returns logits (no dynamic padding to fix): wrapped to probabilities."""
    from engine.tasks import get_task

    return get_task(ckpt.get("task")).part("export").Probabilities(copy.deepcopy(model).eval()).eval()


def build_recipe(ckpt: dict[str, Any]) -> dict[str, Any]:
    """model.pt's state dict has Ultralytics' own keys: ClassificationModel(yaml, nc=N) loads it as is."""
    return {"library": "ultralytics", "name": ckpt["model"],
            "kwargs": {"cfg": f"{ckpt['model']}.yaml", "nc": len(ckpt["labels"])}}
