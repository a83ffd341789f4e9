"""What the app draws for a detection project, without a browser: the data report's counts, the Evaluate tab's
per-class AP and gallery, the Test tab's boxes and table, and label assist's pre-drawn boxes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from detgen import write_dataset

from ui.tabs import annotate, detection_views


class FakeDetector:
    """A detector that always sees one 'disc' at a fixed place, as Detector.detect answers."""

    labels = ["square", "disc"]

    def __init__(self):
        self.asked = []

    def detect(self, images, conf=None, iou=None, **_):
        self.asked.append((conf, iou))
        return [[(1, 0.8, [10.0, 20.0, 60.0, 70.0])] if (conf or 0) < 0.9 else [] for _ in images]


@pytest.fixture
def dataset(tmp_path) -> tuple[Path, dict]:
    folder = write_dataset(tmp_path / "ds", n_train=4, n_val=2, n_test=2, seed=2)
    return folder, json.loads((folder / "manifest.json").read_text())


def test_the_report_counts_boxes_per_class_without_the_importers_stats(dataset):
    _, manifest = dataset
    stats = detection_views.stats_of(manifest)
    n_boxes = sum(len(it["boxes"]) for it in manifest["items"])
    assert sum(v["boxes"] for v in stats["per_class"].values()) == n_boxes
    assert sum(stats["box_sizes"]["counts"]) == n_boxes
    html = detection_views.counts_html("ru", manifest)
    assert "рамок" in html and "Размеры рамок" in html
    assert f"рамок {n_boxes}" in detection_views.summary_text("ru", manifest)


def test_the_gallery_marks_misses_and_false_alarms(dataset, tmp_path):
    folder, manifest = dataset
    item = next(it for it in manifest["items"] if it["split"] == "test")
    true = item["boxes"][0]
    run = tmp_path / "run"
    (run / "artifacts").mkdir(parents=True)
    pictures = [{"file": item["file"], "true": item["boxes"], "missed": item["boxes"][1:],
                 "pred": [{**true, "confidence": 0.9, "match": True},
                          {"label": "disc", "confidence": 0.4, "box": [1, 1, 30, 30], "match": False}]},
                {"file": "../../outside.png", "true": [], "pred": [], "missed": []}]  # never read
    (run / "artifacts" / "gallery_test.json").write_text(json.dumps(pictures))
    shown = detection_views.gallery("en", run, "test", folder)
    assert len(shown) == 1
    image, caption = shown[0]
    assert caption == f"missed {len(item['boxes']) - 1} · false alarms 1"
    bottom = int(pictures[0]["pred"][1]["box"][3])
    assert np.array(image)[bottom - 1, 15].tolist() == list(detection_views.FALSE_ALARM)  # the false alarm's red edge


def test_per_class_ap_is_one_row_per_class():
    m = {"per_class": {"disc": {"ap50": 0.5, "ap50_95": 0.25, "n_boxes": 4, "precision": 0.6, "recall": 0.7},
                       "square": {"ap50": 0.9, "ap50_95": 0.6, "n_boxes": 2, "precision": 1.0, "recall": 0.5}}}
    table = detection_views.per_class_ap("ru", m)
    assert table.shape == (2, 6) and table.iloc[0].tolist() == ["disc", 0.5, 0.25, 0.6, 0.7, 4]
    assert "класс" in table.columns


def test_the_test_tab_draws_the_boxes_with_the_thresholds_given(dataset, tmp_path, monkeypatch):
    folder, manifest = dataset
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "best.pt").write_bytes(b"")
    fake = FakeDetector()
    monkeypatch.setattr("engine.tasks.object_detection.detector.load_run_detector", lambda run_dir: fake)
    picture = str(folder / manifest["items"][0]["file"])
    drawn, table, n = detection_views.detect_picture("en", run, picture, 0.3, 0.6)
    assert n == 1 and fake.asked == [(0.3, 0.6)]
    assert table.iloc[0].tolist() == ["disc", 0.8, 10, 20, 60, 70]
    assert np.array(drawn)[45, 10].tolist() == list(detection_views.PALETTE[1])  # the disc's colour, left edge
    _, table, n = detection_views.detect_picture("en", run, picture, 0.95, 0.6)
    assert n == 0 and list(table.columns) == list(detection_views.empty_detections("en").columns)


def test_label_assist_predraws_the_detectors_boxes(dataset, tmp_path, monkeypatch):
    folder, manifest = dataset
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "best.pt").write_bytes(b"")
    monkeypatch.setattr(annotate, "_assist_run", lambda ws, pid: run)
    monkeypatch.setattr("engine.tasks.object_detection.detector.load_run_detector", lambda run_dir: FakeDetector())
    boxes = annotate._suggestions(None, "p", folder / manifest["items"][0]["file"])
    assert boxes == [{"label": "disc", "box": [10.0, 20.0, 60.0, 70.0]}]
    monkeypatch.setattr(annotate, "_assist_run", lambda ws, pid: None)
    assert annotate._suggestions(None, "p", folder / manifest["items"][0]["file"]) == []
