"""YOLO11 classification as a second model family: offline training through the real CLI, same yardstick as timm."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from imagegen import PATTERNS, make_pattern_image
from PIL import Image

from engine.errors import UserError, WeightsUnavailable
from engine.events import read_events

ROOT = Path(__file__).resolve().parents[1]
# Every socket call of the engine's process is recorded in a file and refused: a test that finds the file
# fails, even when the library caught the error and went on quietly.
NO_NETWORK = """
import os, runpy, socket, sys
_record = os.environ["NETWORK_ATTEMPTS_FILE"]
def _refuse(*args, **kwargs):
    with open(_record, "a") as f:
        f.write(repr(args[:2]) + "\\n")
    raise OSError("network access is blocked in this test")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
sys.argv = ["engine", *sys.argv[1:]]
runpy.run_module("engine", run_name="__main__", alter_sys=True)
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = os.environ.copy()
    env.update(KONSTRUKTOR_WORKSPACE=str(tmp_path / "ws"), KONSTRUKTOR_OFFLINE="1",
               NETWORK_ATTEMPTS_FILE=str(tmp_path / "network_attempts.txt"))
    # Ultralytics must find no settings of this machine's user: its config lives in the workspace.
    env.pop("YOLO_CONFIG_DIR", None)
    return env


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", NO_NETWORK, *args]


def offline_cli(tmp_path: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(*args), cwd=ROOT, capture_output=True, text=True, env=_env(tmp_path),
                          timeout=timeout)


def assert_no_network(tmp_path: Path) -> None:
    attempts = tmp_path / "network_attempts.txt"
    assert not attempts.exists(), f"the engine tried the network: {attempts.read_text()}"


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def config(tmp_path: Path, **extra) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({"image_size": 64, "batch_size": 8, **extra}))
    return path


@pytest.fixture(autouse=True)
def ultralytics_settings_in_tmp(tmp_path_factory, monkeypatch):
    """In-process Ultralytics imports (if any) write their settings file under tmp, not in the home folder."""
    if "ultralytics" not in sys.modules:
        monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path_factory.mktemp("yolo_config")))


def test_preprocessing_equals_ultralytics_eval_transform():
    from ultralytics.data.augment import classify_transforms

    from engine.models import get_spec
    from engine.models.ultralytics_family.network import preprocess_config
    from engine.preprocess import preprocess

    assert get_spec("yolo11n-cls").family == "ultralytics"
    rng = np.random.default_rng(0)
    for width, height in ((97, 61), (64, 64), (50, 120), (300, 201)):
        img = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        for size in (64, 224):
            ours = preprocess(img, preprocess_config(size))
            theirs = classify_transforms(size)(img).numpy()
            assert ours.shape == theirs.shape == (3, size, size)
            np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_yolo_trains_offline_streams_events_and_leaves_the_data_untouched(pattern_data, tmp_path):
    before = tree_digest(pattern_data)
    out = tmp_path / "yolo"
    r = offline_cli(tmp_path, "train", "--data", str(pattern_data), "--model", "yolo11n-cls", "--mode", "full",
                    "--epochs", "3", "--config", str(config(tmp_path)), "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert_no_network(tmp_path)
    assert tree_digest(pattern_data) == before  # byte for byte, and no .cache or other new file

    events = read_events(out)[0]
    types = [e["type"] for e in events]
    assert types[0] == "start" and types[-1] == "done" and "progress" in types
    progress = [e for e in events if e["type"] == "progress" and e["phase"] == "train"]
    assert progress[-1]["step"] == progress[-1]["total"] and progress[-1]["eta_s"] is not None
    per_epoch = [(e["epoch"], e["split"]) for e in events if e["type"] == "metrics" and e["epoch"] is not None]
    assert per_epoch == [(n, s) for n in (1, 2, 3) for s in ("train", "val")]
    val = next(e for e in events if e["type"] == "metrics" and e["split"] == "val" and e["epoch"] == 1)
    assert {"loss", "accuracy", "macro_f1"} <= set(val["values"])
    # Offline there are no YOLO11 weights: the run says so plainly and trains from scratch.
    messages = " ".join(e.get("message", "") for e in events if e["type"] == "log")
    assert "No pretrained weights for yolo11n-cls" in messages and "from scratch" in messages
    record = yaml.safe_load((out / "artifacts" / "ultralytics_args.yaml").read_text())
    assert record["args"]["epochs"] == 3 and record["args"]["imgsz"] == 64 and record["args"]["plots"] is False

    # Ultralytics' files stay in the run; the imported dataset gets nothing new either.
    metrics = json.loads((out / "metrics.json").read_text())
    dataset_dir = Path(yaml.safe_load((out / "config.yaml").read_text())["data"])
    assert not list(dataset_dir.rglob("*.cache")) and list((out / "ultralytics" / "data").glob("*.cache"))
    assert metrics["pretrained"] is False and metrics["epochs_run"] == 3
    assert metrics["test"]["n"] + metrics["val"]["n"] == 12

    # The same yardstick as a timm run: metrics.json has the same keys.
    timm_out = tmp_path / "timm"
    r = offline_cli(tmp_path, "train", "--data", str(pattern_data), "--model", "mobilenetv2_100", "--mode",
                    "scratch", "--epochs", "1", "--config", str(config(tmp_path)), "--out", str(timm_out), "--quiet")
    assert r.returncode == 0, r.stderr
    timm_metrics = json.loads((timm_out / "metrics.json").read_text())
    assert set(metrics) - {"stopped"} == set(timm_metrics) - {"stopped"}
    assert set(metrics["test"]) == set(timm_metrics["test"])

    # predict, Grad-CAM and the export package work on the YOLO run.
    new = [str(make_pattern_image(tmp_path / "new" / f"{c}.png", c, seed=70_000 + i)) for i, c in enumerate(PATTERNS)]
    r = offline_cli(tmp_path, "predict", str(out), *new, "--json")
    assert r.returncode == 0, r.stderr
    predictions = json.loads(r.stdout)
    assert [p["label"] in PATTERNS for p in predictions] == [True] * 3
    assert all(abs(sum(t["prob"] for t in p["top"]) - 1) < 1e-4 for p in predictions)

    from engine.explain import explain_file

    explained = explain_file(out, new[0])
    assert explained["overlay"].size == (64, 64) and set(explained["probs"]) == set(PATTERNS)

    r = offline_cli(tmp_path, "export", str(out), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)["report"]
    assert report["family"] == "ultralytics"
    assert all(report["parity"][f]["top1_agreement"] == 1.0 for f in ("onnx", "torch", "torchscript"))
    assert_no_network(tmp_path)


def _wait_for_epoch(out: Path, proc: subprocess.Popen, epoch: int) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if any(e["type"] == "epoch_end" and e["epoch"] == epoch for e in read_events(out)[0]):
            return
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    pytest.fail(f"training never reached epoch {epoch}")


EPOCHS = 40


def test_stopped_and_killed_yolo_run_resumes_where_it_was(pattern_data, tmp_path):
    out = tmp_path / "killed"
    cfg = config(tmp_path, epochs=EPOCHS, early_stopping_patience=0, mode="scratch", model="yolo11n-cls")

    def start() -> subprocess.Popen:
        args = ["train", str(out)] if out.exists() else ["train", "--data", str(pattern_data), "--config", str(cfg),
                                                          "--out", str(out), "--quiet"]
        return subprocess.Popen(_cmd(*args), cwd=ROOT, env=_env(tmp_path), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)

    proc = start()
    try:  # Stop in the UI: SIGTERM to the process group
        _wait_for_epoch(out, proc, 2)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=120) == 130
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert read_events(out)[0][-1]["type"] == "cancelled"

    proc = start()
    try:  # a crash or power cut: SIGKILL, no chance to clean up
        _wait_for_epoch(out, proc, 5)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not (out / "metrics.json").exists()

    r = offline_cli(tmp_path, "train", str(out), "--json")
    assert r.returncode == 0, r.stderr
    events = read_events(out)[0]
    attempts: list[list[int]] = []
    for e in events:
        if e["type"] == "start":
            attempts.append([])
        elif e["type"] == "metrics" and e.get("split") == "train" and e["epoch"] is not None:
            attempts[-1].append(e["epoch"])
    assert len(attempts) == 3 and attempts[0][0] == 1 and attempts[-1][-1] == EPOCHS
    for previous, current in zip(attempts, attempts[1:], strict=False):
        # Each attempt goes on after the last saved epoch: nothing from the start again, nothing skipped
        # (a kill between saving an epoch and reporting it may leave that one epoch unreported).
        assert previous[-1] < current[0] <= previous[-1] + 2
    assert sum(e["type"] == "resumed" for e in events) == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == EPOCHS
    # Trained from scratch on 18 images, it is already far above chance (1/3) on images it never saw.
    assert metrics["test"]["accuracy"] >= 0.6
    assert_no_network(tmp_path)


def test_weights_files_are_loaded_safely(tmp_path):
    from engine.models import available_offline, build
    from engine.models.ultralytics_family.network import build_classification_model

    cache = tmp_path / "weights"
    cache.mkdir()
    assert not available_offline("yolo11n-cls", cache_dir=cache)
    with pytest.raises(WeightsUnavailable, match="yolo11n-cls.pt"):
        build("yolo11n-cls", 3, pretrained=True, cache_dir=cache)

    # An Ultralytics checkpoint (a pickled model, as Ultralytics saves it) with 5 classes in the cache.
    source = build_classification_model("yolo11n-cls", 5)
    torch.save({"epoch": -1, "model": source.half(), "ema": None}, cache / "yolo11n-cls.pt")
    assert available_offline("yolo11n-cls", cache_dir=cache)
    built = build("yolo11n-cls", 3, pretrained=True, cache_dir=cache)
    assert built.pretrained and "new classifier for 3 classes" in built.weights_source
    ours = built.model.state_dict()
    for key, value in source.float().state_dict().items():
        if ".linear." not in key:
            assert torch.equal(ours[key], value), key

    # A .pt is untrusted input: a pickle that would run code is refused, and the code never runs.
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pt"
    torch.save({"model": Payload()}, evil)
    with pytest.raises(UserError, match="cannot read safely|not a YOLO"):
        build("yolo11n-cls", 3, weights=evil, cache_dir=cache)
    assert not marker.exists()

    # A file for another YOLO size does not fit and says so.
    torch.save(build_classification_model("yolo11s-cls", 3).state_dict(), tmp_path / "small.pt")
    with pytest.raises(UserError, match="does not fit"):
        build("yolo11n-cls", 3, weights=tmp_path / "small.pt")


def test_split_layout_for_the_benchmark_matches_the_manifest(pattern_data, tmp_path):
    from engine.data import import_dataset, load_manifest
    from engine.models.ultralytics_family.layout import write_split_layout

    report = import_dataset(pattern_data, tmp_path / "datasets")
    manifest = load_manifest(report.dataset_dir)
    placed = write_split_layout(report.dataset_dir, tmp_path / "layout")
    for split in ("train", "val", "test"):
        expected = sorted(Path(it["file"]).name for it in manifest["items"] if it["split"] == split)
        got = sorted(p.name.split("_", 1)[1] for p in (tmp_path / "layout" / split).rglob("*.png"))
        assert got == expected and placed["counts"][split] == len(expected)
        for p in (tmp_path / "layout" / split).rglob("*.png"):
            assert p.parent.name == next(it["label"] for it in manifest["items"]
                                         if Path(it["file"]).name == p.name.split("_", 1)[1])


def test_registry_lists_yolo11_with_measured_sizes():
    from engine.models import get_spec, list_models
    from engine.models.ultralytics_family.network import build_classification_model

    yolo = [s for s in list_models() if s.family == "ultralytics"]
    assert [s.name for s in yolo] == [f"yolo11{x}-cls" for x in "nsmlx"]
    for spec in yolo:
        assert spec.input_size == 224 and not spec.pretrained_offline and "scratch" in spec.description
        measured = sum(p.numel() for p in build_classification_model(spec.name, 1000).parameters()) / 1e6
        assert spec.params_m == pytest.approx(measured, abs=0.001), spec.name
    with pytest.raises(UserError, match="yolo11"):
        get_spec("yolo12n-cls")


def test_importing_ultralytics_leaves_pil_open_alone(tmp_path):
    """Ultralytics patches PIL.Image.open to pip-install a HEIF plugin on unknown files; the engine undoes that."""
    from PIL import UnidentifiedImageError

    from engine.models.ultralytics_family.network import build_classification_model

    build_classification_model("yolo11n-cls", 3)  # imports Ultralytics the way training does
    fake = tmp_path / "notes.jpg"
    fake.write_bytes(b"%PDF-1.4 not a picture")
    with pytest.raises(UnidentifiedImageError):
        Image.open(fake)
