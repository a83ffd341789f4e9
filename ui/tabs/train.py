"""Train tab: choose a model, a mode and augmentation, start and stop training, watch it live.

The run itself happens in a child process started by engine.runner; this tab only builds the
RunConfig and reads the run's events.jsonl once a second (a gr.Timer). This module lays the tab out
and wires it; the form's choices and the RunConfig they make are in ui.tabs.train_form, the run view
(progress, status, resolved settings, plots, log) in ui.tabs.train_view.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ui.i18n import t
from ui.state import (
    PRIVATE,
    Ctx,
    message,
    project_dataset,
    project_or_none,
    project_runs,
    project_task,
    serves,
)
from ui.tabs.train_form import (
    PRESET_NAMES,
    cloud_cost,
    cv_choices,
    cv_options,
    data_summary,
    mode_choices,
    model_card,
    model_choices,
    model_specs,
    offline_weights,
    preset_choices,
    preview_examples,
    recommend,
    start_run,
    steps_md,
    where_choices,
    where_line,
)
from ui.tabs.train_view import bar_html, epoch_plots, log_tail, own_run, run_folder, snapshot_key, status_text

ID = "train"
TICK_S = 1.0


def build(ctx: Ctx, tab: gr.Tab) -> None:
    T = ctx.texts.make
    ws = ctx.ws
    models = model_specs()
    offline = {m.name: offline_weights(ctx, m.name) for m in models}
    watch = gr.State(None)  # the run folder this page shows
    seen = gr.State(None)  # what was drawn last, to skip redrawing unchanged state
    finished = gr.State(None)  # changes when a watched run ends, which refreshes the other tabs
    form_for = gr.State(None)  # the project the form was last set up for; its choices stay until that changes

    data_line = gr.Markdown(elem_id="k-train-data")
    with gr.Row():
        with gr.Column(scale=3):
            # Relabelling lists every model (whatever value the refresh chose stays valid); the refresh that
            # follows narrows the list to the project's task and what is offline.
            model = T(gr.Radio, {"label": "train.model", "info": "train.model_info",
                                 "choices": lambda lang: model_choices(lang, models, offline, True)},
                      value=models[0].name, elem_id="k-model")
            all_models = T(gr.Checkbox, {"label": "train.all_models"}, value=False, elem_id="k-all-models")
        with gr.Column(scale=2):
            card = gr.Markdown(elem_id="k-model-card")
    with gr.Row():
        with gr.Column(scale=3):
            mode = T(gr.Radio, {"label": "train.mode", "choices": mode_choices}, value="linear-probe",
                     elem_id="k-mode")
        with gr.Column(scale=2):
            why = gr.Markdown(elem_id="k-mode-why")
    with gr.Row():
        with gr.Column(scale=2):
            preset = T(gr.Radio, {"label": "train.augment", "choices": preset_choices}, value="light",
                       elem_id="k-preset")
            hflip = T(gr.Checkbox, {"label": "train.hflip", "info": "train.hflip_info"}, value=True)
            steps = gr.Markdown(elem_id="k-preset-steps")
        with gr.Column(scale=3):
            # Closed until asked for: drawing the examples takes seconds, and the tab must answer at once.
            with T(gr.Accordion, {"label": "train.preview"}, open=False, elem_id="k-preview-box") as preview_box:
                preview = gr.Gallery(show_label=False, columns=4, height=360, allow_preview=False,
                                     elem_id="k-preview")
                reshuffle = T(gr.Button, {"value": "train.reshuffle"}, size="sm", elem_id="k-reshuffle")
    with T(gr.Accordion, {"label": "train.advanced"}, open=False):
        with gr.Row():
            # Text fields, not gr.Number: Gradio's number field shows an empty value as 0 (and refuses it with its
            # own English toast when it has a minimum). Empty means the default; the handler checks RunConfig's
            # limits and names the field in the person's language.
            epochs, batch, lr, budget = (
                T(gr.Textbox, {"label": f"train.{name}", "info": f"train.{name}_info",
                               "placeholder": "train.default_placeholder"}, value="", max_lines=1,
                  elem_id=f"k-{name}")
                for name in ("epochs", "batch", "lr", "budget"))
            seed = T(gr.Number, {"label": "train.seed"}, value=0, precision=0, elem_id="k-seed")
        cv = T(gr.Radio, {"label": "train.cv", "info": "train.cv_info", "choices": cv_choices},
               value=cv_options()[1], elem_id="k-cv")
    where = T(gr.Radio, {"label": "train.where", "choices": where_choices}, value="local", elem_id="k-where")
    where_why = gr.Markdown(elem_id="k-where-why")
    with gr.Row():
        start = T(gr.Button, {"value": "train.start"}, variant="primary", elem_id="k-start")
        # A cloud run costs money: Start shows the price and this button, with the price on it, starts it.
        confirm = gr.Button(variant="primary", visible=False, elem_id="k-start-cloud")
        stop = T(gr.Button, {"value": "train.stop"}, variant="stop", interactive=False, elem_id="k-stop")
        resume = T(gr.Button, {"value": "train.resume"}, visible=False, elem_id="k-resume")
    bar = gr.HTML(elem_id="k-progress")
    state_md = gr.Markdown(elem_id="k-train-status")
    with gr.Row():
        # gr.Plot with our own Vega-Lite chart (gr.LinePlot draws lines only, over a fractional x axis): whole
        # epochs, a marker on every value (one epoch is a dot), and the best epoch marked.
        loss_plot = T(gr.Plot, {"label": "train.loss_plot"}, visible=False, elem_id="k-loss-plot")
        acc_plot = T(gr.Plot, {"label": "train.acc_plot"}, visible=False, elem_id="k-acc-plot")
    with T(gr.Accordion, {"label": "train.log"}, open=False):
        show_log = T(gr.Button, {"value": "train.show_log"}, size="sm")
        log_box = gr.Textbox(lines=12, max_lines=24, show_label=False, interactive=False, elem_id="k-log")
    timer = gr.Timer(TICK_S)
    offered = gr.State(None)  # the price the confirm button was shown with
    form = [model, mode, preset, hflip, epochs, batch, lr, seed, budget, cv, where]

    # --- drawing -------------------------------------------------------------------------
    run_outputs = [bar, state_md, loss_plot, acc_plot, start, stop, resume]

    def draw(snap, lang, plots=True):
        return [bar_html(lang, snap), status_text(lang, snap), *(epoch_plots(lang, snap) if plots else (gr.skip(), gr.skip())),
                gr.update(interactive=not snap.active), gr.update(interactive=snap.active),
                gr.update(visible=snap.status in ("interrupted", "cancelled"))]

    def empty(lang, text=""):
        return ["", text, gr.update(visible=False), gr.update(visible=False), gr.update(interactive=True),
                gr.update(interactive=False), gr.update(visible=False)]

    def task_models(pid) -> list:
        """The models that serve the project's task."""
        task = project_task(ws, pid)
        return [m for m in models if serves(m, task)]

    def refresh(pid, lang, form_pid, name, preset_name, flip, show_all):
        found = project_dataset(ws, pid) if project_or_none(ws, pid) else None
        data_key = (pid, str(found[0]) if found else None)
        # A new project (or new data) gets the recommended mode; otherwise the person's choices stay.
        fresh = form_pid != data_key
        specs = task_models(pid)
        choices = model_choices(lang, specs, offline, bool(show_all))
        if not choices:  # no model of this task has its weights here: offer them all rather than none
            choices = model_choices(lang, specs, offline, True)
        if fresh or name not in {c[1] for c in choices}:
            name = choices[0][1] if choices else None
        rec, rec_why = recommend(ctx, lang, found, name) if name else (gr.update(), "")
        run_dir = ctx.runner.active_run(pid)
        if run_dir is None:
            runs = project_runs(ws, pid)
            run_dir = Path(runs[0]["path"]) if runs else None
        drawn = draw(ctx.runner.snapshot(run_dir), lang) if run_dir else empty(lang)
        if run_dir is None and not fresh:  # keep an answer Start just gave (say, "import pictures first")
            drawn[run_outputs.index(state_md)] = gr.skip()
        snap_key = snapshot_key(ctx, run_dir, lang) if run_dir else None
        preset_name = preset_name if preset_name in PRESET_NAMES else "light"
        return [data_summary(lang, found), gr.update(choices=choices, value=name), rec if fresh else gr.skip(),
                rec_why, model_card(lang, name, models, offline) if name else "", steps_md(lang, preset_name, bool(flip)),
                data_key, str(run_dir) if run_dir else None, snap_key, *drawn]

    ctx.on_refresh(refresh, [data_line, model, mode, why, card, steps, form_for, watch, seen, *run_outputs],
                   inputs=[form_for, model, preset, hflip, all_models])

    def on_model(pid, lang, name):
        # The recommendation follows the model; the mode the person picked stays as it is.
        if name not in offline:
            return gr.skip(), gr.skip()
        found = project_dataset(ws, pid) if project_or_none(ws, pid) else None
        _, rec_why = recommend(ctx, lang, found, name)
        return model_card(lang, name, models, offline), rec_why

    model.input(on_model, [ctx.pid, ctx.lang, model], [card, why], **PRIVATE)

    def on_all_models(pid, lang, show_all, name):
        specs = task_models(pid)
        keep = name if (show_all or offline.get(name)) and name in {m.name for m in specs} else (
            specs[0].name if specs else None)
        return gr.update(choices=model_choices(lang, specs, offline, bool(show_all)), value=keep)

    all_models.input(on_all_models, [ctx.pid, ctx.lang, all_models, model], model, **PRIVATE)

    def on_preview(pid, lang, name, preset_name, flip, shuffle, opened, drawn, force=False):
        # The examples are drawn only while the section is open, and again only when what they show changed.
        if preset_name not in PRESET_NAMES or name not in offline:
            return gr.skip(), gr.skip(), shuffle, drawn
        text = steps_md(lang, preset_name, bool(flip))
        found = project_dataset(ws, pid) if project_or_none(ws, pid) else None
        key = [str(found[0]) if found else None, name, preset_name, bool(flip)]
        if not opened or (key == drawn and not force):
            return text, gr.skip(), shuffle, drawn
        if found is None:
            return text, None, shuffle, key
        n = int(shuffle or 0)
        return text, preview_examples(found, name, preset_name, bool(flip), n, models), n + 1, key

    shuffle = gr.State(0)
    preview_open = gr.State(False)
    drawn = gr.State(None)  # what the examples show: [dataset, model, preset, mirror]
    preview_inputs = [ctx.pid, ctx.lang, model, preset, hflip, shuffle, preview_open, drawn]
    preview_outputs = [steps, preview, shuffle, drawn]
    for trigger in (preset.input, hflip.input, tab.select):
        trigger(on_preview, preview_inputs, preview_outputs, show_progress="minimal", **PRIVATE)
    reshuffle.click(lambda *values: on_preview(*values, force=True), preview_inputs, preview_outputs,
                    show_progress="minimal", **PRIVATE)
    preview_box.expand(lambda: True, None, preview_open, show_progress="hidden", **PRIVATE).then(
        on_preview, preview_inputs, preview_outputs, show_progress="minimal", **PRIVATE)
    preview_box.collapse(lambda: False, None, preview_open, show_progress="hidden", **PRIVATE)

    def on_where(pid, lang, *values):
        hide = [gr.update(visible=False), None]
        try:
            if values[-1] == "cloud" and cloud_cost(ctx, lang) is None:
                gr.Info(t(lang, "train.cloud_setup_first"))
                return ["local", t(lang, "train.cloud_setup_first"), *hide]
            return [gr.skip(), where_line(ctx, lang, pid, values, offline), *hide]
        except Exception as e:
            return [gr.skip(), message(lang, e), *hide]

    where.input(on_where, [ctx.pid, ctx.lang, *form], [where, where_why, confirm, offered], **PRIVATE)

    def on_form(pid, lang, *values):
        # `auto` decides from the mode and epochs too; the confirm button, if shown, stays (same price).
        try:
            return where_line(ctx, lang, pid, values, offline)
        except Exception as e:
            return message(lang, e)

    for control in (mode, epochs):
        control.input(on_form, [ctx.pid, ctx.lang, *form], where_why, show_progress="hidden", **PRIVATE)
    # New data or another project: say again where `auto` goes; an offered price is withdrawn.
    ctx.on_refresh(lambda pid, lang, *values: [on_form(pid, lang, *values), gr.update(visible=False), None],
                   [where_why, confirm, offered], inputs=form)

    # --- start / stop ----------------------------------------------------------------------
    start_outputs = [watch, seen, *run_outputs, confirm, offered]

    def answer(text, cost=None):
        # No run started: the status line says why, or shows the price with the button that accepts it.
        out = [gr.skip()] * len(start_outputs)
        out[start_outputs.index(bar)] = ""
        out[start_outputs.index(state_md)] = text
        out[-2:] = ([gr.update(visible=True, value=cost["button"]), cost["text"]] if cost
                    else [gr.update(visible=False), None])
        return out

    def go(pid, lang, values, accepted):
        try:
            run_dir, text, cost = start_run(ctx, lang, pid, values, offline, accepted)
        except Exception as e:
            return answer(message(lang, e))
        if run_dir is None:
            return answer(text, cost)
        return [str(run_dir), None, *draw(ctx.runner.snapshot(run_dir), lang), gr.update(visible=False), None]

    start.click(lambda pid, lang, *values: go(pid, lang, values, None), [ctx.pid, ctx.lang, *form], start_outputs,
                **PRIVATE)
    confirm.click(lambda pid, lang, shown, *values: go(pid, lang, values, shown), [ctx.pid, ctx.lang, offered, *form],
                  start_outputs, **PRIVATE)

    def on_stop(pid, lang):
        run_dir = ctx.runner.active_run(pid)
        if run_dir is None:
            return t(lang, "train.nothing_running")
        ctx.runner.stop(run_dir)
        return t(lang, "train.stopped")

    stop.click(on_stop, [ctx.pid, ctx.lang], state_md, **PRIVATE)

    def on_resume(pid, lang, watched):
        run_dir = own_run(ctx, pid, watched)
        if run_dir is None:
            return gr.skip(), t(lang, "train.nothing_to_resume")
        try:
            ctx.runner.start(run_dir, project_id=pid)
        except Exception as e:
            return gr.skip(), message(lang, e)
        return None, t(lang, "train.resuming")

    resume.click(on_resume, [ctx.pid, ctx.lang, watch], [seen, state_md], **PRIVATE)

    def on_tick(pid, lang, watched, last):
        # Called every second by every open page: reads only the run's new events, never the index.
        run_dir = ctx.runner.active_run(pid) or run_folder(ctx, watched)
        if run_dir is None:
            return [gr.skip()] * (3 + len(run_outputs))
        key = snapshot_key(ctx, run_dir, lang)
        if key == last:
            return [gr.skip()] * (3 + len(run_outputs))
        snap = ctx.runner.snapshot(run_dir)
        same_run = bool(last) and last[0] == str(run_dir)
        was_active = same_run and last[2] in ("starting", "running")
        ended = f"{run_dir}:{snap.status}" if was_active and not snap.active else gr.skip()
        plots = not same_run or last[3:] != key[3:]
        return [str(run_dir), key, ended, *draw(snap, lang, plots=plots)]

    timer.tick(on_tick, [ctx.pid, ctx.lang, watch, seen], [watch, seen, finished, *run_outputs],
               show_progress="hidden", **PRIVATE)
    ctx.then_refresh(finished.change(lambda: None, None, None, show_progress="hidden", **PRIVATE))

    def on_log(pid, lang, watched):
        run_dir = own_run(ctx, pid, watched)
        if run_dir is None:
            return t(lang, "train.no_log")
        return log_tail(run_dir) or t(lang, "train.no_log")

    show_log.click(on_log, [ctx.pid, ctx.lang, watch], log_box, **PRIVATE)
