"""Evaluate tab: how good a finished run is, in plain words, and where it goes wrong (with Grad-CAM)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import gradio as gr
import pandas as pd

from engine.errors import UserError
from ui.i18n import error_text, t
from ui.i18n.strings import STRINGS
from ui.state import (
    PRIVATE,
    Ctx,
    chosen_run_id,
    default_run,
    message,
    project_dataset,
    project_runs,
    project_task,
    run_choices,
    run_dir_of,
)

ID = "evaluate"
MAX_WRONG = 24
THUMB_SIDE = 160
# How a card shows a metric the task names (TaskUI.metrics): its title, what it means, how its number reads.
# A metric not listed here still gets a card, under its own name.
METRIC_CARDS = {
    "accuracy": ("eval.accuracy", "eval.accuracy_means", "{:.0%}"),
    "balanced_accuracy": ("eval.balanced", "eval.balanced_means", "{:.0%}"),
    "macro_f1": ("eval.macro_f1", "eval.macro_f1_means", "{:.2f}"),
    "map50_95": ("eval.map50_95", "eval.map50_95_means", "{:.3g}"),
    "map50": ("eval.map50", "eval.map50_means", "{:.3g}"),
    "precision": ("eval.det_precision", "eval.det_precision_means", "{:.0%}"),
    "recall": ("eval.det_recall", "eval.det_recall_means", "{:.0%}"),
}


def build(ctx: Ctx, tab: gr.Tab) -> None:
    T = ctx.texts.make
    ws = ctx.ws
    run = T(gr.Dropdown, {"label": "common.run"}, choices=[], value=None, interactive=True, elem_id="k-eval-run")
    cards = gr.HTML(elem_id="k-eval-cards")
    cv = gr.Markdown(elem_id="k-eval-cv")
    # The views are those the project's task feeds (TaskUI.views); the others stay hidden.
    with gr.Row():
        with gr.Column(scale=1) as per_class_box:
            per_class = T(gr.Dataframe, {"label": "eval.per_class"}, interactive=False, elem_id="k-per-class")
            T(gr.Markdown, {"value": "eval.per_class_means"})
        with gr.Column(scale=1) as matrix_box:
            T(gr.Markdown, {"value": "eval.confusion"})
            matrix = gr.Image(type="pil", interactive=False, show_label=False, height=360, buttons=["fullscreen"],
                              elem_id="k-confusion")
    with gr.Column() as wrong_box:
        T(gr.Markdown, {"value": "eval.wrong_intro"})
        no_wrong = gr.Markdown(visible=False, elem_id="k-no-wrong")
        with gr.Row(visible=False) as wrong_row:
            wrong = T(gr.Gallery, {"label": "eval.wrong"}, columns=6, height=320, allow_preview=False, scale=3,
                      elem_id="k-wrong")
            with gr.Column(scale=2) as cam_box:
                cam = T(gr.Image, {"label": "eval.gradcam"}, type="pil", interactive=False, height=260,
                        elem_id="k-eval-cam")
                cam_text = gr.Markdown(elem_id="k-eval-cam-text")
    with gr.Column(visible=False) as det_box:  # a task whose views are per-class AP and pictures with boxes
        ap_table = T(gr.Dataframe, {"label": "det.per_class"}, interactive=False, elem_id="k-per-class-ap")
        T(gr.Markdown, {"value": "det.per_class_means"})
        det_gallery = T(gr.Gallery, {"label": "det.gallery"}, columns=4, height=420, allow_preview=True,
                        elem_id="k-det-gallery")
    wrong_files = gr.State([])

    def render(pid, lang, run_id):
        blank = ["", "", None, None, None, [], None, "", gr.update(visible=False), gr.update(visible=False),
                 None, []]
        if not run_id:
            return [t(lang, "eval.no_run"), *blank[1:]]
        try:
            run_dir = run_dir_of(ws, pid, run_id)
        except Exception as e:
            return [message(lang, e), *blank[1:]]
        from engine.fsutil import read_json

        metrics = read_json(run_dir / "metrics.json")
        try:
            metrics = _score_imported(ws, pid, run_dir, metrics)
        except UserError as e:
            return [error_text(lang, e), *blank[1:]]
        split = "test" if "test" in metrics else "val"
        m = metrics.get(split)
        if not isinstance(m, dict):
            return [t(lang, "eval.no_metrics"), *blank[1:]]
        task = project_task(ws, pid)
        cards_html = _cards(lang, m, split, metrics, task.ui.metrics)
        if "per_class_ap" in task.ui.views:
            from ui.tabs import detection_views

            found = project_dataset(ws, pid)
            data_dir = detection_views.dataset_of_run(run_dir, found[0] if found else None)
            return [cards_html, "", None, None, None, [], None, "", gr.update(visible=False),
                    gr.update(visible=False), detection_views.per_class_ap(lang, m),
                    detection_views.gallery(lang, run_dir, split, data_dir)]
        rows, files = _wrong(run_dir, split)
        none_wrong = gr.update(visible=not rows, value=t(lang, f"eval.no_wrong_{split}"))
        return [cards_html, _cv(lang, metrics.get("cv")), _per_class(lang, m),
                _matrix(run_dir, split), rows, files, None, "", none_wrong, gr.update(visible=bool(rows)), None, []]

    outputs = [cards, cv, per_class, matrix, wrong, wrong_files, cam, cam_text, no_wrong, wrong_row, ap_table,
               det_gallery]

    def refresh(pid, lang):
        runs = project_runs(ws, pid)
        chosen = chosen_run_id(ws, pid)
        value = default_run(runs, chosen)
        task = project_task(ws, pid)
        shown = {**shown_views(task), "per_class_ap": "per_class_ap" in task.ui.views}
        return [gr.update(choices=run_choices(lang, runs, chosen), value=value), *render(pid, lang, value),
                *[gr.update(visible=shown[view]) for view in ("per_class", "confusion_matrix", "misclassified",
                                                                "explain", "per_class_ap")]]

    ctx.on_refresh(refresh, [run, *outputs, per_class_box, matrix_box, wrong_box, cam_box, det_box])
    run.input(render, [ctx.pid, ctx.lang, run], outputs, **PRIVATE)

    def on_select(pid, lang, run_id, files, evt: gr.SelectData):
        index = evt.index if isinstance(evt.index, int) else None
        if index is None or not 0 <= index < len(files) or not shown_views(project_task(ws, pid))["explain"]:
            return gr.skip(), gr.skip()
        from engine.explain import explain_file

        try:
            run_dir = run_dir_of(ws, pid, run_id)
            item = files[index]
            result = explain_file(run_dir, item["file"])
        except Exception as e:
            return None, message(lang, e)
        return result["overlay"], t(lang, "eval.cam_text", true=item["true"], label=result["label"],
                                    prob=f"{result['prob']:.0%}")

    wrong.select(on_select, [ctx.pid, ctx.lang, run, wrong_files], [cam, cam_text], **PRIVATE)


def shown_views(task) -> dict[str, bool]:
    """Which of the tab's views the task feeds: per class, the confusion matrix, the misclassified pictures, and
    why the model chose (beside those pictures)."""
    views = set(task.ui.views)
    return {"per_class": "per_class" in views, "confusion_matrix": "confusion_matrix" in views,
            "misclassified": "misclassified" in views, "explain": "misclassified" in views and bool(task.ui.explain)}


def _score_imported(ws, pid, run_dir: Path, metrics: dict) -> dict:
    """An imported package has no scores of its own: it is scored on the project's data (again when that changed)."""
    from engine.open_model import is_imported_package, score_imported

    found = project_dataset(ws, pid) if is_imported_package(run_dir) else None
    if found is None or (metrics.get("dataset") or {}).get("id") == found[1]["id"]:
        return metrics
    return score_imported(run_dir, found[0])


def _card(number: str, title: str, what: str) -> str:
    return (f'<div class="k-card"><div class="k-num">{html.escape(number)}</div><b>{html.escape(title)}</b>'
            f'<div class="k-what">{html.escape(what)}</div></div>')


def _cards(lang, m: dict, split: str, metrics: dict, names: tuple[str, ...]) -> str:
    """A card for each of the task's metrics (`names`) that the run has, in the task's order."""
    where = t(lang, f"eval.on_{split}", n=m.get("n", "?"))
    parts = []
    for name in names:
        if not isinstance(m.get(name), (int, float)):
            continue
        title, means, number = METRIC_CARDS.get(name, (None, None, "{:.3g}"))
        parts.append(_card(number.format(m[name]), t(lang, title) if title else name, t(lang, means) if means else ""))
    mode = metrics.get("mode", "?")
    mode = t(lang, f"mode_short.{mode}") if f"mode_short.{mode}" in STRINGS else mode
    info = t(lang, "eval.about_run", model=metrics.get("model", "?"), mode=mode, where=where)
    return f'<p>{html.escape(info)}</p><div class="k-cards">{"".join(parts)}</div>'


def _cv(lang, cv) -> str:
    if not isinstance(cv, dict):
        return ""
    if "skipped" in cv:
        return t(lang, "eval.cv_skipped", why=_cv_skipped(lang, str(cv["skipped"])))
    if "accuracy" not in cv:
        return ""
    return t(lang, "eval.cv", folds=cv["folds"], repeats=cv["repeats"], mean=f"{cv['accuracy']['mean']:.0%}",
             std=f"{cv['accuracy']['std']:.0%}", f1=f"{cv['macro_f1']['mean']:.2f}",
             f1_std=f"{cv['macro_f1']['std']:.2f}")


def _cv_skipped(lang, why: str) -> str:
    """engine.evaluate's reason for skipping cross-validation, in `lang` (it has no code: matched by its words)."""
    if lang == "en":
        return why
    if why.startswith("cross-validation needs at least two classes"):
        return t(lang, "cv.two_classes")
    found = re.match(r"cross-validation needs at least 2 samples in every class; with only one: class (.+)$", why)
    return t(lang, "cv.one_sample", label=found.group(1)) if found else why


def _per_class(lang, m: dict) -> pd.DataFrame:
    columns = [t(lang, "eval.col_class"), t(lang, "eval.col_precision"), t(lang, "eval.col_recall"), "F1",
               t(lang, "eval.col_support")]
    rows = [[label, round(r["precision"], 3), round(r["recall"], 3), round(r["f1"], 3), r["support"]]
            for label, r in (m.get("per_class") or {}).items()]
    return pd.DataFrame(rows, columns=columns)


def _matrix(run_dir: Path, split: str):
    from PIL import Image

    path = run_dir / "artifacts" / f"confusion_matrix_{split}.png"
    if not path.exists():
        return None
    with Image.open(path) as img:
        return img.convert("RGB")


def _wrong(run_dir: Path, split: str) -> tuple[list, list[dict]]:
    """Gallery items (thumbnail, 'true → predicted 87 %') and the files behind them, most confident first."""
    from PIL import Image

    from engine.fsutil import read_json

    try:
        items = read_json(run_dir / "artifacts" / f"misclassified_{split}.json")[:MAX_WRONG]
    except (OSError, ValueError):
        return [], []
    rows, files = [], []
    for it in items:
        try:
            with Image.open(it["file"]) as img:
                thumb = img.convert("RGB")
                thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
        except (OSError, KeyError):
            continue
        rows.append((thumb, f"{it['true']} → {it['predicted']} {it['confidence']:.0%}"))
        files.append({"file": it["file"], "true": it["true"]})
    return rows, files
