"""Reading the label formats people bring: Ultralytics/YOLO txt, COCO JSON and Pascal VOC XML.

A reader only reads: it lists the pictures of the source with the boxes their label files give, in the
file's own units (YOLO: fractions of the picture, COCO/VOC: pixels), and the problems of the label files
themselves (a broken line, an unparsable file, an unknown class id, a label file without its picture).
Whether a box fits its picture is decided later, once the picture is decoded (`label_checks`).
"""

from __future__ import annotations

import json
import math
import unicodedata
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from engine.data.archive import is_junk
from engine.data.folder_scan import IMAGE_SUFFIXES, SPLIT_NAMES
from engine.data.problems import problem

# A YOLO value above this is taken for pixels; up to it, for a fraction of a box reaching over the picture's edge
# (a centre at 1.2 is a box mostly outside, which the box check drops; pixels are rarely below 2).
PIXEL_SUSPECT = 1.5
YOLO_SPLIT_WORDS = SPLIT_NAMES  # folder names that mean a split: train, val/valid/validation, test


@dataclass
class RawBox:
    """One box as its label file wrote it: `xyxy` in the file's units, where it was written (for problems)."""

    label: str
    xyxy: tuple[float, float, float, float]
    file: str  # the label file, relative to the source
    line: int | None = None  # YOLO: the line number (from 1)
    normalised: bool = False  # YOLO: fractions of the picture's width and height
    over_one: bool = False  # YOLO: some value above 1, where fractions are expected (pixels, probably)


@dataclass
class Picture:
    """A picture of the source and the boxes its labels give."""

    path: Path
    original: str  # relative to the source
    split: str | None = None  # the split the source gives, if any
    label_file: str | None = None  # None: no label file or entry names this picture
    boxes: list[RawBox] = field(default_factory=list)
    size_hint: tuple[int, int] | None = None  # (width, height) the label file states


@dataclass
class Source:
    """What a reader found: the pictures, the class names in their order, the problems, the layout's name."""

    layout: str
    pictures: list[Picture]
    classes: list[str]
    problems: list[dict[str, Any]]
    declared: list[str] = field(default_factory=list)  # classes a class list names (data.yaml, COCO categories)
    declared_in: str | None = None  # the file of that list


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def walk(root: Path) -> list[tuple[str, Path]]:
    """(relative posix name, path) of every file under `root`, junk and hidden entries skipped, sorted."""
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(is_junk(p) for p in rel.parts) or not path.is_file():
            continue
        out.append((_nfc(rel.as_posix()), path))
    return out


def is_picture(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def split_of(name: str) -> str | None:
    """The split a path names by one of its folders (`images/train/a.jpg`, `valid/images/a.jpg`)."""
    for part in PurePosixPath(name).parts[:-1]:
        if part.lower() in YOLO_SPLIT_WORDS:
            return YOLO_SPLIT_WORDS[part.lower()]
    return None


def split_in_name(name: str) -> str | None:
    """The split a COCO file's name (or its folder) says: instances_train2017.json, valid/_annotations.coco.json."""
    stem = PurePosixPath(name).stem.lower()
    for word, split in (("train", "train"), ("valid", "val"), ("val", "val"), ("test", "test")):
        if word in stem:
            return split
    return split_of(name)


class _PictureIndex:
    """The pictures of a source, found by a relative path or, when unique, by file name."""

    def __init__(self, files: list[tuple[str, Path]]):
        self.by_rel = {rel: path for rel, path in files if is_picture(rel)}
        by_base: dict[str, list[str]] = defaultdict(list)
        for rel in self.by_rel:
            by_base[PurePosixPath(rel).name.lower()].append(rel)
        self.by_base = by_base

    def find(self, name: str, near: list[str], split: str | None = None) -> str | None:
        """The picture `name` (as a label file wrote it) means: tried beside each folder of `near`, then by name
        (among pictures of one name, the one in a folder of `split`: train2017/ for instances_train2017.json)."""
        name = _nfc(name.replace("\\", "/"))
        for folder in near:
            candidate = _normal(f"{folder}/{name}" if folder else name)
            if candidate in self.by_rel:
                return candidate
        same = self.by_base.get(PurePosixPath(name).name.lower(), [])
        if len(same) > 1 and split is not None:
            same = [rel for rel in same if any(split_in_name(part) == split for part in PurePosixPath(rel).parts[:-1])]
        return same[0] if len(same) == 1 else None


def _normal(rel: str) -> str:
    parts: list[str] = []
    for p in PurePosixPath(rel).parts:
        if p in ("", "."):
            continue
        if p == "..":
            if parts:
                parts.pop()
            continue
        parts.append(p)
    return "/".join(parts)


# --- Ultralytics / YOLO ------------------------------------------------------------------------


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
            return [_nfc(v) for _, v in ordered], rel
    elif isinstance(names, list) and names:
        return [_nfc(str(v)) for v in names], rel
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


# --- COCO JSON -----------------------------------------------------------------------------------


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
    index = _PictureIndex(files)
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
                cats[c["id"]] = _nfc(c["name"])
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


# --- Pascal VOC XML ------------------------------------------------------------------------------


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
    index = _PictureIndex(files)
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
            label = _nfc((obj.findtext("name") or "").strip())
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
