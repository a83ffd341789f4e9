"""What an import reports: the kinds and codes of its problems, the errors it refuses a dataset with, and
the report itself.

Every problem is a dict (file, kind, severity, English message, code, params) so that problems.json can be
read back and a UI can say each one in its own language by code (ui/i18n `pmsg.<code>`, `dataerr.<code>`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.data.errors import CodedDataError
from engine.data.manifest import SPLITS
from engine.errors import DataError

MIN_SIDE = 16  # smaller images are kept, with a warning
MIN_CLASS_SIZE = 2
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}

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


def refused(code: str, **params: Any) -> DataError:
    """The DataError of `code`, with a code and params a UI can translate."""
    return CodedDataError(code, ERRORS[code].format(**params), **params)


def unreadable_code(reason: str) -> str:
    """The problem code of an unreadable file, from the reason `check_file` gave."""
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


def problem(file: str, kind: str, severity: str, message: str, params: dict[str, Any] | None = None,
            code: str | None = None) -> dict[str, Any]:
    """One problem of problems.json."""
    # `code` + `params` let a UI say `message` in another language (ui/i18n); `message` stays the English text.
    return {"file": file, "kind": kind, "severity": severity, "message": message, "code": code or kind,
            "params": params or {}}
