"""Reading labelled texts from their sources: a CSV or TSV of `text,label`, a folder of class folders of .txt files.

Bytes are decoded as UTF-8 (with or without a BOM), else as Windows-1251 when that reads as text. What can't be
read becomes a problem (a sentence naming the file or the line) and the rest is kept. No torch here.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.data.errors import CodedDataError
from engine.data.problems import problem

MAX_FILE_BYTES = 50 * 1024 * 1024  # a CSV or a .txt larger than this is not a few-shot text collection
TEXT_COLUMNS = ("text", "message", "sentence", "content", "текст", "сообщение")
LABEL_COLUMNS = ("label", "class", "category", "topic", "метка", "класс", "категория", "тема")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")

ERRORS: dict[str, str] = {
    "text_csv_empty": "The CSV '{name}' is empty; write a 'text,label' header and one row per example.",
    "text_csv_header_only": "The CSV '{name}' has a header but no rows; write one 'text,label' row per example.",
    "text_csv_no_text": "The first line of '{name}' names no text column ({columns}); name the columns text,label.",
    "text_csv_no_label": "The CSV '{name}' has a text column but no label column ({columns}); add a 'label' column "
                         "that says each text's class.",
    "text_csv_encoding": "The CSV '{name}' is neither UTF-8 nor Windows-1251 text; save it again as 'CSV UTF-8'.",
    "text_csv_binary": "'{name}' is not a text file (it holds binary data); choose the CSV of texts and labels.",
    "text_csv_large": "The CSV '{name}' is larger than {mb} MB; split it or keep a sample of each class.",
    "text_none": "No texts were found in '{name}'; give a CSV with text,label columns or a folder per class of .txt "
                 "files.",
    "text_kind": "'{name}' is a {suffix}; text classification imports a .csv/.tsv, a folder of class folders of .txt "
                 "files, or a .zip of either.",
}


def refused(code: str, **params: Any) -> CodedDataError:
    """The DataError of `code` (ERRORS), with params a UI can translate."""
    return CodedDataError(code, ERRORS[code].format(**params), **params)


@dataclass
class Entry:
    """One labelled text as read, before the checks; `original` says where it came from (file, line)."""

    text: str
    label: str
    original: str
    notes: list[tuple] = field(default_factory=list)


def looks_binary(raw: bytes) -> bool:
    """NUL bytes or many control characters: not a text file, whatever its name."""
    sample = raw[:8192]
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 12))
    return bool(sample) and control / len(sample) > 0.05


def decode(raw: bytes) -> tuple[str, str] | None:
    """(text, encoding name) of bytes: UTF-8 (BOM or not), else Windows-1251 when that reads as words; None."""
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return raw[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            return None
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1251")
    except UnicodeDecodeError:
        return None
    letters = sum(ch.isalpha() for ch in text)
    odd = sum(unicodedata.category(ch) in ("Cc", "Co", "Cn", "So") and ch not in "\t\n\r" for ch in text)
    # cp1251 maps almost every byte to some character: it only counts when the result reads as letters.
    if letters == 0 or odd / max(1, len(text)) > 0.02:
        return None
    return text, "cp1251"


def read_csv(path: Path, shown: str | None = None) -> tuple[list[Entry], list[dict]]:
    """The rows of a CSV/TSV of texts and labels (delimiter and encoding sniffed); bad rows become problems."""
    name = shown or path.name
    if path.stat().st_size > MAX_FILE_BYTES:
        raise refused("text_csv_large", name=name, mb=MAX_FILE_BYTES // (1024 * 1024))
    raw = path.read_bytes()
    if not raw.strip():
        raise refused("text_csv_empty", name=name)
    if looks_binary(raw):
        raise refused("text_csv_binary", name=name)
    decoded = decode(raw)
    if decoded is None:
        raise refused("text_csv_encoding", name=name)
    text = decoded[0]
    rows = list(csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text, path.suffix.lower())))
    numbered = [(i, r) for i, r in enumerate(rows, 1) if any(c.strip() for c in r)]
    if not numbered:
        raise refused("text_csv_empty", name=name)
    header = [c.strip().lstrip("\ufeff").lower() for c in numbered[0][1]]
    columns = ", ".join(numbered[0][1][:6]) or "none"
    text_col = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
    if text_col is None:
        raise refused("text_csv_no_text", name=name, columns=columns)
    label_col = next((header.index(c) for c in LABEL_COLUMNS if c in header), None)
    if label_col is None:
        raise refused("text_csv_no_label", name=name, columns=columns)
    if len(numbered) == 1:
        raise refused("text_csv_header_only", name=name)
    entries, problems = [], []
    for line, row in numbered[1:]:
        where = f"{name}:{line}"
        if len(row) != len(header):
            problems.append(problem(where, "ragged_row", "warning",
                                    f"Skipped line {line} of '{name}': it has {len(row)} column(s) where the header "
                                    f"has {len(header)} (an unquoted delimiter in the text?).",
                                    {"line": line, "n": len(row), "expected": len(header)}))
            continue
        label = row[label_col].strip()
        if not label:
            problems.append(problem(where, "no_label", "warning", f"Skipped line {line} of '{name}': it has no label.",
                                    {"line": line}))
            continue
        entries.append(Entry(row[text_col], label, where))
    return entries, problems


def _dialect(text: str, suffix: str):
    if suffix == ".tsv":
        return csv.excel_tab
    try:
        return csv.Sniffer().sniff(text[:20000], delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def read_text_file(path: Path, shown: str) -> tuple[str | None, str | None]:
    """(text, None) of a .txt file, or (None, why it was skipped)."""
    if path.stat().st_size > MAX_FILE_BYTES:
        return None, "is too large to be one example"
    raw = path.read_bytes()
    if looks_binary(raw):
        return None, "is not text (it holds binary data)"
    decoded = decode(raw)
    if decoded is None:
        return None, "is in an encoding that is neither UTF-8 nor Windows-1251"
    return decoded[0], None


def read_folder(root: Path, shown: str) -> tuple[list[Entry], list[dict]]:
    """The .txt files of a folder of class folders (the folder's name is the label); one level deep, or any depth
    below the class folder."""
    entries: list[Entry] = []
    problems: list[dict] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        rel = path.relative_to(root)
        where = rel.as_posix()
        if path.suffix.lower() != ".txt":
            if path.suffix.lower() in (".csv", ".tsv") and len(rel.parts) == 1:
                more, found = read_csv(path, where)
                entries += more
                problems += found
            continue
        if len(rel.parts) < 2:
            problems.append(problem(where, "ignored", "warning", f"Skipped '{where}': it is not inside a class folder.",
                                    code="ignored.loose"))
            continue
        text, why = read_text_file(path, where)
        if text is None:
            problems.append(problem(where, "unreadable", "warning", f"Skipped '{where}': the file {why}.",
                                    {"reason": why}, code="unreadable.text"))
            continue
        entries.append(Entry(text, rel.parts[0], where))
    return entries, problems


def looks_like_text(path: Path) -> bool:
    """A CSV/TSV whose header names a text column, or a folder (zip) with .txt files and no pictures."""
    import zipfile

    suffix = path.suffix.lower()
    if path.is_file() and suffix in (".csv", ".tsv"):
        try:
            head = path.open("rb").read(4096)
        except OSError:
            return False
        decoded = decode(head) or (head.decode("utf-8", "ignore"), "")
        first = decoded[0].lstrip("\ufeff").splitlines()[:1]
        if not first:
            return False
        cells = next(csv.reader(first, dialect=_dialect(first[0], suffix)), [])
        return any(c.strip().lower() in TEXT_COLUMNS for c in cells)
    if path.is_dir():
        names = [p.name.lower() for _, p in zip(range(5000), path.rglob("*"), strict=False)]
    elif path.is_file() and suffix == ".zip" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = [n.lower() for n in z.namelist()[:5000]]
    else:
        return False
    if any(n.endswith(IMAGE_SUFFIXES) for n in names):
        return False
    return any(n.endswith((".txt", ".csv", ".tsv")) for n in names)
