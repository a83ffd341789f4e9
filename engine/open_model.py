"""Open a model trained elsewhere: an exported package or a zipped run folder becomes a run of this workspace.

Everything in what is opened is untrusted. A zip is extracted only after every member is checked
(engine.data.archive); `.pt` files are read with `torch.load(weights_only=True)`, so a file that needs
pickled code to load is refused before any of it runs; `.onnx` files are read only by ONNX Runtime, from
bytes (no external data files are followed); code shipped in a package (predict.py ...) is never imported,
and is replaced by this app's own copy. Only an allow-list of files is kept. The run folder is built in a
hidden folder and moved into place only when every check passed, so a refused model leaves nothing behind.

An imported package predicts through ONNX Runtime with its own preprocess.json and the engine's
preprocessing, so it needs neither the original torch model nor the data it was trained on.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.archive import ZipLimits, is_junk, safe_extract
from engine.data.errors import CodedDataError
from engine.export.layout import PACKAGE_DIR, PACKAGE_FORMAT
from engine.fsutil import atomic_write_json, read_json
from engine.models import family_of

IMPORTED_FILE = "imported.json"
IMPORTED_FORMAT = "konstruktor-imported/1"
IMPORTED_MODE = "imported"
# Package files kept as data; the package's code is replaced by ours (see _write_package), a TorchScript
# file is left out (it can't be checked without running it).
PACKAGE_DATA = ("model.onnx", "model.int8.onnx", "model.pt", "labels.json", "preprocess.json",
                "export_report.json", "README.md", "requirements.txt", "requirements-torch.txt")
RUN_FILES = ("config.yaml", "events.jsonl", "metrics.json", "labels.json")
CHECKPOINTS = ("best.pt", "last.pt")
ARTIFACT_SUFFIXES = (".png", ".json", ".yaml", ".csv", ".txt", ".md")
ZIP_LIMITS = ZipLimits(max_members=5_000)
BATCH = 32

_FIX = "export the run again (python -m engine export RUN) and open the new .zip"
# English sentence of each error, by code; the UI says it in Russian by code (ui/i18n `dataerr.<code>`).
ERRORS: dict[str, str] = {
    "open_missing": "'{name}' does not exist; choose the exported .zip or folder again.",
    "open_kind": "'{name}' is not a .zip or a folder; open the .zip that Export wrote, or a zipped run folder.",
    "open_not_model": "'{name}' holds neither an exported package (model.onnx, labels.json, preprocess.json) nor a "
                      "run folder (config.yaml, checkpoints/best.pt); open the .zip that Export wrote, or a zipped "
                      "run folder.",
    "open_no_file": "The package '{name}' has no {file}; " + _FIX + ".",
    "open_task_unsupported": "'{name}' holds an object detector; this version opens image classifiers only. Use the "
                             "package's own predict.py, or train the detector in this workspace.",
    "open_bad_json": "{file} in '{name}' is not valid JSON; " + _FIX + ".",
    "open_bad_labels": "labels.json in '{name}' is not a list of two or more different class names; " + _FIX + ".",
    "open_bad_preprocess": "preprocess.json in '{name}' has no valid '{key}'; " + _FIX + ".",
    "open_bad_report": "export_report.json in '{name}' is not a Konstruktor export report; " + _FIX + ".",
    "open_labels_differ": "{file} in '{name}' lists other classes than labels.json; the files come from different "
                          "exports: " + _FIX + ".",
    "open_parity_failed": "The package '{name}' failed its own check at export ({file} disagreed with the trained "
                          "model); " + _FIX + ".",
    "open_onnx_unreadable": "model.onnx in '{name}' cannot be read by ONNX Runtime ({error}); " + _FIX + ".",
    "open_onnx_input": "model.onnx in '{name}' does not take a batch of 3 x {size} x {size} images as "
                       "preprocess.json says; " + _FIX + ".",
    "open_class_count": "model.onnx in '{name}' gives {outputs} outputs but labels.json names {classes} classes; the "
                        "files come from different exports: " + _FIX + ".",
    "open_pickle": "{file} in '{name}' was refused: loading it would run Python code stored inside it (a pickle "
                   "payload), and only plain weight files are opened; ask for a package exported by Konstruktor.",
    "open_bad_checkpoint": "{file} in '{name}' is not a Konstruktor checkpoint this version can use ({error}); "
                           "export or zip the run again.",
    "open_run_config": "The run folder '{name}' has an unusable config.yaml ({error}); zip the run folder again.",
    "open_run_unfinished": "The run in '{name}' has not finished training; finish it where it was trained, then zip "
                           "its folder again.",
    "open_no_project": "There is no project '{project}' in this workspace; create it first or leave --project out.",
    "open_no_gradcam": "Grad-CAM needs the model's PyTorch weights (model.pt), and the package '{name}' has only "
                       "the ONNX model; the classes shown still come from it.",
    "open_eval_classes": "The data has classes this model does not know ({classes}); it can be scored only on data "
                         "with the classes {labels}.",
}


def _config_task(root: Path) -> str | None:
    """The task a run folder's config.yaml names (None when it names none or can't be read)."""
    import yaml

    try:
        raw = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return raw.get("task") if isinstance(raw, dict) else None


def _refuse(code: str, **params: Any) -> CodedDataError:
    return CodedDataError(code, ERRORS[code].format(**params), **params)


@dataclass
class OpenedModel:
    """What `open_model` made: the new run folder and what it holds."""

    run_dir: Path
    run_id: str
    kind: str  # "package" | "run"
    model: str
    labels: list[str]
    scores: dict[str, Any] | None  # metrics on the project's data (packages), when its classes fit


# --- the front door ---------------------------------------------------------------------------

def open_model(source: str | Path, project_id: str | None = None, workspace=None) -> OpenedModel:
    """Check `source` (a package or run folder, as a .zip or a folder) and add it to the workspace as a
    finished, imported run; a CodedDataError with one sentence when it can't be used."""
    from engine.workspace import Workspace

    source = Path(source)
    name = source.name
    if not source.exists():
        raise _refuse("open_missing", name=name)
    if not (source.is_dir() or source.suffix.lower() == ".zip"):
        raise _refuse("open_kind", name=name)
    ws = workspace or Workspace()
    dataset = _project_dataset(ws, project_id) if project_id else None
    work = Path(tempfile.mkdtemp(prefix=".open-", suffix=".partial", dir=ws.runs_dir))
    try:
        root = source
        if source.is_file():
            safe_extract(source, work / "in", ZIP_LIMITS)
            root = _top(work / "in")
        out = work / "run"
        out.mkdir()
        if (root / "boxes.py").is_file() or _config_task(root) == "object-detection":
            raise _refuse("open_task_unsupported", name=name)
        if (root / "config.yaml").is_file():
            kind, model, labels = "run", *_open_run(root, out, name, dataset)
        elif any((root / f).is_file() for f in ("model.onnx", "preprocess.json", "export_report.json")):
            kind, model, labels = "package", *_open_package(root, out, name)
        else:
            raise _refuse("open_not_model", name=name)
        atomic_write_json(out / IMPORTED_FILE, {
            "format": IMPORTED_FORMAT, "kind": kind, "source": name, "source_path": str(source.resolve()),
            "opened": datetime.now().astimezone().isoformat(timespec="seconds"), "model": model, "labels": labels})
        scores = None
        if kind == "package" and dataset is not None and _fits(labels, dataset[1]):
            scores = score_imported(out, dataset[0])
        final = ws.new_run_dir(f"imported-{model}")
        final.rmdir()
        os.replace(out, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run_id = ws.register_run(final, project_id=project_id, dataset_id=dataset[1]["id"] if dataset else None,
                             model=model, mode=IMPORTED_MODE)
    ws.refresh_run(run_id)
    return OpenedModel(final, run_id, kind, model, labels, scores)


def _project_dataset(ws, project_id: str) -> tuple[Path, dict] | None:
    """The project's imported dataset (folder, manifest), or None before any import."""
    from engine.data import is_dataset_dir, load_manifest
    from engine.errors import UserError

    try:
        state = ws.get_project(project_id)["state"]
    except UserError:
        raise _refuse("open_no_project", project=project_id) from None
    path = state.get("dataset_dir")
    if not path or not is_dataset_dir(path):
        return None
    return Path(path), load_manifest(path)


def _fits(labels: list[str], manifest: dict) -> bool:
    return set(manifest["classes"]) <= set(labels)


def _top(folder: Path) -> Path:
    """The extracted folder's content root: a zip of a folder holds that one folder."""
    entries = [p for p in folder.iterdir() if not is_junk(p.name)] if folder.is_dir() else []
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return folder


# --- checks shared by both kinds ----------------------------------------------------------------

def _json(root: Path, file: str, name: str) -> Any:
    if not (root / file).is_file():
        raise _refuse("open_no_file", name=name, file=file)
    try:
        return read_json(root / file)
    except (OSError, ValueError):
        raise _refuse("open_bad_json", name=name, file=file) from None


def _labels(root: Path, name: str) -> list[str]:
    labels = _json(root, "labels.json", name)
    if (not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) and x.strip() for x in labels)
            or len(set(labels)) != len(labels)):
        raise _refuse("open_bad_labels", name=name)
    return labels


def load_untrusted_checkpoint(path: Path, labels: list[str], name: str) -> dict[str, Any]:
    """A checkpoint from elsewhere, read with weights_only=True and built once to prove it fits."""
    import torch

    from engine.checkpoint import FORMAT
    from engine.errors import UserError
    from engine.models import build

    rel = path.name if path.parent.name != "checkpoints" else f"checkpoints/{path.name}"
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise _refuse("open_pickle", name=name, file=rel) from None
    except Exception as e:  # torn, truncated or not a torch file at all
        raise _refuse("open_bad_checkpoint", name=name, file=rel, error=type(e).__name__) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise _refuse("open_bad_checkpoint", name=name, file=rel, error="no Konstruktor format mark")
    if ckpt.get("labels") != labels:
        raise _refuse("open_labels_differ", name=name, file=rel)
    try:
        built = build(ckpt["model"], len(labels), pretrained=False, image_size=ckpt["preprocess"]["input_size"])
        built.model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError, UserError) as e:
        raise _refuse("open_bad_checkpoint", name=name, file=rel, error=str(e).split("\n")[0][:200]) from None
    return ckpt


def _write_finished(out: Path, *, model: str, labels: list[str], metrics: dict[str, Any], data: str,
                    image_size: int | None) -> None:
    """config.yaml, labels.json, metrics.json and a start/done event stream, as a finished run has."""
    from engine.config import RunConfig
    from engine.events import EventWriter

    RunConfig(data=data, model=model, image_size=image_size).save(out)
    atomic_write_json(out / "labels.json", labels)
    atomic_write_json(out / "metrics.json", metrics)
    events = EventWriter(out)
    events.emit("start", model=model, mode=IMPORTED_MODE, labels=labels, imported=True)
    events.emit("done", imported=True)


# --- an exported package -------------------------------------------------------------------------

def _open_package(root: Path, out: Path, name: str) -> tuple[str, list[str]]:
    if not (root / "model.onnx").is_file():
        raise _refuse("open_no_file", name=name, file="model.onnx")
    labels = _labels(root, name)
    spec = _preprocess(root, name)
    report = _json(root, "export_report.json", name)
    if not isinstance(report, dict) or report.get("format") != PACKAGE_FORMAT or not isinstance(
            report.get("model"), str):
        raise _refuse("open_bad_report", name=name)
    for file in ("model.onnx", "model.int8.onnx"):
        if (root / file).is_file():
            _check_onnx(root / file, spec["input_size"], len(labels), name)
    if report.get("labels") != labels:
        raise _refuse("open_labels_differ", name=name, file="export_report.json")
    _check_parity(report, name)
    ckpt = load_untrusted_checkpoint(root / "model.pt", labels, name) if (root / "model.pt").is_file() else None
    _write_package(root, out / PACKAGE_DIR, family=family_of(report), task=report.get("task"))
    if ckpt is not None:  # the same weights as the ONNX model: Grad-CAM and the checkpoint download work
        (out / "checkpoints").mkdir()
        shutil.copyfile(root / "model.pt", out / "checkpoints" / "best.pt")
    model = report["model"]
    _write_finished(out, model=model, labels=labels, data="", image_size=spec["input_size"], metrics={
        "model": model, "family": report.get("family"), "mode": IMPORTED_MODE, "input_size": spec["input_size"],
        "imported": {"kind": "package", "source": name, "exported": report.get("created")}})
    return model, labels


def _preprocess(root: Path, name: str) -> dict[str, Any]:
    spec = _json(root, "preprocess.json", name)
    if not isinstance(spec, dict):
        raise _refuse("open_bad_preprocess", name=name, key="input_size")
    checks = {
        "input_size": lambda v: isinstance(v, int) and 32 <= v <= 1024,
        "crop_pct": lambda v: isinstance(v, int | float) and 0.1 <= v <= 1.0,
        "interpolation": lambda v: v in ("bilinear", "bicubic", "nearest", "lanczos", "box", "hamming"),
        "mean": lambda v: isinstance(v, list) and len(v) == 3 and all(isinstance(x, int | float) for x in v),
        "std": lambda v: isinstance(v, list) and len(v) == 3 and all(isinstance(x, int | float) and x > 0 for x in v),
    }
    for key, ok in checks.items():
        if key not in spec and key in ("crop_pct", "interpolation"):
            continue  # the engine's preprocessing has defaults for these
        if not ok(spec.get(key)):
            raise _refuse("open_bad_preprocess", name=name, key=key)
    return spec


def _check_parity(report: dict[str, Any], name: str) -> None:
    """The package passed its own parity gate at export (a report edited to say otherwise is refused)."""
    limits = report.get("parity_limits") or {}
    parity = report.get("parity")
    if not isinstance(parity, dict) or "onnx" not in parity:
        raise _refuse("open_bad_report", name=name)
    files = {"onnx": "model.onnx", "torch": "model.pt", "torchscript": "model.torchscript.pt"}
    for fmt, res in parity.items():
        try:
            good = (float(res["top1_agreement"]) >= float(limits.get("top1_agreement", 0.99))
                    and float(res["max_abs_diff"]) <= float(limits.get("max_abs_diff", 1e-3)))
        except (KeyError, TypeError, ValueError):
            raise _refuse("open_bad_report", name=name) from None
        if not good:
            raise _refuse("open_parity_failed", name=name, file=files.get(fmt, fmt))


def _session(path: Path, threads: int | None = None):
    """An ONNX Runtime session on the CPU, built from the file's bytes (external data files are not followed)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(path.read_bytes(), opts, providers=["CPUExecutionProvider"])


def _check_onnx(path: Path, size: int, n_classes: int, name: str) -> None:
    try:
        session = _session(path, threads=1)
    except Exception as e:  # ONNX Runtime's own errors name no common base class
        raise _refuse("open_onnx_unreadable", name=name, error=str(e).split("\n")[0][:200]) from None
    inputs = session.get_inputs()
    dims = inputs[0].shape if len(inputs) == 1 else []
    if len(dims) != 4 or dims[1] != 3 or any(isinstance(d, int) and d != size for d in dims[2:]):
        raise _refuse("open_onnx_input", name=name, size=size)
    try:
        (probs, *_) = session.run(None, {inputs[0].name: np.zeros((1, 3, size, size), np.float32)})
    except Exception as e:
        raise _refuse("open_onnx_unreadable", name=name, error=str(e).split("\n")[0][:200]) from None
    if probs.ndim != 2 or probs.shape[1] != n_classes:
        raise _refuse("open_class_count", name=name, outputs=int(probs.shape[-1]) if probs.ndim else 0,
                      classes=n_classes)


def _write_package(root: Path, dest: Path, *, family: str, task: str | None) -> None:
    """The package's data files, with this app's own runtime code beside them (never the package's)."""
    dest.mkdir()
    for file in PACKAGE_DATA:
        if (root / file).is_file():
            shutil.copyfile(root / file, dest / file)
    from engine.export.runtime import write_runtime_code

    write_runtime_code(dest, family, torch=(dest / "model.pt").is_file(), task=task)


# --- a run folder from another workspace -----------------------------------------------------------

def _open_run(root: Path, out: Path, name: str, dataset: tuple[Path, dict] | None) -> tuple[str, list[str]]:
    from engine.config import CONFIG_FILE, RunConfig
    from engine.errors import UserError
    from engine.events import run_status

    try:
        cfg = RunConfig.load(root / CONFIG_FILE)
    except UserError as e:
        raise _refuse("open_run_config", name=name, error=str(e).rsplit(": ", 1)[-1].rstrip(".")) from None
    if not (root / "metrics.json").is_file() or run_status(root) != "done":
        raise _refuse("open_run_unfinished", name=name)
    metrics = _json(root, "metrics.json", name)
    if not isinstance(metrics, dict):
        raise _refuse("open_bad_json", name=name, file="metrics.json")
    labels = _labels(root, name)
    if not (root / "checkpoints" / "best.pt").is_file():
        raise _refuse("open_run_unfinished", name=name)
    ckpt = load_untrusted_checkpoint(root / "checkpoints" / "best.pt", labels, name)
    (out / "checkpoints").mkdir()
    for file in CHECKPOINTS:
        if (root / "checkpoints" / file).is_file():
            if file != "best.pt":
                load_untrusted_checkpoint(root / "checkpoints" / file, labels, name)
            shutil.copyfile(root / "checkpoints" / file, out / "checkpoints" / file)
    for file in RUN_FILES:
        shutil.copyfile(root / file, out / file)
    art = root / "artifacts"
    if art.is_dir():
        (out / "artifacts").mkdir()
        for path in art.iterdir():
            if path.is_file() and not path.is_symlink() and path.suffix.lower() in ARTIFACT_SUFFIXES:
                shutil.copyfile(path, out / "artifacts" / path.name)
    # The run's data lives in the other workspace: the project's data with the same classes stands in for
    # it, so the run can be exported (parity needs images) and scored here.
    if dataset is not None and not Path(cfg.data).is_dir() and _fits(labels, dataset[1]):
        cfg.model_copy(update={"data": str(dataset[0])}).save(out)
    return str(ckpt["model"]), labels


# --- using an imported run -------------------------------------------------------------------------

def imported_info(run_dir: str | Path) -> dict[str, Any] | None:
    """imported.json of a run opened from elsewhere; None for a run trained here."""
    path = Path(run_dir) / IMPORTED_FILE
    try:
        info = read_json(path)
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("format") == IMPORTED_FORMAT else None


def check_gradcam(run_dir: str | Path) -> None:
    """Grad-CAM runs the PyTorch model: an imported package without model.pt says so in one sentence."""
    info = imported_info(run_dir)
    if info and not (Path(run_dir) / "checkpoints" / "best.pt").is_file():
        raise _refuse("open_no_gradcam", name=info.get("source", ""))


def is_imported_package(run_dir: str | Path) -> bool:
    info = imported_info(run_dir)
    return bool(info) and info.get("kind") == "package" and (Path(run_dir) / PACKAGE_DIR / "model.onnx").is_file()


class PackagePredictor:
    """An imported package's model.onnx in ONNX Runtime, fed by the engine's preprocessing and its preprocess.json."""

    def __init__(self, run_dir: str | Path):
        folder = Path(run_dir) / PACKAGE_DIR
        self.labels: list[str] = read_json(folder / "labels.json")
        self.preprocess: dict[str, Any] = read_json(folder / "preprocess.json")
        self.session = _session(folder / "model.onnx", threads=os.cpu_count() or 1)
        self.input = self.session.get_inputs()[0].name

    def predict_proba(self, files: list[str]) -> np.ndarray:
        from engine.preprocess import preprocess_file

        out = [self.session.run(None, {self.input: np.stack([preprocess_file(f, self.preprocess)
                                                             for f in files[i:i + BATCH]])})[0]
               for i in range(0, len(files), BATCH)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, len(self.labels)), np.float32)


_PREDICTORS: dict[tuple[str, float], PackagePredictor] = {}


def package_predictor(run_dir: str | Path) -> PackagePredictor | None:
    """The predictor of an imported package (kept for the next call), or None for any other run."""
    if not is_imported_package(run_dir):
        return None
    onnx = Path(run_dir) / PACKAGE_DIR / "model.onnx"
    key = (str(onnx.resolve()), onnx.stat().st_mtime)
    if key not in _PREDICTORS:
        if len(_PREDICTORS) >= 4:
            _PREDICTORS.pop(next(iter(_PREDICTORS)))
        _PREDICTORS[key] = PackagePredictor(run_dir)
    return _PREDICTORS[key]


def score_imported(run_dir: str | Path, dataset_dir: str | Path) -> dict[str, Any]:
    """Score an imported package on a dataset's val and test splits (all of it when it has neither), writing
    metrics, confusion matrices and misclassified lists as a finished run has; returns the new metrics."""
    from engine.data import load_manifest
    from engine.evaluate import compute_metrics, misclassified, save_confusion_matrix

    run_dir, dataset_dir = Path(run_dir), Path(dataset_dir)
    predictor = package_predictor(run_dir)
    if predictor is None:
        raise ValueError(f"{run_dir} is not an imported package")
    manifest = load_manifest(dataset_dir)
    labels = predictor.labels
    if not _fits(labels, manifest):
        unknown = sorted(set(manifest["classes"]) - set(labels))
        raise _refuse("open_eval_classes", classes=", ".join(unknown[:5]), labels=", ".join(labels[:10]))
    index = {c: i for i, c in enumerate(labels)}
    splits = [s for s in ("val", "test") if any(it["split"] == s for it in manifest["items"])]
    groups = {s: [it for it in manifest["items"] if it["split"] == s] for s in splits} or {
        "test": list(manifest["items"])}
    metrics = read_json(run_dir / "metrics.json")
    for split in ("val", "test"):
        metrics.pop(split, None)
    art = run_dir / "artifacts"
    art.mkdir(exist_ok=True)
    for split, items in groups.items():
        files = [str(dataset_dir / it["file"]) for it in items]
        targets = np.array([index[it["label"]] for it in items])
        probs = predictor.predict_proba(files)
        metrics[split] = compute_metrics(targets, probs, labels)
        save_confusion_matrix(metrics[split], art, name=f"confusion_matrix_{split}")
        wrong = misclassified(files, targets, probs, labels)
        originals = {str(dataset_dir / it["file"]): it.get("original") for it in items}
        for w in wrong:
            w["original"] = originals.get(w["file"])
        atomic_write_json(art / f"misclassified_{split}.json", wrong)
    metrics["dataset"] = {"id": manifest["id"], "fingerprint": manifest["fingerprint"],
                          **{f"n_{s}": sum(it["split"] == s for it in manifest["items"]) for s in ("train", "val",
                                                                                                   "test")}}
    atomic_write_json(run_dir / "metrics.json", metrics)
    return metrics


def describe(opened: OpenedModel) -> str:
    """One English line about what was opened (the CLI's answer)."""
    what = "exported package" if opened.kind == "package" else "run folder"
    line = (f"Opened the {what} {opened.model} ({len(opened.labels)} classes) as run {opened.run_id}: "
            f"{opened.run_dir}")
    if opened.scores:
        split = "test" if "test" in opened.scores else "val"
        line += f"; accuracy on this project's {split} images {opened.scores[split]['accuracy']:.1%}"
    return line + "."


def dumps(opened: OpenedModel) -> str:
    return json.dumps({"run_dir": str(opened.run_dir), "run_id": opened.run_id, "kind": opened.kind,
                       "model": opened.model, "labels": opened.labels, "scores": opened.scores},
                      ensure_ascii=False, indent=2)
