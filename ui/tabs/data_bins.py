"""The Data tab's class bins: add, name, rename and remove classes, and drop pictures or webcam photos into
the chosen one; the bins live in the project's own folder of the workspace."""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from ui.i18n import error_text, t
from ui.state import PRIVATE, Ctx, message, project_or_none

THUMB_SIDE = 128
BIN_THUMBS = 30


def build_bins(ctx: Ctx, tab: gr.Tab) -> gr.Button:
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
