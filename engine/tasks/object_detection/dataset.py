"""Object detection's dataset schema: a picture, the boxes on it, one split.

A manifest item (the importer in `importer.py` writes them; the manifest has the shared
engine.data.manifest FORMAT plus `"task": "object-detection"`):

    {"file": path relative to the dataset folder, "sha256", "width", "height": pixels, "original": where it came
     from, "split": "train" | "val" | "test",
     "boxes": [{"label": class name, "box": [x1, y1, x2, y2]}],   # pixels of the picture, x1 < x2, y1 < y2
     "label": the picture's main class (the class with most boxes, the earlier class on a tie; None for a
              background picture without boxes) — what the split is stratified on and what per-class counts of
              pictures use}

The manifest's `classes` list fixes the class indices. A picture without boxes is a background picture: it
teaches the detector what is not an object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.tasks.object_detection.classes import main_label as main_label  # the schema's picture label
from engine.training.common import Split

ITEM_FIELDS = ("file", "sha256", "width", "height", "original", "split", "boxes", "label")


def import_data(source: str | Path, dest_root: str | Path, **options: Any):
    """Import YOLO, COCO or Pascal VOC labels (a folder or a zip); its ImportReport (see importer.py)."""
    from engine.tasks.object_detection.importer import import_detection

    return import_detection(source, dest_root, **options)


def recognises(path: Path) -> bool:
    """Whether `path` (a folder or a zip) holds detection labels: YOLO txt files, COCO JSON or VOC XML."""
    from engine.tasks.object_detection.importer import looks_like_detection

    return looks_like_detection(path)


def load_splits(dataset_dir: Path, manifest: dict, labels: list[str]) -> dict[str, Split]:
    """The train, val and test splits; `targets` is each picture's main class index (-1: background)."""
    index = {name: i for i, name in enumerate(labels)}
    splits = {}
    for name in ("train", "val", "test"):
        items = [it for it in manifest["items"] if it["split"] == name]
        targets = np.array([index.get(it.get("label"), -1) if it.get("label") is not None else -1 for it in items],
                           dtype=np.int64)
        splits[name] = Split(name, items, targets, [str(dataset_dir / it["file"]) for it in items])
    return splits


def class_counts(split: Split, labels: list[str]) -> dict[str, int]:
    """Boxes per class in a split, every class listed."""
    counts = {lab: 0 for lab in labels}
    for it in split.items:
        for b in it.get("boxes", []):
            if b["label"] in counts:
                counts[b["label"]] += 1
    return counts


def targets_of(item: dict, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """An item's boxes as ([K, 4] float32 pixels, [K] int64 class indices)."""
    index = {name: i for i, name in enumerate(labels)}
    boxes = [b for b in item.get("boxes", []) if b["label"] in index]
    xyxy = np.array([b["box"] for b in boxes], dtype=np.float32).reshape(-1, 4)
    cls = np.array([index[b["label"]] for b in boxes], dtype=np.int64)
    return xyxy, cls
