"""Image classification's export signature: what goes into the network, what comes out, and its post-processing.

Every family exports the same contract: a normalised float32 N x 3 x S x S batch in, N x C softmax
probabilities out (classes in labels.json order); predict.py's top-k is the post-processing.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
# export_templates/ files the package's runtime code is rendered from (predict.py runs the ONNX model).
PREDICT_TEMPLATE = "predict.py"
PREDICT_TORCH_TEMPLATE = "predict_torch.py"


class Probabilities(nn.Module):
    """Logits to probabilities, in float32 whatever the network computes in."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x).float(), dim=1)


def onnx_doc(model: str, labels: list[str], size: int) -> str:
    """The ONNX model's doc string: the signature in one paragraph."""
    return (f"Konstruktor image classifier ({model}, {len(labels)} classes). Input '{INPUT_NAME}': float32 "
            f"N x 3 x {size} x {size}, RGB, normalised as in the 'preprocess' metadata. Output '{OUTPUT_NAME}': "
            f"float32 N x {len(labels)} softmax, classes as in the 'labels' metadata.")


def signature_metadata() -> dict[str, Any]:
    """The signature's entries of the ONNX metadata."""
    return {"input": INPUT_NAME, "output": OUTPUT_NAME}
