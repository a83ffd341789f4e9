"""The export package of a text run: the head as arrays, textmodel.py, predict.py, requirements.txt, a parity gate.

The package runs textmodel.py, the very file the engine predicts with; the gate imports the package's copy and
checks it gives the engine's labels and probabilities (within PARITY_TOL) on texts of the run's dataset.
"""

from __future__ import annotations

import importlib.util
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError
from engine.fsutil import atomic_write_json, atomic_write_text, read_json
from engine.tasks.text_classification.textmodel import HEAD_FILE, MODEL_FILE, NGRAMS_FILE, REQUIREMENTS

HERE = Path(__file__).resolve().parent
PARITY_TOL = 1e-4
PARITY_TEXTS = 32


def _sample_texts(run_dir: Path) -> list[str]:
    from engine.config import RunConfig
    from engine.data import load_manifest

    try:
        items = load_manifest(RunConfig.load(run_dir).data)["items"]
    except UserError:
        items = []
    texts = [it["text"] for it in items if it["split"] in ("val", "test")] or [it["text"] for it in items]
    return texts[:PARITY_TEXTS] or ["a short text", "короткий текст"]


def _package_model(work: Path):
    spec = importlib.util.spec_from_file_location("_exported_textmodel", work / "textmodel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TextModel(work)


def parity(run_dir: Path, work: Path, engine_model) -> dict[str, Any]:
    """The package's predictions against the engine's on sample texts; UserError when they differ."""
    texts = _sample_texts(run_dir)
    ours = engine_model.predict_proba(texts)
    theirs = _package_model(work).predict_proba(texts)
    diff = float(np.abs(ours - theirs).max())
    same = bool((ours.argmax(1) == theirs.argmax(1)).all())
    if not same or diff > PARITY_TOL:
        raise UserError(f"The exported package predicts differently from the engine (largest difference {diff:.2g}); "
                        "the export was not written.")
    return {"n": len(texts), "max_abs_diff": diff, "same_labels": same, "tolerance": PARITY_TOL}


def build_package(run_dir: Path, work: Path, log) -> dict[str, Any]:
    """Write the package into `work`; the export report (also export_report.json)."""
    from engine.tasks.text_classification.training import MODEL_DIR, load_run_model

    model = load_run_model(run_dir)
    src = run_dir / MODEL_DIR
    log("Writing the text classifier's package ...")
    for name in (MODEL_FILE, HEAD_FILE, NGRAMS_FILE):
        if (src / name).is_file():
            shutil.copyfile(src / name, work / name)
    shutil.copyfile(HERE / "textmodel.py", work / "textmodel.py")
    shutil.copyfile(HERE / "predict_template.py", work / "predict.py")
    encoder = model.info["encoder"]
    reqs = ["numpy>=1.26"] + ([REQUIREMENTS[encoder]] if REQUIREMENTS.get(encoder) else [])
    atomic_write_text(work / "requirements.txt", "\n".join(reqs) + "\n")
    atomic_write_json(work / "labels.json", model.labels)
    log("Checking the package against the engine ...")
    check = parity(run_dir, work, model)
    metrics = read_json(run_dir / "metrics.json")
    readme = (f"# Text classifier: {', '.join(model.labels)}\n\nEncoder: {encoder}, a linear head on its embeddings."
              f"\n\n    pip install -r requirements.txt\n    python predict.py --text \"...\" --json\n"
              f"    python predict.py texts.txt\n    python predict.py texts.csv --json\n\n"
              f"Test accuracy when trained: {metrics.get('test', {}).get('accuracy', 'n/a')}.\n")
    atomic_write_text(work / "README.md", readme)
    report = {"task": "text-classification", "model": metrics.get("model"), "encoder": encoder,
              "labels": model.labels, "created": datetime.now(UTC).isoformat(timespec="seconds"),
              "files": sorted(p.name for p in work.iterdir()) + ["export_report.json"], "requirements": reqs,
              "parity": check, "test": {k: metrics.get("test", {}).get(k) for k in ("accuracy", "macro_f1")}}
    atomic_write_json(work / "export_report.json", report)
    return report
