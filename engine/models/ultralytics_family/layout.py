"""The folder layout Ultralytics' classification trainer reads: `root/{train,val,test}/<class>/` of links.

The files are hard links to the imported dataset's images (symlinks or copies where links fail); the
dataset itself is never written to.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError

VAL_CARVE_FRACTION = 0.15


def _folder_name(label: str) -> str:
    if label in ("", ".", "..") or "/" in label or "\\" in label or "\0" in label:
        raise UserError(f"The class name '{label}' cannot be a folder name for YOLO training; rename the class.")
    return label


def place_file(src: Path, dst: Path) -> str:
    """Hard link, else symbolic link, else copy (another drive, or a file system without links)."""
    try:
        os.link(src, dst)
        return "hardlink"
    except OSError:
        pass
    try:
        dst.symlink_to(src.resolve())
        return "symlink"
    except OSError:
        shutil.copyfile(src, dst)
        return "copy"


def write_layout(dataset_dir: Path, dest: Path, labels: list[str], splits: dict[str, list[dict]]) -> dict[str, Any]:
    """`dest/<split>/<class>/` holding a link per item; how many files of each kind were placed."""
    if dest.exists():
        shutil.rmtree(dest)  # only ever a layout this module wrote: stale links must not linger
    how: dict[str, int] = {}
    counts: dict[str, int] = {}
    for split, items in splits.items():
        for label in labels:  # every class folder, even an empty one, so class indices line up
            (dest / split / _folder_name(label)).mkdir(parents=True, exist_ok=True)
        for i, item in enumerate(items):
            src = dataset_dir / item["file"]
            # A running number keeps names unique; the original name stays readable after it.
            dst = dest / split / item["label"] / f"{i:06d}_{Path(item['file']).name}"
            kind = place_file(src, dst)
            how[kind] = how.get(kind, 0) + 1
        counts[split] = len(items)
    return {"root": str(dest), "counts": counts, "files": how}


def write_split_layout(dataset_dir: str | Path, dest: str | Path) -> dict[str, Any]:
    """Write Ultralytics' classification layout `dest/{train,val,test}/<class>/` for an imported dataset.

    The files are hard links to the dataset's images (symlinks or copies where links fail), split exactly as in
    its manifest.json, so `yolo classify train data=DEST` trains on the same split as Konstruktor. Returns
    {"root", "counts": {split: n}, "files": {"hardlink"|"symlink"|"copy": n}}.
    """
    from engine.data import load_manifest

    dataset_dir = Path(dataset_dir)
    manifest = load_manifest(dataset_dir)
    splits = {s: [it for it in manifest["items"] if it["split"] == s] for s in ("train", "val", "test")}
    return write_layout(dataset_dir, Path(dest), list(manifest["classes"]), splits)


def carve_validation(items: list[dict], labels: list[str], seed: int,
                     fraction: float = VAL_CARVE_FRACTION) -> tuple[list[dict], list[dict]]:
    """(train, held-out validation): a stratified share of each class with three or more images."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in labels:
        mine = [it for it in items if it["label"] == label]
        order = rng.permutation(len(mine))
        k = max(1, round(len(mine) * fraction)) if len(mine) >= 3 else 0
        val += [mine[i] for i in order[:k]]
        train += [mine[i] for i in order[k:]]
    return train, val
