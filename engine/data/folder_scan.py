"""Finding the files of a folder of class folders (optionally inside train/val/test folders): the candidates
that the importer then checks, and the entries it skips.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.data import neardup
from engine.data.archive import is_junk
from engine.data.errors import CodedDataError
from engine.data.problems import problem
from engine.errors import HIDDEN_CHAR, hidden_char

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".mpo"}
)
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


@dataclass
class Candidate:
    """A file found in the source, and the facts its check fills in."""

    path: Path
    original: str  # relative to the source (as written in the CSV for CSV sources)
    label: str
    split: str | None = None  # the given split, if any
    sha256: str = ""
    width: int = 0
    height: int = 0
    suffix: str = ""
    look: neardup.Fingerprint | None = None  # None: too flat to compare, or not checked
    notes: list[tuple[str, str, str, dict]] = field(default_factory=list)  # (kind, severity, message, params)


def _children(folder: Path, exclude: Path | None = None) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        entries = [e for e in it if not is_junk(e.name)]
    if exclude is not None:
        entries = [e for e in entries if not (e.is_dir() and Path(e.path).resolve() == exclude)]
    return sorted(entries, key=lambda e: e.name)


def _walk_files(folder: Path, exclude: Path | None) -> Iterator[Path]:
    for entry in _children(folder, exclude):
        if entry.is_dir():
            yield from _walk_files(Path(entry.path), exclude)
        elif entry.is_file():
            yield Path(entry.path)


def _looks_like_image(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def _descend(root: Path, exclude: Path | None) -> Path:
    """Step into a lone top folder (`dataset/cats/...` zipped as one folder) when it holds folders itself."""
    while True:
        entries = _children(root, exclude)
        dirs = [e for e in entries if e.is_dir()]
        if len(dirs) != 1 or any(_looks_like_image(e.name) for e in entries if not e.is_dir()):
            return root
        if not any(e.is_dir() for e in _children(Path(dirs[0].path), exclude)):
            return root
        root = Path(dirs[0].path)


def class_label(name: str) -> str:
    """The class name of a folder or CSV label; refused when it holds characters that disguise it on screen."""
    hidden = hidden_char(name)
    if hidden:  # the code and sentence of engine.data.bins: a class name is refused the same way everywhere
        raise CodedDataError("hidden_char", HIDDEN_CHAR.format(**hidden), **hidden)
    # macOS writes decomposed unicode; one class must not become two look-alikes.
    return unicodedata.normalize("NFC", name)


def scan_folder(
    source: Path, base: Path, exclude: Path | None = None
) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """Class folders (optionally inside train/val/test folders) → files to check, plus skipped entries."""
    root = _descend(source, exclude)
    entries = _children(root, exclude)
    given = any(e.is_dir() and e.name.lower() == "train" for e in entries)
    files: list[Candidate] = []
    problems: list[dict[str, Any]] = []

    def rel(path: str | Path) -> str:
        return Path(path).relative_to(base).as_posix()

    def skip_loose_file(path: str) -> None:
        severity = "warning" if _looks_like_image(path) else "info"
        problems.append(
            problem(rel(path), "ignored", severity, "Skipped: the file is not inside a class folder.",
                     code="ignored.loose")
        )

    def add_classes(folder: Path, split: str | None) -> None:
        for entry in _children(folder, exclude):
            if not entry.is_dir():
                skip_loose_file(entry.path)
                continue
            for path in _walk_files(Path(entry.path), exclude):
                files.append(Candidate(path, rel(path), class_label(entry.name), split))

    if not given:
        add_classes(root, None)
        return files, problems
    for entry in entries:
        split = SPLIT_NAMES.get(entry.name.lower()) if entry.is_dir() else None
        if split is not None:
            add_classes(Path(entry.path), split)
        elif entry.is_dir():
            problems.append(
                problem(
                    rel(entry.path),
                    "ignored",
                    "warning",
                    "Skipped: next to train/ only val/ and test/ folders are read.",
                    code="ignored.not_split",
                )
            )
        else:
            skip_loose_file(entry.path)
    return files, problems

