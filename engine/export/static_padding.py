"""TF-style "same" padding made static for one input size, so ONNX graphs fold (embeddings and exports).

A no-op for networks without timm's dynamic-padding layers; the numbers are identical either way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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
