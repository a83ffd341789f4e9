"""What each model family contributes to an export: a probabilities network and how to rebuild it.

The package format is the same for every family: one network that takes a normalised float32
N x 3 x S x S batch and returns N x C softmax probabilities, plus the family's recipe for
rebuilding the PyTorch model from `model.pt`. A new family (YOLO classification, say) adds one
`FamilyExporter` to FAMILIES; nothing else in the package changes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import UserError


class FamilyExporter(Protocol):
    def probabilities_module(self, model: nn.Module, ckpt: dict[str, Any]) -> nn.Module:
        """A copy of `model` in eval mode whose output is softmax probabilities, ready to trace."""

    def build_recipe(self, ckpt: dict[str, Any]) -> dict[str, Any]:
        """Plain data that says how to rebuild the network from model.pt's state dict (predict_torch.py)."""


class Probabilities(nn.Module):
    """Logits to probabilities, in float32 whatever the network computes in."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x).float(), dim=1)


class _StaticSamePad(nn.Module):
    """A TF-style "same" conv or pool whose padding was worked out once for a fixed input size.

    timm computes "same" padding from the input shape at run time; traced into ONNX that is a
    chain of Shape/Gather/Div nodes before every such layer, which ONNX Runtime can neither fold
    (the batch axis is dynamic) nor quantize around. The numbers are identical to timm's.
    """

    def __init__(self, inner: nn.Module, pad: tuple[int, int, int, int], value: float):
        super().__init__()
        self.inner = inner
        self.pad = pad
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The parent class (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d) runs the layer with padding 0.
        return super(type(self.inner), self.inner).forward(F.pad(x, self.pad, value=self.value))


def freeze_same_padding(model: nn.Module, input_size: int) -> int:
    """Replace timm's dynamic "same"-padding layers in `model` by static ones for S x S inputs; returns how many."""
    from timm.layers import Conv2dSame
    from timm.layers.padding import pad_same_arg
    from timm.layers.pool2d_same import AvgPool2dSame, MaxPool2dSame

    dynamic = (Conv2dSame, MaxPool2dSame, AvgPool2dSame)
    sizes: dict[str, tuple[int, int]] = {}
    hooks = [m.register_forward_pre_hook(lambda _m, args, name=name: sizes.__setitem__(name, tuple(args[0].shape[-2:])))
             for name, m in model.named_modules() if isinstance(m, dynamic)]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size, input_size))
    finally:
        for h in hooks:
            h.remove()
    for name, size in sizes.items():
        layer = model.get_submodule(name)
        kernel = list(layer.weight.shape[-2:]) if isinstance(layer, nn.Conv2d) else list(layer.kernel_size)
        dilation = list(getattr(layer, "dilation", (1, 1)))
        pad = tuple(pad_same_arg(list(size), kernel, list(layer.stride), dilation))
        value = float("-inf") if isinstance(layer, MaxPool2dSame) else 0.0
        parent, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, attr, _StaticSamePad(layer, pad, value))
    return len(sizes)


@dataclass(frozen=True)
class TimmExporter:
    def probabilities_module(self, model: nn.Module, ckpt: dict[str, Any]) -> nn.Module:
        net = copy.deepcopy(model).eval()
        freeze_same_padding(net, int(ckpt["preprocess"]["input_size"]))
        return Probabilities(net).eval()

    def build_recipe(self, ckpt: dict[str, Any]) -> dict[str, Any]:
        from engine.models.timm_family import _has_fixed_grid

        kwargs: dict[str, Any] = {"num_classes": len(ckpt["labels"])}
        if _has_fixed_grid(ckpt["model"]):
            kwargs["img_size"] = int(ckpt["preprocess"]["input_size"])
        return {"library": "timm", "name": ckpt["model"], "kwargs": kwargs}


@dataclass(frozen=True)
class UltralyticsExporter:
    """YOLO11 classification: the wrapper's forward already returns logits (plain convolutions, no dynamic padding)."""

    def probabilities_module(self, model: nn.Module, ckpt: dict[str, Any]) -> nn.Module:
        return Probabilities(copy.deepcopy(model).eval()).eval()

    def build_recipe(self, ckpt: dict[str, Any]) -> dict[str, Any]:
        # model.pt's state dict has Ultralytics' own keys: ClassificationModel(yaml, nc=N) loads it as is.
        return {"library": "ultralytics", "name": ckpt["model"],
                "kwargs": {"cfg": f"{ckpt['model']}.yaml", "nc": len(ckpt["labels"])}}


FAMILIES: dict[str, FamilyExporter] = {"timm": TimmExporter(), "ultralytics": UltralyticsExporter()}


def exporter_for(family: str) -> FamilyExporter:
    """The family's exporter; a family without one gets a plain UserError."""
    try:
        return FAMILIES[family]
    except KeyError:
        raise UserError(f"Models of the '{family}' family cannot be exported yet; "
                        f"export works for: {', '.join(sorted(FAMILIES))}.") from None
