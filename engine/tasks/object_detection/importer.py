"""Import detection labels (YOLO txt, COCO JSON, Pascal VOC XML; a folder or a zip) into a dataset folder.

(The readers and the checks are being written; `looks_like_detection` already decides the task from a layout.)
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from engine.errors import UserError

SCAN_LIMIT = 5000  # names looked at to recognise a layout


def _names(path: Path) -> list[str]:
    if path.is_dir():
        out = []
        for i, p in enumerate(path.rglob("*")):
            if i >= SCAN_LIMIT:
                break
            out.append(p.relative_to(path).as_posix())
        return out
    if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return z.namelist()[:SCAN_LIMIT]
    return []


def looks_like_detection(path: Path) -> bool:
    """A YOLO layout (data.yaml, or labels/ .txt files beside images/), COCO JSON or Pascal VOC XML files."""
    names = [n.lower() for n in _names(Path(path))]
    if any(n.rsplit("/", 1)[-1] in ("data.yaml", "data.yml") for n in names):
        return True
    if any("labels/" in f"/{n}" and n.endswith(".txt") for n in names) and any("images/" in f"/{n}" for n in names):
        return True
    if any(n.endswith(".xml") for n in names) and any(n.endswith((".jpg", ".jpeg", ".png")) for n in names):
        return True
    return any(n.endswith(".json") and ("instances" in n or "coco" in n or n.rsplit("/", 1)[-1] == "annotations.json"
                                        or n.startswith("annotations/")) for n in names)


def import_detection(source, dest_root, **options):
    raise UserError("Importing detection labels is not ready yet in this version.")
