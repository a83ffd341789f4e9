"""Tiny generated pictures with known boxes, in every layout detection imports. No network, no real datasets.

A scene is a noisy background with 1–3 non-overlapping shapes, one shape per class (a red square, a green disc, a
blue triangle), so even a few pictures teach a detector something. `write_yolo` / `write_coco` / `write_voc` lay
scenes out as people bring them; `write_dataset` writes an imported dataset folder directly (manifest.json in
engine.tasks.object_detection.dataset's schema) for tests that need one without the importer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("square", "disc", "triangle")
COLORS = {"square": (220, 40, 40), "disc": (40, 190, 60), "triangle": (40, 60, 220)}


@dataclass
class Scene:
    image: Image.Image
    boxes: list[tuple[str, list[float]]]  # (class name, [x1, y1, x2, y2] pixels)


def make_scene(seed: int, size: tuple[int, int] = (160, 128), classes=CLASSES, max_objects: int = 3,
               background: bool = False) -> Scene:
    """One picture; `background` gives a picture without objects."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.integers(90, 160, 3)
    pixels = np.clip(base + rng.normal(0, 18, (h, w, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    boxes: list[tuple[str, list[float]]] = []
    if background:
        return Scene(image, boxes)
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(20):
            side = int(rng.integers(max(12, min(w, h) // 6), max(14, min(w, h) // 2.5)))
            x1, y1 = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
            box = [float(x1), float(y1), float(x1 + side), float(y1 + side)]
            if all(box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1] for _, b in boxes):
                break
        else:
            continue
        name = classes[int(rng.integers(0, len(classes)))]
        color = COLORS.get(name, tuple(int(c) for c in rng.integers(0, 255, 3)))
        x1, y1, x2, y2 = box
        if name == "disc":
            draw.ellipse([x1, y1, x2 - 1, y2 - 1], fill=color)
        elif name == "triangle":
            draw.polygon([(x1, y2 - 1), ((x1 + x2) / 2, y1), (x2 - 1, y2 - 1)], fill=color)
        else:
            draw.rectangle([x1, y1, x2 - 1, y2 - 1], fill=color)
        boxes.append((name, box))
    return Scene(image, boxes)


def make_scenes(n: int, seed: int = 0, **kwargs) -> list[Scene]:
    return [make_scene(seed * 100_003 + i, **kwargs) for i in range(n)]


def write_yolo(root: str | Path, scenes: list[Scene], classes=CLASSES, split: str | None = None,
               yaml: bool = True) -> Path:
    """images/ + labels/ (class cx cy w h, normalised) and data.yaml; `split` puts them under images/<split>/."""
    root = Path(root)
    sub = f"/{split}" if split else ""
    for i, scene in enumerate(scenes):
        img = root / f"images{sub}/img_{i:03d}.jpg"
        img.parent.mkdir(parents=True, exist_ok=True)
        scene.image.save(img, quality=95)
        w, h = scene.image.size
        lines = [f"{classes.index(c)} {(b[0] + b[2]) / 2 / w:.6f} {(b[1] + b[3]) / 2 / h:.6f} "
                 f"{(b[2] - b[0]) / w:.6f} {(b[3] - b[1]) / h:.6f}" for c, b in scene.boxes]
        lab = root / f"labels{sub}/img_{i:03d}.txt"
        lab.parent.mkdir(parents=True, exist_ok=True)
        lab.write_text("\n".join(lines) + ("\n" if lines else ""))
    if yaml:
        names = "\n".join(f"  {i}: {c}" for i, c in enumerate(classes))
        (root / "data.yaml").write_text(f"path: .\ntrain: images{sub}\nval: images{sub}\nnames:\n{names}\n")
    return root


def write_coco(root: str | Path, scenes: list[Scene], classes=CLASSES, json_name: str = "annotations.json") -> Path:
    """images/ + one COCO JSON (bbox = [x, y, width, height] pixels, category ids from 1)."""
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i, scene in enumerate(scenes):
        name = f"img_{i:03d}.png"
        scene.image.save(root / "images" / name)
        w, h = scene.image.size
        images.append({"id": i + 1, "file_name": name, "width": w, "height": h})
        for c, b in scene.boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": classes.index(c) + 1,
                                "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": (b[2] - b[0]) * (b[3] - b[1]),
                                "iscrowd": 0})
    coco = {"images": images, "annotations": annotations,
            "categories": [{"id": i + 1, "name": c} for i, c in enumerate(classes)]}
    (root / json_name).write_text(json.dumps(coco))
    return root


def write_voc(root: str | Path, scenes: list[Scene]) -> Path:
    """JPEGImages/ + Annotations/*.xml (Pascal VOC, pixel corners)."""
    root = Path(root)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    for i, scene in enumerate(scenes):
        name = f"img_{i:03d}.jpg"
        scene.image.save(root / "JPEGImages" / name, quality=95)
        w, h = scene.image.size
        objects = "".join(
            f"<object><name>{c}</name><difficult>0</difficult><bndbox><xmin>{b[0]:.0f}</xmin><ymin>{b[1]:.0f}</ymin>"
            f"<xmax>{b[2]:.0f}</xmax><ymax>{b[3]:.0f}</ymax></bndbox></object>" for c, b in scene.boxes)
        (root / "Annotations" / f"img_{i:03d}.xml").write_text(
            f"<annotation><filename>{name}</filename><size><width>{w}</width><height>{h}</height><depth>3</depth>"
            f"</size>{objects}</annotation>")
    return root


def write_dataset(dest: str | Path, n_train: int = 12, n_val: int = 4, n_test: int = 4, seed: int = 0,
                  classes=CLASSES, **scene_kwargs) -> Path:
    """An imported dataset folder (images/ + manifest.json), written without the importer."""
    from engine.tasks.object_detection.dataset import main_label

    dest = Path(dest)
    (dest / "images").mkdir(parents=True, exist_ok=True)
    items = []
    scenes = make_scenes(n_train + n_val + n_test, seed=seed, classes=classes, **scene_kwargs)
    for i, scene in enumerate(scenes):
        split = "train" if i < n_train else "val" if i < n_train + n_val else "test"
        path = dest / "images" / f"{i:04d}.png"
        scene.image.save(path)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        boxes = [{"label": c, "box": b} for c, b in scene.boxes]
        items.append({"file": f"images/{path.name}", "sha256": sha, "width": scene.image.width,
                      "height": scene.image.height, "original": f"scene_{i}.png", "split": split, "boxes": boxes,
                      "label": main_label(boxes, list(classes))})
    fingerprint = hashlib.sha256("".join(it["sha256"] for it in items).encode()).hexdigest()
    manifest = {"format": "konstruktor-dataset/1", "task": "object-detection", "id": fingerprint[:12],
                "fingerprint": fingerprint, "name": dest.name, "source": "generated", "classes": list(classes),
                "items": items, "seed": seed}
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return dest


def zip_folder(folder: str | Path, zip_path: str | Path, top: str | None = None) -> Path:
    """The files of `folder` in a zip (under the folder `top` when given, as a zipped folder has them)."""
    import zipfile

    folder, zip_path = Path(folder), Path(zip_path)
    with zipfile.ZipFile(zip_path, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                z.write(path, f"{top}/{name}" if top else name)
    return zip_path


def yolo_line(class_id: int, box: list[float], size: tuple[int, int]) -> str:
    """A YOLO label line (class cx cy w h, fractions) of a pixel box on a picture of `size` (width, height)."""
    w, h = size
    x1, y1, x2, y2 = box
    return f"{class_id} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
