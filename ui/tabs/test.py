"""Test tab: try a finished model on a new picture (upload, webcam or paste): top classes, optional Grad-CAM."""

from __future__ import annotations

import gradio as gr

from engine.errors import UserError
from ui.i18n import t
from ui.state import (
    PRIVATE,
    Ctx,
    chosen_run_id,
    default_run,
    message,
    project_runs,
    project_task,
    run_choices,
    run_dir_of,
)
from ui.tabs.detection_views import empty_detections

ID = "test"
TOP_K = 5


def build(ctx: Ctx, tab: gr.Tab) -> None:
    T = ctx.texts.make
    ws = ctx.ws
    run = T(gr.Dropdown, {"label": "common.run"}, choices=[], value=None, interactive=True, elem_id="k-test-run")
    with gr.Row():
        with gr.Column():
            # One widget per kind of example; the project's task says which one shows (TaskUI.test_input).
            image = T(gr.Image, {"label": "test.image"}, type="filepath", sources=["upload", "webcam", "clipboard"],
                      height=320, elem_id="k-test-image")
            widgets = {"image": image}
            explain = T(gr.Checkbox, {"label": "test.gradcam", "info": "test.gradcam_info"}, value=False,
                        elem_id="k-test-cam-toggle")
            with gr.Group(visible=False) as thresholds:  # for a task whose answer is boxes
                conf = T(gr.Slider, {"label": "det.conf"}, minimum=0.01, maximum=0.99, step=0.01, value=0.25,
                         elem_id="k-test-conf")
                iou = T(gr.Slider, {"label": "det.iou"}, minimum=0.1, maximum=0.95, step=0.05, value=0.5,
                        elem_id="k-test-iou")
            go = T(gr.Button, {"value": "test.predict"}, variant="primary", elem_id="k-predict")
        with gr.Column():
            result = T(gr.Label, {"label": "test.result"}, num_top_classes=TOP_K, elem_id="k-test-label")
            boxed = T(gr.Image, {"label": "det.result"}, type="pil", interactive=False, height=320, visible=False,
                      elem_id="k-test-boxes")
            found = T(gr.Dataframe, {"label": "det.table"}, interactive=False, visible=False,
                      elem_id="k-test-detections")
            cam = T(gr.Image, {"label": "test.cam"}, type="pil", interactive=False, height=280, visible=False,
                    elem_id="k-test-cam")
            note = gr.Markdown(elem_id="k-test-note")

    def refresh(pid, lang):
        runs = project_runs(ws, pid)
        chosen = chosen_run_id(ws, pid)
        value = default_run(runs, chosen)
        hint = "" if value else t(lang, "test.no_run")
        task = project_task(ws, pid)
        boxes = task.ui.example == "boxes"
        return (gr.update(choices=run_choices(lang, runs, chosen), value=value), hint,
                *[gr.update(visible=task.ui.test_input == kind) for kind in widgets],
                gr.update(visible=bool(task.ui.explain)), gr.update(visible=boxes), gr.update(visible=boxes),
                gr.update(visible=boxes, value=empty_detections(lang)), gr.update(visible=not boxes),
                # The words of the kind of answer, said again after the language's relabelling.
                gr.update(label=t(lang, "det.image" if boxes else "test.image")),
                gr.update(value=t(lang, "det.predict" if boxes else "test.predict")))

    ctx.on_refresh(refresh, [run, note, *widgets.values(), explain, thresholds, boxed, found, result, image, go])

    def on_detect(pid, lang, run_id, path, conf_value, iou_value):
        if not path or not isinstance(path, str):
            return None, empty_detections(lang), t(lang, "test.need_image")
        try:
            from ui.tabs.detection_views import detect_picture  # torch, when asked

            drawn, table, n = detect_picture(lang, run_dir_of(ws, pid, run_id), path, conf_value, iou_value)
            return drawn, table, t(lang, "det.found", n=n)
        except Exception as e:
            return None, empty_detections(lang), message(lang, e)

    def on_detect_change(pid, lang, run_id, path, conf_value, iou_value):
        if not path:
            return None, empty_detections(lang), ""
        return on_detect(pid, lang, run_id, path, conf_value, iou_value)

    def on_predict(pid, lang, run_id, path, with_cam):
        with_cam = bool(with_cam) and bool(project_task(ws, pid).ui.explain)  # only where the task can say why
        if not path or not isinstance(path, str):
            return None, gr.update(visible=False), t(lang, "test.need_image")
        try:
            run_dir = run_dir_of(ws, pid, run_id)
            from engine.inference import predict_files

            (res,) = predict_files(run_dir, [path], top_k=TOP_K)
            if "error" in res:
                return None, gr.update(visible=False), t(lang, "test.bad_image", why=res["error"])
            probs = {r["label"]: r["prob"] for r in res["top"]}
            if not with_cam:
                return probs, gr.update(visible=False), ""
            from engine.explain import explain_file

            try:
                cam_result = explain_file(run_dir, path)
            except UserError as e:  # an imported ONNX-only package: the prediction stands, the reason beside it
                return probs, gr.update(visible=False), message(lang, e)
            return probs, gr.update(value=cam_result["overlay"], visible=True), t(lang, "test.cam_note",
                                                                                  label=cam_result["label"])
        except Exception as e:
            return None, gr.update(visible=False), message(lang, e)

    def on_image(pid, lang, run_id, path, with_cam):
        # Uploads, pastes and webcam snapshots all fire `change`; so does clearing, which just clears the answer.
        if not path:
            return None, gr.update(visible=False), ""
        return on_predict(pid, lang, run_id, path, with_cam)

    def answering(for_boxes, for_classes):
        """The handler of the project's kind of answer, boxes (TaskUI.example == "boxes") or classes, filling
        [boxed, found, result, cam, note]."""
        def run(pid, lang, run_id, path, with_cam, conf_value, iou_value):
            if project_task(ws, pid).ui.example == "boxes":
                drawn, table, text = for_boxes(pid, lang, run_id, path, conf_value, iou_value)
                return drawn, table, gr.skip(), gr.skip(), text
            probs, cam_update, text = for_classes(pid, lang, run_id, path, with_cam)
            return gr.skip(), gr.skip(), probs, cam_update, text
        return run

    inputs = [ctx.pid, ctx.lang, run, image, explain, conf, iou]
    outputs = [boxed, found, result, cam, note]
    go.click(answering(on_detect, on_predict), inputs, outputs, **PRIVATE)
    image.change(answering(on_detect_change, on_image), inputs, outputs, **PRIVATE)
    explain.input(on_predict, inputs[:5], [result, cam, note], **PRIVATE)
    for slider in (conf, iou):
        slider.release(on_detect_change, [ctx.pid, ctx.lang, run, image, conf, iou], [boxed, found, note], **PRIVATE)
