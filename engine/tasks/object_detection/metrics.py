"""How well a detector finds the boxes: mAP by torchmetrics (COCO's evaluation through pycocotools), precision
and recall at the chosen confidence, per class, and per-picture records for the gallery.

mAP is measured on every candidate down to MAP_CONF (as COCO and Ultralytics do); precision, recall and the
gallery use the run's confidence threshold, the boxes a user would see.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.tasks.object_detection.boxes import box_iou
from engine.tasks.object_detection.dataset import targets_of

MAP_CONF = 0.001  # candidates this confident or more enter mAP
MATCH_IOU = 0.5  # a detection is right when it overlaps an unmatched true box of its class this much


def _match(pred_boxes: np.ndarray, pred_cls: np.ndarray, true_boxes: np.ndarray, true_cls: np.ndarray) -> tuple[
        np.ndarray, np.ndarray]:
    """Greedy matching, most confident first (predictions arrive sorted): (matched flag per prediction,
    matched flag per true box)."""
    hit = np.zeros(len(pred_boxes), dtype=bool)
    used = np.zeros(len(true_boxes), dtype=bool)
    if len(pred_boxes) and len(true_boxes):
        ious = box_iou(pred_boxes, true_boxes)
        for i in range(len(pred_boxes)):
            same = (true_cls == pred_cls[i]) & ~used
            if not same.any():
                continue
            j = int(np.argmax(np.where(same, ious[i], -1.0)))
            if ious[i, j] >= MATCH_IOU:
                hit[i], used[j] = True, True
    return hit, used


def _ap_per_class(preds: list[dict], targets: list[dict], n_classes: int, iou_thresholds=None) -> dict[str, Any]:
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", class_metrics=True,
                                  iou_thresholds=iou_thresholds, max_detection_thresholds=[1, 10, 100])
    metric.update(preds, targets)
    out = metric.compute()
    per_class = {}
    classes = out["classes"].reshape(-1).tolist()
    values = out["map_per_class"].reshape(-1).tolist()
    for c, v in zip(classes, values, strict=False):
        per_class[int(c)] = max(0.0, float(v))
    return {"map": max(0.0, float(out["map"])), "map_50": max(0.0, float(out["map_50"])), "per_class": per_class}


def evaluate_items(detector, items: list[dict], dataset_dir: str | Path, *, conf: float | None = None,
                   iou: float | None = None, progress: Callable[[int, int], None] | None = None) -> tuple[
        dict[str, Any], list[dict[str, Any]]]:
    """(metrics, pictures) of `detector` (engine.tasks.object_detection.detector.Detector) on manifest items.

    metrics: map50, map50_95, precision, recall (at `conf`, default the detector's), conf, iou, n (pictures),
    n_boxes (true), tp, fp, fn, per_class {label: {ap50, ap50_95, n_boxes, precision, recall}}.
    pictures: per item {"file", "true": [{label, box}], "pred": [{label, confidence, box, match}], "missed": [...]}.
    """
    import torch

    labels = detector.labels
    conf = detector.conf if conf is None else conf
    iou = detector.iou if iou is None else iou
    files = [str(Path(dataset_dir) / it["file"]) for it in items]
    found = detector.detect(files, conf=MAP_CONF, iou=iou, progress=progress)
    preds, targets, pictures = [], [], []
    tp = np.zeros(len(labels), dtype=np.int64)
    fp = np.zeros(len(labels), dtype=np.int64)
    fn = np.zeros(len(labels), dtype=np.int64)
    n_true = np.zeros(len(labels), dtype=np.int64)
    for item, dets in zip(items, found, strict=True):
        true_boxes, true_cls = targets_of(item, labels)
        boxes = np.array([d[2] for d in dets], dtype=np.float32).reshape(-1, 4)
        scores = np.array([d[1] for d in dets], dtype=np.float32)
        cls = np.array([d[0] for d in dets], dtype=np.int64)
        preds.append({"boxes": torch.from_numpy(boxes), "scores": torch.from_numpy(scores),
                      "labels": torch.from_numpy(cls)})
        targets.append({"boxes": torch.from_numpy(true_boxes), "labels": torch.from_numpy(true_cls)})
        shown = scores >= conf
        hit, used = _match(boxes[shown], cls[shown], true_boxes, true_cls)
        for c in range(len(labels)):
            tp[c] += int((hit & (cls[shown] == c)).sum())
            fp[c] += int((~hit & (cls[shown] == c)).sum())
            fn[c] += int((~used & (true_cls == c)).sum())
            n_true[c] += int((true_cls == c).sum())
        pictures.append({
            "file": item["file"],
            "true": [{"label": labels[c], "box": [round(float(v), 1) for v in b]} for b, c in zip(true_boxes, true_cls, strict=True)],
            "pred": [{"label": labels[c], "confidence": round(float(p), 4), "box": [round(float(v), 1) for v in b],
                      "match": bool(h)} for b, p, c, h in zip(boxes[shown], scores[shown], cls[shown], hit, strict=True)],
            "missed": [{"label": labels[c], "box": [round(float(v), 1) for v in b]}
                       for b, c, u in zip(true_boxes, true_cls, used, strict=True) if not u],
        })
    full = _ap_per_class(preds, targets, len(labels))
    at50 = _ap_per_class(preds, targets, len(labels), iou_thresholds=[0.5])
    TP, FP, FN = int(tp.sum()), int(fp.sum()), int(fn.sum())
    per_class = {}
    for c, label in enumerate(labels):
        per_class[label] = {"ap50": round(at50["per_class"].get(c, 0.0), 4), "ap50_95": round(full["per_class"].get(c, 0.0), 4),
                            "n_boxes": int(n_true[c]),
                            "precision": round(tp[c] / (tp[c] + fp[c]), 4) if tp[c] + fp[c] else 0.0,
                            "recall": round(tp[c] / n_true[c], 4) if n_true[c] else 0.0}
    metrics = {"map50": round(at50["map"], 4), "map50_95": round(full["map"], 4),
               "precision": round(TP / (TP + FP), 4) if TP + FP else 0.0,
               "recall": round(TP / (TP + FN), 4) if TP + FN else 0.0,
               "conf": conf, "iou": iou, "n": len(items), "n_boxes": int(n_true.sum()), "tp": TP, "fp": FP, "fn": FN,
               "per_class": per_class}
    return metrics, pictures


def selection_score(values: dict[str, float]) -> float:
    """The number a detection run's best epoch is chosen by: val mAP50-95, then mAP50 on a tie."""
    return float(values.get("map50_95", 0.0)) + 1e-3 * float(values.get("map50", 0.0))
