"""Export: a finished run becomes an offline package whose models and code provably match the engine.

One tiny linear-probe run (96 px) is trained and exported once per module; the tests read that
package, run its code in a fresh venv without torch, and break it on purpose.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from clitools import engine_cli
from imagegen import PATTERNS, make_pattern_image
from PIL import Image

from engine.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_FILES = {"model.onnx", "model.int8.onnx", "model.pt", "model.torchscript.pt", "labels.json",
                 "preprocess.json", "konstruktor_preprocess.py", "predict.py", "predict_torch.py",
                 "requirements.txt", "requirements-torch.txt", "README.md", "export_report.json"}


@pytest.fixture(scope="module")
def env(cli_env) -> dict:
    return cli_env


@pytest.fixture(scope="module")
def run_dir(tiny_run) -> Path:
    return tiny_run


@pytest.fixture(scope="module")
def exported(run_dir, env) -> Path:
    r = engine_cli("export", str(run_dir), "--quantize", "int8", env=env)
    assert r.returncode == 0, r.stderr
    folder = Path(r.stdout.strip().splitlines()[-1])
    assert folder.parent == run_dir / "exports"
    return folder


@pytest.fixture(scope="module")
def new_images(tmp_path_factory) -> Path:
    """Unseen images of every class, plus odd modes and one file that is not an image."""
    root = tmp_path_factory.mktemp("new")
    photos, odd = root / "photos", root / "photos" / "odd"
    for c in PATTERNS:
        for i in range(3):
            make_pattern_image(photos / f"{c}_{i}.png", c, seed=70_000 + 100 * PATTERNS.index(c) + i)
    disc = Image.open(make_pattern_image(root / "disc.png", "disc", seed=70_900))
    odd.mkdir()
    disc.convert("L").save(odd / "gray.jpg")
    rgba = disc.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(odd / "rgba.png")
    (odd / "broken.jpg").write_bytes(b"not an image at all")
    return root / "photos"


@pytest.fixture(scope="module")
def engine_predictions(run_dir, new_images, env) -> list[dict]:
    """`python -m engine predict RUN --json` on every new image file, in sorted order."""
    files = sorted(str(p) for p in new_images.rglob("*") if p.is_file())
    r = engine_cli("predict", str(run_dir), *files, "--json", env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _ckpt(run_dir: Path) -> dict:
    from engine.checkpoint import load_checkpoint

    return load_checkpoint(run_dir / "checkpoints" / "best.pt")


# --- the package -----------------------------------------------------------------------------

def test_export_writes_every_file_and_a_zip_of_them(exported, run_dir):
    assert {p.name for p in exported.iterdir()} == PACKAGE_FILES
    with zipfile.ZipFile(exported.with_name(exported.name + ".zip")) as z:
        assert set(z.namelist()) == {f"{exported.name}/{name}" for name in PACKAGE_FILES}
    assert (exported / "konstruktor_preprocess.py").read_bytes() == (ROOT / "engine" / "preprocess.py").read_bytes()
    ckpt = _ckpt(run_dir)
    spec = json.loads((exported / "preprocess.json").read_text())
    assert {k: spec[k] for k in ckpt["preprocess"]} == ckpt["preprocess"]
    assert spec["channel_order"] == "RGB" and spec["alpha"] == "composited on white"
    assert json.loads((exported / "labels.json").read_text()) == ckpt["labels"] == sorted(PATTERNS)
    readme = (exported / "README.md").read_text()
    assert "## English" in readme and "## Русский" in readme and "${" not in readme and "<!--" not in readme
    report = json.loads((exported / "export_report.json").read_text())
    for fmt in ("onnx", "torch", "torchscript"):
        assert report["parity"][fmt]["top1_agreement"] == 1.0 and report["parity"][fmt]["max_abs_diff"] <= 1e-4
    assert report["evaluation_images"]["splits"] == ["val", "test"] and report["evaluation_images"]["note"] is None
    assert report["files"]["model.onnx"] == (exported / "model.onnx").stat().st_size
    assert set(report["latency_ms"]) == {"onnx_fp32_batch1", "onnx_int8_batch1", "pytorch_eager_batch1"}


def test_onnx_model_is_valid_with_dynamic_batch_named_io_and_metadata(exported):
    import onnx
    import onnxruntime as ort

    from engine import __version__

    model = onnx.load(str(exported / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["labels"]) == sorted(PATTERNS)
    assert json.loads(meta["preprocess"]) == json.loads((exported / "preprocess.json").read_text())
    assert meta["konstruktor_version"] == __version__
    session = ort.InferenceSession(str(exported / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    for n in (1, 5):
        probs = session.run(None, {"input": np.random.default_rng(n).normal(size=(n, 3, 96, 96)).astype(np.float32)})[0]
        assert probs.shape == (n, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_package_in_a_fresh_venv_without_torch_predicts_what_the_engine_predicts(exported, new_images,
                                                                                 engine_predictions, env, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    clean = {k: v for k, v in env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    pip = subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(exported / "requirements.txt")],
                         capture_output=True, text=True, env=clean, timeout=600)
    assert pip.returncode == 0, pip.stderr
    assert subprocess.run([str(py), "-c", "import torch"], capture_output=True, env=clean).returncode != 0

    def package(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(py), str(exported / "predict.py"), *args], capture_output=True, text=True,
                              cwd=tmp_path, env=clean, timeout=120)

    r = package(str(new_images), "--json", "--batch-size", "4")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert len(got) == len(engine_predictions) == 12
    for g, w in zip(got, engine_predictions, strict=True):
        assert ("error" in g) == ("error" in w) and g["file"] == w["file"]
        if "error" in w:
            continue
        assert g["label"] == w["label"] and [t["label"] for t in g["top"]] == [t["label"] for t in w["top"]]
        assert max(abs(a["prob"] - b["prob"]) for a, b in zip(g["top"], w["top"], strict=True)) <= 1e-4
    assert all(g["label"] == Path(g["file"]).name.split("_")[0] for g in got if "/odd/" not in g["file"])
    # The INT8 model runs in the same plain runtime, and CSV comes out one row per file.
    r = package(str(new_images), "--csv", "--model", "model.int8.onnx", "--top-k", "2")
    assert r.returncode == 0, r.stderr
    rows = r.stdout.strip().splitlines()
    assert rows[0] == "file,label_1,prob_1,label_2,prob_2,error" and len(rows) == 13
    assert package(str(new_images / "odd" / "broken.jpg")).returncode == 2


def test_package_preprocessing_is_the_engines_for_odd_images(exported, run_dir, tmp_path):
    from engine.export.package import package_code
    from engine.preprocess import preprocess_file

    cfg = _ckpt(run_dir)["preprocess"]
    base = np.asarray(Image.open(make_pattern_image(tmp_path / "base.png", "checks", seed=5, size=64)))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    palette_t = Image.fromarray(base).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette_t.info["transparency"] = 3
    big = np.asarray(Image.fromarray(base).resize((5000, 3000), Image.Resampling.NEAREST))
    odd = {
        "rgba.png": Image.fromarray(np.dstack([base, np.linspace(0, 255, 64 * 64).reshape(64, 64).astype(np.uint8)]),
                                    "RGBA"),
        "gray.png": Image.fromarray(base).convert("L"),
        "gray_alpha.png": Image.fromarray(base).convert("LA"),
        "palette.png": Image.fromarray(base).convert("P", palette=Image.Palette.ADAPTIVE, colors=16),
        "palette_transparent.png": palette_t,
        "deep16.png": Image.fromarray((base[..., 0].astype(np.uint16) * 257), "I;16"),
        "cmyk.jpg": Image.fromarray(base).convert("CMYK"),
        "exif_rotated.jpg": Image.fromarray(base[:, :40]),
        "tiny_3x5.png": Image.fromarray(base[:5, :3]),
        "huge_5000x3000.jpg": Image.fromarray(big),
    }
    with package_code(exported) as predict:
        predictor = predict.Predictor(exported)
        for name, img in odd.items():
            path = tmp_path / name
            img.save(path, **({"exif": exif.tobytes()} if name == "exif_rotated.jpg" else {}))
            ours, engines = predictor.preprocess(path), preprocess_file(str(path), cfg)
            assert ours.shape == engines.shape == (3, 96, 96), name
            assert np.array_equal(ours, engines), name
        # EXIF rotation is applied, not ignored: the rotated file differs from its pixels read as is.
        rotated = predictor.preprocess(tmp_path / "exif_rotated.jpg")
        assert not np.array_equal(rotated, predictor.preprocess(Image.open(tmp_path / "exif_rotated.jpg")))


def test_int8_model_loads_and_its_accuracy_change_is_reported(exported, run_dir):
    import onnx

    from engine.export.package import package_code

    q = json.loads((exported / "export_report.json").read_text())["int8"]
    assert q["calibration_split"] == "train" and q["calibration_images"] > 0
    assert q["accuracy_change_points"] == pytest.approx(100 * (q["accuracy_int8"] - q["accuracy_fp32"]), abs=0.01)
    assert q["accuracy_int8"] >= 0.9  # chance is 0.33
    ops = {n.op_type for n in onnx.load(str(exported / "model.int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert (exported / "model.int8.onnx").stat().st_size < 0.4 * (exported / "model.onnx").stat().st_size
    # The reported INT8 accuracy is what the INT8 model really scores on the run's val and test images.
    from engine.config import RunConfig
    from engine.data import load_manifest

    data = Path(RunConfig.load(run_dir).data)
    items = [it for it in load_manifest(data)["items"] if it["split"] in ("val", "test")]
    with package_code(exported) as predict:
        probs = predict.Predictor(exported, "model.int8.onnx").predict_proba([data / it["file"] for it in items])
    labels = sorted(PATTERNS)
    hits = [labels[int(i)] == it["label"] for i, it in zip(probs.argmax(axis=1), items, strict=True)]
    assert np.mean(hits) == pytest.approx(q["accuracy_int8"], abs=1e-4)


def test_model_pt_loads_with_the_engine_and_predict_torch_agrees(exported, new_images, engine_predictions, env):
    import torch

    from engine.checkpoint import load_checkpoint
    from engine.export.package import package_code
    from engine.models import build

    ckpt = load_checkpoint(exported / "model.pt", fallback=False)
    assert torch.load(exported / "model.pt", weights_only=True)["build"]["library"] == "timm"
    assert "optimizer" not in ckpt and ckpt["labels"] == sorted(PATTERNS)
    built = build(ckpt["model"], len(ckpt["labels"]), pretrained=False, image_size=ckpt["preprocess"]["input_size"])
    built.model.load_state_dict(ckpt["state_dict"])
    want = [w for w in engine_predictions if "error" not in w]
    r = subprocess.run([sys.executable, str(exported / "predict_torch.py"), *[w["file"] for w in want], "--json"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    with package_code(exported) as predict:
        import predict_torch

        assert predict_torch.Predictor is predict.Predictor
        traced = predict_torch.TorchPredictor(exported, "model.torchscript.pt").predict([w["file"] for w in want])
    for out in (json.loads(r.stdout), traced):
        for g, w in zip(out, want, strict=True):
            assert g["label"] == w["label"] and abs(g["prob"] - w["prob"]) <= 1e-4


# --- the gate and the refusals ---------------------------------------------------------------

def test_parity_gate_fails_the_export_when_the_packaged_preprocessing_is_altered(run_dir, env, tmp_path,
                                                                                 monkeypatch):
    from engine.export import package

    honest = package.preprocess_spec
    monkeypatch.setattr(package, "preprocess_spec", lambda ckpt: {**honest(ckpt), "mean": [0.45, 0.5, 0.5]})
    out = tmp_path / "altered"
    with pytest.raises(UserError, match=r"does not match the trained model on 12 val and test images"):
        package.export_run(run_dir, formats="onnx", out=out)
    assert not out.exists() and not list(tmp_path.glob(".altered*")) and not out.with_suffix(".zip").exists()


def test_a_run_without_validation_images_is_checked_on_its_training_images(run_dir, env, tmp_path):
    from engine.config import RunConfig
    from engine.export import export_run

    cfg = RunConfig.load(run_dir)
    data = tmp_path / "dataset"
    shutil.copytree(cfg.data, data)
    manifest = json.loads((data / "manifest.json").read_text())
    for item in manifest["items"]:
        item["split"] = "train"
    (data / "manifest.json").write_text(json.dumps(manifest))
    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("exports"))
    cfg.model_copy(update={"data": str(data)}).save(run)
    result = export_run(run, formats="onnx")
    report = result.report
    assert report["evaluation_images"]["splits"] == ["train"] and "training images" in report["evaluation_images"]["note"]
    assert report["parity"]["onnx"]["n"] == 30 and report["parity"]["onnx"]["top1_agreement"] == 1.0
    assert {"model.onnx", "predict.py", "requirements.txt"} <= {p.name for p in result.folder.iterdir()}
    assert not {"model.pt", "model.torchscript.pt", "predict_torch.py"} & {p.name for p in result.folder.iterdir()}
    assert "training images" in (result.folder / "README.md").read_text()


@pytest.mark.parametrize("case", ["not-a-run", "unfinished", "bad-format", "int8-without-onnx"])
def test_export_refuses_with_exit_2_and_one_sentence(case, run_dir, env, tmp_path):
    target, extra = tmp_path / "folder", []
    target.mkdir()
    if case == "unfinished":
        shutil.copy(run_dir / "config.yaml", target / "config.yaml")
        shutil.copytree(run_dir / "checkpoints", target / "checkpoints")
    elif case in ("bad-format", "int8-without-onnx"):
        target = run_dir
        extra = ["--format", "onnx,tflite"] if case == "bad-format" else ["--format", "torch", "--quantize", "int8"]
    r = engine_cli("export", str(target), *extra, "--out", str(tmp_path / "out"), env=env)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0].endswith("."), r.stderr
    assert {"not-a-run": "is not a run folder", "unfinished": "has not finished training",
            "bad-format": "Unknown export format tflite", "int8-without-onnx": "add onnx"}[case] in lines[0]
    assert not (tmp_path / "out").exists()
