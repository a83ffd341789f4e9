"""What the Data, Evaluate and Test tabs show for a project whose examples are pictures with boxes: boxes and
pictures per class, the box-size histogram, per-class AP, pictures with true and predicted boxes, and the
Test tab's boxes with their confidences. Drawn with Pillow; the tabs decide when (by TaskUI values)."""

from __future__ import annotations

import html
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from ui.i18n import t

THUMB_SIDE = 160
MAX_THUMBS = 24
MAX_GALLERY = 24
TRUE, HIT, FALSE_ALARM, MISSED = (40, 200, 80), (40, 120, 230), (230, 50, 50), (245, 160, 0)
PALETTE = [(230, 25, 75), (60, 180, 75), (67, 99, 216), (245, 130, 49), (145, 30, 180), (66, 212, 244),
           (240, 50, 230), (154, 99, 36), (0, 0, 117), (128, 128, 0)]
_detectors: dict[str, Any] = {}
_lock = threading.Lock()


# --- Data tab ---------------------------------------------------------------------------------

def stats_of(manifest: dict) -> dict:
    """The importer's `stats`, or the same numbers counted from the items (an older or hand-made manifest)."""
    stats = manifest.get("stats")
    if isinstance(stats, dict) and isinstance(stats.get("per_class"), dict):
        return stats
    from engine.tasks.object_detection.stats import box_stats

    return box_stats(manifest)


def summary_text(lang: str, manifest: dict) -> str:
    stats = stats_of(manifest)
    split = Counter(it["split"] for it in manifest["items"])
    n_boxes = sum(v.get("boxes", 0) for v in stats["per_class"].values())
    lines = [t(lang, "det.summary", name=manifest.get("name") or manifest["id"], n=len(manifest["items"]),
               boxes=n_boxes, k=len(manifest["classes"]), background=stats.get("background_pictures", 0),
               train=split["train"], val=split["val"], test=split["test"])]
    fewest = min((v.get("boxes", 0) for v in stats["per_class"].values()), default=0)
    if fewest < 10:
        lines.append(t(lang, "det.few_boxes", n=fewest))
    return "\n\n".join(lines)


def counts_html(lang: str, manifest: dict) -> str:
    """Boxes and pictures per class, then the box-size histogram: plain HTML bars."""
    stats = stats_of(manifest)
    per_class = stats["per_class"]
    most = max((v.get("boxes", 0) for v in per_class.values()), default=0) or 1
    rows = [f'<div class="k-count-row"><span class="k-count-name">{html.escape(label)}</span>'
            f'<div class="k-count-bar"><div class="k-train" style="width:{100 * v.get("boxes", 0) / most:.1f}%">'
            f'</div></div><span>{html.escape(t(lang, "det.boxes_pictures", boxes=v.get("boxes", 0), pictures=v.get("pictures", 0)))}'
            f'</span></div>' for label, v in per_class.items()]
    rows.append(f'<div class="k-legend">{html.escape(t(lang, "det.background", n=stats.get("background_pictures", 0)))}'
                f'</div>')
    sizes = stats.get("box_sizes") or {}
    bins, counts = list(sizes.get("bins") or []), list(sizes.get("counts") or [])
    hist = ""
    if counts and len(bins) == len(counts) + 1:
        top = max(counts) or 1
        bars = "".join(
            f'<div class="k-count-row"><span class="k-count-name">{_bin_name(bins[i], bins[i + 1])}</span>'
            f'<div class="k-count-bar"><div class="k-val" style="width:{100 * c / top:.1f}%"></div></div>'
            f'<span>{c}</span></div>' for i, c in enumerate(counts))
        hist = f'<p><b>{html.escape(t(lang, "det.sizes"))}</b></p>{bars}'
    return f'<div class="k-counts">{"".join(rows)}{hist}</div>'


def _bin_name(lo: float, hi: float) -> str:
    """A histogram bin's edges: fractions of the picture's side (engine.tasks.object_detection.stats)."""
    return f"{lo * 100:g}–{hi * 100:g} %"


def thumbnails(dataset_dir: Path, manifest: dict) -> list[tuple]:
    """A few pictures with their boxes drawn, in memory (Gradio may not serve the workspace)."""
    out = []
    for it in manifest["items"][:MAX_THUMBS]:
        try:
            img = draw_boxes(dataset_dir / it["file"], [(b["label"], None, b["box"], None) for b in it["boxes"]],
                             manifest["classes"])
        except OSError:
            continue
        img.thumbnail((THUMB_SIDE * 2, THUMB_SIDE * 2))
        out.append((img, ", ".join(sorted({b["label"] for b in it["boxes"]})) or "—"))
    return out


# --- drawing ----------------------------------------------------------------------------------

def draw_boxes(picture, boxes: list[tuple[str, float | None, list[float], tuple | None]], classes: list[str]):
    """The picture (a path or PIL image) with each (label, confidence or None, [x1, y1, x2, y2], colour or None)."""
    from PIL import Image, ImageDraw

    if isinstance(picture, Image.Image):
        img = picture.convert("RGB")
    else:
        with Image.open(picture) as opened:
            img = opened.convert("RGB")
    draw = ImageDraw.Draw(img)
    width = max(2, round(max(img.size) / 250))
    for label, conf, (x1, y1, x2, y2), colour in boxes:
        colour = colour or PALETTE[(classes.index(label) if label in classes else 0) % len(PALETTE)]
        draw.rectangle([x1, y1, x2, y2], outline=colour, width=width)
        text = label if conf is None else f"{label} {conf:.0%}"
        left, top, right, bottom = draw.textbbox((x1, y1), text)
        lift = bottom - top + 4
        y = y1 - lift if y1 >= lift else y1
        draw.rectangle([x1, y, x1 + right - left + 4, y + lift], fill=colour)
        draw.text((x1 + 2, y + 1), text, fill=(255, 255, 255))
    return img


# --- Evaluate tab -----------------------------------------------------------------------------

def per_class_ap(lang: str, m: dict) -> pd.DataFrame:
    columns = [t(lang, "eval.col_class"), "AP50", "AP50-95", t(lang, "eval.col_precision"),
               t(lang, "eval.col_recall"), t(lang, "det.col_boxes")]
    rows = [[label, round(float(r.get("ap50", 0)), 3), round(float(r.get("ap50_95", 0)), 3),
             round(float(r.get("precision", 0)), 3), round(float(r.get("recall", 0)), 3), r.get("n_boxes", 0)]
            for label, r in (m.get("per_class") or {}).items() if isinstance(r, dict)]
    return pd.DataFrame(rows, columns=columns)


def gallery(lang: str, run_dir: Path, split: str, dataset_dir: Path | None) -> list[tuple]:
    """Pictures of `split` with true boxes (green), right detections (blue), false alarms (red) and misses
    (orange), those with most mistakes first."""
    from engine.fsutil import read_json

    try:
        pictures = read_json(run_dir / "artifacts" / f"gallery_{split}.json")
    except (OSError, ValueError):
        return []
    if not isinstance(pictures, list) or dataset_dir is None:
        return []

    def mistakes(p):
        return len(p.get("missed") or []) + sum(1 for d in p.get("pred") or [] if not d.get("match"))

    out = []
    for p in sorted(pictures, key=lambda p: -mistakes(p))[:MAX_GALLERY]:
        path = dataset_dir / str(p.get("file", ""))
        if not path.resolve().is_relative_to(dataset_dir.resolve()):
            continue
        boxes = [(b["label"], None, b["box"], TRUE) for b in p.get("true") or []]
        boxes += [(d["label"], d.get("confidence"), d["box"], HIT if d.get("match") else FALSE_ALARM)
                  for d in p.get("pred") or []]
        boxes += [(b["label"], None, b["box"], MISSED) for b in p.get("missed") or []]
        try:
            img = draw_boxes(path, boxes, [])
        except OSError:
            continue
        alarms = sum(1 for d in p.get("pred") or [] if not d.get("match"))
        out.append((img, t(lang, "det.gallery_caption", missed=len(p.get("missed") or []), alarms=alarms)))
    return out


def dataset_of_run(run_dir: Path, fallback: Path | None) -> Path | None:
    """The dataset folder the run was trained on (its config's `data`), else `fallback`."""
    import yaml

    try:
        data = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")).get("data")
        if data and Path(data).is_dir():
            return Path(data)
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        pass
    return fallback


# --- Test tab ---------------------------------------------------------------------------------

def detector_of(run_dir: Path):
    """The run's detector, kept while the same run is asked again (loading it takes seconds)."""
    from engine.tasks.object_detection.detector import load_run_detector

    key = f"{run_dir}:{(run_dir / 'checkpoints' / 'best.pt').stat().st_mtime_ns}"
    with _lock:
        if key not in _detectors:
            _detectors.clear()
            _detectors[key] = load_run_detector(run_dir)
        return _detectors[key]


def _detection_columns(lang: str) -> list[str]:
    return [t(lang, "eval.col_class"), t(lang, "det.col_confidence"), "x1", "y1", "x2", "y2"]


def empty_detections(lang: str) -> pd.DataFrame:
    """The detections table before a picture: its headers, no rows."""
    return pd.DataFrame([], columns=_detection_columns(lang))


def detect_picture(lang: str, run_dir: Path, path: str, conf: float, iou: float):
    """(the picture with its boxes, a table of them) for the Test tab."""
    from engine.preprocess import load_image
    from engine.tasks.object_detection.boxes import as_records

    detector = detector_of(run_dir)
    image = load_image(path)
    (found,) = detector.detect([image], conf=float(conf), iou=float(iou))
    records = as_records(found, detector.labels)
    drawn = draw_boxes(image, [(r["label"], r["confidence"], r["box"], None) for r in records], detector.labels)
    table = pd.DataFrame([[r["label"], round(r["confidence"], 3), *[round(v) for v in r["box"]]] for r in records],
                         columns=_detection_columns(lang))
    return drawn, table, len(records)
