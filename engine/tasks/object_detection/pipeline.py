"""Object detection's own steps of the pipeline (engine.tasks.base.Task.hook): train, predict, evaluate, export.

The CLI, the runner and the app call the shared entry points (engine.training.orchestration.run,
engine.inference.predict_files / evaluate_run, engine.export.export_run); they hand a detection run to these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.fsutil import read_json


def train(ctx) -> dict[str, Any]:
    """Train the run of `ctx` (engine.training.common.Context); metrics.json's dict."""
    from engine.tasks.object_detection.training import train as train_detector

    return train_detector(ctx)


def predict_files(run_dir: str | Path, files: list[str], *, conf: float | None = None, iou: float | None = None,
                  max_det: int | None = None, **_: Any) -> dict[str, Any]:
    """{file as given: [{"label", "confidence", "box": [x1, y1, x2, y2]}] in pixels}; a file that cannot be read
    maps to {"error": sentence}."""
    from engine.preprocess import ImageLoadError, load_image
    from engine.tasks.object_detection.boxes import as_records
    from engine.tasks.object_detection.detector import load_run_detector

    detector = load_run_detector(run_dir)
    results: dict[str, Any] = {}
    good: list[tuple[str, Any]] = []
    for f in files:
        path = Path(f)
        if not path.is_file():
            results[f] = {"error": "no such file"}
            continue
        try:
            good.append((f, load_image(str(path))))
        except ImageLoadError as e:
            results[f] = {"error": f"this file {e}"}
            continue
        results[f] = []
    if good:
        found = detector.detect([im for _, im in good], conf=conf, iou=iou, max_det=max_det)
        for (f, _), dets in zip(good, found, strict=True):
            results[f] = as_records(dets, detector.labels)
    return results


def evaluate_run(run_dir: str | Path, data: str | None = None) -> dict[str, Any]:
    """The run's stored metrics, or fresh metrics of its best detector on other data (same class names)."""
    run_dir = Path(run_dir)
    if data is None:
        if not (run_dir / "metrics.json").exists():
            raise UserError(f"{run_dir} has no metrics yet: the run has not finished. Train it first "
                            f"(python -m engine train {run_dir}).")
        return read_json(run_dir / "metrics.json")
    from engine.tasks.object_detection.detector import load_run_detector
    from engine.tasks.object_detection.metrics import evaluate_items
    from engine.workspace import import_into_workspace

    dataset_dir, manifest, _ = import_into_workspace(data, task="object-detection")
    detector = load_run_detector(run_dir)
    unknown = sorted(set(manifest["classes"]) - set(detector.labels))
    if unknown:
        raise UserError(f"The data has classes the detector was not trained on: {', '.join(unknown[:5])}. "
                        f"It knows: {', '.join(detector.labels[:10])}.")
    metrics, _ = evaluate_items(detector, manifest["items"], dataset_dir)
    return {"data": metrics, "dataset": {"id": manifest["id"], "n": len(manifest["items"])}}


def export_build(run_dir: Path, work: Path, formats: tuple[str, ...], quantize: str | None, log) -> dict[str, Any]:
    """Write the export package of a detection run into `work` (engine.export.export_run makes it appear in one
    rename and zips it); the export report."""
    from engine.tasks.object_detection.export import build_package

    return build_package(run_dir, work, formats, quantize, log)


def summary(metrics: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(the `train --json` summary, the one line `train` prints) of a finished run's metrics."""
    brief = {k: metrics.get(k) for k in ("model", "mode", "mode_reason", "train_seconds")}
    parts = [f"{metrics.get('model')} ({metrics.get('mode')}) trained in {float(metrics.get('train_seconds') or 0):.1f} s"]
    for s in ("val", "test"):
        if s in metrics:
            m = metrics[s]
            brief[s] = {k: m.get(k) for k in ("map50", "map50_95", "precision", "recall", "n")}
            parts.append(f"{s}: mAP50 {m['map50']:.3f}, mAP50-95 {m['map50_95']:.3f} (n={m.get('n')})")
    return brief, "; ".join(parts)


def format_report(m: dict[str, Any]) -> str:
    """A split's detection metrics as the lines `python -m engine evaluate` prints."""
    lines = [f"mAP50 {m['map50']:.3f}  mAP50-95 {m['map50_95']:.3f}  precision {m.get('precision', 0):.3f}  "
             f"recall {m.get('recall', 0):.3f}  (conf {m.get('conf')}, {m.get('n')} pictures, "
             f"{m.get('n_boxes')} boxes)"]
    for label, row in (m.get("per_class") or {}).items():
        lines.append(f"  {label:24} AP50 {row.get('ap50', 0):.3f}  AP50-95 {row.get('ap50_95', 0):.3f}  "
                     f"boxes {row.get('n_boxes', 0)}")
    return "\n".join(lines)
