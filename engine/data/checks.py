"""Checking the candidate files: each decoded once and hashed, then exact copies, conflicts across classes,
classes too small to learn, and look-alike pictures (near-duplicates) turned into problems.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from PIL import Image

from engine.data import neardup
from engine.data.folder_scan import Candidate
from engine.data.manifest import SPLITS
from engine.data.problems import MAX_NAMED, MIN_CLASS_SIZE, MIN_SIDE, problem
from engine.preprocess import ALLOWED_FORMATS, ImageLoadError, load_image

_FORMAT_SUFFIX = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "BMP": ".bmp",
    "TIFF": ".tif",
    "GIF": ".gif",
}
_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,5}$")

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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(item: Candidate) -> str | None:
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


def resolve_duplicates(files: list[Candidate], problems: list[dict[str, Any]]) -> list[Candidate]:
    """One copy per image: conflicts across classes drop every copy, leaks keep the earliest split."""
    by_hash: dict[str, list[Candidate]] = defaultdict(list)
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
                    problem(
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
                    problem(
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
                    problem(
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


def near_problems(near: list[tuple[str, str]], members: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
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
            problems.append(problem(
                original, "near_conflict", "warning",
                f"Looks almost the same as {_quoted(named)} (class {_quoted(classes)}); if they are the same "
                "picture, keep it only in the class it belongs to.", params))
        elif splits:
            params.update(split=split, other=splits[0])
            problems.append(problem(
                original, "near_leak", "warning",
                f"Looks almost the same as {_quoted(named)} of the same class in {splits[0]}, while this one is "
                f"in {split}: copies in two splits make validation and test scores look better than they are "
                "— leave one of them out.", params))
        else:
            problems.append(problem(
                original, "near_duplicate", "info",
                f"Looks almost the same as {_quoted(named)} of the same class and split; kept.", params))
    return problems


def drop_small_classes(
    files: list[Candidate], seen_labels: set[str], given: bool, problems: list[dict[str, Any]]
) -> list[Candidate]:
    """The files of the classes that can be learned: enough images, and (when splits are given) some in train."""
    by_label: dict[str, list[Candidate]] = defaultdict(list)
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
                problems.append(problem(original, "small_class", "warning", message,
                                         {"label": label, "n": len(members), "min": MIN_CLASS_SIZE}))
        elif given and not any(f.split == "train" for f in members):
            message = (
                f"The class '{label}' has no images in train/, so it cannot be learned and was left out."
            )
            for f in members:
                problems.append(problem(f.original, "no_train", "warning", message, {"label": label}))
        else:
            kept.extend(members)
    return kept

