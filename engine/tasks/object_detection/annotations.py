"""A project's own box labels: pictures the user added, the classes, the boxes drawn on each (in pixels).

The app's box editor reads and writes it; every change is written at once (atomically), so a closed browser
loses nothing. `to_source` writes the labelled pictures as a YOLO layout, which the detection importer turns
into the project's dataset like any other YOLO folder. No UI here.

The folder holds `annotations.json` and `pictures/` (each picture copied in once, named by the start of its
sha256 so two files of the same name never clash):

    {"classes": [name, ...],
     "pictures": [{"id": sha256[:16], "file": "pictures/<id><ext>", "name": the user's file name, "width",
                   "height", "boxes": [{"label", "box": [x1, y1, x2, y2]}], "background": bool}]}

A picture is labelled once it has a box, or once the user said it shows no object (a background picture).
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.fsutil import atomic_write_json, atomic_write_text, read_json

STORE_FILE = "annotations.json"
PICTURES = "pictures"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
MAX_CLASS_NAME = 60
_locks: dict[str, threading.Lock] = {}


def _lock_for(folder: Path) -> threading.Lock:
    return _locks.setdefault(str(folder.resolve()), threading.Lock())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _picture_size(path: Path, name: str) -> tuple[int, int]:
    """(width, height) of a picture that decodes whole; a sentence otherwise."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
            return img.size
    except Exception:  # Pillow raises many kinds for a damaged or foreign file
        raise UserError(f"{name} is not a picture that can be opened (damaged, or not an image); "
                        "it was not added.") from None


class AnnotationStore:
    """The labels of one project, kept in `folder` (the project's own folder's `annotations/`)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._lock = _lock_for(self.folder)

    # --- reading ----------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        try:
            data = read_json(self.folder / STORE_FILE)
        except (OSError, ValueError):
            return {"classes": [], "pictures": []}
        if not isinstance(data, dict):
            return {"classes": [], "pictures": []}
        return {"classes": list(data.get("classes") or []), "pictures": list(data.get("pictures") or [])}

    def _write(self, data: dict[str, Any]) -> None:
        atomic_write_json(self.folder / STORE_FILE, data)

    @property
    def classes(self) -> list[str]:
        return self._read()["classes"]

    def pictures(self) -> list[dict[str, Any]]:
        """Every picture's entry, in the order they were added."""
        return self._read()["pictures"]

    def picture(self, picture_id: str) -> dict[str, Any]:
        for p in self.pictures():
            if p["id"] == picture_id:
                return p
        raise UserError(f"There is no picture '{picture_id}' in this project's labels.")

    def path_of(self, picture_id: str) -> Path:
        return self.folder / self.picture(picture_id)["file"]

    def progress(self) -> tuple[int, int]:
        """(labelled pictures, all pictures)."""
        pictures = self.pictures()
        return sum(1 for p in pictures if is_labelled(p)), len(pictures)

    # --- changes (each written at once) -----------------------------------------------------
    def add_picture(self, path: str | Path, name: str | None = None) -> tuple[dict[str, Any], bool]:
        """Copy a picture in; (its entry, whether it is new). The same bytes added again are the same picture."""
        path = Path(path)
        name = name or path.name
        if not path.is_file():
            raise UserError(f"{name} is not a file; it was not added.")
        width, height = _picture_size(path, name)
        sha = _sha256(path)
        with self._lock:
            data = self._read()
            for p in data["pictures"]:
                if p.get("sha256") == sha:
                    return p, False
            suffix = path.suffix.lower() if path.suffix.lower() in IMAGE_SUFFIXES else ".png"
            file = f"{PICTURES}/{sha[:16]}{suffix}"
            dest = self.folder / file
            dest.parent.mkdir(parents=True, exist_ok=True)
            if suffix == path.suffix.lower():
                shutil.copyfile(path, dest)
            else:  # a picture Pillow reads under an odd name: kept as PNG, which every importer takes
                from PIL import Image

                with Image.open(path) as img:
                    img.convert("RGB").save(dest, "PNG")
            entry = {"id": sha[:16], "sha256": sha, "file": file, "name": name, "width": width, "height": height,
                     "boxes": [], "background": False}
            data["pictures"].append(entry)
            self._write(data)
            return entry, True

    def add_pictures(self, paths: list[tuple[str | Path, str]]) -> tuple[int, list[str]]:
        """Add many (path, shown name) pairs; (how many were new, a sentence per file refused)."""
        added, refused = 0, []
        for path, name in paths:
            try:
                _, new = self.add_picture(path, name)
                added += int(new)
            except UserError as e:
                refused.append(str(e))
        return added, refused

    def remove_picture(self, picture_id: str) -> None:
        with self._lock:
            data = self._read()
            kept = [p for p in data["pictures"] if p["id"] != picture_id]
            gone = [p for p in data["pictures"] if p["id"] == picture_id]
            data["pictures"] = kept
            self._write(data)
        for p in gone:
            (self.folder / p["file"]).unlink(missing_ok=True)

    def add_class(self, name: str) -> list[str]:
        """Add a class (trimmed; an existing name is kept once); the classes after."""
        name = clean_class(name)
        with self._lock:
            data = self._read()
            if name not in data["classes"]:
                data["classes"].append(name)
                self._write(data)
            return data["classes"]

    def set_boxes(self, picture_id: str, boxes: list[dict[str, Any]]) -> dict[str, Any]:
        """Replace a picture's boxes ({"label", "box": [x1, y1, x2, y2]} in pixels); the entry after.

        Boxes are clipped to the picture; one with no area left is dropped; a label not yet a class becomes one.
        Drawing a box undoes "no objects".
        """
        with self._lock:
            data = self._read()
            entry = _find(data, picture_id)
            clean = []
            for b in boxes:
                box = _clip(b.get("box"), entry["width"], entry["height"])
                if box is None:
                    continue
                label = clean_class(str(b.get("label") or (data["classes"][0] if data["classes"] else "")))
                if label not in data["classes"]:
                    data["classes"].append(label)
                clean.append({"label": label, "box": box})
            entry["boxes"] = clean
            if clean:
                entry["background"] = False
            self._write(data)
            return entry

    def set_background(self, picture_id: str, background: bool) -> dict[str, Any]:
        """Mark a picture as showing no object (its boxes go) or take the mark away."""
        with self._lock:
            data = self._read()
            entry = _find(data, picture_id)
            entry["background"] = bool(background)
            if background:
                entry["boxes"] = []
            self._write(data)
            return entry

    # --- the dataset ------------------------------------------------------------------------
    def to_source(self, dest: str | Path) -> Path:
        """Write the labelled pictures as a YOLO layout (images/, labels/, data.yaml) into `dest`; `dest`."""
        import yaml

        data = self._read()
        labelled = [p for p in data["pictures"] if is_labelled(p)]
        if not labelled:
            raise UserError("No picture is labelled yet: draw boxes on some pictures (or mark them as showing "
                            "no objects) first.")
        used = {b["label"] for p in labelled for b in p["boxes"]}
        classes = [c for c in data["classes"] if c in used]
        if not classes:
            raise UserError("No picture has a box yet: draw at least one box before building the dataset.")
        index = {c: i for i, c in enumerate(classes)}
        dest = Path(dest)
        (dest / "images").mkdir(parents=True, exist_ok=True)
        (dest / "labels").mkdir(parents=True, exist_ok=True)
        for p in labelled:
            src = self.folder / p["file"]
            stem = Path(p["file"]).stem
            shutil.copyfile(src, dest / "images" / f"{stem}{src.suffix}")
            lines = [_yolo_line(index[b["label"]], b["box"], p["width"], p["height"]) for b in p["boxes"]]
            atomic_write_text(dest / "labels" / f"{stem}.txt", "".join(line + "\n" for line in lines))
        names = {i: c for i, c in enumerate(classes)}
        atomic_write_text(dest / "data.yaml", yaml.safe_dump({"path": ".", "train": "images", "names": names},
                                                             allow_unicode=True, sort_keys=False))
        return dest


def is_labelled(picture: dict[str, Any]) -> bool:
    return bool(picture.get("boxes")) or bool(picture.get("background"))


def clean_class(name: str) -> str:
    """A class name as kept: trimmed, one line, not empty, not too long."""
    name = " ".join(str(name or "").split())
    if not name:
        raise UserError("A class needs a name: type one, such as 'cat' or 'car'.")
    if len(name) > MAX_CLASS_NAME:
        raise UserError(f"A class name can have at most {MAX_CLASS_NAME} characters.")
    return name


def _find(data: dict[str, Any], picture_id: str) -> dict[str, Any]:
    for p in data["pictures"]:
        if p["id"] == picture_id:
            return p
    raise UserError(f"There is no picture '{picture_id}' in this project's labels.")


def _clip(box: Any, width: int, height: int) -> list[float] | None:
    try:
        x1, y1, x2, y2 = (float(v) for v in box)
    except (TypeError, ValueError):
        return None
    x1, x2 = sorted((min(max(x1, 0.0), width), min(max(x2, 0.0), width)))
    y1, y2 = sorted((min(max(y1, 0.0), height), min(max(y2, 0.0), height)))
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    return [round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2)]


def _yolo_line(cls: int, box: list[float], width: int, height: int) -> str:
    x1, y1, x2, y2 = box
    return (f"{cls} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} {(x2 - x1) / width:.6f} "
            f"{(y2 - y1) / height:.6f}")


def project_store(ws, pid: str) -> AnnotationStore:
    """The labels of project `pid` of workspace `ws` (in its own folder, beside its class bins)."""
    return AnnotationStore(ws.project_dir(pid) / "annotations")
