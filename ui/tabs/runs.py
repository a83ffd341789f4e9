"""Runs tab: every run of the project (sortable), the one chosen as the project's model, 2–4 picked runs
side by side (metrics, F1 per class, confusion matrices), and 'Open a model…' to bring one made elsewhere in."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from ui.i18n import t
from ui.i18n.strings import STRINGS
from ui.state import (
    PRIVATE,
    Ctx,
    chosen_run_id,
    finished_runs,
    header_widths,
    headline_accuracy,
    message,
    project_or_none,
    project_runs,
    project_task,
    run_choices,
)
from ui.tabs.open_model import open_upload

ID = "runs"
SIDE_BY_SIDE = (2, 4)


# The run id, model and mode: room for their text (the run id wraps at its dashes); the data fingerprint is 12 digits.
RUNS_WIDE_PX = {1: 220, 3: 165, 4: 120, 5: 125}

def build(ctx: Ctx, tab: gr.Tab) -> None:
    T = ctx.texts.make
    ws = ctx.ws
    T(gr.Markdown, {"value": "runs.intro"})
    table = T(gr.Dataframe, {"label": "runs.table", "column_widths": lambda lang: header_widths(_columns(lang), RUNS_WIDE_PX)},
              interactive=False, wrap=True, elem_id="k-runs-table")
    with gr.Row(equal_height=True):
        pick = T(gr.Dropdown, {"label": "common.run"}, choices=[], value=None, interactive=True, scale=3,
                 elem_id="k-runs-pick")
        choose = T(gr.Button, {"value": "runs.choose"}, variant="primary", scale=1, elem_id="k-choose")
        resume = T(gr.Button, {"value": "runs.resume"}, scale=1)
        reload = T(gr.Button, {"value": "runs.reload"}, scale=1)
    status = gr.Markdown(elem_id="k-runs-status")
    with gr.Row(equal_height=True):
        upload = T(gr.File, {"label": "runs.open_file"}, file_types=[".zip"], file_count="single", type="filepath",
                   scale=4, elem_id="k-open-file")
        open_btn = T(gr.Button, {"value": "runs.open"}, scale=1, elem_id="k-open-model")
    opened = gr.Markdown(elem_id="k-open-status")
    with gr.Row(equal_height=True):
        several = T(gr.CheckboxGroup, {"label": "runs.pick"}, choices=[], value=[], scale=4, elem_id="k-runs-several")
        side = T(gr.Button, {"value": "runs.side_by_side"}, scale=1, elem_id="k-runs-side")
    side_note = gr.Markdown(elem_id="k-runs-side-note")
    side_table = T(gr.Dataframe, {"label": "runs.sbs_summary"}, interactive=False, wrap=True, visible=False,
                   elem_id="k-runs-side-table")
    side_f1 = T(gr.Dataframe, {"label": "runs.sbs_per_class"}, interactive=False, wrap=True, visible=False,
                elem_id="k-runs-side-f1")
    side_cm = T(gr.Gallery, {"label": "runs.sbs_matrices"}, columns=4, height=380, allow_preview=True, visible=False,
                elem_id="k-runs-side-cm")

    def refresh(pid, lang, picked):
        runs = project_runs(ws, pid)
        chosen = chosen_run_id(ws, pid)
        rows = [_row(lang, r, chosen) for r in runs]
        choices = [(f"{r['id']} ({t(lang, 'status.' + r['status'])})", r["id"]) for r in runs]
        done = run_choices(lang, runs, chosen)
        keep = [p for p in (picked or []) if any(p == c[1] for c in done)]
        return (pd.DataFrame(rows, columns=_columns(lang)),
                gr.update(choices=choices, value=choices[0][1] if choices else None), "",
                gr.update(choices=done, value=keep))

    ctx.on_refresh(refresh, [table, pick, status, several], inputs=[several])

    def on_side(pid, lang, picked):
        try:
            return side_by_side(ws, pid, lang, picked)
        except Exception as e:
            hidden = gr.update(visible=False)
            return message(lang, e), hidden, hidden, hidden

    side.click(on_side, [ctx.pid, ctx.lang, several], [side_note, side_table, side_f1, side_cm], **PRIVATE)
    ctx.then_refresh(reload.click(lambda: None, None, None, **PRIVATE))

    def on_choose(pid, lang, run_id):
        run = _find(ws, pid, run_id)
        if run is None or run["status"] != "done":
            return t(lang, "runs.choose_done_only")
        ws.update_project_state(pid, chosen_run=run_id)
        return t(lang, "runs.chosen", run=run_id)

    ctx.then_refresh(choose.click(on_choose, [ctx.pid, ctx.lang, pick], status, **PRIVATE))

    def on_resume(pid, lang, run_id):
        run = _find(ws, pid, run_id)
        if run is None or run["status"] not in ("interrupted", "cancelled", "failed"):
            return t(lang, "runs.resume_only")
        try:
            ctx.runner.start(run["path"], project_id=pid)
        except Exception as e:
            return message(lang, e)
        return t(lang, "train.resuming")

    ctx.then_refresh(resume.click(on_resume, [ctx.pid, ctx.lang, pick], status, **PRIVATE))

    def on_open(pid, lang, path):
        return open_upload(ws, pid, lang, path)

    ctx.then_refresh(open_btn.click(on_open, [ctx.pid, ctx.lang, upload], opened, **PRIVATE))


def side_by_side(ws, pid, lang, picked) -> list:
    """[note, summary table, F1-per-class table, confusion matrices] for 2–4 finished runs of this project."""
    from engine.errors import UserError
    from engine.fsutil import read_json

    runs = {r["id"]: r for r in finished_runs(project_runs(ws, pid))} if project_or_none(ws, pid) else {}
    picked = [p for p in dict.fromkeys(picked or []) if isinstance(p, str)]
    if not SIDE_BY_SIDE[0] <= len(picked) <= SIDE_BY_SIDE[1] or any(p not in runs for p in picked):
        raise UserError(t(lang, "runs.pick_2_4"))
    chosen = [runs[p] for p in picked]
    metrics = []
    for r in chosen:
        try:
            metrics.append(read_json(Path(r["path"]) / "metrics.json"))
        except (OSError, ValueError):
            metrics.append(r.get("metrics") or {})
    names = _short_names(lang, chosen, metrics)
    summary = pd.DataFrame(_summary_rows(lang, chosen, metrics, project_task(ws, pid).ui.metrics),
                           columns=["", *names])
    classes = list(dict.fromkeys(c for m in metrics for c in (_scored(m)[1].get("per_class") or {})))
    per_class = pd.DataFrame([[c, *[_f1(m, c) for m in metrics]] for c in classes], columns=["", *names])
    gallery = []
    for r, name in zip(chosen, names, strict=True):
        png = Path(r["path"]) / "artifacts" / "confusion_matrix_test.png"
        if not png.exists():
            png = Path(r["path"]) / "artifacts" / "confusion_matrix_val.png"
        if png.exists():
            from PIL import Image

            with Image.open(png) as img:
                gallery.append((img.convert("RGB"), name))
    prints = {(m.get("dataset") or {}).get("fingerprint") for m in metrics}
    note = t(lang, "runs.same_data" if len(prints) == 1 else "runs.other_data")
    return [note, gr.update(value=summary, visible=True), gr.update(value=per_class, visible=bool(classes)),
            gr.update(value=gallery, visible=bool(gallery))]


def _short_names(lang, chosen: list[dict], metrics: list[dict]) -> list[str]:
    """Column titles: model · mode · start time, numbered when two would read the same."""
    names = []
    for r, m in zip(chosen, metrics, strict=True):
        mode = m.get("mode") or r.get("mode") or ""
        mode = t(lang, f"mode_short.{mode}") if mode in _MODES else mode
        names.append(f"{r.get('model') or '?'} · {mode} · {str(r.get('created') or '')[5:16].replace('T', ' ')}")
    return [f"{n} #{i + 1}" if names.count(n) > 1 else n for i, n in enumerate(names)]


def _scored(m: dict) -> tuple[str, dict]:
    split = next((s for s in ("test", "val") if isinstance(m.get(s), dict)), None)
    return (split or "", m.get(split) or {}) if split else ("", {})


def _f1(m: dict, cls: str):
    value = (_scored(m)[1].get("per_class") or {}).get(cls, {}).get("f1")
    return round(float(value), 3) if value is not None else None


# The side-by-side rows of the metrics a task names (TaskUI.metrics); another metric is a row under its own name.
METRIC_ROWS = {"accuracy": "runs.row_accuracy", "balanced_accuracy": "runs.row_balanced", "macro_f1": "runs.row_f1"}


def _summary_rows(lang, chosen: list[dict], metrics: list[dict], names: tuple[str, ...]) -> list[list]:
    def num(value, digits):
        return round(float(value), digits) if value is not None else None

    def cv(m):
        acc = (m.get("cv") or {}).get("accuracy")
        return f"{acc['mean']:.3f} ± {acc['std']:.3f}" if acc else ""

    def size(r):
        best = Path(r["path"]) / "checkpoints" / "best.pt"
        return round(best.stat().st_size / 1e6, 1) if best.exists() else None

    lines = [
        ("runs.row_model", [m.get("model") or r.get("model") for r, m in zip(chosen, metrics, strict=True)]),
        ("runs.row_mode", [t(lang, f"mode_short.{m['mode']}") if m.get("mode") in _MODES else m.get("mode")
                           for m in metrics]),
        ("runs.row_data", [((m.get("dataset") or {}).get("fingerprint") or "")[:12] for m in metrics]),
        ("runs.row_split", [t(lang, f"split.{_scored(m)[0]}") if _scored(m)[0] else "" for m in metrics]),
        *[(METRIC_ROWS.get(name, name), [num(_scored(m)[1].get(name), 3) for m in metrics]) for name in names],
        ("runs.row_cv", [cv(m) for m in metrics]),
        ("runs.row_time", [num(m.get("train_seconds"), 1) for m in metrics]),
        ("runs.row_size", [size(r) for r in chosen]),
        ("runs.row_params", [num(m["params"] / 1e6, 2) if m.get("params") else None for m in metrics]),
        ("runs.row_epochs", [f"{m.get('epochs_run')} ({m.get('best_epoch')})" if m.get("epochs_run") else ""
                             for m in metrics]),
    ]
    # Mixed types in a column confuse the table widget: every cell is shown as text.
    return [[t(lang, key) if key in STRINGS else key, *["" if v is None else str(v) for v in values]]
            for key, values in lines]


_MODES = ("linear-probe", "fine-tune", "full", "scratch")


def _find(ws, pid, run_id) -> dict | None:
    if project_or_none(ws, pid) is None:
        return None
    return next((r for r in project_runs(ws, pid) if r["id"] == run_id), None)


def _columns(lang) -> list[str]:
    return ["★", t(lang, "runs.col_run"), t(lang, "runs.col_status"), t(lang, "runs.col_model"),
            t(lang, "runs.col_mode"), t(lang, "runs.col_data"), t(lang, "common.accuracy"), "macro-F1",
            t(lang, "runs.col_time"), t(lang, "runs.col_size")]


def _row(lang, r: dict, chosen: str | None) -> list:
    m = r.get("metrics") or {}
    split = next((s for s in ("test", "val") if isinstance(m.get(s), dict)), None)
    acc = headline_accuracy(m)
    f1 = m[split]["macro_f1"] if split else None
    best = Path(r["path"]) / "checkpoints" / "best.pt"
    size = round(best.stat().st_size / 1e6, 1) if best.exists() else None
    mode = m.get("mode") or r.get("mode") or ""
    if r.get("mode") == "imported":  # a package says 'imported'; a run folder keeps its mode beside it
        mode = t(lang, "runs.imported") + ("" if mode == "imported" else f" · {mode}")
    return ["★" if r["id"] == chosen else "", r["id"], t(lang, "status." + r["status"]), r.get("model") or "",
            mode, (m.get("dataset") or {}).get("fingerprint", r.get("dataset_id") or "")[:12],
            round(acc, 3) if acc is not None else None, round(f1, 3) if f1 is not None else None,
            round(m["train_seconds"]) if m.get("train_seconds") is not None else None, size]
