"""Projects tab: create, open, rename and delete projects, or start from the sample."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from engine.errors import CodedError, UserError
from engine.tasks import DEFAULT_TASK, get_task, task_names
from ui.i18n import error_text, t
from ui.state import PRIVATE, Ctx, project_or_none, task_title

ID = "projects"
MAX_NAME = 80


def build(ctx: Ctx, tab: gr.Tab) -> None:
    T = ctx.texts.make
    T(gr.Markdown, {"value": "projects.intro"})
    with gr.Row(equal_height=True):
        name = T(gr.Textbox, {"label": "projects.new_name", "placeholder": "projects.new_placeholder"},
                 max_length=MAX_NAME, scale=3, elem_id="k-new-name")
        # Chosen once: a project's data, models and views all belong to its task.
        task = T(gr.Dropdown, {"label": "projects.task", "info": "projects.task_info", "choices": _task_choices},
                 value=DEFAULT_TASK, interactive=True, scale=2, elem_id="k-new-task")
        create = T(gr.Button, {"value": "projects.create"}, variant="primary", scale=1, elem_id="k-create")
        sample = T(gr.Button, {"value": "projects.sample"}, scale=1, elem_id="k-sample")
    status = gr.Markdown(elem_id="k-projects-status")
    table = T(gr.Dataframe, {"label": "projects.list"}, interactive=False, wrap=True,
              elem_id="k-projects-table")
    with T(gr.Accordion, {"label": "projects.manage"}, open=False, elem_id="k-manage"):
        with gr.Row(equal_height=True):
            new_name = T(gr.Textbox, {"label": "projects.rename_to"}, max_length=MAX_NAME, scale=3)
            rename = T(gr.Button, {"value": "projects.rename"}, scale=1)
        delete = T(gr.Button, {"value": "projects.delete"}, variant="stop", elem_id="k-delete")
        with gr.Group(visible=False) as confirm_box:
            confirm_text = gr.Markdown()
            with gr.Row():
                confirm = T(gr.Button, {"value": "projects.delete_yes"}, variant="stop", elem_id="k-delete-yes")
                cancel = T(gr.Button, {"value": "projects.delete_no"})

    ws = ctx.ws

    def refresh(pid, lang):
        rows = []
        for p in ws.list_projects():
            runs = ws.list_runs(p["id"])
            n = sum(1 for r in runs if r["status"] == "done")
            mark = "▶ " if p["id"] == pid else ""
            rows.append([mark + p["name"], task_title(lang, p["task"]), p["state"].get("n_images", ""), n,
                         p["updated"][:16].replace("T", " ")])
        current = project_or_none(ws, pid)
        return (pd.DataFrame(rows, columns=_headers(lang)), current["name"] if current else "", gr.update(visible=False))

    ctx.on_refresh(refresh, [table, new_name, confirm_box])

    def on_create(name_value, task_name, lang):
        name_value = str(name_value or "").strip()[:MAX_NAME]
        if not name_value:
            return gr.skip(), gr.skip(), t(lang, "projects.need_name"), gr.skip()
        if task_name not in [n for n in task_names() if get_task(n).in_app]:  # the browser is not trusted
            return gr.skip(), gr.skip(), t(lang, "projects.bad_task"), gr.skip()
        try:
            pid = ws.create_project(name_value, task=task_name)
        except UserError as e:
            return gr.skip(), gr.skip(), error_text(lang, e), gr.skip()
        ctx.settings.set(last_project=pid)
        ws.update_project_state(pid, tab="data")
        return pid, gr.Tabs(selected="data"), t(lang, "projects.created", name=name_value), ""

    for trigger in (create.click, name.submit):
        ctx.then_refresh(trigger(on_create, [name, task, ctx.lang], [ctx.pid, ctx.tabs, status, name], **PRIVATE))

    def on_sample(lang, progress=gr.Progress()):  # noqa: B008 - Gradio injects a fresh tracker per call
        from ui.tabs.data import sample_project

        return sample_project(ctx, lang, progress)

    ctx.then_refresh(sample.click(on_sample, [ctx.lang], [ctx.pid, ctx.tabs, status], **PRIVATE))

    def on_rename(pid, value, lang):
        if project_or_none(ws, pid) is None:
            return t(lang, "common.no_project")
        value = str(value or "").strip()[:MAX_NAME]
        if not value:
            return t(lang, "projects.need_name")
        try:
            ws.rename_project(pid, value)
        except CodedError as e:
            return error_text(lang, e)
        return t(lang, "projects.renamed", name=value)

    ctx.then_refresh(rename.click(on_rename, [ctx.pid, new_name, ctx.lang], status, **PRIVATE))

    def on_delete(pid, lang):
        project = project_or_none(ws, pid)
        if project is None:
            return gr.update(visible=False), t(lang, "common.no_project")
        return gr.update(visible=True), t(lang, "projects.delete_confirm", name=project["name"])

    delete.click(on_delete, [ctx.pid, ctx.lang], [confirm_box, confirm_text], **PRIVATE)
    cancel.click(lambda: gr.update(visible=False), None, confirm_box, **PRIVATE)

    def on_confirm(pid, lang):
        project = project_or_none(ws, pid)
        if project is None:
            return None, gr.update(visible=False), t(lang, "common.no_project")
        active = ctx.runner.active_run(pid)
        if active is not None:
            return gr.skip(), gr.update(visible=False), t(lang, "projects.delete_busy")
        ws.delete_project(pid)
        rest = ws.list_projects()
        nxt = rest[0]["id"] if rest else None
        ctx.settings.set(last_project=nxt)
        return nxt, gr.update(visible=False), t(lang, "projects.deleted", name=project["name"])

    ctx.then_refresh(confirm.click(on_confirm, [ctx.pid, ctx.lang], [ctx.pid, confirm_box, status], **PRIVATE))


def _headers(lang: str) -> list[str]:
    return [t(lang, "projects.col_name"), t(lang, "projects.col_task"), t(lang, "projects.col_images"),
            t(lang, "projects.col_runs"), t(lang, "projects.col_updated")]


def _task_choices(lang: str) -> list[tuple[str, str]]:
    return [(task_title(lang, name), name) for name in task_names() if get_task(name).in_app]
