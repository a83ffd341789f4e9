"""Data tab: import a folder or a zip (or the sample), or build class bins here; then see class counts,
thumbnails and problems, and leave flagged files out.

This module holds the import forms and what an import does to the project; the class bins are in
ui.tabs.data_bins, the report on the imported data (counts, thumbnails, problems) in ui.tabs.data_report.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from engine.errors import UserError
from engine.tasks import Task
from ui.i18n import error_text, t
from ui.state import PRIVATE, Ctx, discard_upload, message, project_dataset, project_or_none, project_task
from ui.tabs import data_report, detection_views
from ui.tabs.annotate import build_annotator
from ui.tabs.data_bins import bins_root, build_bins
from ui.tabs.data_report import flagged_choices, no_problems_yet, problems_table

ID = "data"
FOLDER_SOURCES = {"folder", "csv"}  # the folder field takes a folder of class folders or a CSV file's path


def build(ctx: Ctx, tab: gr.Tab) -> None:
    T = ctx.texts.make
    ws = ctx.ws
    intro = T(gr.Markdown, {"value": "data.intro"})
    # The import forms are those the project's task takes (TaskUI.data_sources); each handler checks it again.
    with gr.Row(equal_height=True) as folder_row:
        folder = T(gr.Textbox, {"label": "data.folder", "placeholder": "data.folder_placeholder"},
                   scale=4, elem_id="k-folder", interactive=not ctx.shared)
        import_folder = T(gr.Button, {"value": "data.import_folder"}, variant="primary", scale=1,
                          elem_id="k-import-folder", interactive=not ctx.shared)
    with gr.Row(equal_height=True):
        upload = T(gr.File, {"label": "data.zip"}, file_types=[".zip"], type="filepath", height=150, scale=4,
                   elem_id="k-zip")
        sample = T(gr.Button, {"value": "data.sample"}, scale=1, elem_id="k-data-sample")
    with gr.Column() as bins_box:
        use_bins = build_bins(ctx, tab)
    def use_labels(pid, lang, source, progress):
        name = project_or_none(ws, pid)["name"]
        return report_message(lang, import_into_project(ctx, pid, source, progress, lang, name=name))

    ctx.then_refresh(build_annotator(ctx, use_labels)[1])  # the box editor, for a task whose examples are boxes
    status = gr.Markdown(elem_id="k-data-status")
    summary = gr.Markdown(elem_id="k-data-summary")
    with gr.Row():
        with gr.Column(scale=1):
            counts_title = T(gr.Markdown, {"value": "data.counts"})
            counts = gr.HTML(elem_id="k-counts")
        thumbs = T(gr.Gallery, {"label": "data.thumbs"}, columns=6, height=300, allow_preview=True, scale=2,
                   elem_id="k-thumbs")
    problems = T(gr.Dataframe, {"label": "data.problems"}, interactive=False, wrap=True, max_height=300,
                 column_widths=["25%", "20%", "55%"],
                 elem_id="k-problems")
    with gr.Group(visible=False) as exclude_box:
        T(gr.Markdown, {"value": "exclude.title"})
        flagged = T(gr.CheckboxGroup, {"label": "exclude.files"}, choices=[], value=[], elem_id="k-flagged")
        exclude = T(gr.Button, {"value": "exclude.button"}, variant="secondary", elem_id="k-exclude")

    ws = ctx.ws

    def report(pid, lang):
        hidden = gr.update(choices=[], value=[]), gr.update(visible=False)
        if project_or_none(ws, pid) is None:
            return t(lang, "common.no_project"), None, None, no_problems_yet(lang), *hidden
        found = project_dataset(ws, pid)
        if found is None:
            return t(lang, "data.empty"), None, None, no_problems_yet(lang), *hidden
        dataset_dir, manifest = found
        choices = flagged_choices(lang, dataset_dir)
        views = detection_views if project_task(ws, pid).ui.example == "boxes" else data_report
        return (views.summary_text(lang, manifest), views.counts_html(lang, manifest),
                views.thumbnails(dataset_dir, manifest),
                problems_table(lang, dataset_dir), gr.update(choices=choices, value=[]),
                gr.update(visible=bool(choices)))

    def refresh(pid, lang):
        task = project_task(ws, pid)
        shown = import_forms(task)
        # The words of the task's kind of data (said again after the language's relabelling).
        words = ("det.data_intro", "det.zip", "det.folder_placeholder", "det.counts") if task.ui.example == "boxes" \
            else ("data.intro", "data.zip", "data.folder_placeholder", "data.counts")
        return (*report(pid, lang), gr.update(visible=shown["folder"]), gr.update(visible=shown["zip"],
                label=t(lang, words[1])), gr.update(visible=shown["bins"]), t(lang, words[0]),
                gr.update(placeholder=t(lang, words[2])), t(lang, words[3]))

    ctx.on_refresh(refresh, [summary, counts, thumbs, problems, flagged, exclude_box, folder_row, upload, bins_box,
                             intro, folder, counts_title])

    def on_folder(pid, lang, path, progress=gr.Progress()):  # noqa: B008 - Gradio injects a fresh tracker per call
        if ctx.shared:
            return t(lang, "data.no_folder_when_shared")
        if project_or_none(ws, pid) is None:
            return t(lang, "common.no_project")
        if not import_forms(project_task(ws, pid))["folder"]:
            return t(lang, "data.not_for_task")
        path = str(path or "").strip().strip('"').strip("'")
        if not path:
            return t(lang, "data.need_folder")
        try:
            return report_message(lang, import_into_project(ctx, pid, Path(path).expanduser(), progress, lang))
        except Exception as e:
            return _failed(lang, e)

    ctx.then_refresh(import_folder.click(on_folder, [ctx.pid, ctx.lang, folder], status, **PRIVATE))
    ctx.then_refresh(folder.submit(on_folder, [ctx.pid, ctx.lang, folder], status, **PRIVATE))

    def on_zip(pid, lang, file, progress=gr.Progress()):  # noqa: B008 - Gradio injects a fresh tracker per call
        if project_or_none(ws, pid) is None:
            return t(lang, "common.no_project"), None
        if not file or not isinstance(file, str) or not Path(file).is_file():  # an upload is a file, never a folder
            return gr.skip(), gr.skip()
        if not import_forms(project_task(ws, pid))["zip"]:
            discard_upload(file)
            return t(lang, "data.not_for_task"), None
        try:
            return report_message(lang, import_into_project(ctx, pid, Path(file), progress, lang)), None
        except Exception as e:
            return _failed(lang, e), None
        finally:
            discard_upload(file)  # the dataset is copied into the workspace; the upload would only fill the disk

    ctx.then_refresh(upload.upload(on_zip, [ctx.pid, ctx.lang, upload], [status, upload], **PRIVATE))

    def on_sample(lang, progress=gr.Progress()):  # noqa: B008 - Gradio injects a fresh tracker per call
        return sample_project(ctx, lang, progress)

    ctx.then_refresh(sample.click(on_sample, [ctx.lang], [ctx.pid, ctx.tabs, status], **PRIVATE))

    def on_use(pid, lang, progress=gr.Progress()):  # noqa: B008 - Gradio injects a fresh tracker per call
        project = project_or_none(ws, pid)
        if project is None:
            return t(lang, "common.no_project")
        if not import_forms(project_task(ws, pid))["bins"]:
            return t(lang, "data.not_for_task")
        root = bins_root(ctx, pid)
        from engine.data.bins import list_classes

        if sum(1 for _, n in list_classes(root) if n >= 2) < 2:
            return t(lang, "bins.need_two")
        try:
            return report_message(lang, import_into_project(ctx, pid, root, progress, lang, name=project["name"]))
        except Exception as e:
            return _failed(lang, e)

    ctx.then_refresh(use_bins.click(on_use, [ctx.pid, ctx.lang], status, **PRIVATE))

    def on_exclude(pid, lang, ticked):
        if project_or_none(ws, pid) is None:
            return t(lang, "common.no_project")
        found = project_dataset(ws, pid)
        files = [f for f in ticked or [] if isinstance(f, str)] if isinstance(ticked, list) else []
        if found is None or not files:
            return t(lang, "exclude.none_ticked")
        try:
            return exclude_from_project(ctx, pid, found[0], files, lang)
        except UserError as e:
            return error_text(lang, e)
        except Exception as e:
            return message(lang, e)

    ctx.then_refresh(exclude.click(on_exclude, [ctx.pid, ctx.lang, flagged], status, **PRIVATE))


def import_forms(task: Task) -> dict[str, bool]:
    """Which of the tab's import forms the task takes: the folder field (a folder, or a CSV's path), the zip
    upload, the class bins."""
    sources = set(task.ui.data_sources)
    return {"folder": bool(FOLDER_SOURCES & sources), "zip": "zip" in sources, "bins": "bins" in sources}


def exclude_from_project(ctx: Ctx, pid: str, dataset_dir: Path, files: list[str], lang: str = "en") -> str:
    """Rebuild the project's dataset without `files` (a new dataset; the old one stays for its runs)."""
    from engine.data.importer import exclude_files

    result = exclude_files(dataset_dir, files, ctx.ws.datasets_dir)
    _use_dataset(ctx, pid, result)
    key = "exclude.reused" if result.reused else "exclude.done"
    return t(lang, key, n=len(set(files)), total=len(result.manifest["items"]), id=result.manifest["id"])


def _use_dataset(ctx: Ctx, pid: str, result) -> None:
    ctx.ws.register_dataset(result.manifest, result.dataset_dir, project_id=pid)
    ctx.ws.update_project_state(pid, dataset_dir=str(result.dataset_dir), dataset_id=result.manifest["id"],
                                n_images=len(result.manifest["items"]))


def import_into_project(ctx: Ctx, pid: str, source: Path, progress=None, lang: str = "en", name: str | None = None):
    """Import `source` (by the project's task's importer) into the workspace and make it the project's dataset;
    returns the ImportReport."""

    def report(done: int, total: int) -> None:
        if progress is not None and total:
            progress((done, total), desc=t(lang, "data.checking"))

    # Shared: a CSV's rows must not reach files of this computer outside what was uploaded with it.
    importer = project_task(ctx.ws, pid).part("dataset").import_data
    result = importer(source, ctx.ws.datasets_dir, progress=report, name=name, confined=ctx.shared)
    _use_dataset(ctx, pid, result)
    return result


def sample_project(ctx: Ctx, lang: str, progress=None):
    """A new project holding the sample dataset: (project id, tab to show, message)."""
    from ui.sample import write_sample

    try:
        folder = write_sample(ctx.ws.root / "samples")
        pid = ctx.ws.create_project(t(lang, "projects.sample_name"))
        result = import_into_project(ctx, pid, folder, progress, lang)
    except Exception as e:
        return gr.skip(), gr.skip(), message(lang, e)
    ctx.settings.set(last_project=pid)
    ctx.ws.update_project_state(pid, tab="data")
    return pid, gr.Tabs(selected="data"), report_message(lang, result)


def report_message(lang: str, report) -> str:
    """One line on what the import did, in the page's language."""
    n = len(report.manifest["items"])
    k = len(report.manifest["classes"])
    bad = sum(1 for p in report.problems if p["severity"] == "error")
    key = "data.reused" if report.reused else "data.imported"
    text = t(lang, key, n=n, k=k)
    if bad:
        text += " " + t(lang, "data.left_out", n=bad)
    # Near-duplicates stay in the dataset, so without this line an inflated score would come with no hint.
    near = sum(1 for p in report.problems if p["kind"] in ("near_conflict", "near_leak"))
    if near:
        text += " " + t(lang, "data.near_warning", n=near)
    return text


def _failed(lang: str, e: BaseException) -> str:
    if isinstance(e, UserError):
        return t(lang, "data.import_failed", why=error_text(lang, e))
    return message(lang, e)
