"""Using a finished run: predict image files, evaluate on its test split or on new data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError
from engine.fsutil import read_json


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def run_probabilities(run_dir: str | Path) -> tuple[list[str], Callable[[list[str]], np.ndarray]]:
    """(class names, files -> probabilities) of a finished run: an imported package through ONNX Runtime,
    any other run through its best PyTorch checkpoint."""
    from engine.open_model import package_predictor

    package = package_predictor(run_dir)
    if package is not None:
        return package.labels, package.predict_proba
    from engine.checkpoint import load_run_model
    from engine.embed import predict_probs

    model, ckpt = load_run_model(run_dir)
    labels = list(ckpt["labels"])
    return labels, lambda files: predict_probs(model, files, ckpt["preprocess"], len(labels), device=_device())


def predict_files(run_dir: str | Path, files: list[str], top_k: int = 3, **options: Any) -> Any:
    """Per file: label, probability and top-k; a file that can't be read gets an `error` instead.

    A task with its own predictions (object detection: boxes per file) answers in its own shape
    (engine.tasks.base.Task.hook); `options` are its settings (conf, iou, ...)."""
    from engine.config import task_of_run
    from engine.preprocess import ImageLoadError, load_image

    own = task_of_run(run_dir).hook("predict_files")
    if own is not None:
        return own(run_dir, files, top_k=top_k, **options)

    labels, probabilities = run_probabilities(run_dir)
    results: list[dict[str, Any]] = []
    good: list[tuple[int, str]] = []
    for f in files:
        path = Path(f)
        if not path.is_file():
            results.append({"file": f, "error": "no such file"})
            continue
        try:
            load_image(str(path))
        except ImageLoadError as e:
            results.append({"file": f, "error": f"this file {e}"})
            continue
        good.append((len(results), str(path)))
        results.append({"file": f})
    if good:
        views = task_of_run(run_dir).part("metrics")
        probs = probabilities([p for _, p in good])
        for (slot, _), p in zip(good, probs, strict=True):
            results[slot].update(views.top_predictions(labels, p, top_k))
    return results


def evaluate_run(run_dir: str | Path, data: str | None = None) -> dict[str, Any]:
    """The run's stored metrics, or fresh metrics of its best checkpoint on other data."""
    from engine.config import task_of_run

    own = task_of_run(run_dir).hook("evaluate_run")
    if own is not None:
        return own(run_dir, data)
    run_dir = Path(run_dir)
    metrics_file = run_dir / "metrics.json"
    if data is None:
        if not metrics_file.exists():
            raise UserError(f"{run_dir} has no metrics yet: the run has not finished. Train it first "
                            f"(python -m engine train {run_dir}).")
        return read_json(metrics_file)
    from engine.workspace import import_into_workspace

    task = task_of_run(run_dir)
    dataset_dir, manifest, _ = import_into_workspace(data, task=task.name)
    labels, probabilities = run_probabilities(run_dir)
    unknown = sorted(set(manifest["classes"]) - set(labels))
    if unknown:
        raise UserError(f"The data has classes the model was not trained on: {', '.join(unknown[:5])}. "
                        f"The model knows: {', '.join(labels[:10])}.")
    index = {name: i for i, name in enumerate(labels)}
    items = manifest["items"]
    probs = probabilities([str(dataset_dir / it["file"]) for it in items])
    y = np.array([index[it["label"]] for it in items])
    metrics = task.part("metrics").compute_metrics(y, probs, labels)
    return {"data": metrics, "dataset": {"id": manifest["id"], "n": len(items)}}
