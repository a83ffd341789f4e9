"""Reading a CSV of `path,label[,split]` rows (header optional, delimiter sniffed) into candidate files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.data.folder_scan import SPLIT_NAMES, Candidate, class_label
from engine.data.problems import problem, refused

_CSV_PATH = ("path", "file", "filename", "file_name", "filepath", "image", "image_path")
_CSV_LABEL = ("label", "class", "category", "target", "class_name")
_CSV_SPLIT = ("split", "subset")


def _read_csv_rows(csv_path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise refused("csv_not_utf8", name=csv_path.name) from None
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
        raise refused("csv_bad_row", row=reader.line_num, name=csv_path.name, error=str(e)) from None


def scan_csv(csv_path: Path, *, confined: bool = False) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """Rows of `path,label[,split]` (header optional) → files to check, plus rows naming missing files."""
    name = csv_path.name
    rows = list(_read_csv_rows(csv_path))
    if not rows:
        raise refused("csv_no_rows", name=name)
    path_i, label_i, split_i = 0, 1, 2
    first_line, header = rows[0]
    lowered = [c.lower() for c in header]
    if any(c in _CSV_PATH + _CSV_LABEL + _CSV_SPLIT for c in lowered):

        def find(names: tuple[str, ...]) -> int | None:
            return next((i for i, c in enumerate(lowered) if c in names), None)

        found_path, found_label, split_i = find(_CSV_PATH), find(_CSV_LABEL), find(_CSV_SPLIT)
        if found_path is None or found_label is None:
            raise refused("csv_bad_header", row=first_line, name=name)
        path_i, label_i = found_path, found_label
        rows = rows[1:]
        if not rows:
            raise refused("csv_header_only", name=name)
    files: list[Candidate] = []
    problems: list[dict[str, Any]] = []
    first_with_split = first_without_split = None
    for line, row in rows:
        if len(row) <= max(path_i, label_i):
            raise refused("csv_few_columns", row=line, name=name, n=len(row))
        raw, label = row[path_i], row[label_i]
        if not raw or not label:
            raise refused("csv_empty_cell", row=line, name=name)
        value = row[split_i] if split_i is not None and split_i < len(row) else ""
        split = SPLIT_NAMES.get(value.lower()) if value else None
        if value and split is None:
            raise refused("csv_bad_split", row=line, name=name, value=value)
        if split:
            first_with_split = first_with_split or line
        else:
            first_without_split = first_without_split or line
        path = _csv_path(csv_path.parent, raw, confined=confined)
        if path is None:
            problems.append(
                problem(
                    raw,
                    "missing",
                    "warning",
                    f"Skipped: row {line} of the CSV names this file, but there is no such file.",
                    {"row": line},
                )
            )
            continue
        files.append(Candidate(path, raw, class_label(label), split))
    if not files:
        raise refused("csv_no_files", n=len(rows), name=name)
    if first_with_split and first_without_split:
        raise refused("csv_mixed_split", row=first_without_split, name=name)
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

