"""Text classification's own steps of the pipeline (engine.tasks.base.Task.hook): train, predict, explain,
evaluate, export. The CLI and the app call the shared entry points; they hand a text run to these."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError
from engine.fsutil import read_json
from engine.tasks.text_classification.training import load_run_model


def train(ctx) -> dict[str, Any]:
    """Train the run of `ctx` (engine.training.common.Context); metrics.json's dict."""
    from engine.tasks.text_classification.training import train as train_text

    return train_text(ctx)


def texts_of_file(path: Path) -> list[tuple[str, str]]:
    """(where, text) of each text in a file: a CSV/TSV's text column (else its first), or each non-empty line."""
    from engine.tasks.text_classification.textio import TEXT_COLUMNS, decode, looks_binary

    raw = path.read_bytes()
    decoded = None if looks_binary(raw) else decode(raw)
    if decoded is None:
        raise ValueError("is not UTF-8 or Windows-1251 text")
    text = decoded[0]
    if path.suffix.lower() in (".csv", ".tsv"):
        rows = list(csv.reader(text.splitlines(), dialect=csv.excel_tab if path.suffix.lower() == ".tsv"
                               else csv.Sniffer().sniff(text[:20000], delimiters=",;\t|")))
        header = [c.strip().lower() for c in rows[0]] if rows else []
        col = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
        body, first = (rows[1:], 2) if col is not None else (rows, 1)
        col = col or 0
        return [(f"{path}:{i}", r[col]) for i, r in enumerate(body, first) if len(r) > col and r[col].strip()]
    return [(f"{path}:{i}", line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]


def predict_files(run_dir: str | Path, files: list[str], *, text: str | list[str] | None = None, top_k: int = 3,
                  **_: Any) -> list[dict[str, Any]]:
    """Per text (the `text` given, each line of a .txt, each row of a CSV): label, probability and top-k; a file
    that cannot be read gets an `error` instead."""
    from engine.tasks.image_classification.metrics import top_predictions

    model = load_run_model(run_dir)
    results: list[dict[str, Any]] = []
    good: list[tuple[int, str]] = []
    given = [text] if isinstance(text, str) else list(text or [])
    for t in given:
        good.append((len(results), t))
        results.append({"file": "--text", "text": t})
    for f in files:
        path = Path(f)
        if not path.is_file():
            results.append({"file": f, "error": "no such file"})
            continue
        try:
            found = texts_of_file(path)
        except (ValueError, OSError, csv.Error) as e:
            results.append({"file": f, "error": f"this file {e}"})
            continue
        if not found:
            results.append({"file": f, "error": "this file has no text"})
        for where, t in found:
            good.append((len(results), t))
            results.append({"file": where, "text": t})
    if good:
        probs = model.predict_proba([t for _, t in good])
        for (slot, _), p in zip(good, probs, strict=True):
            results[slot].update(top_predictions(model.labels, p, top_k))
    return results


def explain_text(run_dir: str | Path, text: str) -> list[dict[str, Any]]:
    """Which words pushed the decision: [{"token", "weight", "start", "end"}] (weight > 0: towards the top label)."""
    from engine.tasks.text_classification.textmodel import explain

    if not text or not text.strip():
        raise UserError("Type a text to explain.")
    return explain(load_run_model(run_dir), text)


def evaluate_run(run_dir: str | Path, data: str | None = None) -> dict[str, Any]:
    """The run's stored metrics, or fresh metrics on other texts (same class names)."""
    run_dir = Path(run_dir)
    if data is None:
        if not (run_dir / "metrics.json").exists():
            raise UserError(f"{run_dir} has no metrics yet: the run has not finished. Train it first "
                            f"(python -m engine train {run_dir}).")
        return read_json(run_dir / "metrics.json")
    from engine.tasks.image_classification.metrics import compute_metrics
    from engine.workspace import import_into_workspace

    _, manifest, _ = import_into_workspace(data, task="text-classification")
    model = load_run_model(run_dir)
    unknown = sorted(set(manifest["classes"]) - set(model.labels))
    if unknown:
        raise UserError(f"The data has classes the model was not trained on: {', '.join(unknown[:5])}. "
                        f"The model knows: {', '.join(model.labels[:10])}.")
    index = {name: i for i, name in enumerate(model.labels)}
    items = manifest["items"]
    probs = model.predict_proba([it["text"] for it in items])
    y = np.array([index[it["label"]] for it in items])
    return {"data": compute_metrics(y, probs, model.labels), "dataset": {"id": manifest["id"], "n": len(items)}}


def export_build(run_dir: Path, work: Path, formats: tuple[str, ...], quantize: str | None, log) -> dict[str, Any]:
    """Write the package of a text run into `work` (engine.export.export_run renames and zips it); its report."""
    from engine.tasks.text_classification.export import build_package

    return build_package(Path(run_dir), Path(work), log)


def summary(metrics: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(the `train --json` summary, the one line `train` prints) of a finished run's metrics."""
    brief = {k: metrics.get(k) for k in ("model", "encoder", "mode", "mode_reason", "train_seconds",
                                         "texts_per_second")}
    parts = [f"{metrics.get('encoder')} + linear head trained in {float(metrics.get('train_seconds') or 0):.1f} s"]
    for s in ("val", "test"):
        if s in metrics:
            m = metrics[s]
            brief[s] = {k: m.get(k) for k in ("accuracy", "balanced_accuracy", "macro_f1", "n")}
            parts.append(f"{s}: accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} (n={m.get('n')})")
    return brief, "; ".join(parts)


def format_report(m: dict[str, Any]) -> str:
    """A split's metrics as the lines `python -m engine evaluate` prints (the image classifier's report)."""
    from engine.tasks.image_classification.metrics import format_report as classification_report

    return classification_report(m)
