"""Export tab: take a finished model away. For now its PyTorch checkpoint and class names; the
ONNX inference package of engine/export plugs in here."""

from __future__ import annotations

import gradio as gr

from ui.i18n import t
from ui.state import (
    PRIVATE,
    Ctx,
    chosen_run_id,
    default_run,
    download_copy,
    message,
    project_runs,
    run_choices,
    run_dir_of,
)

ID = "export"


def build(ctx: Ctx, tab: gr.Tab) -> None:
    T = ctx.texts.make
    ws = ctx.ws
    T(gr.Markdown, {"value": "export.intro"})
    run = T(gr.Dropdown, {"label": "common.run"}, choices=[], value=None, interactive=True, elem_id="k-export-run")
    with gr.Row():
        checkpoint = T(gr.DownloadButton, {"label": "export.checkpoint"}, value=None, variant="primary",
                       interactive=False, elem_id="k-dl-checkpoint")
        labels = T(gr.DownloadButton, {"label": "export.labels"}, value=None, interactive=False, elem_id="k-dl-labels")
    note = gr.Markdown(elem_id="k-export-note")

    def prepare(pid, lang, run_id):
        """Stage the run's files where Gradio may serve them, and arm the buttons."""
        off = gr.update(value=None, interactive=False)
        if not run_id:
            return off, off, t(lang, "export.no_run")
        try:
            run_dir = run_dir_of(ws, pid, run_id)
            best = run_dir / "checkpoints" / "best.pt"
            names = run_dir / "labels.json"
            size = best.stat().st_size / 1e6
            return (gr.update(value=download_copy(best, f"{run_id}-best.pt"), interactive=True),
                    gr.update(value=download_copy(names, f"{run_id}-labels.json"), interactive=True),
                    t(lang, "export.ready", size=f"{size:.1f}"))
        except Exception as e:
            return off, off, message(lang, e)

    def refresh(pid, lang):
        runs = project_runs(ws, pid)
        chosen = chosen_run_id(ws, pid)
        value = default_run(runs, chosen)
        return gr.update(choices=run_choices(lang, runs, chosen), value=value)

    ctx.on_refresh(refresh, [run])
    outputs = [checkpoint, labels, note]
    run.input(prepare, [ctx.pid, ctx.lang, run], outputs, **PRIVATE)
    tab.select(prepare, [ctx.pid, ctx.lang, run], outputs, **PRIVATE)
