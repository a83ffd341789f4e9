"""A finished detection run as one object: its checkpoint's graph, its labels and the shared post-processing.

Training's final scoring, `python -m engine predict`, evaluation, the export's parity reference and the app's
Test tab all detect through `Detector`, so they report the same boxes. The family's `network` part rebuilds the
graph (the contract in boxes.py) from the checkpoint with `graph_from_checkpoint(ckpt)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.errors import UserError
from engine.tasks.object_detection.boxes import letterbox, postprocess

CHECKPOINT = Path("checkpoints") / "best.pt"
Detection = tuple[int, float, list[float]]  # (class index, confidence, [x1, y1, x2, y2] in picture pixels)


@dataclass
class Detector:
    """The graph (torch, eval mode) plus what turns its outputs into boxes on the user's picture."""

    graph: Any
    labels: list[str]
    image_size: int
    conf: float = 0.25
    iou: float = 0.5
    max_det: int = 100
    device: str = "cpu"
    ckpt: dict[str, Any] = field(default_factory=dict, repr=False)

    def raw(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The graph's (boxes [B, N, 4], scores [B, N, C]) for letterboxed pictures [B, 3, S, S]."""
        import torch

        with torch.inference_mode():
            boxes, scores = self.graph(torch.from_numpy(np.ascontiguousarray(batch)).to(self.device))
        return boxes.float().cpu().numpy(), scores.float().cpu().numpy()

    def detect(self, images: Sequence[Image.Image | str | Path], *, conf: float | None = None,
               iou: float | None = None, max_det: int | None = None, batch_size: int = 8,
               progress: Callable[[int, int], None] | None = None) -> list[list[Detection]]:
        """Detections per picture (PIL images or files), most confident first."""
        from engine.preprocess import load_image

        conf = self.conf if conf is None else conf
        iou = self.iou if iou is None else iou
        max_det = self.max_det if max_det is None else max_det
        out: list[list[Detection]] = []
        for start in range(0, len(images), batch_size):
            chunk = [im if isinstance(im, Image.Image) else load_image(str(im)) for im in images[start:start + batch_size]]
            boxed = [letterbox(im, self.image_size) for im in chunk]
            boxes, scores = self.raw(np.stack([b[0] for b in boxed]))
            for im, (_, scale, pad), b, s in zip(chunk, boxed, boxes, scores, strict=True):
                out.append(postprocess(b, s, conf=conf, iou=iou, max_det=max_det, scale=scale, pad=pad,
                                       size=im.size))
            if progress:
                progress(min(start + batch_size, len(images)), len(images))
        return out


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A detection checkpoint, read without running anything in it."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} does not exist: the run has no trained detector yet. Train it first.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a damaged or foreign file
        raise UserError(f"{path} cannot be read as a Konstruktor detector ({type(e).__name__}: {e}).") from None
    if not isinstance(ckpt, dict) or ckpt.get("task") != "object-detection":
        raise UserError(f"{path} is not a Konstruktor object detector.")
    return ckpt


def from_checkpoint(ckpt: dict[str, Any], device: str = "cpu") -> Detector:
    """The Detector a checkpoint describes (its family rebuilds the graph)."""
    from engine.models import get_family

    graph = get_family(ckpt["family"]).part("network").graph_from_checkpoint(ckpt).to(device).eval()
    return Detector(graph, list(ckpt["labels"]), int(ckpt["image_size"]), conf=float(ckpt.get("conf", 0.25)),
                    iou=float(ckpt.get("iou", 0.5)), max_det=int(ckpt.get("max_det", 100)), device=device, ckpt=ckpt)


def load_run_detector(run_dir: str | Path, device: str | None = None) -> Detector:
    """The best detector of a finished run."""
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return from_checkpoint(load_checkpoint(Path(run_dir) / CHECKPOINT), device=device)
