"""predict_torch.py's model loader for Ultralytics YOLO networks: the marked block replaces the template's own."""

from __future__ import annotations

from typing import Any

import torch


# <build_model>
def build_model(checkpoint: dict[str, Any]) -> torch.nn.Module:
    """The network described by model.pt's "build" recipe (Ultralytics), with its trained weights, in eval mode."""
    recipe = checkpoint["build"]
    model = _YoloLogits(recipe["kwargs"]["cfg"], recipe["kwargs"]["nc"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


class _YoloLogits(torch.nn.Module):
    """Ultralytics' ClassificationModel returning logits (in eval mode it returns (probabilities, logits))."""

    def __init__(self, cfg: str, nc: int):
        super().__init__()
        from ultralytics.nn.tasks import ClassificationModel

        self.net = ClassificationModel(cfg, nc=nc, verbose=False)

    def load_state_dict(self, state_dict, strict: bool = True):
        return self.net.load_state_dict(state_dict, strict=strict)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out[1] if isinstance(out, (tuple, list)) else out
# </build_model>
