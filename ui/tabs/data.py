"""Data tab: import a folder or a zip (or the sample), then see class counts, thumbnails and problems."""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path

import gradio as gr
import pandas as pd

from engine.errors import UserError
from ui.i18n import t
from ui.state import PRIVATE, Ctx, message, project_dataset, project_or_none

ID = "data"
THUMBS_PER_CLASS = 6
THUMB_SIDE = 128
MAX_PROBLEM_ROWS = 500


def build(ctx: Ctx, tab: gr.Tab) -> None:
    T = ctx.texts.make
    T(gr.Markdown, {"value": "data.intro"})
    with gr.Row(equal_height=True):
        folder = T(gr.Textbox, {"label": "data.folder", "placeholder": "data.folder_placeholder"},
                   scale=4, elem_id="k-folder", interactive=not ctx.shared)
        import_folder = T(gr.Button, {"value": "data.import_folder"}, variant="primary", scale=1,
                          elem_id="k-import-folder", interactive=not ctx.shared)
    with gr.Row(equal_height=True):
        upload = T(gr.File, {"label": "data.zip"}, file_types=[".zip"], type="filepath", height=150, scale=4,
                   elem_id="k-zip")
        sample = T(gr.Button, {"value": "data.sample"}, scale=1, elem_id="k-data-sample")
    status = gr.Markdown(elem_id="k-data-status")
    summary = gr.Markdown(elem_id="k-data-summary")
    with gr.Row():
        with gr.Column(scale=1):
            T(gr.Markdown, {"value": "data.counts"})
            counts = gr.HTML(elem_id="k-counts")
        thumbs = T(gr.Gallery, {"label": "data.thumbs"}, columns=6, height=300, allow_preview=True, scale=2,
                   elem_id="k-thumbs")
    problems = T(gr.Dataframe, {"label": "data.problems"}, interactive=False, wrap=True, max_height=300,
                 elem_id="k-problems")

    ws = ctx.ws

    def refresh(pid, lang):
        if project_or_none(ws, pid) is None:
            return t(lang, "common.no_project"), None, None, None
        found = project_dataset(ws, pid)
        if found is None:
            return t(lang, "data.empty"), None, None, None
        dataset_dir, manifest = found
        return (_summary(lang, manifest), _counts(lang, manifest), _thumbnails(dataset_dir, manifest),
                _problems(lang, dataset_dir))

    ctx.on_refresh(refresh, [summary, counts, thumbs, problems])

    def on_folder(pid, lang, path, progress=gr.Progress()):  # noqa: B008 - Gradio injects a fresh tracker per call
        if ctx.shared:
            return t(lang, "data.no_folder_when_shared")
        if project_or_none(ws, pid) is None:
            return t(lang, "common.no_project")
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
        if not file or not isinstance(file, str):
            return gr.skip(), gr.skip()
        try:
            return report_message(lang, import_into_project(ctx, pid, Path(file), progress, lang)), None
        except Exception as e:
            return _failed(lang, e), None

    ctx.then_refresh(upload.upload(on_zip, [ctx.pid, ctx.lang, upload], [status, upload], **PRIVATE))

    def on_sample(lang, progress=gr.Progress()):  # noqa: B008 - Gradio injects a fresh tracker per call
        return sample_project(ctx, lang, progress)

    ctx.then_refresh(sample.click(on_sample, [ctx.lang], [ctx.pid, ctx.tabs, status], **PRIVATE))


def import_into_project(ctx: Ctx, pid: str, source: Path, progress=None, lang: str = "en"):
    """Import `source` into the workspace and make it the project's dataset; returns the ImportReport."""
    from engine.data import import_dataset

    def report(done: int, total: int) -> None:
        if progress is not None and total:
            progress((done, total), desc=t(lang, "data.checking"))

    result = import_dataset(source, ctx.ws.datasets_dir, progress=report)
    ctx.ws.register_dataset(result.manifest, result.dataset_dir, project_id=pid)
    ctx.ws.update_project_state(pid, dataset_dir=str(result.dataset_dir), dataset_id=result.manifest["id"],
                                n_images=len(result.manifest["items"]))
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
    return text


def _failed(lang: str, e: BaseException) -> str:
    if isinstance(e, UserError):
        return t(lang, "data.import_failed", why=str(e))
    return message(lang, e)


def _split_counts(manifest: dict) -> Counter:
    return Counter((it["label"], it["split"]) for it in manifest["items"])


def _summary(lang: str, manifest: dict) -> str:
    counts = _split_counts(manifest)
    per_split = {s: sum(v for (_, sp), v in counts.items() if sp == s) for s in ("train", "val", "test")}
    per_class = Counter(it["label"] for it in manifest["items"])
    smallest = min(per_class.values()) if per_class else 0
    lines = [t(lang, "data.summary", name=manifest.get("name") or manifest["id"], n=len(manifest["items"]),
               k=len(manifest["classes"]), train=per_split["train"], val=per_split["val"], test=per_split["test"])]
    if smallest < 10:
        lines.append(t(lang, "data.few_images", n=smallest))
    return "\n\n".join(lines)


def _counts(lang: str, manifest: dict) -> str:
    """A bar per class, split into training, validation and test pictures (plain HTML: any number of classes)."""
    counts = _split_counts(manifest)
    totals = Counter(it["label"] for it in manifest["items"])
    most = max(totals.values(), default=1)
    rows = []
    for label in manifest["classes"]:
        parts = "".join(f'<div class="k-{s}" style="width:{100 * counts.get((label, s), 0) / most:.1f}%" '
                        f'title="{html.escape(t(lang, "split." + s))}: {counts.get((label, s), 0)}"></div>'
                        for s in ("train", "val", "test"))
        rows.append(f'<div class="k-count-row"><span class="k-count-name">{html.escape(label)}</span>'
                    f'<div class="k-count-bar">{parts}</div><span>{totals[label]}</span></div>')
    legend = " ".join(f'<span class="k-dot k-{s}"></span>{html.escape(t(lang, "split." + s))}'
                      for s in ("train", "val", "test"))
    return f'<div class="k-counts">{"".join(rows)}<div class="k-legend">{legend}</div></div>'


def _thumbnails(dataset_dir: Path, manifest: dict) -> list[tuple]:
    """A few small pictures per class (in memory: Gradio may not serve the workspace itself)."""
    from PIL import Image

    shown: Counter = Counter()
    out = []
    for it in manifest["items"]:
        if shown[it["label"]] >= THUMBS_PER_CLASS:
            continue
        try:
            with Image.open(dataset_dir / it["file"]) as img:
                img.draft("RGB", (THUMB_SIDE, THUMB_SIDE))
                thumb = img.convert("RGB")
                thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
        except OSError:
            continue
        shown[it["label"]] += 1
        out.append((thumb, it["label"]))
    return sorted(out, key=lambda x: manifest["classes"].index(x[1]))


def _problems(lang: str, dataset_dir: Path) -> pd.DataFrame | None:
    try:
        items = json.loads((dataset_dir / "problems.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        items = []
    columns = [t(lang, "data.col_file"), t(lang, "data.col_problem"), t(lang, "data.col_details")]
    order = {"error": 0, "warning": 1, "info": 2}
    items = sorted(items, key=lambda p: order.get(p.get("severity"), 3))[:MAX_PROBLEM_ROWS]
    rows = [[p.get("file", ""), _kind(lang, p.get("kind", "")), p.get("message", "")] for p in items]
    if not rows:
        rows = [["", t(lang, "data.no_problems"), ""]]
    return pd.DataFrame(rows, columns=columns)


def _kind(lang: str, kind: str) -> str:
    key = f"problem.{kind}"
    try:
        return t(lang, key)
    except KeyError:
        return kind
