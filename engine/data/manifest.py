"""Reading an imported dataset folder: its manifest and the items of each split."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.errors import DataError
from engine.fsutil import read_json

FORMAT = "konstruktor-dataset/1"
SPLITS = ("train", "val", "test")


def load_manifest(dataset_dir: str | Path) -> dict[str, Any]:
    """The manifest of an imported dataset; DataError when it is missing or damaged."""
    path = Path(dataset_dir) / "manifest.json"
    if not path.is_file():
        raise DataError(
            f"'{dataset_dir}' is not an imported dataset (it has no manifest.json); import the images again."
        )
    try:
        manifest = read_json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(
            f"The dataset manifest '{path}' cannot be read ({e}); import the images again."
        ) from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(manifest.get("classes"), list)
        or not isinstance(manifest.get("items"), list)
    ):
        raise DataError(
            f"The dataset manifest '{path}' is not in the {FORMAT} format; import the images again."
        )
    return manifest


def is_dataset_dir(path: str | Path) -> bool:
    """True when `path` is a folder written by import_dataset with a readable manifest."""
    try:
        load_manifest(path)
    except DataError:
        return False
    return True


def split_items(manifest: dict[str, Any], split: str | Sequence[str]) -> list[dict[str, Any]]:
    """The manifest's items that belong to `split` (one name or several), in manifest order."""
    wanted = {split} if isinstance(split, str) else set(split)
    unknown = wanted - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split {sorted(unknown)}; expected some of {SPLITS}")
    return [item for item in manifest["items"] if item["split"] in wanted]
