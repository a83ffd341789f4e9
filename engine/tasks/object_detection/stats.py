"""What the data report shows of a detection dataset: boxes and pictures per class, background pictures, and
how large the boxes are relative to their pictures.
"""

from __future__ import annotations

import math
from typing import Any

from engine.data.manifest import SPLITS

# Edges of the box-size histogram: a box's size as a fraction of its picture's side, sqrt(box area / picture area).
SIZE_BINS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def relative_size(box: list[float], width: int, height: int) -> float:
    """sqrt(box area / picture area): 0.1 is a box a tenth of the picture's side, whatever its aspect."""
    x1, y1, x2, y2 = box
    return math.sqrt(max(0.0, x2 - x1) * max(0.0, y2 - y1) / max(1, width * height))


def box_stats(manifest: dict[str, Any]) -> dict[str, Any]:
    """{"per_class": {label: {"boxes", "pictures"}}, "background_pictures": n, "box_sizes": {"bins", "counts"}}."""
    per_class = {label: {"boxes": 0, "pictures": 0} for label in manifest.get("classes", [])}
    counts = [0] * (len(SIZE_BINS) - 1)
    background = 0
    for item in manifest.get("items", []):
        boxes = item.get("boxes") or []
        if not boxes:
            background += 1
        for label in {b["label"] for b in boxes}:
            per_class.setdefault(label, {"boxes": 0, "pictures": 0})["pictures"] += 1
        for b in boxes:
            per_class.setdefault(b["label"], {"boxes": 0, "pictures": 0})["boxes"] += 1
            size = relative_size(b["box"], item["width"], item["height"])
            index = next((i for i in range(len(counts)) if size < SIZE_BINS[i + 1]), len(counts) - 1)
            counts[index] += 1
    return {"per_class": per_class, "background_pictures": background,
            "box_sizes": {"bins": list(SIZE_BINS), "counts": counts}}


def split_counts(manifest: dict[str, Any]) -> dict[str, dict[str, int]]:
    """{class: {split: pictures with at least one box of the class}}, every class and split listed."""
    counts = {label: dict.fromkeys(SPLITS, 0) for label in manifest.get("classes", [])}
    for item in manifest.get("items", []):
        for label in {b["label"] for b in item.get("boxes") or []}:
            counts.setdefault(label, dict.fromkeys(SPLITS, 0))[item["split"]] += 1
    return counts
