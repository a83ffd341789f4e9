"""Export a finished run as an offline inference package: models, runtime code, and proof they agree.

The package is built in a hidden folder next to its destination; every exported model is run on
the run's own evaluation images through the package's own code (predict.py, predict_torch.py and
the verbatim copy of engine/preprocess.py) and compared with the engine's PyTorch model. Only a
package that passes is moved into place and zipped.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import shutil
import string
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from engine import __version__
from engine.errors import UserError
from engine.export.layout import PACKAGE_DIR, PACKAGE_FORMAT, PREPROCESS_COPY, TEMPLATES
from engine.export.readme import write_readme
from engine.export.runtime import write_runtime_code
from engine.fsutil import atomic_write_json, atomic_write_text
from engine.models import family_of
from engine.preprocess import preprocess_file

FORMATS = ("onnx", "torch", "torchscript")
QUANTIZATIONS = ("int8",)
# Evaluation images checked per export (an even spread when there are more), and the smaller share
# that the PyTorch files, which run the very same weights in the same library, are checked on.
PARITY_MAX_IMAGES = 200
TORCH_PARITY_IMAGES = 32
CALIBRATION_IMAGES = 100
CALIBRATION_BATCH = 10

Log = Callable[[str], None]


@dataclass
class ExportResult:
    folder: Path
    zip_path: Path
    report: dict[str, Any]


@dataclass
class EvalImages:
    files: list[str]
    targets: np.ndarray
    splits: list[str]
    total: int
    note: str | None

    @property
    def phrase(self) -> str:
        return f"{' and '.join(self.splits)} image{'s' if len(self.files) != 1 else ''}"


def parse_formats(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """'onnx,torch' or a list of names to an ordered tuple; unknown names raise UserError."""
    if value is None:
        return FORMATS
    names = [v.strip().lower() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise UserError(f"Unknown export format {', '.join(unknown) or '(none given)'}; choose from "
                        f"{', '.join(FORMATS)} (comma-separated).")
    return tuple(f for f in FORMATS if f in names)


def preprocess_spec(ckpt: dict[str, Any]) -> dict[str, Any]:
    """preprocess.json: the run's eval preprocessing exactly (the keys konstruktor_preprocess reads) plus
    a plain description of the steps that are fixed in code, for people porting it."""
    return {
        **ckpt["preprocess"],
        "channel_order": "RGB",
        "layout": "NCHW",
        "dtype": "float32",
        "resize": "shorter side to floor(input_size / crop_pct), then a centre crop of input_size x input_size",
        "scale": "pixel / 255, then (value - mean) / std per channel",
        "alpha": "composited on white",
        "exif_orientation": "applied",
        "reference_code": PREPROCESS_COPY,
    }


# --- checking the run ------------------------------------------------------------------------

def _check_run(run_dir: Path) -> None:
    from engine.config import CONFIG_FILE

    if not (run_dir / CONFIG_FILE).is_file():
        raise UserError(f"{run_dir} is not a run folder (it has no {CONFIG_FILE}); pass the folder of a trained run.")
    if not (run_dir / "metrics.json").is_file():
        raise UserError(f"The run {run_dir} has not finished training (it has no metrics.json); finish it first "
                        f"with `python -m engine train {run_dir}`.")


def _spread(items: Sequence[Any], limit: int) -> list[Any]:
    """At most `limit` items, evenly spread over the sequence (all of them when there are fewer)."""
    if len(items) <= limit:
        return list(items)
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, limit).round().astype(int)]


def _run_images(run_dir: Path, labels: list[str]) -> tuple[EvalImages, list[str]]:
    """The run's evaluation images (val and test; train when it has neither) and its training images."""
    from engine.config import RunConfig
    from engine.data import load_manifest

    dataset_dir = Path(RunConfig.load(run_dir).data)
    manifest = load_manifest(dataset_dir)
    index = {name: i for i, name in enumerate(labels)}

    def present(split: str) -> list[dict[str, Any]]:
        return [it for it in manifest["items"] if it["split"] == split and it["label"] in index
                and (dataset_dir / it["file"]).is_file()]

    train = present("train")
    splits = [s for s in ("val", "test") if present(s)]
    note = None
    if not splits:
        splits = ["train"]
        note = ("The run has no validation or test images, so parity and the INT8 accuracy change were measured "
                "on its training images (which the model has seen: the accuracy there is optimistic).")
    items = [it for s in splits for it in present(s)]
    chosen = _spread(items, PARITY_MAX_IMAGES)
    if not chosen:
        raise UserError(f"The images of the run's dataset {dataset_dir} are gone, so the export can't be checked; "
                        "restore the dataset folder and export again.")
    evaluation = EvalImages([str(dataset_dir / it["file"]) for it in chosen],
                            np.array([index[it["label"]] for it in chosen], dtype=np.int64), splits, len(items), note)
    return evaluation, [str(dataset_dir / it["file"]) for it in _spread(train, CALIBRATION_IMAGES)]


# --- the package's own code, loaded from the package folder ------------------------------------

@contextmanager
def package_code(folder: Path) -> Iterator[ModuleType]:
    """Import the package's predict.py (and what it imports) from `folder`, and forget it afterwards."""
    names = ("predict", "predict_torch", "konstruktor_preprocess")
    saved = {n: sys.modules.pop(n) for n in names if n in sys.modules}
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("predict")
    finally:
        sys.path.remove(str(folder))
        for n in names:
            sys.modules.pop(n, None)
        sys.modules.update(saved)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


# --- the export ------------------------------------------------------------------------------

def export_run(run_dir: str | Path, *, formats: str | Iterable[str] | None = None, quantize: str | None = None,
               out: str | Path | None = None, log: Log = lambda _msg: None) -> ExportResult:
    """Export a finished run into `out` (default RUN/exports/<time>/) and `<out>.zip`; UserError when it can't."""
    run_dir = Path(run_dir)
    fmts = parse_formats(formats)
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise UserError(f"Unknown quantization '{quantize}'; the choice is {', '.join(QUANTIZATIONS)}.")
    if quantize and "onnx" not in fmts:
        raise UserError("INT8 quantization makes an ONNX model: add onnx to --format, or leave --quantize out.")
    _check_run(run_dir)
    from engine.open_model import is_imported_package

    # A package opened from elsewhere has no training data here to re-check an export against: it is
    # offered again as it was checked when opened.
    reoffer = is_imported_package(run_dir)
    if reoffer and quantize and not (run_dir / "package" / "model.int8.onnx").is_file():
        raise UserError("This model was opened from an exported package, which is offered as it was made; it has "
                        "no INT8 model and can't be quantized here without its training images: export without INT8.")
    final = Path(out) if out else _timestamped(run_dir / "exports")
    if final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise UserError(f"{final} already exists and is not empty; choose a new --out folder.")
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        from engine.config import task_of_run

        own = task_of_run(run_dir).hook("export_build")  # a task with its own package (object detection)
        if own is not None and not reoffer:
            report = own(run_dir, work, fmts, quantize, log)
        else:
            report = _reoffer(run_dir, work, log) if reoffer else _build(run_dir, work, fmts, quantize, log)
        _set_permissions(work)
        if final.exists():
            final.rmdir()
        os.replace(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    zip_path = _zip(final)
    log(f"Exported to {final} and {zip_path.name}.")
    return ExportResult(final, zip_path, report)


def _reoffer(run_dir: Path, work: Path, log: Log) -> dict[str, Any]:
    """An imported package's files (its data, this app's code) copied into `work`; its export report, marked."""
    from engine.open_model import imported_info

    log("Copying the imported package ...")
    for path in sorted((run_dir / PACKAGE_DIR).iterdir()):
        if path.is_file():
            shutil.copyfile(path, work / path.name)
    report = json.loads((work / "export_report.json").read_text(encoding="utf-8"))
    report["imported"] = imported_info(run_dir)
    report["files"] = {p.name: p.stat().st_size for p in sorted(work.iterdir()) if p.is_file()}
    return report


def _set_permissions(folder: Path) -> None:
    """Temp folders and atomic writes are private (0700/0600); a package is meant to be shared and run."""
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o755 if path.name.startswith("predict") and path.suffix == ".py" else 0o644)


def _timestamped(parent: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = parent / stamp, 2
    while path.exists():
        path, n = parent / f"{stamp}-{n}", n + 1
    return path


def _zip(folder: Path) -> Path:
    """folder.zip beside the folder, its files under the folder's name."""
    target = folder.with_name(folder.name + ".zip")
    tmp = folder.with_name(f".{folder.name}.zip.partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    os.replace(tmp, target)
    return target


@dataclass
class _Job:
    """What every step of one export needs: the folder being built, the run's model and its images."""

    work: Path
    formats: tuple[str, ...]
    quantize: str | None
    model: Any
    ckpt: dict[str, Any]
    evaluation: EvalImages
    calibration_files: list[str]
    reference: np.ndarray  # the engine's probabilities on evaluation.files
    threads: int
    report: dict[str, Any]
    log: Log


def _build(run_dir: Path, work: Path, formats: tuple[str, ...], quantize: str | None, log: Log) -> dict[str, Any]:
    import torch

    from engine.checkpoint import load_run_model
    from engine.embed import predict_probs
    from engine.export import parity
    from engine.models import get_family

    model, ckpt = load_run_model(run_dir)
    family = get_family(family_of(ckpt))
    module = family.probabilities_module(model, ckpt)
    labels: list[str] = list(ckpt["labels"])
    evaluation, calibration_files = _run_images(run_dir, labels)
    if evaluation.note:
        log(evaluation.note)
    spec = _write_code_and_settings(work, ckpt, formats)
    log(f"Running the trained model on {len(evaluation.files)} {evaluation.phrase} for reference ...")
    reference = predict_probs(model, evaluation.files, ckpt["preprocess"], len(labels), use_onnx=False)
    report: dict[str, Any] = {
        "format": PACKAGE_FORMAT, "konstruktor_version": __version__,
        "created": datetime.now().astimezone().isoformat(timespec="seconds"), "run": str(run_dir.resolve()),
        "model": ckpt["model"], "family": family_of(ckpt), "labels": labels,
        "input_size": int(ckpt["preprocess"]["input_size"]), "formats": list(formats), "quantize": quantize,
        "evaluation_images": {"splits": evaluation.splits, "n": len(evaluation.files), "available": evaluation.total,
                              "note": evaluation.note},
        "parity_limits": {"top1_agreement": parity.MIN_TOP1_AGREEMENT, "max_abs_diff": parity.MAX_ABS_DIFF},
        "parity": {}, "latency_ms": {}, "threads": torch.get_num_threads(), "versions": _versions(family.library),
    }
    job = _Job(work, formats, quantize, model, ckpt, evaluation, calibration_files, reference,
               torch.get_num_threads(), report, log)
    with package_code(work) as predict_mod:
        if "onnx" in formats:
            _onnx_files(job, module, spec, predict_mod)
        if "torch" in formats or "torchscript" in formats:
            _torch_files(job, module, family.build_recipe(ckpt), importlib.import_module("predict_torch"))
    x = torch.from_numpy(preprocess_file(evaluation.files[0], ckpt["preprocess"]))[None]
    with torch.inference_mode():
        report["latency_ms"]["pytorch_eager_batch1"] = parity.latency_ms(lambda: model(x), repeats=5)
    write_readme(work, report, spec, formats, quantize)
    report["files"] = {p.name: p.stat().st_size for p in sorted(work.iterdir()) if p.is_file()}
    atomic_write_json(work / "export_report.json", report)
    return report


def _versions(library: str) -> dict[str, str]:
    """The versions the package was made with: the runtime's, torch's and the model family's library."""
    return {"onnxruntime": _version("onnxruntime"), "numpy": _version("numpy"), "pillow": _version("pillow"),
            "torch": _version("torch"), library: _version(library), "python": platform.python_version()}


def _write_code_and_settings(work: Path, ckpt: dict[str, Any], formats: tuple[str, ...]) -> dict[str, Any]:
    """labels.json, preprocess.json, the preprocessing code, predict*.py and requirements; returns the spec."""
    spec = preprocess_spec(ckpt)
    atomic_write_json(work / "labels.json", list(ckpt["labels"]))
    atomic_write_json(work / "preprocess.json", spec)
    torch_files = "torch" in formats or "torchscript" in formats
    write_runtime_code(work, family_of(ckpt), torch=torch_files, task=ckpt.get("task"))
    from engine.models import get_family

    family = get_family(family_of(ckpt))
    versions = _versions(family.library)
    if "onnx" in formats:
        _copy_template("requirements.txt", work, versions)
    if torch_files:
        _copy_template("requirements-torch.txt", work, versions | {
            "library": family.library, "library_version": _version(family.library),
            "library_requirement": "\n".join(family.package_requirements)})
    return spec


def _onnx_files(job: _Job, module, spec: dict[str, Any], predict_mod: ModuleType) -> None:
    """model.onnx checked against the engine through predict.py; model.int8.onnx and its accuracy change."""
    from engine.export import parity
    from engine.export.onnx_export import export_onnx, quantize_int8
    from engine.tasks import get_task

    ckpt, ev, report = job.ckpt, job.evaluation, job.report
    labels, size = report["labels"], report["input_size"]
    task = get_task(ckpt.get("task"))
    signature = task.part("export")
    meta = {"konstruktor_version": __version__, "konstruktor_format": PACKAGE_FORMAT, "task": task.name,
            "model": ckpt["model"], "family": report["family"], "labels": json.dumps(labels, ensure_ascii=False),
            "preprocess": json.dumps(spec, ensure_ascii=False), **signature.signature_metadata()}
    doc = signature.onnx_doc(ckpt["model"], labels, size)
    job.log("Exporting ONNX ...")
    report["onnx"] = export_onnx(module, job.work / "model.onnx", size, meta, doc)
    fp32 = predict_mod.Predictor(job.work, "model.onnx", threads=job.threads)
    got = fp32.predict_proba(ev.files, batch_size=32)
    report["parity"]["onnx"] = parity.compare(job.reference, got)
    parity.gate("ONNX model", report["parity"]["onnx"], ev.phrase)
    sample = fp32.preprocess(ev.files[0])[None]
    report["latency_ms"]["onnx_fp32_batch1"] = parity.latency_ms(lambda: fp32.forward(sample))
    if job.quantize != "int8":
        return
    files = job.calibration_files
    job.log(f"Quantizing to INT8, calibrated on {len(files)} training images ...")
    batches = (np.stack([fp32.preprocess(f) for f in files[i:i + CALIBRATION_BATCH]])
               for i in range(0, len(files), CALIBRATION_BATCH))
    report["int8"] = quantize_int8(job.work / "model.onnx", job.work / "model.int8.onnx", batches, meta,
                                   doc + " Quantized to INT8.")
    int8 = predict_mod.Predictor(job.work, "model.int8.onnx", threads=job.threads)
    q = int8.predict_proba(ev.files, batch_size=32)
    acc32, acc8 = parity.accuracy(got, ev.targets), parity.accuracy(q, ev.targets)
    report["int8"].update({
        "calibration_images": len(files), "calibration_split": "train",
        "accuracy_fp32": round(acc32, 4), "accuracy_int8": round(acc8, 4),
        "accuracy_change_points": round(100 * (acc8 - acc32), 2), "vs_fp32": parity.compare(got, q),
    })
    report["latency_ms"]["onnx_int8_batch1"] = parity.latency_ms(lambda: int8.forward(sample))


def _torch_files(job: _Job, module, recipe: dict[str, Any], predict_torch: ModuleType) -> None:
    """model.pt and model.torchscript.pt, each checked against the engine through predict_torch.py.

    They run the same weights in the same library as the engine, so a share of the images suffices
    to catch a wrong recipe or a broken trace.
    """
    from engine.checkpoint import save_checkpoint
    from engine.export import parity

    ev, report = job.evaluation, job.report
    subset = _spread(list(range(len(ev.files))), TORCH_PARITY_IMAGES)
    files, reference = [ev.files[i] for i in subset], job.reference[subset]
    checks = []
    if "torch" in job.formats:
        job.log("Writing model.pt ...")
        drop = {"format", "engine_version", "optimizer", "train_state"}
        payload = {k: v for k, v in job.ckpt.items() if k not in drop}
        payload.update(build=recipe, exported=report["created"])
        save_checkpoint(job.work / "model.pt", payload, keep_previous=False)
        checks.append(("torch", "PyTorch model (model.pt)", "model.pt"))
    if "torchscript" in job.formats:
        job.log("Writing model.torchscript.pt ...")
        _save_torchscript(module, job.work / "model.torchscript.pt", report["input_size"])
        checks.append(("torchscript", "TorchScript model", "model.torchscript.pt"))
    for key, what, name in checks:
        predictor = predict_torch.TorchPredictor(job.work, name, threads=job.threads)
        report["parity"][key] = parity.compare(reference, predictor.predict_proba(files, batch_size=32))
        parity.gate(what, report["parity"][key], ev.phrase)


def _copy_template(name: str, work: Path, values: dict[str, str]) -> None:
    atomic_write_text(work / name, string.Template((TEMPLATES / name).read_text(encoding="utf-8")).substitute(values))


def _save_torchscript(module, path: Path, size: int) -> None:
    import torch

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit is deprecated upstream but still the portable format
        traced = torch.jit.trace(module, torch.zeros(1, 3, size, size), check_trace=False)
        torch.jit.save(traced, str(path))
