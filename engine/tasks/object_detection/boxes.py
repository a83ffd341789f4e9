"""Letterbox and post-processing of boxes, in numpy and Pillow only.

The engine (training, evaluation, `predict`) and the exported package's predict.py run this very file (the
export copies it into the package as boxes.py), so the pictures a detector sees and the boxes it reports are
made by one piece of code. The detector graph's contract (every detector family, and model.onnx):

    input  "images": float32 [B, 3, S, S], RGB in [0, 1], the letterboxed picture (see `letterbox`)
    output "boxes":  float32 [B, N, 4], x1, y1, x2, y2 in the letterboxed picture's pixels
    output "scores": float32 [B, N, C], the confidence of each of the C classes for each of N candidates
"""

from __future__ import annotations

import numpy as np
from PIL import Image

PAD_VALUE = 114  # grey padding, as Ultralytics pads


def letterbox(image: Image.Image, size: int) -> tuple[np.ndarray, float, tuple[float, float]]:
    """The picture scaled to fit a size×size square (aspect kept) and padded grey; (CHW float32 in [0, 1], scale,
    (left, top) padding), so that a letterboxed point p is (p - pad) / scale in the original picture."""
    image = image.convert("RGB")
    w, h = image.size
    scale = min(size / w, size / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = image.resize((nw, nh), Image.BILINEAR) if (nw, nh) != (w, h) else image
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    left, top = (size - nw) // 2, (size - nh) // 2
    canvas[top:top + nh, left:left + nw] = np.asarray(resized, dtype=np.uint8)
    return canvas.transpose(2, 0, 1).astype(np.float32) / 255.0, scale, (float(left), float(top))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a [N, 4] with every box in b [M, 4] (x1, y1, x2, y2); [N, M]."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, most confident first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        overlap = box_iou(boxes[i:i + 1], boxes[order[1:]])[0]
        order = order[1:][overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


def postprocess(boxes: np.ndarray, scores: np.ndarray, *, conf: float, iou: float, max_det: int,
                scale: float = 1.0, pad: tuple[float, float] = (0.0, 0.0),
                size: tuple[int, int] | None = None) -> list[tuple[int, float, list[float]]]:
    """One picture's detections from the graph's [N, 4] boxes and [N, C] scores: every (candidate, class) pair
    at least `conf` confident, non-maximum suppression per class, the `max_det` most confident kept; boxes mapped
    back to the original picture (clipped to `size` = (width, height) when given). [(class index, confidence,
    [x1, y1, x2, y2])], most confident first."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32)
    scores = scores.reshape(boxes.shape[0], -1)
    cand, cls = np.nonzero(scores >= conf)
    if cand.size == 0:
        return []
    conf_of = scores[cand, cls]
    picked: list[tuple[int, float, np.ndarray]] = []
    for c in np.unique(cls):
        sel = np.nonzero(cls == c)[0]
        kept = nms(boxes[cand[sel]], conf_of[sel], iou)
        picked.extend((int(c), float(conf_of[sel][k]), boxes[cand[sel][k]]) for k in kept)
    picked.sort(key=lambda d: -d[1])
    out = []
    for c, p, b in picked[:max_det]:
        x1, y1, x2, y2 = ((float(b[0]) - pad[0]) / scale, (float(b[1]) - pad[1]) / scale,
                          (float(b[2]) - pad[0]) / scale, (float(b[3]) - pad[1]) / scale)
        if size is not None:
            w, h = size
            x1, x2 = min(max(x1, 0.0), float(w)), min(max(x2, 0.0), float(w))
            y1, y2 = min(max(y1, 0.0), float(h)), min(max(y2, 0.0), float(h))
        out.append((c, p, [x1, y1, x2, y2]))
    return out


def as_records(detections: list[tuple[int, float, list[float]]], labels: list[str],
               digits: int = 2) -> list[dict]:
    """Detections as the CLI's and predict.py's JSON: [{"label", "confidence", "box": [x1, y1, x2, y2]}]."""
    return [{"label": labels[c], "confidence": round(p, 4), "box": [round(v, digits) for v in b]}
            for c, p, b in detections]
