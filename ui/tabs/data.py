"""Data tab: import a folder or a zip (or the sample), or build class bins here; then see class counts,
thumbnails and problems, and leave flagged files out."""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path

import gradio as gr
import pandas as pd

from engine.errors import UserError
from ui.i18n import error_text, problem_text, t
from ui.state import PRIVATE, Ctx, discard_upload, message, project_dataset, project_or_none

ID = "data"
THUMBS_PER_CLASS = 6
THUMB_SIDE = 128
MAX_PROBLEM_ROWS = 500
BIN_THUMBS = 30


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
    use_bins = _build_bins(ctx, tab)
    status = gr.Markdown(elem_id="k-data-status")
    summary = gr.Markdown(elem_id="k-data-summary")
    with gr.Row():
        with gr.Column(scale=1):
            T(gr.Markdown, {"value": "data.counts"})
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

    def refresh(pid, lang):
        hidden = gr.update(choices=[], value=[]), gr.update(visible=False)
        if project_or_none(ws, pid) is None:
            return t(lang, "common.no_project"), None, None, _no_problems_yet(lang), *hidden
        found = project_dataset(ws, pid)
        if found is None:
            return t(lang, "data.empty"), None, None, _no_problems_yet(lang), *hidden
        dataset_dir, manifest = found
        choices = _flagged_choices(lang, dataset_dir)
        return (_summary(lang, manifest), _counts(lang, manifest), _thumbnails(dataset_dir, manifest),
                _problems(lang, dataset_dir), gr.update(choices=choices, value=[]),
                gr.update(visible=bool(choices)))

    ctx.on_refresh(refresh, [summary, counts, thumbs, problems, flagged, exclude_box])

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
        if not file or not isinstance(file, str) or not Path(file).is_file():  # an upload is a file, never a folder
            return gr.skip(), gr.skip()
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


def _build_bins(ctx: Ctx, tab: gr.Tab) -> gr.Button:
    """Class bins: add, name, rename and remove classes, drop pictures or webcam photos into the chosen one.

    Returns the "Use these pictures" button, whose import the caller wires to the tab's status and refresh.
    """
    from engine.data import bins

    T = ctx.texts.make
    ws = ctx.ws
    T(gr.Markdown, {"value": "bins.title"})
    T(gr.Markdown, {"value": "bins.intro"})
    with gr.Row(equal_height=True):
        # Custom values are allowed so that a class another window just renamed reaches the handler, which
        # checks it (the browser is not trusted anyway) and says so in the page's language.
        chosen = T(gr.Dropdown, {"label": "bins.class"}, choices=[], value=None, allow_custom_value=True,
                   interactive=True, scale=2, elem_id="k-bin-class")
        name = T(gr.Textbox, {"label": "bins.name", "placeholder": "bins.name_placeholder"}, max_lines=1, scale=2,
                 elem_id="k-bin-name")
        with gr.Column(scale=1, min_width=160):
            add = T(gr.Button, {"value": "bins.add"}, size="sm", elem_id="k-bin-add")
            rename = T(gr.Button, {"value": "bins.rename"}, size="sm", elem_id="k-bin-rename")
            remove = T(gr.Button, {"value": "bins.remove"}, size="sm", variant="stop", elem_id="k-bin-remove")
    with gr.Group(visible=False) as confirm_box:
        confirm_text = gr.Markdown(elem_id="k-bin-confirm-text")
        with gr.Row():
            confirm = T(gr.Button, {"value": "bins.remove_yes"}, variant="stop", elem_id="k-bin-remove-yes")
            cancel = T(gr.Button, {"value": "bins.remove_no"}, elem_id="k-bin-remove-no")
    with gr.Row(equal_height=True):
        # No file_types: Gradio would refuse a whole drop in English for one PDF; bins.add_files refuses it alone.
        files = T(gr.File, {"label": "bins.files"}, file_count="multiple", type="filepath", height=150, scale=3,
                  elem_id="k-bin-files")
        webcam = T(gr.Image, {"label": "bins.webcam"}, sources=["webcam"], type="filepath", height=200, scale=2,
                   elem_id="k-bin-webcam")
    with gr.Row():
        overview = gr.HTML(elem_id="k-bins")
        gallery = T(gr.Gallery, {"label": "bins.gallery"}, columns=8, height=200, allow_preview=False, scale=2,
                    elem_id="k-bin-gallery")
    remove_picture = T(gr.Button, {"value": "bins.remove_picture"}, size="sm", interactive=False,
                       elem_id="k-bin-remove-picture")
    picture = gr.State(None)  # the file name of the picture selected in the gallery
    bin_status = gr.Markdown(elem_id="k-bin-status")
    use = T(gr.Button, {"value": "bins.use"}, variant="primary", elem_id="k-bin-use")
    view_outputs = [chosen, overview, gallery]

    def view(pid, lang, picked=None):
        if project_or_none(ws, pid) is None:
            return gr.update(choices=[], value=None), "", None
        root = bins_root(ctx, pid)
        classes = bins.list_classes(root)
        names = [c for c, _ in classes]
        picked = picked if picked in names else (names[0] if names else None)
        return (gr.update(choices=names, value=picked), _bins_overview(lang, classes, picked),
                _bin_thumbnails(root, picked))

    ctx.on_refresh(lambda pid, lang, picked: view(pid, lang, picked), view_outputs, inputs=[chosen])
    # Another window may have changed the bins: show them as they are on disk whenever the tab is opened.
    tab.select(lambda pid, lang, picked: view(pid, lang, picked), [ctx.pid, ctx.lang, chosen], view_outputs,
               show_progress="hidden", **PRIVATE)

    def act(pid, lang, picked, fn):
        """Run a bins change; (status, picked class after it) — errors become one sentence in `lang`."""
        if project_or_none(ws, pid) is None:
            return t(lang, "common.no_project"), picked
        try:
            return fn(bins_root(ctx, pid))
        except bins.CodedDataError as e:
            return error_text(lang, e), picked
        except Exception as e:
            return message(lang, e), picked

    def on_add(pid, lang, picked, typed):
        def do(root):
            wanted = typed if isinstance(typed, str) and typed.strip() else bins.unused_name(
                root, t(lang, "bins.default_name"))
            made = bins.add_class(root, wanted)
            return t(lang, "bins.class_added", name=made), made

        text, picked = act(pid, lang, picked, do)
        return text, "", *view(pid, lang, picked)

    add.click(on_add, [ctx.pid, ctx.lang, chosen, name], [bin_status, name, *view_outputs], **PRIVATE)
    name.submit(on_add, [ctx.pid, ctx.lang, chosen, name], [bin_status, name, *view_outputs], **PRIVATE)

    def on_rename(pid, lang, picked, typed):
        if not picked:
            return t(lang, "bins.pick_class"), gr.skip(), *view(pid, lang, picked)

        def do(root):
            made = bins.rename_class(root, picked, typed)
            return t(lang, "bins.renamed", name=made), made

        text, picked = act(pid, lang, picked, do)
        return text, "", *view(pid, lang, picked)

    rename.click(on_rename, [ctx.pid, ctx.lang, chosen, name], [bin_status, name, *view_outputs], **PRIVATE)

    def on_remove(pid, lang, picked):
        if project_or_none(ws, pid) is None or not picked:
            return gr.update(visible=False), "", t(lang, "bins.pick_class")
        try:
            n = len(bins.list_images(bins_root(ctx, pid), picked))
        except bins.CodedDataError as e:
            return gr.update(visible=False), "", error_text(lang, e)
        return gr.update(visible=True), t(lang, "bins.remove_confirm", name=picked, n=n), ""

    remove.click(on_remove, [ctx.pid, ctx.lang, chosen], [confirm_box, confirm_text, bin_status], **PRIVATE)
    cancel.click(lambda: gr.update(visible=False), None, confirm_box, **PRIVATE)

    def on_confirm(pid, lang, picked):
        def do(root):
            bins.remove_class(root, picked)
            return t(lang, "bins.removed", name=picked), None

        text, picked = act(pid, lang, picked, do)
        return gr.update(visible=False), text, "", *view(pid, lang, picked)

    confirm.click(on_confirm, [ctx.pid, ctx.lang, chosen], [confirm_box, bin_status, name, *view_outputs],
                  **PRIVATE)

    def on_pick(pid, lang, picked):
        return (picked if isinstance(picked, str) else "", gr.update(visible=False), None,
                gr.update(interactive=False), *view(pid, lang, picked))

    chosen.input(on_pick, [ctx.pid, ctx.lang, chosen],
                 [name, confirm_box, picture, remove_picture, *view_outputs], **PRIVATE)

    def add_pictures(pid, lang, picked, given: list[tuple[str, str]]):
        if not picked:
            return t(lang, "bins.pick_class"), picked

        def do(root):
            result = bins.add_files(root, picked, given)
            lines = [t(lang, "bins.added", n=len(result.added), name=picked)]
            if result.refused:
                lines.append(t(lang, "bins.not_added"))
                lines += [f"- {t(lang, f'refusal.{code}', file=f, **params)}" for f, code, params in result.refused]
            return "\n".join(lines), picked

        return act(pid, lang, picked, do)

    def on_files(pid, lang, picked, paths):
        paths = paths if isinstance(paths, list) else [paths] if isinstance(paths, str) else []
        given = [(p, Path(p).name) for p in paths if isinstance(p, str)]
        if not given:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        text, picked = add_pictures(pid, lang, picked, given)
        return text, None, *view(pid, lang, picked)

    files.upload(on_files, [ctx.pid, ctx.lang, chosen, files], [bin_status, files, *view_outputs],
                 show_progress="minimal", **PRIVATE)

    def on_webcam(pid, lang, picked, path):
        # A snapshot fires `change`; so does clearing it afterwards, which must do nothing.
        if not path or not isinstance(path, str):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        text, picked = add_pictures(pid, lang, picked, [(path, "webcam" + Path(path).suffix)])
        return text, None, *view(pid, lang, picked)

    def on_select_picture(evt: gr.SelectData):
        caption = evt.value.get("caption") if isinstance(evt.value, dict) else None
        return (caption, gr.update(interactive=True)) if isinstance(caption, str) else (None, gr.update())

    gallery.select(on_select_picture, None, [picture, remove_picture], show_progress="hidden", **PRIVATE)

    def on_remove_picture(pid, lang, picked, file_name):
        if not file_name:
            return t(lang, "bins.pick_picture"), None, gr.update(interactive=False), *view(pid, lang, picked)

        def do(root):
            bins.remove_image(root, picked, file_name)
            return t(lang, "bins.picture_removed", file=file_name), picked

        text, picked = act(pid, lang, picked, do)
        return text, None, gr.update(interactive=False), *view(pid, lang, picked)

    remove_picture.click(on_remove_picture, [ctx.pid, ctx.lang, chosen, picture],
                         [bin_status, picture, remove_picture, *view_outputs], **PRIVATE)

    webcam.change(on_webcam, [ctx.pid, ctx.lang, chosen, webcam], [bin_status, webcam, *view_outputs],
                  show_progress="minimal", **PRIVATE)
    return use


def bins_root(ctx: Ctx, pid: str) -> Path:
    """The project's class bins, inside its own folder of the workspace (never a folder of the person's)."""
    return ctx.ws.project_dir(pid) / "bins"


def _bins_overview(lang: str, classes: list[tuple[str, int]], picked: str | None) -> str:
    if not classes:
        return f"<p>{html.escape(t(lang, 'bins.none'))}</p>"
    items = []
    for c, n in classes:
        text = html.escape(t(lang, "bins.row", name=c, n=n))
        items.append(f"<li><b>{text}</b></li>" if c == picked else f"<li>{text}</li>")
    return f'<ul class="k-bin-list">{"".join(items)}</ul>'


def _bin_thumbnails(root: Path, picked: str | None) -> list[tuple] | None:
    """The first pictures of the chosen bin, in memory (Gradio may not serve the workspace itself)."""
    if not picked:
        return None
    from PIL import Image

    from engine.data.bins import CodedDataError, list_images

    try:
        paths = list_images(root, picked)
    except CodedDataError:
        return None
    out = []
    for path in paths[:BIN_THUMBS]:
        try:
            with Image.open(path) as img:
                img.draft("RGB", (THUMB_SIDE, THUMB_SIDE))
                thumb = img.convert("RGB")
                thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
        except OSError:
            continue
        out.append((thumb, path.name))
    return out


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
    """Import `source` into the workspace and make it the project's dataset; returns the ImportReport."""
    from engine.data import import_dataset

    def report(done: int, total: int) -> None:
        if progress is not None and total:
            progress((done, total), desc=t(lang, "data.checking"))

    # Shared: a CSV's rows must not reach files of this computer outside what was uploaded with it.
    result = import_dataset(source, ctx.ws.datasets_dir, progress=report, name=name, confined=ctx.shared)
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


def _flagged_choices(lang: str, dataset_dir: Path) -> list[tuple[str, str]]:
    """(label, file) for each file of the dataset that the check warned about, at most MAX_PROBLEM_ROWS."""
    from engine.data.importer import flagged_files

    try:
        found = flagged_files(dataset_dir)
    except (OSError, ValueError, UserError):
        return []
    out = []
    for entry in found[:MAX_PROBLEM_ROWS]:
        kinds = ", ".join(dict.fromkeys(_kind(lang, p.get("kind", "")) for p in entry["problems"]))
        out.append((f"{entry['file']} — {kinds}", entry["file"]))
    return out


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


def _problem_columns(lang: str) -> list[str]:
    return [t(lang, "data.col_file"), t(lang, "data.col_problem"), t(lang, "data.col_details")]


def _no_problems_yet(lang: str) -> pd.DataFrame:
    """The problems table before any import: its headers, no rows (not Gradio's bare 1, 2, 3)."""
    return pd.DataFrame([], columns=_problem_columns(lang))


def _problems(lang: str, dataset_dir: Path) -> pd.DataFrame | None:
    try:
        items = json.loads((dataset_dir / "problems.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        items = []
    columns = _problem_columns(lang)
    order = {"error": 0, "warning": 1, "info": 2}
    items = sorted(items, key=lambda p: order.get(p.get("severity"), 3))[:MAX_PROBLEM_ROWS]
    rows = [[p.get("file", ""), _kind(lang, p.get("kind", "")), problem_text(lang, p)] for p in items
            if isinstance(p, dict)]
    if not rows:
        rows = [["", t(lang, "data.no_problems"), ""]]
    return pd.DataFrame(rows, columns=columns)


def _kind(lang: str, kind: str) -> str:
    key = f"problem.{kind}"
    try:
        return t(lang, key)
    except KeyError:
        return kind
