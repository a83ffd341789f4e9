"""YOLO11 detection (family yolo-det) through Ultralytics' trainer: its data layout, the detector graph, a short
real training through the CLI, offline, and a killed run resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import detgen
import numpy as np
import pytest
import torch
import yaml
from test_yolo import (  # noqa: F401 - the autouse fixture keeps in-process Ultralytics settings under tmp
    ROOT,
    _cmd,
    _env,
    _wait_for_epoch,
    assert_no_network,
    offline_cli,
    ultralytics_settings_in_tmp,
)

from engine.events import read_events

SIZE = 160


def _train_cmd(data: Path, cfg: Path, out: Path) -> list[str]:
    return ["train", "--task", "object-detection", "--data", str(data), "--model", "yolo11n", "--epochs", "3",
            "--config", str(cfg), "--out", str(out), "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One yolo11n run (3 epochs, 12 training pictures at 160 px), trained once for the module with the network
    blocked; the folder holding `data`, `run` and the blocked-network record."""
    root = tmp_path_factory.mktemp("yolo_det")
    detgen.write_dataset(root / "data", n_train=12, n_val=4, n_test=4)
    (root / "cfg.yaml").write_text(yaml.safe_dump({"image_size": SIZE, "batch_size": 4}))
    r = offline_cli(root, *_train_cmd(root / "data", root / "cfg.yaml", root / "run"))
    assert r.returncode == 0, r.stderr[-3000:]
    return root


def _ckpt(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "best.pt", map_location="cpu", weights_only=True)


def test_layout_label_lines_round_trip_to_our_pixel_boxes(tmp_path):
    from engine.data import load_manifest
    from engine.models.yolo_det_family.layout import write_layout

    data = detgen.write_dataset(tmp_path / "data", n_train=6, n_val=2, n_test=2)
    manifest = load_manifest(data)
    labels = list(manifest["classes"])
    splits = {s: [it for it in manifest["items"] if it["split"] == s] for s in ("train", "val")}
    before = {p.name: p.read_bytes() for p in (data / "images").iterdir()}
    placed = write_layout(data, tmp_path / "layout", labels, splits)

    spec = yaml.safe_load(Path(placed["data"]).read_text())
    assert spec["names"] == dict(enumerate(labels)) and spec["train"] == "images/train" and spec["val"] == "images/val"
    assert placed["counts"] == {"train": 6, "val": 2} and "test" not in spec
    for split, items in splits.items():
        for i, item in enumerate(items):
            name = f"{i:06d}_{Path(item['file']).name}"
            image = tmp_path / "layout" / "images" / split / name
            assert image.read_bytes() == (data / item["file"]).read_bytes()
            rows = np.loadtxt(tmp_path / "layout" / "labels" / split / Path(name).with_suffix(".txt"), ndmin=2)
            w, h = item["width"], item["height"]
            back = [(labels[int(c)], [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
                    for c, cx, cy, bw, bh in rows]
            assert [lab for lab, _ in back] == [b["label"] for b in item["boxes"]]
            for (_, got), want in zip(back, item["boxes"], strict=True):
                assert got == pytest.approx(want["box"], abs=1e-3)
    assert {p.name: p.read_bytes() for p in (data / "images").iterdir()} == before  # the dataset is untouched


def test_graph_follows_the_detector_contract():
    from engine.models.yolo_det_family.network import build_detection_model, graph_from_checkpoint, recipe_of

    model = build_detection_model("yolo11n.yaml", 3)
    ckpt = {"recipe": recipe_of(model), "state_dict": model.state_dict()}
    graph = graph_from_checkpoint(ckpt)
    with torch.no_grad():
        boxes, scores = graph(torch.rand(2, 3, SIZE, SIZE))
    n = sum((SIZE // s) ** 2 for s in (8, 16, 32))
    assert boxes.shape == (2, n, 4) and scores.shape == (2, n, 3)
    assert bool(torch.isfinite(boxes).all()) and bool((boxes[..., 2:] >= boxes[..., :2]).all())
    assert float(scores.min()) >= 0.0 and float(scores.max()) <= 1.0


def test_short_training_writes_detection_metrics_events_and_a_safe_checkpoint(trained):
    run = trained / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("val", "test"):
        for key in ("map50", "map50_95"):
            assert 0.0 <= metrics[split][key] <= 1.0  # from scratch in 3 epochs: near 0, but measured
    assert metrics["epochs_run"] == 3 and metrics["pretrained"] is False and metrics["params"] > 2_000_000
    events = read_events(run)[0]
    assert [e["epoch"] for e in events if e["type"] == "epoch_end"] == [1, 2, 3]
    train_rows = [e["values"] for e in events if e["type"] == "metrics" and e.get("split") == "train"]
    val_rows = [e["values"] for e in events if e["type"] == "metrics" and e.get("split") == "val"
                and e.get("epoch") is not None]
    assert len(train_rows) == 3 and {"box_loss", "cls_loss", "dfl_loss"} <= set(train_rows[0])
    assert len(val_rows) == 3 and all(0.0 <= v["map50"] <= 1.0 and 0.0 <= v["map50_95"] <= 1.0 for v in val_rows)
    assert events[-1]["type"] == "done"

    ckpt = _ckpt(run)
    assert ckpt["task"] == "object-detection" and ckpt["family"] == "yolo-det" and ckpt["model"] == "yolo11n"
    assert ckpt["labels"] == list(detgen.CLASSES) and ckpt["image_size"] == SIZE and ckpt["recipe"]["nc"] == 3
    assert all(v.dtype == torch.float32 for v in ckpt["state_dict"].values() if v.is_floating_point())
    # Ultralytics' own layout holds train and val only, and the dataset's test pictures are nowhere in it
    assert sorted(p.name for p in (run / "ultralytics" / "data" / "images").iterdir()) == ["train", "val"]
    assert_no_network(trained)


def test_graph_reproduces_ultralytics_own_eval_predictions(trained):
    from ultralytics.nn.tasks import torch_safe_load

    from engine.models.yolo_det_family.network import graph_from_checkpoint

    run = trained / "run"
    theirs, _ = torch_safe_load(str(run / "ultralytics" / "train" / "weights" / "best.pt"), safe_only=True)
    net = (theirs.get("ema") or theirs["model"]).float().eval()
    x = torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = net(x)[0]  # [B, 4 + C, N]: centre x, centre y, width, height, then the class scores
        xy, wh = y[:, :2].transpose(1, 2), y[:, 2:4].transpose(1, 2)
        want_boxes, want_scores = torch.cat([xy - wh / 2, xy + wh / 2], -1), y[:, 4:].transpose(1, 2)
        boxes, scores = graph_from_checkpoint(_ckpt(run), fuse=False)(x)
        fused_boxes, fused_scores = graph_from_checkpoint(_ckpt(run))(x)
    assert torch.allclose(boxes, want_boxes, atol=1e-4) and torch.allclose(scores, want_scores, atol=1e-6)
    assert torch.allclose(fused_boxes, want_boxes, atol=1e-2) and torch.allclose(fused_scores, want_scores, atol=1e-4)


def test_graph_exports_to_onnx_with_a_dynamic_batch(trained, tmp_path):
    import onnxruntime as ort

    from engine.models.yolo_det_family.network import graph_from_checkpoint

    graph = graph_from_checkpoint(_ckpt(trained / "run"))
    path = tmp_path / "model.onnx"
    probe = torch.rand(1, 3, SIZE, SIZE)
    torch.onnx.export(graph, (probe,), str(path), input_names=["images"], output_names=["boxes", "scores"],
                      dynamic_axes={"images": {0: "batch"}, "boxes": {0: "batch"}, "scores": {0: "batch"}},
                      opset_version=17, do_constant_folding=True, dynamo=False)
    x = torch.rand(3, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = [t.numpy() for t in graph(x)]
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"images": x.numpy()})
    assert got[0].shape == want[0].shape and got[1].shape == want[1].shape
    assert float(np.abs(got[0] - want[0]).max()) < 1e-4 and float(np.abs(got[1] - want[1]).max()) < 1e-4


def test_killed_detection_run_resumes_from_ultralytics_last_checkpoint(tmp_path):
    data = detgen.write_dataset(tmp_path / "data", n_train=12, n_val=4, n_test=4)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"image_size": SIZE, "batch_size": 4, "early_stopping_patience": 0}))
    out = tmp_path / "run"
    proc = subprocess.Popen(_cmd(*_train_cmd(data, cfg, out)), cwd=ROOT, env=_env(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:  # a crash or power cut after the first epoch: SIGKILL, no chance to clean up
        _wait_for_epoch(out, proc, 1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not (out / "metrics.json").exists()
    assert (out / "ultralytics" / "train" / "weights" / "last.pt").exists()

    r = offline_cli(tmp_path, "train", str(out), "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    events = read_events(out)[0]
    resumed = [e for e in events if e["type"] == "resumed"]
    assert len(resumed) == 1 and resumed[0]["epoch"] >= 1
    trained_epochs = [e["epoch"] for e in events if e["type"] == "metrics" and e.get("split") == "train"]
    # The second attempt goes on after the saved epoch: nothing trained from the start again
    assert trained_epochs[0] == 1 and trained_epochs[-1] == 3 and trained_epochs.count(1) == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3 and 0.0 <= metrics["test"]["map50"] <= 1.0
    assert_no_network(tmp_path)



def test_a_users_pt_or_the_cached_file_gives_the_backbone_and_a_new_class_branch(tmp_path):
    from engine.models.yolo_det_family.network import build_detection_model, load_weights

    coco = build_detection_model("yolo11n.yaml", 80)
    torch.save({"model": coco.state_dict()}, tmp_path / "mine.pt")
    model = build_detection_model("yolo11n.yaml", 3)
    pretrained, source = load_weights(model, "yolo11n", weights=tmp_path / "mine.pt", use_cache=False,
                                      cache_dir=tmp_path / "cache")
    assert pretrained and "your weights file" in source and "new class branch for 3 classes" in source
    assert torch.equal(model.state_dict()["model.0.conv.weight"], coco.state_dict()["model.0.conv.weight"])

    (tmp_path / "cache").mkdir()
    torch.save(coco.state_dict(), tmp_path / "cache" / "yolo11n.pt")
    fresh = build_detection_model("yolo11n.yaml", 3)
    assert load_weights(fresh, "yolo11n", weights=None, use_cache=False, cache_dir=tmp_path / "cache")[0] is False
    pretrained, source = load_weights(fresh, "yolo11n", weights=None, use_cache=True, cache_dir=tmp_path / "cache")
    assert pretrained and "cache file" in source
