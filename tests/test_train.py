"""Training end to end through the CLI: real models, tiny generated data, real outcomes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from clitools import engine_cli
from imagegen import PATTERNS, make_image, make_pattern_folder, make_pattern_image

from engine.events import read_events

ROOT = Path(__file__).resolve().parents[1]
# Classes told apart by their pattern (random colours); 10 per class so every split has each class.
CLASSES = PATTERNS


def small_config(tmp_path: Path, **extra) -> Path:
    """A config that keeps CPU training quick: small input size, few epochs."""
    cfg = {"image_size": 96, "batch_size": 8, **extra}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_linear_probe_learns_and_writes_the_run_folder(workspace, pattern_data, tmp_path):
    out = tmp_path / "run-lp"
    r = engine_cli("train", "--data", str(pattern_data), "--mode", "linear-probe", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["mode"] == "linear-probe"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.9 and metrics["val"]["accuracy"] >= 0.9  # chance is 0.33
    assert {"accuracy", "macro_f1", "balanced_accuracy", "per_class", "confusion_matrix"} <= set(metrics["test"])
    for name in ("config.yaml", "events.jsonl", "labels.json", "checkpoints/best.pt", "checkpoints/last.pt",
                 "artifacts/confusion_matrix_test.png", "artifacts/misclassified_test.json"):
        assert (out / name).exists(), name
    assert json.loads((out / "labels.json").read_text()) == sorted(CLASSES)
    types = [e["type"] for e in read_events(out)[0]]
    assert types[0] == "start" and types[-1] == "done" and "progress" in types and "metrics" in types
    # The tiny validation set triggers repeated cross-validation with a spread.
    assert metrics["cv"]["accuracy"]["mean"] >= 0.9 and "std" in metrics["cv"]["accuracy"]
    # The run is in the workspace index with its status read from the folder.
    from engine.workspace import Workspace

    runs = Workspace(workspace).list_runs()
    assert [(r["id"], r["status"]) for r in runs] == [(out.name, "done")]


def test_linear_head_in_the_network_matches_the_fitted_head(workspace, pattern_data, tmp_path):
    """The head fitted on embeddings is the network's own classifier: predict gives the same answer."""
    out = tmp_path / "run"
    assert engine_cli("train", "--data", str(pattern_data), "--mode", "linear-probe", "--out", str(out)).returncode == 0
    files = [str(make_pattern_image(tmp_path / "new" / f"{c}{i}.png", c, seed=90_000 + i)) for c in CLASSES
             for i in (0, 1)]
    r = engine_cli("predict", str(out), *files, "--json")
    assert r.returncode == 0, r.stderr
    preds = json.loads(r.stdout)
    assert [p["label"] for p in preds] == [c for c in CLASSES for _ in (0, 1)]
    assert all(abs(sum(t["prob"] for t in p["top"]) - 1) < 1e-4 for p in preds)  # 3 classes, top-3 = all


def test_fine_tune_learns_and_evaluate_reports(workspace, pattern_data, tmp_path):
    out = tmp_path / "run-ft"
    cfg = small_config(tmp_path, epochs=3)
    r = engine_cli("train", "--data", str(pattern_data), "--mode", "fine-tune", "--config", str(cfg), "--out", str(out))
    assert r.returncode == 0, r.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["mode"] == "fine-tune" and metrics["epochs_run"] >= 1
    assert metrics["test"]["accuracy"] >= 0.8
    val_epochs = [e for e in read_events(out)[0] if e["type"] == "metrics" and e.get("split") == "val"
                  and e.get("epoch")]
    assert len(val_epochs) == metrics["epochs_run"]
    r = engine_cli("evaluate", str(out), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["test"]["accuracy"] == metrics["test"]["accuracy"]
    # Evaluate on other data with the same classes.
    other = make_pattern_folder(tmp_path / "other", per_class=3, first_seed=50_000)
    r = engine_cli("evaluate", str(out), "--data", str(other), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["data"]["n"] == 9


def test_same_seed_gives_the_same_model(workspace, pattern_data, tmp_path):
    cfg = small_config(tmp_path, epochs=1)
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        r = engine_cli("train", "--data", str(pattern_data), "--mode", "full", "--config", str(cfg), "--seed", "7",
                       "--out", str(out))
        assert r.returncode == 0, r.stderr
        runs.append(json.loads((out / "metrics.json").read_text()))
    a, b = runs
    assert np.allclose(a["test"]["confusion_matrix"], b["test"]["confusion_matrix"])
    import torch

    wa = torch.load(tmp_path / "a/checkpoints/best.pt", weights_only=True)["state_dict"]
    wb = torch.load(tmp_path / "b/checkpoints/best.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_auto_mode_says_which_and_why(workspace, pattern_data, tmp_path):
    out = tmp_path / "auto"
    r = engine_cli("train", "--data", str(pattern_data), "--out", str(out), "--json", "--config",
                   str(small_config(tmp_path, epochs=1)))
    assert r.returncode == 0, r.stderr
    start = read_events(out)[0][0]
    assert start["type"] == "start" and start["mode"] in ("linear-probe", "fine-tune")
    assert len(start["mode_reason"]) > 20
    assert json.loads((out / "metrics.json").read_text())["mode_reason"] == start["mode_reason"]


def test_the_run_writes_down_what_it_resolved_and_trains_by_it(workspace, pattern_data, tmp_path):
    from engine.resolve import read_resolved

    out = tmp_path / "resolved"
    r = engine_cli("train", "--data", str(pattern_data), "--out", str(out), "--mode", "fine-tune", "--json",
                   "--config", str(small_config(tmp_path, epochs=2)))
    assert r.returncode == 0, r.stderr
    events = read_events(out)[0]
    start = events[0]
    resolved = read_resolved(out)
    assert start["resolved"] == resolved and start["task"] == resolved["task"] == "image-classification"
    assert (resolved["mode"], resolved["epochs"], resolved["schedule"]) == ("fine-tune", 2, "fine-tune")
    assert resolved["image_size"] == json.loads((out / "metrics.json").read_text())["input_size"]
    assert [e["epoch"] for e in events if e["type"] == "epoch_end"] == [1, 2]


def test_killed_run_resumes_from_last_checkpoint(workspace, pattern_data, tmp_path):
    out = tmp_path / "killed"
    cfg = small_config(tmp_path, epochs=6, early_stopping_patience=0)
    proc = subprocess.Popen([sys.executable, "-m", "engine", "train", "--data", str(pattern_data), "--mode", "full",
                             "--config", str(cfg), "--out", str(out), "--quiet"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            done = [e for e in read_events(out)[0] if e["type"] == "epoch_end" and e["epoch"] == 2]
            if done:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.2)
        else:
            pytest.fail("training never reached epoch 2")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "metrics.json").exists()
    from engine.events import run_status

    assert run_status(out) == "interrupted"  # the UI can tell a dead run from a live one
    r = engine_cli("train", str(out), "--json")
    assert r.returncode == 0, r.stderr
    events = read_events(out)[0]
    starts = [e for e in events if e["type"] == "start"]
    assert len(starts) == 2 and starts[1]["resumed"] is True
    after = events[events.index(starts[1]):]
    epochs = [e["epoch"] for e in after if e["type"] == "metrics" and e.get("split") == "train"]
    assert epochs and epochs[0] >= 3 and epochs[-1] == 6  # no epoch trained twice, all six done
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == 6


def test_damaged_last_checkpoint_falls_back_to_the_previous_one(workspace, pattern_data, tmp_path):
    out = tmp_path / "damaged"
    cfg = small_config(tmp_path, epochs=2, early_stopping_patience=0)
    assert engine_cli("train", "--data", str(pattern_data), "--mode", "full", "--config", str(cfg),
                      "--out", str(out)).returncode == 0
    from engine.checkpoint import load_checkpoint

    last = out / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])  # torn by a crash mid-write
    warnings = []
    ckpt = load_checkpoint(last, warn=warnings.append)
    assert ckpt["epoch"] == 1 and "damaged" in warnings[0]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "--data", "/no/such/folder"], "does not exist"),
        (["train", "--data", "{data}", "--model", "no_such_net"], "no_such_net"),
        (["train", "{data}"], "not a run folder"),
        (["predict", "/no/such/run", "x.png"], "checkpoint"),
        (["train", "--data", "{one_class}"], "one class"),
    ],
)
def test_bad_input_exits_2_with_one_sentence(workspace, pattern_data, tmp_path, args, needle):
    one = tmp_path / "one"
    for i in range(3):
        make_image(one / "cats" / f"{i}.png", seed=i)
    args = [a.format(data=pattern_data, one_class=one) for a in args]
    r = engine_cli(*args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert needle.lower() in r.stderr.lower()


def test_predict_reports_unreadable_files_and_goes_on(workspace, pattern_data, tmp_path):
    out = tmp_path / "run"
    assert engine_cli("train", "--data", str(pattern_data), "--mode", "linear-probe", "--out", str(out)).returncode == 0
    bad = tmp_path / "fake.jpg"
    bad.write_bytes(b"%PDF-1.4 not an image")
    good = make_pattern_image(tmp_path / "g.png", "stripes", seed=777)
    r = engine_cli("predict", str(out), str(bad), str(good), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert "error" in res[0] and res[1]["label"] == "stripes"


def test_models_lists_offline_weights(workspace):
    r = engine_cli("models", "--json")
    assert r.returncode == 0, r.stderr
    models = {m["name"]: m for m in json.loads(r.stdout)}
    assert models["tf_efficientnet_lite0"]["pretrained_offline"] is True
    assert models["efficientnet_b3"]["pretrained_offline"] is False


def test_imbalanced_classes_get_balanced_weights(workspace, tmp_path):
    data = tmp_path / "imbalanced"
    for c, name in enumerate(PATTERNS):
        for i in range(16 if name == "stripes" else 5):
            make_pattern_image(data / name / f"{i}.png", name, seed=5000 * c + i)
    out = tmp_path / "run"
    r = engine_cli("train", "--data", str(data), "--mode", "linear-probe", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    messages = [e.get("message", "") for e in read_events(out)[0] if e["type"] == "log"]
    assert any("balanced class weights" in m for m in messages)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["balanced_accuracy"] >= 0.6  # chance is 0.33


def test_import_lists_problems_and_keeps_the_good_files(workspace, pattern_data, tmp_path):
    (pattern_data / "disc" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    r = engine_cli("import", str(pattern_data), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["n_images"] == 30
    assert any(p["file"].endswith("broken.jpg") and p["kind"] == "unreadable" for p in report["problems"])


def test_two_images_per_class_use_a_prototype_head(workspace, tmp_path):
    data = make_pattern_folder(tmp_path / "tiny", per_class=2)
    out = tmp_path / "run"
    r = engine_cli("train", "--data", str(data), "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    events = read_events(out)[0]
    assert events[0]["mode"] == "linear-probe" and "smallest class" in events[0]["mode_reason"]
    assert any("nearest class mean" in e.get("message", "") for e in events if e["type"] == "log")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["val"]["n"] == 3 and "test" not in metrics  # 1 train + 1 val per class


def test_workspace_flag_works_before_or_after_the_command(pattern_data, tmp_path):
    for args, ws in ((["--workspace", str(tmp_path / "a"), "import", str(pattern_data)], tmp_path / "a"),
                     (["import", str(pattern_data), "--workspace", str(tmp_path / "b")], tmp_path / "b")):
        r = engine_cli(*args, "--json")
        assert r.returncode == 0, r.stderr
        assert Path(json.loads(r.stdout)["dataset_dir"]).parent == ws / "datasets"
