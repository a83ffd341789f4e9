"""Image classification's dataset schema: one picture, one label, in one split.

A manifest item (engine/data writes them; `engine.data.import_dataset` is the importer) is
`{"file": path relative to the dataset folder, "label": class name, "sha256": hex digest of the file,
"width", "height": pixels, "original": where it came from, "split": "train" | "val" | "test"}`; the
manifest's `classes` list fixes the class indices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.training.common import Split

ITEM_FIELDS = ("file", "label", "sha256", "width", "height", "original", "split")


def import_data(source: str | Path, dest_root: str | Path, **options: Any):
    """Import a folder, zip or CSV of labelled pictures (engine.data.import_dataset); its ImportReport."""
    from engine.data import import_dataset

    return import_dataset(source, dest_root, **options)


def load_splits(dataset_dir: Path, manifest: dict, labels: list[str]) -> dict[str, Split]:
    """The train, val and test splits of an imported dataset, with class indices in `labels` order."""
    index = {name: i for i, name in enumerate(labels)}
    splits = {}
    for name in ("train", "val", "test"):
        items = [it for it in manifest["items"] if it["split"] == name]
        splits[name] = Split(name, items, np.array([index[it["label"]] for it in items], dtype=np.int64),
                             [str(dataset_dir / it["file"]) for it in items])
    return splits


def class_counts(split: Split, labels: list[str]) -> dict[str, int]:
    """Images per class in a split, every class listed."""
    return {lab: int((split.targets == i).sum()) for i, lab in enumerate(labels)}
