"""Import detection labels (YOLO txt, COCO JSON, Pascal VOC XML; a folder or a zip) into a dataset folder.

The user's files are only read: the readers (`yolo_labels`, `coco_labels`, `voc_labels`) list the pictures and the boxes their label files give, every picture
is decoded once (`engine.data.checks.check_file`), its boxes are checked against it (`label_checks`), exact copies
are resolved, and the dataset folder (pictures copied byte for byte, manifest.json, problems.json) appears in one
rename, as the image importer does it (`engine.data.importer`). This module must not import torch.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from engine.data.archive import ZipLimits, is_junk, safe_extract
from engine.data.checks import check_file, resolve_duplicates
from engine.data.errors import CodedDataError
from engine.data.folder_scan import Candidate
from engine.data.importer import _remove_stale_temp, _write
from engine.data.manifest import FORMAT, SPLITS, is_dataset_dir, load_manifest
from engine.data.problems import KIND_TITLES as IMAGE_KIND_TITLES
from engine.data.problems import SEVERITY_RANK, ImportReport, problem, refused, unreadable_code
from engine.data.split import assign_splits, check_fractions
from engine.fsutil import read_json
from engine.tasks.object_detection import coco_labels, formats, voc_labels, yolo_labels
from engine.tasks.object_detection.classes import main_label
from engine.tasks.object_detection.label_checks import check_boxes
from engine.tasks.object_detection.stats import box_stats, split_counts

__all__ = ["DETECTION_PROBLEM_CODES", "ERRORS", "KIND_TITLES", "DetectionImportReport", "box_stats", "import_detection",
           "looks_like_detection"]

Progress = Callable[[int, int], None]
TASK_NAME = "object-detection"
SCAN_LIMIT = 5000  # names looked at to recognise a layout
SNIFF_BYTES = 64 << 20  # a .json larger than this is not opened just to recognise a layout
_BACKGROUND = "\x00background"  # the stratum of the pictures without boxes

# English sentence of each refusal, by code (ui/i18n says it as `dataerr.<code>`).
ERRORS: dict[str, str] = {
    "det_no_labels": "No label files were found in '{name}'; bring YOLO .txt labels (images/ + labels/), a COCO "
                     ".json or Pascal VOC .xml files with the pictures, or draw boxes in the app.",
    "det_no_pictures": "No pictures were found in '{name}'; put the pictures beside their label files (JPEG, PNG, "
                       "WEBP, BMP, TIFF or GIF).",
    "det_unreadable": "None of the {n} pictures in '{name}' could be read as an image; use JPEG, PNG, WEBP, BMP, "
                      "TIFF or GIF files.",
    "det_no_boxes": "No boxes were found in '{name}' ({n} pictures, none with a usable box); draw boxes in the app "
                    "or bring label files (YOLO .txt, COCO .json or Pascal VOC .xml) with the pictures.",
}

# The `code` of every problem a detection import writes beyond the image importer's own (ui/i18n `pmsg.<code>`).
DETECTION_PROBLEM_CODES = (
    "background", "box_clipped", "box_outside", "box_zero_area", "broken_file", "broken_line", "missing_picture",
    "no_names", "no_train_class", "orphan_label", "pixel_converted", "pixel_coords", "polygon", "size_mismatch",
    "unknown_class", "unlabelled", "unused_class",
)

# How the summary names each kind of problem (the image importer's own kinds keep their titles).
KIND_TITLES = {
    **IMAGE_KIND_TITLES,
    "unreadable": "unreadable or not a picture (skipped)",
    "duplicate": "exact copy of another picture (one copy kept)",
    "leak": "same picture in two splits (only one copy kept)",
    "broken_file": "label file that cannot be read (skipped)",
    "broken_line": "broken label line or entry (skipped)",
    "unknown_class": "box of an unknown class id (skipped)",
    "pixel_coords": "YOLO line in pixels instead of fractions (skipped)",
    "pixel_converted": "YOLO file in pixels, converted to fractions",
    "box_outside": "box mostly outside its picture (skipped)",
    "box_zero_area": "box without area (skipped)",
    "orphan_label": "label file without its picture (skipped)",
    "missing_picture": "picture named by a label file but not found (skipped)",
    "unlabelled": "picture no label file names (left out)",
    "size_mismatch": "picture whose size differs from its label file's",
    "no_train_class": "class without boxes in train",
    "box_clipped": "box over the picture's edge (clipped)",
    "polygon": "polygons turned into boxes",
    "background": "picture without a label file (kept as background)",
    "no_names": "classes named by their ids",
    "unused_class": "classes no box uses (left out of the class list)",
}


def _refused(code: str, **params: Any) -> CodedDataError:
    return CodedDataError(code, ERRORS[code].format(**params), **params)


# --- recognising the layout ----------------------------------------------------------------------


class _Peek:
    """The names of a folder's or a zip's files (the first SCAN_LIMIT) and a way to read a small one."""

    def __init__(self, path: Path):
        self.path, self.names, self._zip = path, [], None
        if path.is_dir():
            for i, p in enumerate(path.rglob("*")):
                if i >= SCAN_LIMIT:
                    break
                if p.is_file():
                    self.names.append(p.relative_to(path).as_posix())
        elif path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                self._zip = {i.filename: i for i in z.infolist()[:SCAN_LIMIT] if not i.is_dir()}
            self.names = list(self._zip)

    def size(self, name: str) -> int:
        try:
            return self._zip[name].file_size if self._zip is not None else (self.path / name).stat().st_size
        except (OSError, KeyError):
            return 0

    def read(self, name: str) -> bytes | None:
        try:
            if self._zip is None:
                return (self.path / name).read_bytes()
            with zipfile.ZipFile(self.path) as z:
                return z.read(self._zip[name])
        except (OSError, KeyError, zipfile.BadZipFile, RuntimeError, ValueError):
            return None


def _sniff_coco(peek: _Peek, name: str) -> bool:
    if peek.size(name) > SNIFF_BYTES:  # COCO 2017's instances_train2017.json: too large to open for a guess
        low = name.lower()
        return "instances" in low or "coco" in low
    raw = peek.read(name)
    try:
        return raw is not None and coco_labels.is_coco(json.loads(raw.decode("utf-8-sig")))
    except (UnicodeDecodeError, ValueError):
        return False


def _sniff_voc(peek: _Peek, name: str) -> bool:
    raw = peek.read(name) if peek.size(name) <= SNIFF_BYTES else None
    return raw is not None and b"<annotation" in raw[:4096]


def looks_like_detection(path: str | Path) -> bool:
    """A YOLO layout (data.yaml, or labels/*.txt beside images/), COCO JSON or Pascal VOC XML, in a folder or a zip."""
    path = Path(path)
    try:
        peek = _Peek(path)
    except (OSError, zipfile.BadZipFile):
        return False
    names = [n for n in peek.names if not any(is_junk(p) for p in PurePosixPath(n).parts)]
    lowered = [n.lower() for n in names]
    has_pictures = any(formats.is_picture(n) for n in names)
    if any(PurePosixPath(n).name in ("data.yaml", "data.yml") for n in lowered):
        return True
    if has_pictures and any("/labels/" in f"/{n}" and n.endswith(".txt") for n in lowered) and \
            any("/images/" in f"/{n}" for n in lowered):
        return True
    xmls = [n for n, low in zip(names, lowered, strict=True) if low.endswith(".xml")]
    if has_pictures and any(_sniff_voc(peek, n) for n in xmls[:20]):
        return True
    jsons = sorted((n for n in names if n.lower().endswith(".json")), key=lambda n: ("instances" not in n.lower()
                                                                                      and "coco" not in n.lower(), n))
    return any(_sniff_coco(peek, n) for n in jsons[:20])


# --- the import ------------------------------------------------------------------------------------


class DetectionImportReport(ImportReport):
    """An ImportReport whose counts are pictures per class and split, and whose summary speaks of boxes."""

    def summary(self) -> str:
        items = self.manifest["items"]
        stats = self.manifest.get("stats") or box_stats(self.manifest)
        n_boxes = sum(c["boxes"] for c in stats["per_class"].values())
        verb = "Already imported" if self.reused else "Imported"
        split = self.manifest["split"]
        how = f"generated with seed {split['seed']}" if split["source"] == "generated" else "as given"
        totals = {s: sum(1 for it in items if it["split"] == s) for s in SPLITS}
        per_class = ", ".join(f"{c} {v['boxes']}" for c, v in stats["per_class"].items())
        lines = [
            f"{verb} '{self.manifest['name']}' ({self.manifest.get('labels', 'labels')}): {len(items)} pictures, "
            f"{n_boxes} boxes in {len(self.manifest['classes'])} classes, {stats['background_pictures']} background "
            f"pictures (dataset {self.manifest['id']}).",
            f"Boxes per class: {per_class}.",
            f"Split {how}: " + ", ".join(f"{s} {totals[s]}" for s in SPLITS) + ".",
        ]
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for p in self.problems:
            by_kind.setdefault(p["kind"], []).append(p)
        if not by_kind:
            lines.append("No problems found.")
        order = list(KIND_TITLES)
        for kind, group in sorted(by_kind.items(), key=lambda kv: (SEVERITY_RANK.get(kv[1][0]["severity"], 3),
                                                                     order.index(kv[0]) if kv[0] in order else 99)):
            names = ", ".join(p["file"] for p in group[:5])
            more = f" and {len(group) - 5} more" if len(group) > 5 else ""
            lines.append(f"{group[0]['severity'].capitalize()}: {len(group)} × {KIND_TITLES.get(kind, kind)}: "
                         f"{names}{more}. ({group[0]['message']})")
        return "\n".join(lines)


def import_detection(
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
) -> DetectionImportReport:
    """Check, split and copy YOLO, COCO or VOC labelled pictures into `<dest_root>/<dataset_id>/`.

    The same pictures and boxes imported again with the same split parameters return the existing folder
    (`reused=True`). `confined` (a shared app): links inside a folder that point out of it are not followed.
    """
    check_fractions(val_fraction, test_fraction)
    source = Path(source).expanduser()
    dest_root = Path(dest_root)
    if not source.exists():
        raise refused("import_missing", source=str(source))
    dest_root.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp(dest_root)
    options = dict(seed=seed, val_fraction=val_fraction, test_fraction=test_fraction, progress=progress,
                   name=name or (source.stem if source.is_file() else source.name))
    if source.is_dir():
        files = _files(source, dest_root, confined)
        return _build(source, source, files, dest_root, **options)
    if source.suffix.lower() != ".zip":
        raise refused("import_kind", name=source.name, suffix=source.suffix) if source.suffix else \
            refused("import_no_suffix", name=source.name)
    unpacked = Path(tempfile.mkdtemp(prefix=".unzip-", dir=dest_root))
    try:
        if not safe_extract(source, unpacked, zip_limits):
            raise refused("import_zip_empty", name=source.name)
        return _build(source, unpacked, formats.walk(unpacked), dest_root, **options)
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)


def _files(source: Path, dest_root: Path, confined: bool) -> list[tuple[str, Path]]:
    """The source's files, without the datasets folder when it lies inside it, nor links out of it when confined."""
    inside, root = dest_root.resolve(), source.resolve()
    out = []
    for rel, path in formats.walk(source):
        real = path.resolve()
        if real.is_relative_to(inside) or (confined and not real.is_relative_to(root)):
            continue
        out.append((rel, path))
    return out


def _read(root: Path, files: list[tuple[str, Path]], name: str) -> formats.Source:
    """The layout's reader: YOLO when there is a data.yaml or YOLO .txt labels, else COCO, else VOC."""
    if yolo_labels.has_yolo_labels(files):
        return yolo_labels.read_yolo(root, files)
    problems: list[dict[str, Any]] = []
    cocos = coco_labels.coco_files(files, problems)
    if cocos:
        return coco_labels.read_coco(root, files, cocos, problems)
    if voc_labels.voc_files(files):
        found = voc_labels.read_voc(root, files)
        found.problems[:0] = problems
        return found
    if not any(formats.is_picture(rel) for rel, _ in files):
        raise _refused("det_no_pictures", name=name)
    raise _refused("det_no_labels", name=name)


def _build(source: Path, root: Path, files: list[tuple[str, Path]], dest_root: Path, *, seed: int,
           val_fraction: float, test_fraction: float, progress: Progress | None, name: str) -> DetectionImportReport:
    found = _read(root, files, source.name)
    problems = found.problems
    if not found.pictures:
        raise _refused("det_no_pictures", name=source.name)
    checked: list[tuple[Candidate, list[dict[str, Any]]]] = []
    total = len(found.pictures)
    if progress:
        progress(0, total)
    for done, pic in enumerate(found.pictures, 1):
        cand = Candidate(pic.path, pic.original, "", pic.split)
        reason = check_file(cand)
        if reason is not None:
            problems.append(problem(pic.original, "unreadable", "warning", f"Skipped: the file {reason}.",
                                    {"reason": reason}, code=unreadable_code(reason)))
        else:
            problems.extend(problem(pic.original, *note) for note in cand.notes)
            boxes = check_boxes(pic, cand.width, cand.height, problems)
            if pic.label_file is None:
                problems.append(problem(pic.original, "background", "info", "No label file names this picture; it "
                                        "was kept as a background picture (no objects on it)."))
            checked.append((cand, boxes))
        if progress:
            progress(done, total)
    if not checked:
        raise _refused("det_unreadable", n=total, name=source.name)
    # Copies of one picture from several label files: the first one's boxes stay (resolve_duplicates keeps the
    # earliest split, then the earliest name, and says which copy it kept).
    boxes_of = {id(c): b for c, b in checked}
    kept = resolve_duplicates([c for c, _ in checked], problems)
    pairs = [(c, boxes_of[id(c)]) for c in kept]
    classes = _classes(found, pairs, problems)
    if not classes:
        raise _refused("det_no_boxes", n=len(pairs), name=source.name)
    split_of, split_params, id_params = _split(pairs, classes, seed, val_fraction, test_fraction, problems)

    records = [(c, boxes, main_label(boxes, classes)) for c, boxes in pairs]
    fingerprint = _fingerprint(records)
    dataset_id = hashlib.sha256(f"{FORMAT}\n{TASK_NAME}\n{fingerprint}\n{json.dumps(classes)}\n"
                                f"{json.dumps(id_params, sort_keys=True)}".encode()).hexdigest()[:12]
    final = dest_root / dataset_id
    if is_dataset_dir(final):
        return _report(final, reused=True)
    records.sort(key=lambda r: (SPLITS.index(split_of[r[0].sha256]), r[0].sha256))
    items = [{"file": f"images/{c.sha256[:16]}{c.suffix}", "sha256": c.sha256, "width": c.width, "height": c.height,
              "original": c.original, "split": split_of[c.sha256], "boxes": boxes, "label": label}
             for c, boxes, label in records]
    manifest: dict[str, Any] = {
        "format": FORMAT, "task": TASK_NAME, "id": dataset_id, "fingerprint": fingerprint, "name": name,
        "source": str(source.resolve()), "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": found.layout, "classes": classes, "split": split_params, "items": items,
    }
    manifest["stats"] = box_stats(manifest)
    problems.sort(key=lambda p: (SEVERITY_RANK[p["severity"]], p["kind"], p["file"]))
    _write(final, kept, items, manifest, problems)
    return _report(final, reused=False)


def _classes(found: formats.Source, pairs: list, problems: list) -> list[str]:
    """The classes some box uses, in the source's order; the named classes no box uses are left out, and said so."""
    used = {b["label"] for _, boxes in pairs for b in boxes}
    classes = [c for c in found.classes if c in used] + sorted(used - set(found.classes))
    unused = [c for c in found.declared if c not in used]
    if unused and used:
        where = found.declared_in or "data.yaml"
        names = ", ".join(f"'{c}'" for c in unused)
        problems.append(problem(where, "unused_class", "info", f"The class(es) {names} are named in '{where}' but no "
                                "box uses them; they were left out of the class list.", {"classes": unused}))
    return classes


def _split(pairs: list, classes: list[str], seed: int, val_fraction: float, test_fraction: float,
           problems: list) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """(sha -> split, the manifest's split record, what of the split goes into the dataset id)."""
    if any(c.split is not None for c, _ in pairs):
        split_of = {c.sha256: c.split or "train" for c, _ in pairs}
        for label in classes:
            if not any(split_of[c.sha256] == "train" and any(b["label"] == label for b in boxes) for c, boxes in pairs):
                problems.append(problem(label, "no_train_class", "warning", f"The class '{label}' has no boxes in "
                                        "the training split, so the detector cannot learn it; move some of its "
                                        "pictures to train.", {"label": label}))
        assignment = "\n".join(sorted(f"{sha}\t{s}" for sha, s in split_of.items()))
        params = {"source": "given", "seed": None, "val_fraction": None, "test_fraction": None}
        return split_of, params, {"source": "given", "assignment": hashlib.sha256(assignment.encode()).hexdigest()}
    split_of = assign_splits(((main_label(boxes, classes) or _BACKGROUND, c.sha256) for c, boxes in pairs),
                             seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    for label in classes:  # a class that is never a picture's main class may have missed train: bring one back
        holders = [(c, sum(b["label"] == label for b in boxes)) for c, boxes in pairs
                   if any(b["label"] == label for b in boxes)]
        if not any(split_of[c.sha256] == "train" for c, _ in holders):
            best = min(holders, key=lambda h: (-h[1], h[0].sha256))[0]
            split_of[best.sha256] = "train"
    params = {"source": "generated", "seed": seed, "val_fraction": val_fraction, "test_fraction": test_fraction}
    return split_of, params, params


def _fingerprint(records: list[tuple[Candidate, list[dict[str, Any]], str | None]]) -> str:
    """The content: each picture's sha256 and its boxes."""
    lines = sorted(f"{c.sha256}\t" + ";".join(sorted(f"{b['label']}:{','.join(f'{v:g}' for v in b['box'])}"
                                                     for b in boxes)) for c, boxes, _ in records)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def _report(dataset_dir: Path, *, reused: bool) -> DetectionImportReport:
    manifest = load_manifest(dataset_dir)
    path = dataset_dir / "problems.json"
    problems = read_json(path) if path.is_file() else []
    return DetectionImportReport(dataset_dir=dataset_dir, manifest=manifest, problems=problems,
                                 counts=split_counts(manifest), reused=reused)
