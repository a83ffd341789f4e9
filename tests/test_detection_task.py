"""The object-detection task's shared pieces: letterbox and post-processing, the metrics, the settings."""

from __future__ import annotations

import detgen
import numpy as np
import pytest
from PIL import Image

from engine.tasks.object_detection import boxes as B
from engine.tasks.object_detection.dataset import main_label, targets_of


def test_letterbox_keeps_the_aspect_and_postprocess_maps_boxes_back_to_the_picture():
    img = Image.new("RGB", (200, 100), (255, 0, 0))
    arr, scale, pad = B.letterbox(img, 160)
    assert arr.shape == (3, 160, 160) and arr.dtype == np.float32
    assert scale == pytest.approx(0.8) and pad == (0.0, 40.0)
    assert arr[:, 0, 0] == pytest.approx(np.full(3, B.PAD_VALUE / 255)) and arr[0, 80, 80] == pytest.approx(1.0)
    # a candidate covering the picture's left half in the letterbox comes back in picture pixels
    boxes = np.array([[0, 40, 80, 120], [2, 41, 81, 119], [80, 40, 160, 120]], dtype=np.float32)
    scores = np.array([[0.9, 0.0], [0.8, 0.0], [0.0, 0.1]], dtype=np.float32)
    dets = B.postprocess(boxes, scores, conf=0.25, iou=0.5, max_det=10, scale=scale, pad=pad, size=img.size)
    assert len(dets) == 1  # the overlapping second box is suppressed, the third is below conf
    cls, p, box = dets[0]
    assert cls == 0 and p == pytest.approx(0.9) and box == pytest.approx([0, 0, 100, 100])
    assert B.as_records(dets, ["a", "b"]) == [{"label": "a", "confidence": 0.9, "box": [0.0, 0.0, 100.0, 100.0]}]


def test_nms_is_per_class_and_keeps_the_most_confident():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], dtype=np.float32)
    scores = np.array([[0.6, 0.0], [0.7, 0.0], [0.0, 0.5]], dtype=np.float32)
    dets = B.postprocess(boxes, scores, conf=0.3, iou=0.5, max_det=10)
    assert [(c, round(p, 2)) for c, p, _ in dets] == [(0, 0.7), (1, 0.5)]
    assert B.postprocess(boxes, scores, conf=0.3, iou=0.5, max_det=1)[0][1] == pytest.approx(0.7)
    assert B.postprocess(boxes, scores, conf=0.99, iou=0.5, max_det=10) == []


class _Oracle:
    """A detector that answers from the manifest: perfect boxes, or with the class of one box changed."""

    def __init__(self, items, labels, wrong: int = 0):
        self.labels, self.conf, self.iou, self.items, self.wrong = labels, 0.25, 0.5, items, wrong

    def detect(self, files, conf=None, iou=None, max_det=None, progress=None):
        out = []
        for n, it in enumerate(self.items):
            xyxy, cls = targets_of(it, self.labels)
            dets = [(int(c), 0.9, list(map(float, b))) for b, c in zip(xyxy, cls, strict=True)]
            if n < self.wrong and dets:
                c, p, b = dets[0]
                dets[0] = ((c + 1) % len(self.labels), p, b)
            out.append(dets)
        return out


def test_metrics_of_a_perfect_and_of_a_wrong_detector(tmp_path):
    from engine.data import load_manifest
    from engine.tasks.object_detection.metrics import evaluate_items

    ds = detgen.write_dataset(tmp_path / "ds", n_train=8, n_val=0, n_test=0)
    manifest = load_manifest(ds)
    items, labels = manifest["items"], manifest["classes"]
    metrics, pictures = evaluate_items(_Oracle(items, labels), items, ds)
    assert metrics["map50"] == pytest.approx(1.0) and metrics["map50_95"] == pytest.approx(1.0)
    assert metrics["precision"] == 1.0 and metrics["recall"] == 1.0 and metrics["fp"] == 0
    assert metrics["n"] == 8 and metrics["n_boxes"] == sum(len(it["boxes"]) for it in items)
    assert set(metrics["per_class"]) == set(labels) and len(pictures) == 8
    assert all(p["missed"] == [] and all(d["match"] for d in p["pred"]) for p in pictures)

    worse, pictures = evaluate_items(_Oracle(items, labels, wrong=3), items, ds)
    assert worse["map50"] < 1.0 and worse["fp"] == 3 and worse["fn"] == 3
    assert sum(len(p["missed"]) for p in pictures) == 3


def test_main_label_and_the_detection_settings():
    from engine.config import RunConfig
    from engine.resolve import DataFacts, ModelFacts, resolve

    boxes = [{"label": "b", "box": [0, 0, 1, 1]}, {"label": "a", "box": [0, 0, 1, 1]}]
    assert main_label(boxes, ["a", "b"]) == "a" and main_label([], ["a"]) is None
    cfg = RunConfig(task="object-detection", data="x")
    assert cfg.model == "fcos-mobilenetv2" and cfg.conf == 0.25
    data = DataFacts({"a": 3, "b": 2}, 2, 2)
    pre = resolve(cfg, ModelFacts("fcos-mobilenetv2", "torchvision-det", 5, 320, True, 8, 0), "cpu", data)
    assert (pre.mode, pre.mode_reason_code, pre.image_size, pre.pretrained) == ("fine-tune", "detection_pretrained",
                                                                                 320, True)
    scratch = resolve(cfg, ModelFacts("yolo11n", "yolo-det", 2.6, 320, False, 8, 0), "cpu", data)
    assert (scratch.mode, scratch.schedule, scratch.pretrained) == ("full", "scratch", False)
    assert scratch.epochs > pre.epochs


def test_the_task_is_recognised_from_the_layout(tmp_path):
    from engine.tasks import recognise_task

    scenes = detgen.make_scenes(3)
    assert recognise_task(str(detgen.write_yolo(tmp_path / "yolo", scenes))) == "object-detection"
    assert recognise_task(str(detgen.write_coco(tmp_path / "coco", scenes))) == "object-detection"
    assert recognise_task(str(detgen.write_voc(tmp_path / "voc", scenes))) == "object-detection"
    plain = tmp_path / "plain" / "cats"
    plain.mkdir(parents=True)
    scenes[0].image.save(plain / "a.png")
    assert recognise_task(str(tmp_path / "plain")) is None and recognise_task(None) is None
