"""The box editor of the Data tab (a project whose examples are pictures with boxes): add classes, drop
pictures, draw / move / delete boxes on one picture at a time, and build the dataset from them.

Everything is kept by engine.tasks.object_detection.annotations (the project's own folder), written at each
change. Once the project has a finished detector, a picture without labels opens with that detector's boxes
drawn in (label assist): they are kept as soon as the user changes one, or with "Keep the suggested boxes".
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from engine.errors import UserError
from ui.i18n import t
from ui.state import (
    PRIVATE,
    Ctx,
    discard_upload,
    finished_runs,
    message,
    project_or_none,
    project_runs,
    project_task,
)

PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#469990",
           "#9a6324", "#800000", "#808000", "#000075", "#a9a9a9"]
# Next / previous picture from the keyboard (when no text field has the focus): → and ←, or N and P. The
# annotator's own keys stay as they are: Delete removes the selected box, C draws, D drags, E edits.
SHORTCUTS_JS = """
if (!window.konstruktorAnnotateKeys) {
  window.konstruktorAnnotateKeys = true;
  document.addEventListener('keydown', (e) => {
    const el = document.activeElement;
    if (el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.isContentEditable)) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const next = ['ArrowRight', 'n', 'N'].includes(e.key), prev = ['ArrowLeft', 'p', 'P'].includes(e.key);
    if (!next && !prev) return;
    const button = document.querySelector(next ? '#k-ann-next' : '#k-ann-prev');
    if (!button || button.offsetParent === null) return;
    e.preventDefault();
    button.click();
  });
}
"""
_detectors: dict[str, Any] = {}
_detectors_lock = threading.Lock()


def wanted(task) -> bool:
    """Whether the project's task labels its pictures with boxes in the app."""
    return task.ui.example == "boxes" and "annotate" in task.ui.data_sources


def store_of(ctx: Ctx, pid: str):
    from engine.tasks.object_detection.annotations import project_store

    return project_store(ctx.ws, pid)


def build_annotator(ctx: Ctx, use_source: Callable[..., str]) -> tuple[gr.Column, Any]:
    """The editor, hidden until the project's task wants it; (its column, the "Use these pictures" button's
    event, for the Data tab to chain its refresh after).

    `use_source(pid, lang, folder, progress)` imports a folder of labels as the project's dataset and says what
    it did (the Data tab's own import).
    """
    from gradio_image_annotation import image_annotator

    T = ctx.texts.make
    ws = ctx.ws
    with gr.Column(visible=False, elem_id="k-annotate") as box:
        T(gr.Markdown, {"value": "ann.title"})
        with gr.Row(equal_height=True):
            class_name = T(gr.Textbox, {"label": "ann.class_name", "placeholder": "ann.class_placeholder"},
                           scale=3, elem_id="k-ann-class")
            add_class = T(gr.Button, {"value": "ann.add_class"}, scale=1, elem_id="k-ann-add-class")
        classes_md = gr.Markdown(elem_id="k-ann-classes")
        drop = T(gr.File, {"label": "ann.drop"}, file_count="multiple", file_types=["image"], type="filepath",
                 height=120, elem_id="k-ann-drop")
        progress = gr.Markdown(elem_id="k-ann-progress")
        annotator = image_annotator(value=None, label_list=[], image_type="filepath", sources=[],
                                    show_clear_button=False, show_remove_button=True, show_download_button=False,
                                    use_default_label=True, height=480, show_label=False, elem_id="k-annotator")
        where = gr.Markdown(elem_id="k-ann-where")
        with gr.Row():
            prev = T(gr.Button, {"value": "ann.prev"}, elem_id="k-ann-prev")
            nxt = T(gr.Button, {"value": "ann.next"}, elem_id="k-ann-next")
            empty = T(gr.Checkbox, {"label": "ann.no_objects", "info": "ann.no_objects_info"}, value=False,
                      elem_id="k-ann-empty")
            accept = T(gr.Button, {"value": "ann.accept"}, visible=False, elem_id="k-ann-accept")
            remove = T(gr.Button, {"value": "ann.remove"}, variant="stop", elem_id="k-ann-remove")
        T(gr.Markdown, {"value": "ann.keys"})
        use = T(gr.Button, {"value": "ann.use"}, variant="primary", elem_id="k-ann-use")
        status = gr.Markdown(elem_id="k-ann-status")
        gr.HTML("", js_on_load=SHORTCUTS_JS, elem_id="k-ann-keys")
    current = gr.State(None)  # the id of the picture shown
    shown = gr.State([])  # the boxes put into the editor by the app, to tell the user's edits from them

    def view(pid, lang, picture_id):
        """Everything the editor shows for one picture (the first unlabelled one when `picture_id` is None)."""
        if project_or_none(ws, pid) is None or not wanted(project_task(ws, pid)):
            return _blank(lang)
        store = store_of(ctx, pid)
        pictures = store.pictures()
        classes = store.classes
        labelled, total = store.progress()
        head = [_classes_text(lang, classes), t(lang, "ann.progress", done=labelled, total=total)]
        if not pictures:
            return [*head, gr.update(value=None, label_list=classes, label_colors=_colors(classes)),
                    None, [],
                    t(lang, "ann.no_pictures"), False, gr.update(visible=False)]
        ids = [p["id"] for p in pictures]
        if picture_id not in ids:
            from engine.tasks.object_detection.annotations import is_labelled

            picture_id = next((p["id"] for p in pictures if not is_labelled(p)), ids[0])
        entry = pictures[ids.index(picture_id)]
        boxes, suggested = entry["boxes"], False
        if not boxes and not entry["background"]:
            boxes = _suggestions(ws, pid, store.path_of(picture_id))
            suggested = bool(boxes)
        names = list(dict.fromkeys([*classes, *(b["label"] for b in boxes)]))
        value = {"image": _picture(store.path_of(picture_id)), "boxes": [_to_editor(b, names) for b in boxes]}
        line = t(lang, "ann.where", i=ids.index(picture_id) + 1, n=len(ids), name=entry["name"])
        if suggested:
            line += " " + t(lang, "ann.suggested", n=len(boxes))
        return [*head, gr.update(value=value, label_list=names, label_colors=_colors(names)), picture_id,
                _key(value["boxes"]), line, bool(entry["background"]), gr.update(visible=suggested)]

    view_outputs = [classes_md, progress, annotator, current, shown, where, empty, accept]

    def refresh(pid, lang):
        return [gr.update(visible=project_or_none(ws, pid) is not None and wanted(project_task(ws, pid))),
                *view(pid, lang, None)]

    ctx.on_refresh(refresh, [box, *view_outputs])

    def guarded(fn):
        def run(pid, lang, *args):
            if project_or_none(ws, pid) is None or not wanted(project_task(ws, pid)):
                return [*_blank(lang), t(lang, "common.no_project")]
            try:
                return [*fn(pid, lang, *args), ""]
            except Exception as e:
                return [*view(pid, lang, args[0] if args else None), message(lang, e)]
        return run

    def on_add_class(pid, lang, picture_id, name):
        store_of(ctx, pid).add_class(str(name or ""))
        return view(pid, lang, picture_id)

    add_class.click(guarded(on_add_class), [ctx.pid, ctx.lang, current, class_name], [*view_outputs, status],
                    **PRIVATE).then(lambda: "", None, class_name, **PRIVATE)
    class_name.submit(guarded(on_add_class), [ctx.pid, ctx.lang, current, class_name], [*view_outputs, status],
                      **PRIVATE).then(lambda: "", None, class_name, **PRIVATE)

    def on_drop(pid, lang, picture_id, files):
        files = [f for f in (files or []) if isinstance(f, str)]
        try:
            added, refused = store_of(ctx, pid).add_pictures([(f, Path(f).name) for f in files])
        finally:
            for f in files:
                discard_upload(f)
        out = view(pid, lang, picture_id)
        note = t(lang, "ann.added", n=added) + "".join(f"\n\n- {r}" for r in refused)
        return [*out, note]

    def dropped(pid, lang, picture_id, files):
        if project_or_none(ws, pid) is None or not wanted(project_task(ws, pid)):
            return [*_blank(lang), t(lang, "common.no_project"), None]
        try:
            return [*on_drop(pid, lang, picture_id, files), None]
        except Exception as e:
            return [*view(pid, lang, picture_id), message(lang, e), None]

    drop.upload(dropped, [ctx.pid, ctx.lang, current, drop], [*view_outputs, status, drop], **PRIVATE)

    def on_edit(pid, lang, picture_id, value, before):
        """The user drew, moved, relabelled or deleted a box: keep the picture's boxes as they are now."""
        if not picture_id or not isinstance(value, dict):
            return [gr.skip()] * (len(view_outputs) + 1)
        boxes = [b for b in value.get("boxes") or [] if isinstance(b, dict)]
        if _key(boxes) == before:  # the app's own update coming back, not an edit
            return [gr.skip()] * (len(view_outputs) + 1)
        store = store_of(ctx, pid)
        store.set_boxes(picture_id, [_from_editor(b) for b in boxes])
        labelled, total = store.progress()
        return [_classes_text(lang, store.classes), t(lang, "ann.progress", done=labelled, total=total),
                gr.skip(), gr.skip(), _key(boxes), gr.skip(), False if boxes else gr.skip(),
                gr.update(visible=False), ""]

    annotator.change(guarded_edit(ws, on_edit), [ctx.pid, ctx.lang, current, annotator, shown],
                     [*view_outputs, status], show_progress="hidden", **PRIVATE)

    def step(offset):
        def go(pid, lang, picture_id):
            ids = [p["id"] for p in store_of(ctx, pid).pictures()]
            if not ids:
                return view(pid, lang, None)
            i = ids.index(picture_id) if picture_id in ids else 0
            return view(pid, lang, ids[(i + offset) % len(ids)])
        return go

    prev.click(guarded(step(-1)), [ctx.pid, ctx.lang, current], [*view_outputs, status], **PRIVATE)
    nxt.click(guarded(step(1)), [ctx.pid, ctx.lang, current], [*view_outputs, status], **PRIVATE)

    def on_empty(pid, lang, picture_id, checked):
        if picture_id:
            store_of(ctx, pid).set_background(picture_id, bool(checked))
        return view(pid, lang, picture_id)

    empty.input(guarded(on_empty), [ctx.pid, ctx.lang, current, empty], [*view_outputs, status], **PRIVATE)

    def on_accept(pid, lang, picture_id, value):
        if picture_id and isinstance(value, dict):
            store_of(ctx, pid).set_boxes(picture_id, [_from_editor(b) for b in value.get("boxes") or []
                                                      if isinstance(b, dict)])
        return view(pid, lang, picture_id)

    accept.click(guarded(on_accept), [ctx.pid, ctx.lang, current, annotator], [*view_outputs, status], **PRIVATE)

    def on_remove(pid, lang, picture_id):
        store = store_of(ctx, pid)
        ids = [p["id"] for p in store.pictures()]
        if picture_id in ids:
            store.remove_picture(picture_id)
            ids.remove(picture_id)
        return view(pid, lang, None)

    remove.click(guarded(on_remove), [ctx.pid, ctx.lang, current], [*view_outputs, status], **PRIVATE)

    def on_use(pid, lang, progress=gr.Progress()):  # noqa: B008 - Gradio injects a fresh tracker per call
        project = project_or_none(ws, pid)
        if project is None or not wanted(project_task(ws, pid)):
            return t(lang, "common.no_project")
        work = Path(tempfile.mkdtemp(prefix="konstruktor-ann-"))
        try:
            source = store_of(ctx, pid).to_source(work / "labels")
            return use_source(pid, lang, source, progress)
        except UserError as e:
            return t(lang, "data.import_failed", why=str(e))
        except Exception as e:
            return message(lang, e)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    used = use.click(on_use, [ctx.pid, ctx.lang], status, **PRIVATE)
    return box, used


def guarded_edit(ws, fn):
    """An edit for the project's own task only; a failure said in the status line, the editor left as it is."""
    def run(pid, lang, *args):
        if project_or_none(ws, pid) is None or not wanted(project_task(ws, pid)):
            return [gr.skip()] * 9  # the editor clearing itself as the page loads: nothing to say
        try:
            return fn(pid, lang, *args)
        except Exception as e:
            return [gr.skip()] * 8 + [message(lang, e)]
    return run


def _blank(lang: str) -> list:
    return ["", "", gr.update(value=None), None, [], "", False, gr.update(visible=False)]


def _classes_text(lang: str, classes: list[str]) -> str:
    if not classes:
        return t(lang, "ann.no_classes")
    return t(lang, "ann.classes", names=", ".join(f"**{c}**" for c in classes))


def _colors(names: list[str]) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(len(names))]


def _picture(path: Path):
    """The picture as an image in memory: Gradio may serve its own cache, never the workspace."""
    from PIL import Image

    with Image.open(path) as img:
        return img.convert("RGB")


def _to_editor(b: dict, names: list[str]) -> dict:
    x1, y1, x2, y2 = b["box"]
    color = PALETTE[names.index(b["label"]) % len(PALETTE)] if b["label"] in names else PALETTE[0]
    rgb = tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
    return {"xmin": round(x1), "ymin": round(y1), "xmax": round(x2), "ymax": round(y2), "label": b["label"],
            "color": rgb}


def _from_editor(b: dict) -> dict:
    return {"label": str(b.get("label") or ""), "box": [b.get("xmin"), b.get("ymin"), b.get("xmax"), b.get("ymax")]}


def _key(boxes: list[dict]) -> list:
    """Boxes as the editor gives them back, for comparison: label and whole-pixel corners."""
    out = []
    for b in boxes:
        try:
            out.append([str(b.get("label") or ""), *(round(float(b[k])) for k in ("xmin", "ymin", "xmax", "ymax"))])
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _suggestions(ws, pid: str, picture: Path) -> list[dict]:
    """The boxes the project's newest finished detector sees on `picture` (label assist); [] without one."""
    run_dir = _assist_run(ws, pid)
    if run_dir is None:
        return []
    try:
        from engine.tasks.object_detection.boxes import as_records
        from engine.tasks.object_detection.detector import load_run_detector

        with _detectors_lock:
            key = f"{run_dir}:{(run_dir / 'checkpoints' / 'best.pt').stat().st_mtime_ns}"
            if key not in _detectors:
                _detectors.clear()
                _detectors[key] = load_run_detector(run_dir)
            detector = _detectors[key]
        (found,) = detector.detect([str(picture)])
        return [{"label": r["label"], "box": r["box"]} for r in as_records(found, detector.labels)]
    except Exception:  # a suggestion is a help, never a reason the picture cannot be labelled
        import logging

        logging.getLogger("konstruktor.ui").exception("label assist failed")
        return []


def _assist_run(ws, pid: str) -> Path | None:
    for r in finished_runs(project_runs(ws, pid)):
        path = Path(r["path"])
        if (path / "checkpoints" / "best.pt").exists():
            return path
    return None
