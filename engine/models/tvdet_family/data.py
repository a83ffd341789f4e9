"""The torchvision detectors' training pictures: letterboxed exactly as inference letterboxes them, then jittered.

Augmentation happens on the S×S letterbox canvas (random scale and shift, a mirror when allowed, colour), so
the network never sees a picture prepared any other way than `boxes.letterbox` prepares it; boxes move with
the picture, are clipped to it, and those mostly pushed out of it are dropped. Each picture's jitter is drawn
from (seed, epoch, index), so a run and its resumed copy see the same batches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from engine.preprocess import load_image
from engine.tasks.object_detection.boxes import PAD_VALUE, letterbox
from engine.tasks.object_detection.dataset import targets_of

# preset -> (scale range, largest shift as a share of S, colour strength); "none" has no entry.
JITTER: dict[str, tuple[tuple[float, float], float, float]] = {
    "light": ((0.75, 1.25), 0.10, 0.2),
    "medium": ((0.6, 1.4), 0.20, 0.3),
    "strong": ((0.5, 1.5), 0.25, 0.4),
}
MIN_SIDE = 2.0  # pixels: a box narrower than this after the jitter is dropped
MIN_VISIBLE = 0.35  # share of a moved box that must stay inside the canvas


class BoxDataset(Dataset):
    """Letterboxed pictures [3, S, S] in [0, 1] and their targets {"boxes" in letterbox pixels, "labels"}."""

    def __init__(self, items: list[dict], dataset_dir: str | Path, labels: list[str], size: int, *,
                 preset: str = "none", hflip: bool = False, seed: int = 0):
        self.items = items
        self.dataset_dir = Path(dataset_dir)
        self.labels = labels
        self.size = size
        self.jitter = JITTER.get(preset)
        self.hflip = hflip and self.jitter is not None
        self.seed = seed
        self.epoch = 0
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def letterboxed(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(canvas CHW float32, boxes [K, 4] in letterbox pixels, class indices [K]); kept after the first read."""
        if i not in self._cache:
            item = self.items[i]
            canvas, scale, (left, top) = letterbox(load_image(str(self.dataset_dir / item["file"])), self.size)
            xyxy, cls = targets_of(item, self.labels)
            xyxy = xyxy * scale + np.array([left, top, left, top], dtype=np.float32)
            self._cache[i] = (canvas, xyxy.astype(np.float32), cls)
        return self._cache[i]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        canvas, xyxy, cls = self.letterboxed(i)
        if self.jitter is not None:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            canvas, xyxy, cls = jitter(canvas, xyxy, cls, rng, self.jitter, self.hflip)
        return (torch.from_numpy(np.ascontiguousarray(canvas)),
                {"boxes": torch.from_numpy(xyxy.reshape(-1, 4).astype(np.float32)),
                 "labels": torch.from_numpy(cls.astype(np.int64))})


def jitter(canvas: np.ndarray, xyxy: np.ndarray, cls: np.ndarray, rng: np.random.Generator,
           strength: tuple[tuple[float, float], float, float], hflip: bool
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The canvas scaled about its centre and shifted (grey fill), maybe mirrored, colour-jittered; boxes alike."""
    (lo, hi), shift, colour = strength
    size = canvas.shape[-1]
    s = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    tx, ty = rng.uniform(-shift, shift, 2) * size
    c = size / 2.0
    image = Image.fromarray((canvas.transpose(1, 2, 0) * 255.0 + 0.5).astype(np.uint8))
    # PIL's affine maps each output pixel back to its input pixel: p = (q - c - t) / s + c.
    data = (1 / s, 0.0, c - (c + tx) / s, 0.0, 1 / s, c - (c + ty) / s)
    image = image.transform(image.size, Image.AFFINE, data, resample=Image.BILINEAR,
                            fillcolor=(PAD_VALUE,) * 3)
    out = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
    moved = (xyxy - c) * s + c + np.array([tx, ty, tx, ty], dtype=np.float32)
    clipped = np.clip(moved, 0, size)
    keep = ((clipped[:, 2] - clipped[:, 0] >= MIN_SIDE) & (clipped[:, 3] - clipped[:, 1] >= MIN_SIDE)
            & (_area(clipped) >= MIN_VISIBLE * np.maximum(_area(moved), 1e-6)))
    xyxy, cls = clipped[keep], cls[keep]
    if hflip and rng.random() < 0.5:
        out = out[:, :, ::-1]
        xyxy = np.stack([size - xyxy[:, 2], xyxy[:, 1], size - xyxy[:, 0], xyxy[:, 3]], axis=1)
    if colour:
        brightness, contrast, saturation = 1 + rng.uniform(-colour, colour, 3)
        grey = out.mean(axis=0, keepdims=True)
        out = grey + (out - grey) * saturation
        out = (out - out.mean()) * contrast + out.mean()
        out = np.clip(out * brightness, 0.0, 1.0)
    return out.astype(np.float32), xyxy.astype(np.float32), cls


def _area(b: np.ndarray) -> np.ndarray:
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def collate(batch: list[tuple[torch.Tensor, dict]]) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Pictures stacked; targets kept as a list (each picture has its own number of boxes)."""
    return torch.stack([b[0] for b in batch]), [b[1] for b in batch]
