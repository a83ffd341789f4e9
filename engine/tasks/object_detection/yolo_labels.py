"""Ultralytics/YOLO labels: images/ + labels/ (`class cx cy w h` fractions, one box a line), data.yaml's names."""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from engine.data.problems import problem
from engine.tasks.object_detection.formats import Picture, RawBox, Source, is_picture, nfc, split_of

# A YOLO value above this is taken for pixels; up to it, for a fraction of a box reaching over the picture's edge
# (a centre at 1.2 is a box mostly outside, which the box check drops; pixels are rarely below 2).
PIXEL_SUSPECT = 1.5

def _yaml_names(files: list[tuple[str, Path]], problems: list) -> tuple[list[str] | None, str | None]:
    """The class names of the shallowest data.yaml (a list or an {id: name} dict), and its name."""
    found = sorted((rel for rel, _ in files if PurePosixPath(rel).name.lower() in ("data.yaml", "data.yml")),
                   key=lambda r: (r.count("/"), r))
    if not found:
        return None, None
    rel = found[0]
    path = dict(files)[rel]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        problems.append(problem(rel, "broken_file", "warning", f"Cannot be read as YAML ({e}); the classes are "
                                "named by their ids instead.", {"error": str(e)}))
        return None, rel
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, dict):
        try:
            ordered = sorted((int(k), str(v)) for k, v in names.items())
        except (TypeError, ValueError):
            ordered = []
        if ordered and [k for k, _ in ordered] == list(range(len(ordered))):
            return [nfc(v) for _, v in ordered], rel
    elif isinstance(names, list) and names:
        return [nfc(str(v)) for v in names], rel
    problems.append(problem(rel, "broken_file", "warning", "Has no usable 'names' (a list of class names, or "
                            "ids 0, 1, ... mapped to names); the classes are named by their ids instead."))
    return None, rel


def _label_path(rel: str) -> str:
    """Ultralytics' rule: the last `images` folder becomes `labels`, the suffix `.txt`; else the .txt beside it."""
    parts = list(PurePosixPath(rel).parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i].lower() == "images":
            parts[i] = {"images": "labels", "Images": "Labels", "IMAGES": "LABELS"}.get(parts[i], "labels")
            break
    return str(PurePosixPath(*parts).with_suffix(".txt"))


def is_yolo_label(rel: str) -> bool:
    p = PurePosixPath(rel)
    return p.suffix.lower() == ".txt" and any(part.lower() == "labels" for part in p.parts[:-1])


def has_yolo_labels(files: list[tuple[str, Path]]) -> bool:
    """A data.yaml, a .txt under a labels/ folder, or a .txt beside a picture of the same name."""
    stems = {str(PurePosixPath(rel).with_suffix("")) for rel, _ in files if is_picture(rel)}
    return any(PurePosixPath(rel).name.lower() in ("data.yaml", "data.yml") or is_yolo_label(rel)
               or (rel.lower().endswith(".txt") and str(PurePosixPath(rel).with_suffix("")) in stems)
               for rel, _ in files)


def _parse_yolo_line(text: str, rel: str, number: int, names: list[str] | None, problems: list,
                     notes: dict[str, int]) -> RawBox | None:
    fields = text.split()
    try:
        values = [float(v) for v in fields]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) for v in values) or len(values) < 5 or (
            len(values) != 5 and len(values) % 2 == 0):
        problems.append(problem(rel, "broken_line", "warning", f"Line {number} ('{text[:60]}') is not 'class x_center "
                                "y_center width height' (5 numbers) nor a polygon; the line was skipped.",
                                {"line": number, "text": text[:60]}))
        return None
    cls = values[0]
    if cls != int(cls) or cls < 0 or (names is not None and int(cls) >= len(names)):
        known = f"data.yaml names ids 0–{len(names) - 1}" if names else "class ids are whole numbers from 0"
        problems.append(problem(rel, "unknown_class", "warning", f"Line {number} has the class id {fields[0]}, but "
                                f"{known}; the box was skipped.", {"line": number, "id": fields[0]}))
        return None
    label = names[int(cls)] if names is not None else str(int(cls))
    coords = values[1:]
    over_one = any(v > PIXEL_SUSPECT for v in coords)
    if len(coords) == 4:
        cx, cy, w, h = coords
        xyxy = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    else:  # a segmentation export: x y pairs of a polygon, whose bounding box is the box
        xs, ys = coords[0::2], coords[1::2]
        xyxy = (min(xs), min(ys), max(xs), max(ys))
        notes["polygon"] = notes.get("polygon", 0) + 1
    return RawBox(label, xyxy, rel, number, normalised=True, over_one=over_one)


def read_yolo(root: Path, files: list[tuple[str, Path]]) -> Source:
    """images/ + labels/ (optionally under train/val/test), data.yaml names; a picture without a .txt is background."""
    problems: list[dict[str, Any]] = []
    names, yaml_rel = _yaml_names(files, problems)
    paths = dict(files)
    labels = {rel for rel, _ in files if is_yolo_label(rel)}
    used: set[str] = set()
    pictures = []
    for rel, path in files:
        if not is_picture(rel):
            continue
        pic = Picture(path, rel, split_of(rel))
        label_rel = _label_path(rel)
        if label_rel not in paths and str(PurePosixPath(rel).with_suffix(".txt")) in paths:
            label_rel = str(PurePosixPath(rel).with_suffix(".txt"))
        if label_rel in paths:
            used.add(label_rel)
            pic.label_file = label_rel
            pic.boxes = _read_yolo_file(paths[label_rel], label_rel, names, problems)
        pictures.append(pic)
    for rel in sorted(labels - used):
        if PurePosixPath(rel).name.lower() == "classes.txt":
            continue
        problems.append(problem(rel, "orphan_label", "warning", "A label file without its picture (no picture of "
                                "the same name in the matching images/ folder); its boxes were skipped."))
    if names is None:
        ids = sorted({int(b.label) for p in pictures for b in p.boxes})
        classes = [str(i) for i in ids]
        if ids:
            where = f"'{yaml_rel}' has no class names" if yaml_rel else "there is no data.yaml"
            problems.append(problem(yaml_rel or "data.yaml", "no_names", "info", f"The classes are named by their "
                                    f"ids ({', '.join(classes)}) because {where}; add a data.yaml with "
                                    "'names:' to name them.", {"ids": classes}))
        return Source("yolo", pictures, classes, problems)
    return Source("yolo", pictures, list(names), problems, declared=list(names), declared_in=yaml_rel)


def _read_yolo_file(path: Path, rel: str, names: list[str] | None, problems: list) -> list[RawBox]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        problems.append(problem(rel, "broken_file", "warning", f"Cannot be read as UTF-8 text ({e}); the picture "
                                "was kept without boxes.", {"error": str(e)}))
        return []
    notes: dict[str, int] = {}
    boxes = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            box = _parse_yolo_line(line, rel, number, names, problems, notes)
            if box is not None:
                boxes.append(box)
    if notes.get("polygon"):
        problems.append(problem(rel, "polygon", "info", f"{notes['polygon']} line(s) are polygons (a segmentation "
                                "export); each was turned into its bounding box.", {"n": notes["polygon"]}))
    return boxes
