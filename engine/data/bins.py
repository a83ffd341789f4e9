"""Class bins: a project's own folders of pictures, one per class, filled in the app (Teachable-Machine style).

A bins folder holds one sub-folder per class and nothing else, so `import_dataset(bins_root)` turns it into
a checked, split dataset like any folder of class folders. Names and files come from a browser, so every
name is checked here and every picture is decoded once before it is kept. This module must not import torch.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from engine.data.archive import is_junk
from engine.data.errors import CodedDataError
from engine.errors import HIDDEN_CHAR, hidden_char
from engine.preprocess import ALLOWED_FORMATS, ImageLoadError, load_image

MAX_CLASSES = 100
MAX_NAME_CHARS = 64
MAX_FILES_PER_ADD = 1000  # more in one drop is almost surely a wrong folder; the person is told to split it
MAX_FILES_PER_CLASS = 5000
MAX_FILE_BYTES = 50 * 2**20
_BAD_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
# Names Windows refuses for a file or folder, whatever the extension.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_SUFFIX = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif",
           "GIF": ".gif"}
_PART_PREFIX = ".part-"


# English sentence of each CodedDataError code (the UI translates by code; this is the CLI's and the fallback).
ERRORS: dict[str, str] = {
    "empty_name": "A class needs a name; type one.",
    "long_name": "The class name '{name}' is longer than {max} characters; shorten it.",
    "bad_name": "The class name '{name}' cannot be a folder name; leave out \\ / : * ? \" < > | and dots at the ends.",
    "hidden_char": HIDDEN_CHAR,
    "taken": "There already is a class named '{name}'; choose another name.",
    "no_class": "There is no class '{name}' any more (it may have been removed in another window); pick a class again.",
    "too_many_classes": "A project can have at most {max} classes; remove one first.",
    "too_many_files": "{n} files were dropped at once; add at most {max} at a time.",
    "no_files": "No files were given; choose or drop some pictures.",
    "no_picture": "There is no picture '{file}' in the class '{name}' any more; click a picture again.",
    "exclude_none": "None of the chosen files is in this dataset; tick files in the list.",
    "exclude_empties_class": "Leaving these files out would leave the class '{label}' with too few pictures to "
                             "learn (it needs at least {min}, one of them for training); untick some of its files.",
}

# Why one file was not added (AddResult.refused), in English.
REFUSALS: dict[str, str] = {
    "empty": "is empty (0 bytes)",
    "too_big": "is larger than {max_mb} MB",
    "not_image": "is not a picture Konstruktor can read ({why})",
    "class_full": "was not added: the class already has {max} pictures",
    "missing": "was not received; upload it again",
}


@dataclass
class AddResult:
    """What `add_files` did: the names the pictures got, and (file, code, params) for each file refused."""

    added: list[str] = field(default_factory=list)
    refused: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def refusal_text(self) -> list[str]:
        """The refusals as English sentences, one per file."""
        return [f"'{name}' {REFUSALS[code].format(**params)}." for name, code, params in self.refused]


def coded_error(code: str, **params: Any) -> CodedDataError:
    """The CodedDataError of `code`, its English sentence filled with `params`."""
    return CodedDataError(code, ERRORS[code].format(**params), **params)


def clean_name(name: Any) -> str:
    """A class name made safe as a folder name on every system; CodedDataError when it cannot be."""
    if not isinstance(name, str):
        raise coded_error("empty_name")
    # One class must not become two look-alikes (macOS writes decomposed unicode); inner blanks are squeezed.
    text = " ".join(unicodedata.normalize("NFC", name).split())
    if not text:
        raise coded_error("empty_name")
    hidden = hidden_char(text)
    if hidden:
        raise coded_error("hidden_char", **hidden)
    if len(text) > MAX_NAME_CHARS:
        raise coded_error("long_name", name=text[:MAX_NAME_CHARS] + "…", max=MAX_NAME_CHARS)
    if (_BAD_CHARS.search(text) or text.strip(".") != text or is_junk(text)
            or text.split(".")[0].strip().lower() in _RESERVED):
        raise coded_error("bad_name", name=text)
    return text


def list_classes(root: str | Path) -> list[tuple[str, int]]:
    """(class name, number of pictures) for each bin, in name order."""
    root = Path(root)
    if not root.is_dir():
        return []
    out = []
    for entry in os.scandir(root):
        if entry.is_dir() and not is_junk(entry.name):
            out.append((entry.name, len(_images(Path(entry.path)))))
    return sorted(out, key=lambda c: (c[0].casefold(), c[0]))


def total_images(root: str | Path) -> int:
    return sum(n for _, n in list_classes(root))


def _images(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as it:
            return sorted(Path(e.path) for e in it if e.is_file() and not is_junk(e.name))
    except OSError:
        return []


def _find(root: Path, name: str) -> str | None:
    """The existing class whose name equals `name` ignoring case (file systems often do too)."""
    wanted = name.casefold()
    return next((c for c, _ in list_classes(root) if c.casefold() == wanted), None)


def class_dir(root: str | Path, name: Any) -> Path:
    """The folder of an existing class; CodedDataError for a name that is not one (a forged or stale name)."""
    root = Path(root)
    try:
        clean = clean_name(name)
    except CodedDataError:
        raise coded_error("no_class", name=str(name)[:MAX_NAME_CHARS]) from None
    folder = root / clean
    if clean not in {c for c, _ in list_classes(root)} or not folder.is_dir():
        raise coded_error("no_class", name=clean)
    return folder


def unused_name(root: str | Path, base: str) -> str:
    """`base 1`, `base 2`, ... : the first such name no class has yet."""
    root = Path(root)
    taken = {c.casefold() for c, _ in list_classes(root)}
    i = 1
    while f"{base} {i}".casefold() in taken:
        i += 1
    return f"{base} {i}"


def add_class(root: str | Path, name: Any) -> str:
    """Create an empty bin; returns the name as stored."""
    root = Path(root)
    clean = clean_name(name)
    if _find(root, clean) is not None:
        raise coded_error("taken", name=clean)
    if len(list_classes(root)) >= MAX_CLASSES:
        raise coded_error("too_many_classes", max=MAX_CLASSES)
    root.mkdir(parents=True, exist_ok=True)
    try:
        (root / clean).mkdir()
    except FileExistsError:
        raise coded_error("taken", name=clean) from None
    return clean


def rename_class(root: str | Path, old: Any, new: Any) -> str:
    """Rename a bin (its pictures move with it); returns the new name as stored."""
    root = Path(root)
    folder = class_dir(root, old)
    clean = clean_name(new)
    if clean == folder.name:
        return clean
    other = _find(root, clean)
    if other is not None and other != folder.name:
        raise coded_error("taken", name=clean)
    # Through a temporary name, so that a change of case only works on case-insensitive file systems too.
    temp = root / f".rename-{secrets.token_hex(4)}"
    os.rename(folder, temp)
    try:
        os.rename(temp, root / clean)
    except OSError:
        os.rename(temp, folder)
        raise
    return clean


def remove_class(root: str | Path, name: Any) -> None:
    """Delete a bin and its pictures (copies; the person's own files were never in it)."""
    shutil.rmtree(class_dir(root, name))


def list_images(root: str | Path, name: Any) -> list[Path]:
    return _images(class_dir(root, name))


def remove_image(root: str | Path, name: Any, file_name: Any) -> None:
    """Delete one picture of a bin, named as `list_images` names it (any other name is refused)."""
    folder = class_dir(root, name)
    if not isinstance(file_name, str) or file_name not in {p.name for p in _images(folder)}:
        raise coded_error("no_picture", file=str(file_name)[:200], name=folder.name)
    (folder / file_name).unlink(missing_ok=True)


def _safe_stem(original: str) -> str:
    stem = Path(unicodedata.normalize("NFC", original.replace("\\", "/"))).stem
    stem = _BAD_CHARS.sub("_", stem).strip(" .")[:60].strip(" .")
    if not stem or stem.split(".")[0].lower() in _RESERVED:
        stem = "image"
    return stem


def _decode(path: Path) -> tuple[str | None, str]:
    """(format, "") for a usable picture, else (None, why)."""
    try:
        with load_image(str(path)):
            pass
        with Image.open(path, formats=ALLOWED_FORMATS) as raw:
            return raw.format or "PNG", ""
    except ImageLoadError as e:
        return None, str(e)
    except Exception as e:  # one odd upload must not abort the others
        return None, f"{type(e).__name__}: {e}"


def add_files(root: str | Path, name: Any, files: Iterable[tuple[str | Path, str]]) -> AddResult:
    """Copy pictures into a bin under safe, unique names; `files` are (path on disk, the name the person gave it).

    Every file is decoded first; empty, huge and non-picture files are refused one by one, with a reason.
    """
    folder = class_dir(root, name)
    files = list(files)
    if not files:
        raise coded_error("no_files")
    if len(files) > MAX_FILES_PER_ADD:
        raise coded_error("too_many_files", n=len(files), max=MAX_FILES_PER_ADD)
    result = AddResult()
    room = MAX_FILES_PER_CLASS - len(_images(folder))
    for path, original in files:
        path = Path(path)
        shown = Path(str(original or path.name).replace("\\", "/")).name or path.name
        try:
            size = path.stat().st_size
        except OSError:
            result.refused.append((shown, "missing", {}))
            continue
        if size == 0:
            result.refused.append((shown, "empty", {}))
            continue
        if size > MAX_FILE_BYTES:
            result.refused.append((shown, "too_big", {"max_mb": MAX_FILE_BYTES // 2**20}))
            continue
        fmt, why = _decode(path)
        if fmt is None:
            result.refused.append((shown, "not_image", {"why": why}))
            continue
        if room <= 0:
            result.refused.append((shown, "class_full", {"max": MAX_FILES_PER_CLASS}))
            continue
        result.added.append(_copy_in(path, folder, _safe_stem(shown), _SUFFIX.get(fmt, ".png")))
        room -= 1
    return result


def _copy_in(src: Path, folder: Path, stem: str, suffix: str) -> str:
    """Copy to a hidden part file, then link it under the first free name (never overwrites)."""
    part = folder / f"{_PART_PREFIX}{secrets.token_hex(6)}"
    try:
        with open(src, "rb") as f, open(part, "xb") as out:
            shutil.copyfileobj(f, out, 1 << 20)
        for i in range(1, 100_000):
            target = folder / (f"{stem}{suffix}" if i == 1 else f"{stem}-{i}{suffix}")
            try:
                os.link(part, target)
            except FileExistsError:
                continue
            except OSError:  # a file system without hard links: an exclusive create never overwrites either
                try:
                    with open(part, "rb") as f, open(target, "xb") as out:
                        shutil.copyfileobj(f, out, 1 << 20)
                except FileExistsError:
                    continue
            return target.name
        raise coded_error("too_many_files", n=i, max=MAX_FILES_PER_CLASS)
    finally:
        part.unlink(missing_ok=True)
