"""What the readers of the label formats people bring (`yolo_labels`, `coco_labels`, `voc_labels`) share.

A reader only reads: it lists the pictures of the source with the boxes their label files give, in the
file's own units (YOLO: fractions of the picture, COCO/VOC: pixels), and the problems of the label files
themselves (a broken line, an unparsable file, an unknown class id, a label file without its picture).
Whether a box fits its picture is decided later, once the picture is decoded (`label_checks`).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from engine.data.archive import is_junk
from engine.data.folder_scan import IMAGE_SUFFIXES, SPLIT_NAMES

SPLIT_WORDS = SPLIT_NAMES  # folder names that mean a split: train, val/valid/validation, test


@dataclass
class RawBox:
    """One box as its label file wrote it: `xyxy` in the file's units, where it was written (for problems)."""

    label: str
    xyxy: tuple[float, float, float, float]
    file: str  # the label file, relative to the source
    line: int | None = None  # YOLO: the line number (from 1)
    normalised: bool = False  # YOLO: fractions of the picture's width and height
    over_one: bool = False  # YOLO: some value above 1, where fractions are expected (pixels, probably)


@dataclass
class Picture:
    """A picture of the source and the boxes its labels give."""

    path: Path
    original: str  # relative to the source
    split: str | None = None  # the split the source gives, if any
    label_file: str | None = None  # None: no label file or entry names this picture
    boxes: list[RawBox] = field(default_factory=list)
    size_hint: tuple[int, int] | None = None  # (width, height) the label file states


@dataclass
class Source:
    """What a reader found: the pictures, the class names in their order, the problems, the layout's name."""

    layout: str
    pictures: list[Picture]
    classes: list[str]
    problems: list[dict[str, Any]]
    declared: list[str] = field(default_factory=list)  # classes a class list names (data.yaml, COCO categories)
    declared_in: str | None = None  # the file of that list


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def walk(root: Path) -> list[tuple[str, Path]]:
    """(relative posix name, path) of every file under `root`, junk and hidden entries skipped, sorted."""
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(is_junk(p) for p in rel.parts) or not path.is_file():
            continue
        out.append((nfc(rel.as_posix()), path))
    return out


def is_picture(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def split_of(name: str) -> str | None:
    """The split a path names by one of its folders (`images/train/a.jpg`, `valid/images/a.jpg`)."""
    for part in PurePosixPath(name).parts[:-1]:
        if part.lower() in SPLIT_WORDS:
            return SPLIT_WORDS[part.lower()]
    return None


def split_in_name(name: str) -> str | None:
    """The split a COCO file's name (or its folder) says: instances_train2017.json, valid/_annotations.coco.json."""
    stem = PurePosixPath(name).stem.lower()
    for word, split in (("train", "train"), ("valid", "val"), ("val", "val"), ("test", "test")):
        if word in stem:
            return split
    return split_of(name)


class PictureIndex:
    """The pictures of a source, found by a relative path or, when unique, by file name."""

    def __init__(self, files: list[tuple[str, Path]]):
        self.by_rel = {rel: path for rel, path in files if is_picture(rel)}
        by_base: dict[str, list[str]] = defaultdict(list)
        for rel in self.by_rel:
            by_base[PurePosixPath(rel).name.lower()].append(rel)
        self.by_base = by_base

    def find(self, name: str, near: list[str], split: str | None = None) -> str | None:
        """The picture `name` (as a label file wrote it) means: tried beside each folder of `near`, then by name
        (among pictures of one name, the one in a folder of `split`: train2017/ for instances_train2017.json)."""
        name = nfc(name.replace("\\", "/"))
        for folder in near:
            candidate = _normal(f"{folder}/{name}" if folder else name)
            if candidate in self.by_rel:
                return candidate
        same = self.by_base.get(PurePosixPath(name).name.lower(), [])
        if len(same) > 1 and split is not None:
            same = [rel for rel in same if any(split_in_name(part) == split for part in PurePosixPath(rel).parts[:-1])]
        return same[0] if len(same) == 1 else None


def _normal(rel: str) -> str:
    parts: list[str] = []
    for p in PurePosixPath(rel).parts:
        if p in ("", "."):
            continue
        if p == "..":
            if parts:
                parts.pop()
            continue
        parts.append(p)
    return "/".join(parts)
