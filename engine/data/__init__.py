"""Datasets: import (folder, zip, CSV), validation, splits, fingerprints, and the torch Dataset.

`ImageDataset` is loaded on first use so that importing `engine.data` (as the UI does) never
imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.data.archive import ZipLimits, safe_extract
from engine.data.importer import ImportReport, import_dataset
from engine.data.manifest import FORMAT, SPLITS, is_dataset_dir, load_manifest, split_items
from engine.data.split import assign_splits, split_sizes

if TYPE_CHECKING:
    from engine.data.dataset import ImageDataset

__all__ = [
    "FORMAT",
    "SPLITS",
    "ImageDataset",
    "ImportReport",
    "ZipLimits",
    "assign_splits",
    "import_dataset",
    "is_dataset_dir",
    "load_manifest",
    "safe_extract",
    "split_items",
    "split_sizes",
]


def __getattr__(name: str) -> Any:
    if name == "ImageDataset":
        from engine.data.dataset import ImageDataset

        return ImageDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
