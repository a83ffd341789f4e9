"""The data layout Ultralytics' detection trainer reads, written from our manifest for one run.

    root/images/{train,val}/<n>_<name>   hard links to the imported dataset's pictures (symlinks or copies
                                         where links fail; the dataset itself is never written to)
    root/labels/{train,val}/<n>_<name>.txt  one line a box: class index, centre x, centre y, width, height,
                                         normalised to the picture's size (an empty file: a background picture)
    root/data.yaml                       the two folders and our class names, in our order

The test split is never laid out: Ultralytics would validate on it when `val` is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from engine.fsutil import atomic_write_text
from engine.models.ultralytics_family.layout import place_file
from engine.tasks.object_detection.dataset import targets_of

DATA_YAML = "data.yaml"


def label_lines(item: dict, labels: list[str]) -> list[str]:
    """An item's pixel boxes as YOLO label lines `cls cx cy w h` (normalised, clipped to the picture)."""
    w, h = float(item["width"]), float(item["height"])
    xyxy, cls = targets_of(item, labels)
    lines = []
    for (x1, y1, x2, y2), c in zip(xyxy.tolist(), cls.tolist(), strict=True):
        x1, x2 = min(max(x1, 0.0), w), min(max(x2, 0.0), w)
        y1, y2 = min(max(y1, 0.0), h), min(max(y2, 0.0), h)
        lines.append(f"{c} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
    return lines


def write_layout(dataset_dir: Path, dest: Path, labels: list[str], splits: dict[str, list[dict]]) -> dict[str, Any]:
    """Write `dest/{images,labels}/<split>/` and `dest/data.yaml` for `splits` ({"train": items, "val": items});
    {"root", "data": data.yaml's path, "counts": {split: pictures}, "boxes": {split: boxes}, "files": how placed}."""
    if dest.exists():
        shutil.rmtree(dest)  # only ever a layout this module wrote: stale pictures must not linger
    how: dict[str, int] = {}
    counts: dict[str, int] = {}
    n_boxes: dict[str, int] = {}
    for split, items in splits.items():
        images, texts = dest / "images" / split, dest / "labels" / split
        images.mkdir(parents=True)
        texts.mkdir(parents=True)
        n_boxes[split] = 0
        for i, item in enumerate(items):
            # A running number keeps names unique; the original name stays readable after it.
            name = f"{i:06d}_{Path(item['file']).name}"
            kind = place_file(dataset_dir / item["file"], images / name)
            how[kind] = how.get(kind, 0) + 1
            lines = label_lines(item, labels)
            (texts / Path(name).with_suffix(".txt").name).write_text("".join(f"{line}\n" for line in lines))
            n_boxes[split] += len(lines)
        counts[split] = len(items)
    data = {"path": str(dest.resolve()), **{split: f"images/{split}" for split in splits},
            "nc": len(labels), "names": dict(enumerate(labels))}
    atomic_write_text(dest / DATA_YAML, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return {"root": str(dest), "data": str(dest / DATA_YAML), "counts": counts, "boxes": n_boxes, "files": how}
