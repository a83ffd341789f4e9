"""Import a folder, zip or CSV of labelled images into a checked, split, fingerprinted dataset folder.

The user's files are only ever read. Every file is decoded once with `engine.preprocess.load_image`
(and discarded), bad ones are listed in problems.json with a plain reason, and the good ones are
copied byte for byte into `<dest_root>/<dataset_id>/images/`. The folder appears in one rename, so
a crash never leaves a half-written dataset behind. This module must not import torch.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from engine.data import neardup
from engine.data.archive import ZipLimits, is_junk, safe_extract
from engine.data.errors import CodedDataError
from engine.data.manifest import FORMAT, SPLITS, is_dataset_dir, load_manifest
from engine.data.split import assign_splits, check_fractions
from engine.errors import HIDDEN_CHAR, DataError, hidden_char
from engine.fsutil import atomic_write_json, read_json
from engine.preprocess import ALLOWED_FORMATS, ImageLoadError, load_image

Progress = Callable[[int, int], None]

MIN_SIDE = 16  # smaller images are kept, with a warning
MIN_CLASS_SIZE = 2
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".mpo"}
)
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
_FORMAT_SUFFIX = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "BMP": ".bmp",
    "TIFF": ".tif",
    "GIF": ".gif",
}
_TEMP_PREFIXES = (".import-", ".unzip-")
STALE_TEMP_S = 24 * 3600
_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,5}$")

_CSV_PATH = ("path", "file", "filename", "file_name", "filepath", "image", "image_path")
_CSV_LABEL = ("label", "class", "category", "target", "class_name")
_CSV_SPLIT = ("split", "subset")

_MODE_NOTES = {
    "1": "was black-and-white (1-bit)",
    "L": "was grayscale",
    "LA": "was grayscale with transparency; transparent areas were put on white",
    "La": "was grayscale with transparency; transparent areas were put on white",
    "P": "was a palette image",
    "PA": "was a palette image with transparency; transparent areas were put on white",
    "RGBA": "had an alpha channel; transparent areas were put on white",
    "RGBa": "had an alpha channel; transparent areas were put on white",
    "CMYK": "was CMYK",
    "I;16": "was 16-bit; it was scaled to 8 bits",
    "I;16B": "was 16-bit; it was scaled to 8 bits",
    "I;16L": "was 16-bit; it was scaled to 8 bits",
    "I;16N": "was 16-bit; it was scaled to 8 bits",
    "I": "was 32-bit integer; it was scaled to 8 bits",
    "F": "was floating-point; it was scaled to 8 bits",
    "YCbCr": "was YCbCr",
    "LAB": "was in the Lab colour space",
    "HSV": "was HSV",
}

# How the summary names each kind of problem, most serious first.
KIND_TITLES = {
    "conflict": "same image in more than one class (every copy left out)",
    "unreadable": "unreadable or not an image (skipped)",
    "missing": "listed in the CSV but not found (skipped)",
    "small_class": "in a class with fewer than 2 images (class dropped)",
    "no_train": "in a class with no training images (class dropped)",
    "leak": "same image in two splits (only one copy kept)",
    "duplicate": "exact duplicate within a class (one copy kept)",
    "near_conflict": "looks almost the same as a picture of another class (kept; check the labels)",
    "near_leak": "looks almost the same as a picture of its class in another split (kept; scores may be inflated)",
    "ignored": "outside the class folders (skipped)",
    "tiny_image": f"smaller than {MIN_SIDE} px on a side (kept)",
    "converted": "converted to RGB (kept)",
    "exif_rotated": "turned upright from EXIF orientation (kept)",
    "near_duplicate": "looks almost the same as another picture of its class and split (kept)",
    "excluded": "left out by hand (not in this dataset)",
}


# The `code` of every problem an import (or an exclusion) can write; ui/i18n says each in English and Russian.
PROBLEM_CODES = (
    "conflict", "unreadable.empty", "unreadable.not_image", "unreadable.too_large", "unreadable.damaged",
    "unreadable.no_pixels", "unreadable.open", "unreadable.decode", "missing", "small_class", "no_train", "leak",
    "duplicate", "ignored.loose", "ignored.not_split", "tiny_image", "converted", "exif_rotated", "excluded",
    "near_conflict", "near_leak", "near_duplicate",
)
NEAR_KINDS = ("near_conflict", "near_leak", "near_duplicate")
MAX_NAMED = 5  # a near-duplicate problem names at most this many of the picture's look-alikes
_UNREADABLE_PREFIXES = (
    ("is empty", "unreadable.empty"),
    ("is not an image", "unreadable.not_image"),
    ("is too large", "unreadable.too_large"),
    ("is damaged", "unreadable.damaged"),
    ("has no pixels", "unreadable.no_pixels"),
    ("cannot be opened", "unreadable.open"),
)


# English sentence of each DataError an import raises, by code: the UI says it in another language by code
# (ui/i18n `dataerr.<code>`); the zip's own errors are in engine.data.archive.ERRORS.
ERRORS: dict[str, str] = {
    "import_missing": "'{source}' does not exist; check the path and choose the folder, .zip or .csv again.",
    "import_zip_empty": "The zip '{name}' is empty; put a folder for each class of images in it and try again.",
    "import_kind": "'{name}' is a {suffix}; Konstruktor imports a folder, a .zip or a .csv.",
    "import_no_suffix": "'{name}' is a file without an extension; Konstruktor imports a folder, a .zip or a .csv.",
    "csv_not_utf8": "The CSV '{name}' is not UTF-8 text; save it again as 'CSV UTF-8'.",
    "csv_bad_row": "Row {row} of '{name}' cannot be read as CSV ({error}); fix the row.",
    "csv_no_rows": "The CSV '{name}' has no rows; write one 'path,label' row per image.",
    "csv_bad_header": "Row {row} of '{name}' is a header without both a 'path' and a 'label' column; name the columns "
                      "path,label (and optionally split).",
    "csv_header_only": "The CSV '{name}' has a header but no rows; write one 'path,label' row per image.",
    "csv_few_columns": "Row {row} of '{name}' has {n} column(s); every row needs a path and a label, like "
                       "'cats/1.jpg,cats'.",
    "csv_empty_cell": "Row {row} of '{name}' has an empty path or label; fill it in or delete the row.",
    "csv_bad_split": "Row {row} of '{name}' has the split '{value}'; use train, val or test.",
    "csv_no_files": "None of the {n} files listed in '{name}' exist; relative paths are read from the CSV's folder.",
    "csv_mixed_split": "Row {row} of '{name}' has no split while other rows do; give every row a split or none.",
    "import_no_images": "No images were found in '{name}'; put each class's images in a folder named after the class.",
    "import_unreadable": "None of the {n} files in '{name}' could be read as an image; use JPEG, PNG, WEBP, BMP, TIFF "
                         "or GIF files.",
    "import_no_class": "No class in '{name}' has at least {min} usable images; a classifier needs at least two "
                       "classes with two or more images each.",
    "import_no_class_train": "No class in '{name}' has at least {min} usable images in train/; a classifier needs at "
                             "least two classes with two or more images each.",
    "import_one_class": "Only one class ('{label}') has enough images; a classifier needs at least two, so add a "
                        "folder of images for another class.",
    "import_single_class": "Only one class ('{label}') has images; a classifier needs at least two, so add a folder "
                           "of images for another class.",
}


def _refused(code: str, **params: Any) -> DataError:
    """The DataError of `code`, with a code and params a UI can translate."""
    return CodedDataError(code, ERRORS[code].format(**params), **params)


def _unreadable_code(reason: str) -> str:
    return next((code for prefix, code in _UNREADABLE_PREFIXES if reason.startswith(prefix)), "unreadable.decode")


@dataclass
class ImportReport:
    """What an import produced: the dataset folder, its manifest, the problems found and the counts."""

    dataset_dir: Path
    manifest: dict[str, Any]
    problems: list[dict[str, Any]]
    counts: dict[str, dict[str, int]]
    reused: bool = False

    def summary(self) -> str:
        """A few plain lines for people: sizes, split counts, problems grouped by kind."""
        n_images = sum(sum(c.values()) for c in self.counts.values())
        verb = "Already imported" if self.reused else "Imported"
        split = self.manifest["split"]
        how = f"generated with seed {split['seed']}" if split["source"] == "generated" else "as given"
        totals = {s: sum(c[s] for c in self.counts.values()) for s in SPLITS}
        lines = [
            f"{verb} '{self.manifest['name']}': {n_images} images in {len(self.counts)} classes "
            f"(dataset {self.manifest['id']}).",
            f"Split {how}: " + ", ".join(f"{s} {totals[s]}" for s in SPLITS) + ".",
        ]
        by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for p in self.problems:
            by_kind[p["kind"]].append(p)
        if not by_kind:
            lines.append("No problems found.")
        order = list(KIND_TITLES)
        for kind in sorted(by_kind, key=lambda k: order.index(k) if k in order else len(order)):
            group = by_kind[kind]
            names = ", ".join(p["file"] for p in group[:5])
            more = f" and {len(group) - 5} more" if len(group) > 5 else ""
            title = KIND_TITLES.get(kind, kind)
            lines.append(f"{group[0]['severity'].capitalize()}: {len(group)} × {title}: {names}{more}.")
        return "\n".join(lines)


@dataclass
class _File:
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


def _problem(file: str, kind: str, severity: str, message: str, params: dict[str, Any] | None = None,
             code: str | None = None) -> dict[str, Any]:
    # `code` + `params` let a UI say `message` in another language (ui/i18n); `message` stays the English text.
    return {"file": file, "kind": kind, "severity": severity, "message": message, "code": code or kind,
            "params": params or {}}


def import_dataset(
    source: str | Path,
    dest_root: str | Path,
    *,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    progress: Progress | None = None,
    zip_limits: ZipLimits | None = None,
    name: str | None = None,
    confined: bool = False,
) -> ImportReport:
    """Check, split and copy a labelled image collection into `<dest_root>/<dataset_id>/`.

    Importing the same images with the same split parameters again returns the existing folder
    (`reused=True`, with the manifest and problems.json written the first time). `confined` (a shared app):
    a CSV may name only files inside its own folder, never an absolute path or a `..` way out of it.
    """
    check_fractions(val_fraction, test_fraction)
    source = Path(source).expanduser()
    dest_root = Path(dest_root)
    if not source.exists():
        raise _refused("import_missing", source=str(source))
    dest_root.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp(dest_root)
    build_args = dict(seed=seed, val_fraction=val_fraction, test_fraction=test_fraction, progress=progress,
                      name=name)
    if source.is_dir():
        files, problems = _scan_folder(source, source, exclude=dest_root.resolve())
        return _build(files, problems, source, dest_root, **build_args)
    suffix = source.suffix.lower()
    if suffix == ".zip":
        unpacked = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIXES[1], dir=dest_root))
        try:
            if not safe_extract(source, unpacked, zip_limits):
                raise _refused("import_zip_empty", name=source.name)
            files, problems = _scan_folder(unpacked, unpacked)
            return _build(files, problems, source, dest_root, **build_args)
        finally:
            shutil.rmtree(unpacked, ignore_errors=True)
    if suffix == ".csv":
        files, problems = _scan_csv(source, confined=confined)
        return _build(files, problems, source, dest_root, **build_args)
    if suffix:
        raise _refused("import_kind", name=source.name, suffix=suffix)
    raise _refused("import_no_suffix", name=source.name)


def _remove_stale_temp(dest_root: Path) -> None:
    """Delete temp folders left by an import that was killed; a day's age keeps running imports safe."""
    cutoff = time.time() - STALE_TEMP_S
    for path in dest_root.glob(".*"):
        if path.name.startswith(_TEMP_PREFIXES) and path.is_dir() and path.stat().st_mtime < cutoff:
            shutil.rmtree(path, ignore_errors=True)


# --- finding the files -------------------------------------------------------------------------


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


def _label(name: str) -> str:
    """The class name of a folder or CSV label; refused when it holds characters that disguise it on screen."""
    hidden = hidden_char(name)
    if hidden:  # the code and sentence of engine.data.bins: a class name is refused the same way everywhere
        raise CodedDataError("hidden_char", HIDDEN_CHAR.format(**hidden), **hidden)
    # macOS writes decomposed unicode; one class must not become two look-alikes.
    return unicodedata.normalize("NFC", name)


def _scan_folder(
    source: Path, base: Path, exclude: Path | None = None
) -> tuple[list[_File], list[dict[str, Any]]]:
    """Class folders (optionally inside train/val/test folders) → files to check, plus skipped entries."""
    root = _descend(source, exclude)
    entries = _children(root, exclude)
    given = any(e.is_dir() and e.name.lower() == "train" for e in entries)
    files: list[_File] = []
    problems: list[dict[str, Any]] = []

    def rel(path: str | Path) -> str:
        return Path(path).relative_to(base).as_posix()

    def skip_loose_file(path: str) -> None:
        severity = "warning" if _looks_like_image(path) else "info"
        problems.append(
            _problem(rel(path), "ignored", severity, "Skipped: the file is not inside a class folder.",
                     code="ignored.loose")
        )

    def add_classes(folder: Path, split: str | None) -> None:
        for entry in _children(folder, exclude):
            if not entry.is_dir():
                skip_loose_file(entry.path)
                continue
            for path in _walk_files(Path(entry.path), exclude):
                files.append(_File(path, rel(path), _label(entry.name), split))

    if not given:
        add_classes(root, None)
        return files, problems
    for entry in entries:
        split = SPLIT_NAMES.get(entry.name.lower()) if entry.is_dir() else None
        if split is not None:
            add_classes(Path(entry.path), split)
        elif entry.is_dir():
            problems.append(
                _problem(
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


def _read_csv_rows(csv_path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise _refused("csv_not_utf8", name=csv_path.name) from None
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield reader.line_num, [cell.strip() for cell in row]
    except csv.Error as e:
        raise _refused("csv_bad_row", row=reader.line_num, name=csv_path.name, error=str(e)) from None


def _scan_csv(csv_path: Path, *, confined: bool = False) -> tuple[list[_File], list[dict[str, Any]]]:
    """Rows of `path,label[,split]` (header optional) → files to check, plus rows naming missing files."""
    name = csv_path.name
    rows = list(_read_csv_rows(csv_path))
    if not rows:
        raise _refused("csv_no_rows", name=name)
    path_i, label_i, split_i = 0, 1, 2
    first_line, header = rows[0]
    lowered = [c.lower() for c in header]
    if any(c in _CSV_PATH + _CSV_LABEL + _CSV_SPLIT for c in lowered):

        def find(names: tuple[str, ...]) -> int | None:
            return next((i for i, c in enumerate(lowered) if c in names), None)

        found_path, found_label, split_i = find(_CSV_PATH), find(_CSV_LABEL), find(_CSV_SPLIT)
        if found_path is None or found_label is None:
            raise _refused("csv_bad_header", row=first_line, name=name)
        path_i, label_i = found_path, found_label
        rows = rows[1:]
        if not rows:
            raise _refused("csv_header_only", name=name)
    files: list[_File] = []
    problems: list[dict[str, Any]] = []
    first_with_split = first_without_split = None
    for line, row in rows:
        if len(row) <= max(path_i, label_i):
            raise _refused("csv_few_columns", row=line, name=name, n=len(row))
        raw, label = row[path_i], row[label_i]
        if not raw or not label:
            raise _refused("csv_empty_cell", row=line, name=name)
        value = row[split_i] if split_i is not None and split_i < len(row) else ""
        split = SPLIT_NAMES.get(value.lower()) if value else None
        if value and split is None:
            raise _refused("csv_bad_split", row=line, name=name, value=value)
        if split:
            first_with_split = first_with_split or line
        else:
            first_without_split = first_without_split or line
        path = _csv_path(csv_path.parent, raw, confined=confined)
        if path is None:
            problems.append(
                _problem(
                    raw,
                    "missing",
                    "warning",
                    f"Skipped: row {line} of the CSV names this file, but there is no such file.",
                    {"row": line},
                )
            )
            continue
        files.append(_File(path, raw, _label(label), split))
    if not files:
        raise _refused("csv_no_files", n=len(rows), name=name)
    if first_with_split and first_without_split:
        raise _refused("csv_mixed_split", row=first_without_split, name=name)
    return files, problems


def _csv_path(folder: Path, raw: str, *, confined: bool = False) -> Path | None:
    """The file a CSV row names; `confined`: only one inside `folder` (links resolved), else None like a missing one."""
    inside = folder.resolve()
    for candidate in (raw, raw.replace("\\", "/")):
        path = Path(candidate) if confined else Path(candidate).expanduser()
        path = path if path.is_absolute() else folder / path
        if confined and not path.resolve().is_relative_to(inside):
            continue
        if path.is_file():
            return path
    return None


# --- checking the files ------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check(item: _File) -> str | None:
    """Hash and decode one file, filling in its facts; return the reason when it cannot be used."""
    try:
        if item.path.stat().st_size == 0:
            return "is empty (0 bytes)"
        item.sha256 = _sha256(item.path)
        with load_image(str(item.path)) as img:
            item.width, item.height = img.size
            item.look = neardup.fingerprint(img)  # from the decoded picture: no second decode
        with Image.open(item.path, formats=ALLOWED_FORMATS) as raw:
            mode, fmt = raw.mode, raw.format or ""
            transparent = "transparency" in raw.info
            orientation = raw.getexif().get(0x0112, 1)
    except ImageLoadError as e:
        return str(e)
    except OSError as e:
        return f"cannot be opened ({e.strerror or e})"
    except Exception as e:  # one odd file (say, malformed EXIF) must not abort an import of thousands
        return f"cannot be decoded ({type(e).__name__}: {e})"
    note = _MODE_NOTES.get(mode)
    if mode == "P" and transparent:
        note = _MODE_NOTES["PA"]
    if note:
        item.notes.append(("converted", "info", f"Converted to RGB: the image {note}.",
                           {"mode": "PA" if mode == "P" and transparent else mode}))
    if orientation in range(2, 9):
        item.notes.append(
            ("exif_rotated", "info", f"Turned upright using its EXIF orientation (value {orientation}).",
             {"value": orientation})
        )
    if min(item.width, item.height) < MIN_SIDE:
        item.notes.append(
            (
                "tiny_image",
                "warning",
                f"Only {item.width}×{item.height} pixels; images under {MIN_SIDE} px on a side carry little detail.",
                {"width": item.width, "height": item.height, "min": MIN_SIDE},
            )
        )
    suffix = item.path.suffix.lower()
    item.suffix = suffix if _SAFE_SUFFIX.match(suffix) else _FORMAT_SUFFIX.get(fmt, ".img")
    return None


_SPLIT_RANK = {"train": 0, "val": 1, "test": 2, None: 3}


def _resolve_duplicates(files: list[_File], problems: list[dict[str, Any]]) -> list[_File]:
    """One copy per image: conflicts across classes drop every copy, leaks keep the earliest split."""
    by_hash: dict[str, list[_File]] = defaultdict(list)
    for f in files:
        by_hash[f.sha256].append(f)
    kept = []
    for copies in by_hash.values():
        labels = sorted({f.label for f in copies})
        if len(labels) > 1:
            classes = " and ".join(f"'{c}'" for c in labels)
            for f in copies:
                others = ", ".join(f"'{o.original}'" for o in copies if o is not f)
                problems.append(
                    _problem(
                        f.original,
                        "conflict",
                        "error",
                        f"The same image is in classes {classes} (also {others}); every copy was left out — "
                        "keep it only in the class it belongs to.",
                        {"classes": labels, "others": [o.original for o in copies if o is not f]},
                    )
                )
            continue
        copies.sort(key=lambda f: (_SPLIT_RANK[f.split], f.original))
        keep = copies[0]
        kept.append(keep)
        for f in copies[1:]:
            if f.split != keep.split:
                problems.append(
                    _problem(
                        f.original,
                        "leak",
                        "warning",
                        f"The same image as '{keep.original}' in {keep.split}; only the {keep.split} copy was kept, "
                        f"so {f.split} results are not inflated.",
                        {"kept": keep.original, "split": keep.split, "other": f.split},
                    )
                )
            else:
                problems.append(
                    _problem(
                        f.original,
                        "duplicate",
                        "warning",
                        f"An exact copy of '{keep.original}'; one copy was kept.",
                        {"kept": keep.original},
                    )
                )
    return kept


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)  # as ui/i18n writes a list in its sentences


def _near_problems(near: list[tuple[str, str]], members: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """One problem per picture in a pair of near-duplicates (originals), given each picture's (label, split).

    A look-alike in another class is a warning (likely a labelling mistake), one of the same class in another
    split a warning (copies on both sides inflate the scores), the rest only information. `others` names the
    picture's look-alikes (the first MAX_NAMED), which is also what leaving files out regroups by.
    """
    neighbours: dict[str, set[str]] = defaultdict(set)
    for a, b in near:
        if a in members and b in members and a != b:
            neighbours[a].add(b)
            neighbours[b].add(a)
    problems = []
    for original in sorted(neighbours):
        label, split = members[original]
        others = sorted(neighbours[original])
        named = others[:MAX_NAMED]
        params: dict[str, Any] = {"others": named}
        classes = sorted({members[o][0] for o in others} - {label})
        splits = [s for s in SPLITS if s != split and any(members[o] == (label, s) for o in others)]
        if classes:
            params["classes"] = classes
            problems.append(_problem(
                original, "near_conflict", "warning",
                f"Looks almost the same as {_quoted(named)} (class {_quoted(classes)}); if they are the same "
                "picture, keep it only in the class it belongs to.", params))
        elif splits:
            params.update(split=split, other=splits[0])
            problems.append(_problem(
                original, "near_leak", "warning",
                f"Looks almost the same as {_quoted(named)} of the same class in {splits[0]}, while this one is "
                f"in {split}: copies in two splits make validation and test scores look better than they are "
                "— leave one of them out.", params))
        else:
            problems.append(_problem(
                original, "near_duplicate", "info",
                f"Looks almost the same as {_quoted(named)} of the same class and split; kept.", params))
    return problems


def _drop_small_classes(
    files: list[_File], seen_labels: set[str], given: bool, problems: list[dict[str, Any]]
) -> list[_File]:
    by_label: dict[str, list[_File]] = defaultdict(list)
    for f in files:
        by_label[f.label].append(f)
    kept = []
    for label in sorted(seen_labels):
        members = by_label.get(label, [])
        if len(members) < MIN_CLASS_SIZE:
            message = (
                f"The class '{label}' has {len(members)} usable image(s); a class needs at least {MIN_CLASS_SIZE}, "
                "so it was left out — add more images of it."
            )
            for original in [f.original for f in members] or [label]:
                problems.append(_problem(original, "small_class", "warning", message,
                                         {"label": label, "n": len(members), "min": MIN_CLASS_SIZE}))
        elif given and not any(f.split == "train" for f in members):
            message = (
                f"The class '{label}' has no images in train/, so it cannot be learned and was left out."
            )
            for f in members:
                problems.append(_problem(f.original, "no_train", "warning", message, {"label": label}))
        else:
            kept.extend(members)
    return kept


# --- building the dataset folder ---------------------------------------------------------------


def _build(
    files: list[_File],
    problems: list[dict[str, Any]],
    source: Path,
    dest_root: Path,
    *,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    progress: Progress | None,
    name: str | None = None,
) -> ImportReport:
    given = any(f.split is not None for f in files)
    if not files:
        raise _refused("import_no_images", name=source.name)
    good: list[_File] = []
    total = len(files)
    if progress:
        progress(0, total)
    for done, item in enumerate(files, 1):
        reason = _check(item)
        if reason is None:
            good.append(item)
            problems.extend(_problem(item.original, *note) for note in item.notes)
        else:
            problems.append(_problem(item.original, "unreadable", "warning", f"Skipped: the file {reason}.",
                                     {"reason": reason}, code=_unreadable_code(reason)))
        if progress:
            progress(done, total)
    if not good:
        raise _refused("import_unreadable", n=total, name=source.name)
    seen_labels = {f.label for f in files}
    kept = _drop_small_classes(_resolve_duplicates(good, problems), seen_labels, given, problems)
    classes = sorted({f.label for f in kept})
    if not classes:
        raise _refused("import_no_class_train" if given else "import_no_class", name=source.name, min=MIN_CLASS_SIZE)
    if len(classes) < 2:
        raise _refused("import_one_class" if len(seen_labels) > 1 else "import_single_class", label=classes[0])
    close = neardup.pairs([f.look for f in kept])
    near = [[kept[i] for i in group] for group in neardup.groups(close)]

    if given:
        split_of = {f.sha256: f.split or "train" for f in kept}
        split_params: dict[str, Any] = {
            "source": "given",
            "seed": None,
            "val_fraction": None,
            "test_fraction": None,
        }
        assignment = "\n".join(sorted(f"{sha}\t{s}" for sha, s in split_of.items()))
        id_params = {"source": "given", "assignment": hashlib.sha256(assignment.encode()).hexdigest()}
    else:
        split_of = assign_splits(
            ((f.label, f.sha256) for f in kept),
            seed=seed,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            together=[[f.sha256 for f in group] for group in near],
        )
        split_params = {
            "source": "generated",
            "seed": seed,
            "val_fraction": val_fraction,
            "test_fraction": test_fraction,
        }
        if any(len({f.label for f in group}) < len(group) for group in near):
            # Recorded (and so part of the id) only when a class has copies to keep together: other datasets
            # keep the ids they had before this rule.
            split_params["near_duplicates"] = "same split"
        id_params = split_params
    members = {f.original: (f.label, split_of[f.sha256]) for f in kept}
    problems.extend(_near_problems([(kept[a].original, kept[b].original) for a, b in close], members))
    fingerprint, dataset_id = _identity([(f.label, f.sha256) for f in kept], id_params)

    final = dest_root / dataset_id
    if is_dataset_dir(final):
        return _report(final, reused=True)

    index = {c: i for i, c in enumerate(classes)}
    kept.sort(key=lambda f: (index[f.label], SPLITS.index(split_of[f.sha256]), f.sha256))
    items = [
        {
            "file": f"images/{index[f.label]}/{f.sha256[:16]}{f.suffix}",
            "label": f.label,
            "sha256": f.sha256,
            "width": f.width,
            "height": f.height,
            "original": f.original,
            "split": split_of[f.sha256],
        }
        for f in kept
    ]
    manifest = {
        "format": FORMAT,
        "id": dataset_id,
        "fingerprint": fingerprint,
        "name": name or (source.stem if source.is_file() else source.name),
        "source": str(source.resolve()),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "classes": classes,
        "split": split_params,
        "items": items,
    }
    problems.sort(key=lambda p: (_SEVERITY_RANK[p["severity"]], p["kind"], p["file"]))
    _write(final, kept, items, manifest, problems)
    return _report(final, reused=False)


def _write(
    final: Path, kept: list[_File], items: list[dict[str, Any]], manifest: dict, problems: list
) -> None:
    """Copy the images and write the JSON files into a hidden temp folder, then rename it into place."""
    staging = Path(tempfile.mkdtemp(prefix=f"{_TEMP_PREFIXES[0]}{final.name}-", dir=final.parent))
    try:
        by_sha = {f.sha256: f for f in kept}
        for item in items:
            target = staging / item["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(by_sha[item["sha256"]].path, "rb") as src, open(target, "xb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
                dst.flush()
                os.fsync(dst.fileno())
        atomic_write_json(staging / "problems.json", problems)
        atomic_write_json(staging / "manifest.json", manifest)
        if final.exists() and not is_dataset_dir(final):
            # A folder with our id but no readable manifest is debris (not written by us in one rename).
            shutil.rmtree(final)
        try:
            os.rename(staging, final)
        except OSError:
            if not is_dataset_dir(final):  # another import of the same data may have won the race
                raise
        _fsync_dir(final.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _report(dataset_dir: Path, *, reused: bool) -> ImportReport:
    manifest = load_manifest(dataset_dir)
    problems_path = dataset_dir / "problems.json"
    problems = read_json(problems_path) if problems_path.is_file() else []
    counts = {c: dict.fromkeys(SPLITS, 0) for c in manifest["classes"]}
    for item in manifest["items"]:
        counts[item["label"]][item["split"]] += 1
    return ImportReport(
        dataset_dir=dataset_dir, manifest=manifest, problems=problems, counts=counts, reused=reused
    )


# --- leaving flagged files out -----------------------------------------------------------------

_POINTS_AT_KEPT = ("duplicate", "leak")  # these name the dropped copy; the copy in the dataset is params["kept"]


def _identity(pairs: list[tuple[str, str]], id_params: dict[str, Any]) -> tuple[str, str]:
    """(content fingerprint of the labelled images, dataset id = fingerprint + how it was split)."""
    fingerprint = hashlib.sha256("\n".join(sorted(f"{label}\t{sha}" for label, sha in pairs)).encode("utf-8")).hexdigest()
    dataset_id = hashlib.sha256(f"{FORMAT}\n{fingerprint}\n{json.dumps(id_params, sort_keys=True)}".encode()).hexdigest()[:12]
    return fingerprint, dataset_id


def _near_pairs(problems: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The pairs of look-alikes that the near-duplicate problems of a problems.json name."""
    return [(p.get("file"), other) for p in problems if p.get("kind") in NEAR_KINDS
            for other in (p.get("params") or {}).get("others") or []]


def flagged_files(dataset_dir: str | Path) -> list[dict[str, Any]]:
    """Files of the dataset that problems.json has warnings on: [{"file": original, "problems": [...]}], in order.

    A duplicate's problem names the copy that was dropped; the flag goes to the copy that was kept.
    """
    manifest = load_manifest(dataset_dir)
    present = {it["original"] for it in manifest["items"]}
    path = Path(dataset_dir) / "problems.json"
    problems = read_json(path) if path.is_file() else []
    found: dict[str, list[dict[str, Any]]] = {}
    for p in problems if isinstance(problems, list) else []:
        # Errors are on files that were left out already; info (a conversion, say) is no reason to drop one.
        if not isinstance(p, dict) or p.get("severity") != "warning":
            continue
        target = p.get("file")
        if target not in present and p.get("kind") in _POINTS_AT_KEPT:
            target = (p.get("params") or {}).get("kept")
        if target in present:
            found.setdefault(target, []).append(p)
    return [{"file": f, "problems": ps} for f, ps in found.items()]


def exclude_files(dataset_dir: str | Path, files: list[str], dest_root: str | Path | None = None) -> ImportReport:
    """A new dataset: `dataset_dir` without the items whose original path is in `files`, splits unchanged.

    The old dataset is not touched, so runs trained on it stay valid; the new one has its own id and
    fingerprint and lists the left-out files in problems.json (kind "excluded").
    """
    from engine.data.bins import coded_error

    dataset_dir = Path(dataset_dir)
    manifest = load_manifest(dataset_dir)
    dest_root = Path(dest_root) if dest_root is not None else dataset_dir.parent
    drop = {f for f in files if isinstance(f, str)} & {it["original"] for it in manifest["items"]}
    if not drop:
        raise coded_error("exclude_none")
    kept_items = [it for it in manifest["items"] if it["original"] not in drop]
    for label in manifest["classes"]:
        members = [it for it in kept_items if it["label"] == label]
        if len(members) < MIN_CLASS_SIZE or not any(it["split"] == "train" for it in members):
            raise coded_error("exclude_empties_class", label=label, min=MIN_CLASS_SIZE)
    assignment = "\n".join(sorted(f"{it['sha256']}\t{it['split']}" for it in kept_items))
    id_params = {"source": "excluded", "assignment": hashlib.sha256(assignment.encode()).hexdigest()}
    fingerprint, dataset_id = _identity([(it["label"], it["sha256"]) for it in kept_items], id_params)
    final = dest_root / dataset_id
    if is_dataset_dir(final):
        return _report(final, reused=True)
    excluded = sorted(set(manifest.get("excluded") or []) | drop)
    new_manifest = {
        **manifest,
        "id": dataset_id,
        "fingerprint": fingerprint,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "derived_from": manifest["id"],
        "excluded": excluded,
        "items": kept_items,
    }
    path = dataset_dir / "problems.json"
    old = read_json(path) if path.is_file() else []
    problems = [p for p in old if p.get("file") not in drop and (p.get("params") or {}).get("kept") not in drop
                and p.get("kind") not in NEAR_KINDS]
    problems += _near_problems(_near_pairs(old), {it["original"]: (it["label"], it["split"]) for it in kept_items})
    problems += [
        _problem(f, "excluded", "info", f"Left out by hand from dataset {manifest['id']}.", {"dataset": manifest["id"]})
        for f in sorted(drop)
    ]
    problems.sort(key=lambda p: (_SEVERITY_RANK.get(p.get("severity"), 3), p.get("kind", ""), p.get("file", "")))
    sources = [_File(dataset_dir / it["file"], it["original"], it["label"], it["split"], sha256=it["sha256"])
               for it in kept_items]
    _write(final, sources, kept_items, new_manifest, problems)
    return _report(final, reused=False)
