"""predict_torch.py's model loader for timm networks: the marked block replaces the template's own."""

from __future__ import annotations

from typing import Any

import torch


# <build_model>
def build_model(checkpoint: dict[str, Any]) -> torch.nn.Module:
    """The network described by model.pt's "build" recipe (timm), with its trained weights, in eval mode."""
    import timm

    recipe = checkpoint["build"]
    model = timm.create_model(recipe["name"], pretrained=False, **recipe["kwargs"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()
# </build_model>
