"""Text classification's dataset schema: one text, one label, in one split.

A manifest item (importer.py writes them; the manifest has engine.data.manifest's FORMAT plus
`"task": "text-classification"` and `"languages"`, texts per language):

    {"id": first 16 hex digits of sha256, "text": the text (stripped, at most checks.MAX_CHARS characters),
     "label": class name, "sha256": of the text's UTF-8, "original": where it came from ("file.csv:12",
     "class/a.txt"), "split": "train" | "val" | "test", "lang": "ru" | "en" | "other", "chars": its length}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.training.common import Split

ITEM_FIELDS = ("id", "text", "label", "sha256", "original", "split", "lang", "chars")


def import_data(source: str | Path, dest_root: str | Path, **options: Any):
    """Import a CSV/TSV, a folder of class folders of .txt files or a zip of either; its ImportReport."""
    from engine.tasks.text_classification.importer import import_text

    return import_text(source, dest_root, **options)


def recognises(path: Path) -> bool:
    """A CSV/TSV with a text column, or a folder (zip) of .txt files without pictures."""
    from engine.tasks.text_classification.textio import looks_like_text

    return looks_like_text(Path(path))


def load_splits(dataset_dir: Path, manifest: dict, labels: list[str]) -> dict[str, Split]:
    """The train, val and test splits; a split's `files` are the items' texts."""
    index = {name: i for i, name in enumerate(labels)}
    splits = {}
    for name in ("train", "val", "test"):
        items = [it for it in manifest["items"] if it["split"] == name]
        splits[name] = Split(name, items, np.array([index[it["label"]] for it in items], dtype=np.int64),
                             [it["text"] for it in items])
    return splits


def class_counts(split: Split, labels: list[str]) -> dict[str, int]:
    """Texts per class in a split, every class listed."""
    return {lab: int((split.targets == i).sum()) for i, lab in enumerate(labels)}
