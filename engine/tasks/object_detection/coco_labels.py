"""COCO JSON labels: one or several files with images, annotations (bbox [x, y, width, height] pixels), categories."""

from __future__ import annotations

import json
import math
from pathlib import Path, PurePosixPath
from typing import Any

from engine.data.problems import problem
from engine.tasks.object_detection.formats import Picture, PictureIndex, RawBox, Source, nfc, split_in_name


def _coco_data(path: Path) -> Any:
    with open(path, encoding="utf-8-sig") as f:
        return json.load(f)


def is_coco(data: Any) -> bool:
    return isinstance(data, dict) and all(isinstance(data.get(k), list) for k in ("images", "annotations",
                                                                                     "categories"))


def coco_files(files: list[tuple[str, Path]], problems: list | None = None) -> list[tuple[str, Any]]:
    """The .json files that are COCO (images, annotations, categories); unparsable ones become problems."""
    found = []
    for rel, path in files:
        if PurePosixPath(rel).suffix.lower() != ".json":
            continue
        try:
            data = _coco_data(path)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            if problems is not None:
                problems.append(problem(rel, "broken_file", "warning", f"Cannot be read as JSON ({e}); its "
                                        "annotations were skipped.", {"error": str(e)}))
            continue
        if is_coco(data):
            found.append((rel, data))
    return found


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(
        value) else None


def read_coco(root: Path, files: list[tuple[str, Path]], sources: list[tuple[str, Any]],
              problems: list[dict[str, Any]]) -> Source:
    """COCO files (`coco_files`); bbox [x, y, width, height] in pixels; the split from a file's name."""
    index = PictureIndex(files)
    classes: list[str] = []
    pictures: dict[tuple[str, str], Picture] = {}  # (COCO file, picture): a picture in two files is two copies
    for rel, data in sources:
        folder = str(PurePosixPath(rel).parent)
        folder = "" if folder == "." else folder
        parent = str(PurePosixPath(folder).parent) if folder else ""
        parent = "" if parent == "." else parent
        near = [folder, f"{folder}/images".lstrip("/"), parent, f"{parent}/images".lstrip("/"), "", "images"]
        split = split_in_name(rel)
        cats = {}
        for c in sorted((c for c in data["categories"] if isinstance(c, dict)), key=lambda c: str(c.get("id"))):
            if "id" in c and isinstance(c.get("name"), str):
                cats[c["id"]] = nfc(c["name"])
        for cid in sorted(cats, key=lambda k: (not isinstance(k, int), k if isinstance(k, int) else 0, str(k))):
            if cats[cid] not in classes:
                classes.append(cats[cid])
        by_id: dict[Any, Picture | None] = {}
        for entry in data["images"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("file_name"), str):
                problems.append(problem(rel, "broken_line", "warning", f"An image entry without a 'file_name' "
                                        f"({str(entry)[:60]}) was skipped.", {"text": str(entry)[:60]}))
                continue
            found = index.find(entry["file_name"], near, split)
            if found is None:
                problems.append(problem(rel, "missing_picture", "warning", f"Names the picture '{entry['file_name']}'"
                                        ", which is not in the source; its boxes were skipped.",
                                        {"picture": entry["file_name"]}))
                by_id[entry.get("id")] = None
                continue
            pic = pictures.get((rel, found))
            if pic is None:
                pic = pictures[(rel, found)] = Picture(index.by_rel[found], found, split, rel)
            w, h = _number(entry.get("width")), _number(entry.get("height"))
            if w and h:
                pic.size_hint = (int(w), int(h))
            by_id[entry.get("id")] = pic
        for number, ann in enumerate(data["annotations"], 1):
            _coco_box(ann, number, rel, cats, by_id, problems)
    listed = {found for _, found in pictures}
    for rel in index.by_rel:
        if rel not in listed:
            problems.append(problem(rel, "unlabelled", "warning", "No COCO file lists this picture, so its boxes "
                                    "are unknown; it was left out (list it in the JSON, with no annotations, to keep "
                                    "it as a background picture)."))
    declared = list(classes)
    return Source("coco", sorted(pictures.values(), key=lambda p: (p.original, p.label_file or "")), classes,
                  problems, declared, sources[0][0] if sources else None)


def _coco_box(ann: Any, number: int, rel: str, cats: dict, by_id: dict, problems: list) -> None:
    if not isinstance(ann, dict):
        return
    if ann.get("image_id") not in by_id:
        problems.append(problem(rel, "broken_line", "warning", f"Annotation {ann.get('id', number)} names the image "
                                f"id {ann.get('image_id')}, which the file does not list; skipped.",
                                {"annotation": ann.get("id", number)}))
        return
    pic = by_id[ann["image_id"]]
    if pic is None:
        return
    if ann.get("category_id") not in cats:
        problems.append(problem(rel, "unknown_class", "warning", f"Annotation {ann.get('id', number)} (on "
                                f"'{pic.original}') has the category id {ann.get('category_id')}, which "
                                "'categories' does not list; the box was skipped.",
                                {"annotation": ann.get("id", number), "id": str(ann.get("category_id"))}))
        return
    bbox = ann.get("bbox")
    values = [_number(v) for v in bbox] if isinstance(bbox, list) else []
    if len(values) != 4 or any(v is None for v in values):
        problems.append(problem(rel, "broken_line", "warning", f"Annotation {ann.get('id', number)} (on "
                                f"'{pic.original}') has no bbox [x, y, width, height]; skipped.",
                                {"annotation": ann.get("id", number)}))
        return
    x, y, w, h = values
    pic.boxes.append(RawBox(cats[ann["category_id"]], (x, y, x + w, y + h), rel, None))
