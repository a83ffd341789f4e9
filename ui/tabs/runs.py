"""Runs tab: every run of the project side by side (sortable), and the one chosen as the project's model."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from ui.i18n import t
from ui.state import PRIVATE, Ctx, chosen_run_id, headline_accuracy, message, project_or_none, project_runs

ID = "runs"


def build(ctx: Ctx, tab: gr.Tab) -> None:
    T = ctx.texts.make
    ws = ctx.ws
    T(gr.Markdown, {"value": "runs.intro"})
    table = T(gr.Dataframe, {"label": "runs.table"}, interactive=False, wrap=True, elem_id="k-runs-table")
    with gr.Row(equal_height=True):
        pick = T(gr.Dropdown, {"label": "common.run"}, choices=[], value=None, interactive=True, scale=3,
                 elem_id="k-runs-pick")
        choose = T(gr.Button, {"value": "runs.choose"}, variant="primary", scale=1, elem_id="k-choose")
        resume = T(gr.Button, {"value": "runs.resume"}, scale=1)
        reload = T(gr.Button, {"value": "runs.reload"}, scale=1)
    status = gr.Markdown(elem_id="k-runs-status")

    def refresh(pid, lang):
        runs = project_runs(ws, pid)
        chosen = chosen_run_id(ws, pid)
        rows = [_row(lang, r, chosen) for r in runs]
        choices = [(f"{r['id']} ({t(lang, 'status.' + r['status'])})", r["id"]) for r in runs]
        return (pd.DataFrame(rows, columns=_columns(lang)),
                gr.update(choices=choices, value=choices[0][1] if choices else None), "")

    ctx.on_refresh(refresh, [table, pick, status])
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
    return ["★" if r["id"] == chosen else "", r["id"], t(lang, "status." + r["status"]), r.get("model") or "",
            mode, (m.get("dataset") or {}).get("fingerprint", r.get("dataset_id") or "")[:12],
            round(acc, 3) if acc is not None else None, round(f1, 3) if f1 is not None else None,
            round(m["train_seconds"]) if m.get("train_seconds") is not None else None, size]
