"""Pascal VOC XML labels: Annotations/*.xml + JPEGImages/ (or each .xml beside its picture), corners in pixels."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET  # expat >= 2.4 refuses entity expansion bombs; no external entities are read
from pathlib import Path, PurePosixPath
from typing import Any

from engine.data.folder_scan import IMAGE_SUFFIXES
from engine.data.problems import problem
from engine.tasks.object_detection.formats import Picture, PictureIndex, RawBox, Source, nfc


def voc_files(files: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    return [(rel, path) for rel, path in files if PurePosixPath(rel).suffix.lower() == ".xml"]


def _voc_splits(files: list[tuple[str, Path]]) -> dict[str, str]:
    """stem -> split from ImageSets/Main/{train,val,test}.txt, when the source has them."""
    out: dict[str, str] = {}
    for rel, path in files:
        p = PurePosixPath(rel)
        if len(p.parts) >= 3 and [x.lower() for x in p.parts[-3:-1]] == ["imagesets", "main"] and \
                p.stem.lower() in ("train", "val", "test"):
            try:
                lines = path.read_text(encoding="utf-8-sig").split()
            except (OSError, UnicodeDecodeError):
                continue
            for stem in lines:
                out.setdefault(stem, p.stem.lower())
    return out


def read_voc(root: Path, files: list[tuple[str, Path]]) -> Source:
    """Annotations/*.xml + JPEGImages/ (or each .xml beside its picture); corners in pixels."""
    problems: list[dict[str, Any]] = []
    index = PictureIndex(files)
    splits = _voc_splits(files)
    pictures: dict[str, Picture] = {}
    classes: list[str] = []
    for rel, path in voc_files(files):
        try:
            tree = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as e:
            problems.append(problem(rel, "broken_file", "warning", f"Cannot be read as XML ({e}); skipped.",
                                    {"error": str(e)}))
            continue
        if tree.tag != "annotation":
            continue
        p = PurePosixPath(rel)
        folder = "" if str(p.parent) == "." else str(p.parent)
        parent = "" if not folder or str(PurePosixPath(folder).parent) == "." else str(PurePosixPath(folder).parent)
        near = [f"{parent}/JPEGImages".lstrip("/"), folder, parent, "JPEGImages", ""]
        name = (tree.findtext("filename") or "").strip()
        found = index.find(name, near) if name else None
        if found is None:
            for suffix in sorted(IMAGE_SUFFIXES):
                found = index.find(p.stem + suffix, near)
                if found:
                    break
        if found is None:
            problems.append(problem(rel, "missing_picture", "warning", f"Names the picture '{name or p.stem}', which "
                                    "is not in the source; its boxes were skipped.", {"picture": name or p.stem}))
            continue
        pic = pictures.get(found) or Picture(index.by_rel[found], found, splits.get(PurePosixPath(found).stem), rel)
        pictures[found] = pic
        w, h = _xml_number(tree, "size/width"), _xml_number(tree, "size/height")
        if w and h:
            pic.size_hint = (int(w), int(h))
        for number, obj in enumerate(tree.iter("object"), 1):
            label = nfc((obj.findtext("name") or "").strip())
            corners = [_xml_number(obj, f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")]
            if not label or any(c is None for c in corners):
                problems.append(problem(rel, "broken_line", "warning", f"Object {number} has no name or no bndbox "
                                        "xmin/ymin/xmax/ymax; skipped.", {"object": number}))
                continue
            if label not in classes:
                classes.append(label)
            pic.boxes.append(RawBox(label, tuple(corners), rel, None))  # type: ignore[arg-type]
    for rel in index.by_rel:
        if rel not in pictures:
            problems.append(problem(rel, "unlabelled", "warning", "No .xml file names this picture, so its boxes "
                                    "are unknown; it was left out (an .xml without objects keeps it as a background "
                                    "picture)."))
    return Source("voc", sorted(pictures.values(), key=lambda p: p.original), sorted(classes), problems)


def _xml_number(node: ET.Element, path: str) -> float | None:
    try:
        value = float((node.findtext(path) or "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None
