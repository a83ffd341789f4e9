#!/usr/bin/env python3
"""Classify images with the PyTorch model in this folder (torch, timm or ultralytics, numpy and Pillow).

    python predict_torch.py photo.jpg more_photos/ --json
    python predict_torch.py photo.jpg --torchscript     # model.torchscript.pt: no timm needed

Same options and output as predict.py, and the same preprocessing (konstruktor_preprocess.py
configured by preprocess.json). From Python:

    from predict_torch import TorchPredictor
    predictor = TorchPredictor()               # model.pt of this folder, rebuilt with timm
    predictor.predict(["photo.jpg"])
    predictor.model                            # the torch.nn.Module, e.g. to fine-tune further
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from predict import HERE, Predictor, parser, run


# <build_model> the model family's loader (export_templates/torch_build_*.py) replaces this block in a package
def build_model(checkpoint: dict[str, Any]) -> torch.nn.Module:
    """The network described by model.pt's "build" recipe, with its trained weights, in eval mode."""
    raise SystemExit(f"predict_torch.py cannot rebuild a {checkpoint['build']['library']} model; use --torchscript.")
# </build_model>


class TorchPredictor(Predictor):
    """Predictor on model.pt (rebuilt with timm) or on model.torchscript.pt."""

    def __init__(self, folder: str | Path = HERE, model: str | Path = "model.pt", threads: int | None = None,
                 device: str = "cpu"):
        self.device = device
        super().__init__(folder, model, threads)

    def _load(self, threads: int | None, providers: Sequence[str] | None) -> Callable[[np.ndarray], np.ndarray]:
        if threads:
            torch.set_num_threads(threads)
        if self.model_path.name.endswith(".torchscript.pt"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still the portable format
                self.model = torch.jit.load(str(self.model_path), map_location=self.device).eval()
            to_probs = torch.nn.Identity()  # the TorchScript model already returns probabilities
        else:
            checkpoint = torch.load(self.model_path, map_location="cpu", weights_only=True)
            self.model = build_model(checkpoint).to(self.device)
            to_probs = torch.nn.Softmax(dim=1)

        def forward(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                out = self.model(torch.from_numpy(batch).to(self.device))
                return to_probs(out.float()).cpu().numpy()

        return forward


def main(argv: list[str] | None = None) -> int:
    p = parser("Classify images with the exported model (PyTorch).")
    p.add_argument("--torchscript", action="store_true", help="use model.torchscript.pt instead of model.pt")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, mps ...")
    args = p.parse_args(argv)
    model = "model.torchscript.pt" if args.torchscript else "model.pt"
    if not (HERE / model).is_file():
        p.error(f"no model file {model} in {HERE}")
    return run(args, TorchPredictor(HERE, model, threads=args.threads, device=args.device))


if __name__ == "__main__":
    sys.exit(main())
