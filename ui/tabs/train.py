"""Train tab: choose a model, a mode and augmentation, start and stop training, watch it live.

The run itself happens in a child process started by engine.runner; this tab only builds the
RunConfig and reads the run's events.jsonl once a second (a gr.Timer).
"""

from __future__ import annotations

import html
import json
import math
from collections import Counter
from pathlib import Path

import gradio as gr

from engine.errors import UserError
from engine.runner import RunnerBusy
from ui.i18n import engine_text, preset_line, t
from ui.state import (
    PRIVATE,
    Ctx,
    can_train_in_cloud,
    duration_text,
    has_gpu,
    headline_accuracy,
    message,
    progress_html,
    project_dataset,
    project_or_none,
    project_runs,
)

ID = "train"
MODES = ("linear-probe", "fine-tune", "full", "scratch")
PRESET_NAMES = ("none", "light", "medium", "strong")
PREVIEW_N = 8
TICK_S = 1.0
LOG_LINES = 200


def _models():
    from engine.models import list_models

    return list_models()


def build(ctx: Ctx, tab: gr.Tab) -> None:
    T = ctx.texts.make
    ws = ctx.ws
    models = _models()
    offline = {m.name: _offline(ctx, m.name) for m in models}
    watch = gr.State(None)  # the run folder this page shows
    seen = gr.State(None)  # what was drawn last, to skip redrawing unchanged state
    finished = gr.State(None)  # changes when a watched run ends, which refreshes the other tabs
    form_for = gr.State(None)  # the project the form was last set up for; its choices stay until that changes

    data_line = gr.Markdown(elem_id="k-train-data")
    with gr.Row():
        with gr.Column(scale=3):
            model = T(gr.Radio, {"label": "train.model", "info": "train.model_info",
                                 "choices": lambda lang: _model_choices(lang, models, offline, False)},
                      value=models[0].name, elem_id="k-model")
            all_models = T(gr.Checkbox, {"label": "train.all_models"}, value=False, elem_id="k-all-models")
        with gr.Column(scale=2):
            card = gr.Markdown(elem_id="k-model-card")
    with gr.Row():
        with gr.Column(scale=3):
            mode = T(gr.Radio, {"label": "train.mode", "choices": _mode_choices}, value="linear-probe",
                     elem_id="k-mode")
        with gr.Column(scale=2):
            why = gr.Markdown(elem_id="k-mode-why")
    with gr.Row():
        with gr.Column(scale=2):
            preset = T(gr.Radio, {"label": "train.augment", "choices": _preset_choices}, value="light",
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
    where = T(gr.Radio, {"label": "train.where", "choices": _where_choices}, value="local", elem_id="k-where")
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
    form = [model, mode, preset, hflip, epochs, batch, lr, seed, budget, where]

    # --- drawing -------------------------------------------------------------------------
    run_outputs = [bar, state_md, loss_plot, acc_plot, start, stop, resume]

    def draw(snap, lang, plots=True):
        return [_bar(lang, snap), _status(lang, snap), *(_plots(lang, snap) if plots else (gr.skip(), gr.skip())),
                gr.update(interactive=not snap.active), gr.update(interactive=snap.active),
                gr.update(visible=snap.status in ("interrupted", "cancelled"))]

    def empty(lang, text=""):
        return ["", text, gr.update(visible=False), gr.update(visible=False), gr.update(interactive=True),
                gr.update(interactive=False), gr.update(visible=False)]

    def refresh(pid, lang, form_pid, name, preset_name, flip):
        found = project_dataset(ws, pid) if project_or_none(ws, pid) else None
        data_key = (pid, str(found[0]) if found else None)
        # A new project (or new data) gets the recommended mode; otherwise the person's choices stay.
        fresh = form_pid != data_key
        name = models[0].name if fresh or name not in offline else name
        rec, rec_why = _recommend(ctx, lang, found, name)
        run_dir = ctx.runner.active_run(pid)
        if run_dir is None:
            runs = project_runs(ws, pid)
            run_dir = Path(runs[0]["path"]) if runs else None
        drawn = draw(ctx.runner.snapshot(run_dir), lang) if run_dir else empty(lang)
        if run_dir is None and not fresh:  # keep an answer Start just gave (say, "import pictures first")
            drawn[run_outputs.index(state_md)] = gr.skip()
        snap_key = _key(ctx, run_dir, lang) if run_dir else None
        preset_name = preset_name if preset_name in PRESET_NAMES else "light"
        return [_data_line(lang, found), gr.update(value=name), rec if fresh else gr.skip(), rec_why,
                _card(lang, name, models, offline), _steps_md(lang, preset_name, bool(flip)), data_key,
                str(run_dir) if run_dir else None, snap_key, *drawn]

    ctx.on_refresh(refresh, [data_line, model, mode, why, card, steps, form_for, watch, seen, *run_outputs],
                   inputs=[form_for, model, preset, hflip])

    def on_model(pid, lang, name):
        # The recommendation follows the model; the mode the person picked stays as it is.
        if name not in offline:
            return gr.skip(), gr.skip()
        found = project_dataset(ws, pid) if project_or_none(ws, pid) else None
        _, rec_why = _recommend(ctx, lang, found, name)
        return _card(lang, name, models, offline), rec_why

    model.input(on_model, [ctx.pid, ctx.lang, model], [card, why], **PRIVATE)

    def on_all_models(lang, show_all, name):
        keep = name if show_all or offline.get(name) else models[0].name
        return gr.update(choices=_model_choices(lang, models, offline, bool(show_all)), value=keep)

    all_models.input(on_all_models, [ctx.lang, all_models, model], model, **PRIVATE)

    def on_preview(pid, lang, name, preset_name, flip, shuffle, opened, drawn, force=False):
        # The examples are drawn only while the section is open, and again only when what they show changed.
        if preset_name not in PRESET_NAMES or name not in offline:
            return gr.skip(), gr.skip(), shuffle, drawn
        text = _steps_md(lang, preset_name, bool(flip))
        found = project_dataset(ws, pid) if project_or_none(ws, pid) else None
        key = [str(found[0]) if found else None, name, preset_name, bool(flip)]
        if not opened or (key == drawn and not force):
            return text, gr.skip(), shuffle, drawn
        if found is None:
            return text, None, shuffle, key
        n = int(shuffle or 0)
        return text, _preview(found, name, preset_name, bool(flip), n, models), n + 1, key

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
            if values[-1] == "cloud" and _cloud_cost(ctx, lang) is None:
                gr.Info(t(lang, "train.cloud_setup_first"))
                return ["local", t(lang, "train.cloud_setup_first"), *hide]
            return [gr.skip(), _where_line(ctx, lang, pid, values, offline), *hide]
        except Exception as e:
            return [gr.skip(), message(lang, e), *hide]

    where.input(on_where, [ctx.pid, ctx.lang, *form], [where, where_why, confirm, offered], **PRIVATE)

    def on_form(pid, lang, *values):
        # `auto` decides from the mode and epochs too; the confirm button, if shown, stays (same price).
        try:
            return _where_line(ctx, lang, pid, values, offline)
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
        run_dir = _own_run(ctx, pid, watched)
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
        run_dir = ctx.runner.active_run(pid) or _run_folder(ctx, watched)
        if run_dir is None:
            return [gr.skip()] * (3 + len(run_outputs))
        key = _key(ctx, run_dir, lang)
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
        run_dir = _own_run(ctx, pid, watched)
        if run_dir is None:
            return t(lang, "train.no_log")
        return _log_tail(run_dir) or t(lang, "train.no_log")

    show_log.click(on_log, [ctx.pid, ctx.lang, watch], log_box, **PRIVATE)


# --- helpers ------------------------------------------------------------------------------------

def _offline(ctx: Ctx, name: str) -> bool:
    from engine.models import available_offline

    try:
        return available_offline(name, cache_dir=ctx.ws.weights_dir)
    except UserError:
        return False


def _model_choices(lang, models, offline, show_all: bool) -> list[tuple[str, str]]:
    out = []
    for m in models:
        if not (show_all or offline[m.name]):
            continue
        badge = t(lang, "train.offline_badge") if offline[m.name] else t(lang, "train.download_badge")
        out.append((f"{m.name} · {m.params_m:.1f} M · {m.input_size} px · {badge}", m.name))
    return out


def _card(lang, name, models, offline) -> str:
    spec = next(m for m in models if m.name == name)
    badge = (f'<span class="k-badge k-ok">{html.escape(t(lang, "train.offline_badge"))}</span>' if offline[name]
             else f'<span class="k-badge k-no">{html.escape(t(lang, "train.download_badge"))}</span>')
    desc = t(lang, f"model.{name}") if lang == "ru" and f"model.{name}" in _model_keys() else spec.description
    return (f"### {name} {badge}\n\n{desc}\n\n"
            + t(lang, "train.card_facts", params=f"{spec.params_m:.1f}", size=spec.input_size)
            + ("" if offline[name] else "\n\n" + t(lang, "train.needs_weights")))


def _model_keys() -> set[str]:
    from ui.i18n.strings import STRINGS

    return set(STRINGS)


def _mode_choices(lang) -> list[tuple[str, str]]:
    return [(t(lang, f"mode.{m}"), m) for m in MODES]


def _preset_choices(lang) -> list[tuple[str, str]]:
    return [(t(lang, f"preset.{p}"), p) for p in PRESET_NAMES]


def _where_choices(lang) -> list[tuple[str, str]]:
    return [(t(lang, "train.where_gpu" if has_gpu() else "train.where_cpu"), "local"),
            (t(lang, "train.where_auto"), "auto"), (t(lang, "train.where_cloud"), "cloud")]


def _cloud_cost(ctx: Ctx, lang: str) -> dict | None:
    """The price of a Yandex Cloud run with the saved settings, in `lang` ('text', 'button'); None when not set up."""
    from cloud.settings import estimate, load_settings
    from cloud.target import cloud_ready
    from ui.tabs.settings import cost_text

    if not (can_train_in_cloud(ctx.runner) and cloud_ready(ctx.ws.root)):
        return None
    e = estimate(load_settings(ctx.ws.root))
    money = {"hourly": f"{e['hourly']:.0f}", "total": f"{e['total']:.0f}", "currency": e["currency"]}
    return {"text": cost_text(lang, e), "button": t(lang, "train.start_cloud", **money)}


def _target_reason(lang: str, code: str, params: dict) -> str:
    """cloud.target's reason for its choice, in `lang`."""
    from ui.i18n.strings import STRINGS

    fields = dict(params)
    if f"mode_short.{fields.get('mode')}" in STRINGS:
        fields["mode"] = t(lang, f"mode_short.{fields['mode']}")
    return t(lang, f"target.{code}", **fields)


def _prepare(ctx: Ctx, lang: str, pid, values, offline) -> tuple:
    """The form's RunConfig, its dataset id, where it trains ('local' | 'yandex') and, for `auto`, why."""
    from cloud.target import decide

    where_value = values[-1]
    cfg, dataset_id = _config(ctx, lang, pid, *values, offline)
    if where_value == "local":
        return cfg, dataset_id, "local", ""
    if where_value == "cloud":
        return cfg, dataset_id, "yandex", ""
    target, code, params = decide(cfg, gpu=has_gpu(), cloud=_cloud_cost(ctx, lang) is not None)
    return cfg, dataset_id, target, t(lang, "train.auto_decided", why=_target_reason(lang, code, params))


def start_run(ctx: Ctx, lang: str, pid, values, offline, accepted: str | None = None) -> tuple:
    """Start training from the form: (run folder, "", None), or (None, why not, the price to accept).

    A cloud run costs money, so it starts only on a second click that `accepted` the price shown by the first.
    """
    cfg, dataset_id, target, why = _prepare(ctx, lang, pid, values, offline)
    if target == "local":
        if accepted is not None:  # the choice changed under the cloud button: start nothing rather than guess
            return None, why or t(lang, "train.bad_choice"), None
        return ctx.runner.submit(cfg, project_id=pid, dataset_id=dataset_id), "", None
    cost = _cloud_cost(ctx, lang)
    ask = t(lang, "train.cloud_confirm", cost=cost["text"])
    if accepted is None:
        busy = ctx.runner.active_run(pid)
        if busy is not None:
            raise RunnerBusy(busy)
        return None, "\n\n".join(filter(None, [why, ask])), cost
    if accepted != cost["text"]:  # the settings changed since: the person agreed to another price
        return None, f"{t(lang, 'train.cloud_price_changed')}\n\n{ask}", cost
    # The app's runner is a cloud.runner.CloudRunner.
    return ctx.runner.submit(cfg, project_id=pid, dataset_id=dataset_id, target="yandex"), "", None


def _where_line(ctx: Ctx, lang: str, pid, values, offline) -> str:
    """Under the 'where' choice: the price of the cloud, or where `auto` sends this job and why."""
    if values[-1] == "cloud":
        cost = _cloud_cost(ctx, lang)
        return t(lang, "train.cloud_estimate", text=cost["text"]) if cost else t(lang, "train.cloud_setup_first")
    if values[-1] == "auto":
        return _prepare(ctx, lang, pid, values, offline)[3]
    return ""


def _steps_md(lang, preset_name, flip) -> str:
    from engine.augment import describe

    return "\n".join(f"- {preset_line(lang, line)}" for line in describe(preset_name, hflip=flip))


def _data_line(lang, found) -> str:
    if found is None:
        return t(lang, "train.no_data")
    _, manifest = found
    per_class = Counter(it["label"] for it in manifest["items"] if it["split"] == "train")
    return t(lang, "train.data_line", n=len(manifest["items"]), k=len(manifest["classes"]),
             smallest=min(per_class.values()) if per_class else 0)


def _recommend(ctx: Ctx, lang: str, found, name) -> tuple[object, str]:
    """The mode to preselect and a sentence on why (the engine's own choice for `auto`)."""
    if found is None:
        return gr.update(value="linear-probe"), ""
    from engine.config import RunConfig
    from engine.models import get_spec
    from engine.train import choose_mode_reason, mode_reason_text

    dataset_dir, manifest = found
    labels = manifest["classes"]
    counts = Counter(it["label"] for it in manifest["items"] if it["split"] == "train")
    train_counts = {lab: counts.get(lab, 0) for lab in labels}
    if not train_counts or min(train_counts.values()) == 0:
        return gr.update(value="linear-probe"), ""
    spec = get_spec(name)
    cfg = RunConfig(data=str(dataset_dir), model=name, mode="auto")
    chosen, code, params = choose_mode_reason(cfg, train_counts, "cuda" if has_gpu() else "cpu",
                                              _offline(ctx, name), spec.params_m)
    return gr.update(value=chosen), _why(lang, chosen, code, params, mode_reason_text(code, params))


def _why(lang, chosen, code, params, english) -> str:
    """'Recommended: X.' and the engine's reason for it, in `lang` (by the reason's code)."""
    head = t(lang, "train.recommended", mode=t(lang, f"mode_short.{chosen}"))
    reason = engine_text(lang, "reason", code, params, english)
    return f"{head} {reason[:1].upper() + reason[1:]}." if reason else head


def _ended_text(lang, snap) -> str:
    """Why a run ended without a model, in `lang`: by the code of its last event, else its English message."""
    if snap.status == "interrupted":
        paths = {"console": str(snap.run_dir / "console.log"), "log": str(snap.run_dir / "train.log")}
        return engine_text(lang, "failure", "interrupted", paths, snap.message)
    from engine.events import read_events

    events, _ = read_events(snap.run_dir)
    last = next((e for e in reversed(events) if e.get("type") == snap.status), {})
    # The runner writes `cancelled` itself when it had to kill the process: same meaning, no code.
    code = last.get("code") or ("cancelled" if snap.status == "cancelled" else None)
    return engine_text(lang, "failure", code, last.get("params"), snap.message or "")


def _preview(found, name, preset_name, flip, seed, models) -> list:
    from engine.augment import preview

    dataset_dir, manifest = found
    spec = next(m for m in models if m.name == name)
    train_items = [it for it in manifest["items"] if it["split"] == "train"] or manifest["items"]
    item = train_items[seed % len(train_items)]
    cfg = {"input_size": min(spec.input_size, 224), "crop_pct": 0.875, "interpolation": "bilinear",
           "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "max_side": 1024}
    return preview(dataset_dir / item["file"], preset_name, cfg, hflip=flip, n=PREVIEW_N, seed=seed)


def _config(ctx, lang, pid, name, mode_value, preset_name, flip, n_epochs, n_batch, rate, seed_value, minutes,
             where_value, offline):
    """A RunConfig from the form, every value checked here (the browser is not trusted)."""
    from engine.config import AugmentConfig, EvalConfig, RunConfig

    if project_or_none(ctx.ws, pid) is None:
        raise UserError(t(lang, "common.no_project"))
    found = project_dataset(ctx.ws, pid)
    if found is None:
        raise UserError(t(lang, "train.no_data"))
    if where_value not in ("local", "auto", "cloud"):
        raise UserError(t(lang, "train.bad_choice"))
    if where_value == "cloud" and _cloud_cost(ctx, lang) is None:
        raise UserError(t(lang, "train.cloud_setup_first"))
    if name not in offline or mode_value not in MODES or preset_name not in PRESET_NAMES:
        raise UserError(t(lang, "train.bad_choice"))

    dataset_dir, manifest = found
    # Cross-validation of the linear head is cheap and shows how much a tiny test split can be trusted.
    raw = {"data": str(dataset_dir), "model": name, "mode": mode_value, "eval": EvalConfig(cv="on"),
           "augment": AugmentConfig(preset=preset_name, hflip=bool(flip)),
           "seed": _field(lang, "seed", "train.seed", seed_value, int) or 0}
    for field, key, value, kind in (("epochs", "train.epochs", n_epochs, int), ("batch_size", "train.batch", n_batch, int),
                                    ("lr", "train.lr", rate, float),
                                    ("budget_minutes", "train.budget", minutes, float)):
        checked = _field(lang, field, key, value, kind)
        if checked is not None:  # an empty field leaves RunConfig's default
            raw[field] = checked
    return RunConfig.from_dict(raw, source=t(lang, "train.settings")), manifest["id"]


def _field(lang: str, field: str, key: str, value, kind) -> int | float | None:
    """An advanced setting checked against RunConfig's limits: None when empty, else the number or a UserError
    that names the field (by its label `key`) and what it may be."""
    from engine.config import RunConfig

    if isinstance(value, str):
        value = value.strip().replace(",", ".")  # a decimal comma, as Russian writes it
    if value is None or value == "":
        return None
    limits = {k: getattr(m, k) for m in RunConfig.model_fields[field].metadata for k in ("ge", "gt", "le")
              if getattr(m, k, None) is not None}
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    whole = kind is int
    fits = (math.isfinite(number) and (not whole or number.is_integer())
            and number >= limits.get("ge", -math.inf) and number > limits.get("gt", -math.inf)
            and number <= limits.get("le", math.inf))
    if fits:
        return kind(number)
    if "ge" in limits and "le" in limits:
        allowed = t(lang, "train.allowed_range", lo=limits["ge"], hi=limits["le"])
    elif "gt" in limits:
        allowed = t(lang, "train.allowed_above", lo=limits["gt"])
    else:
        allowed = t(lang, "train.allowed_whole" if whole else "train.allowed_number")
    shown = f"{number:g}" if math.isfinite(number) else str(value)
    raise UserError(t(lang, "train.bad_field", field=t(lang, key), value=shown, allowed=allowed))


def _own_run(ctx: Ctx, pid, watched) -> Path | None:
    """`watched` if it is a run of this project (the value comes from the page), else None."""
    if not watched or project_or_none(ctx.ws, pid) is None:
        return None
    for r in project_runs(ctx.ws, pid):
        if Path(r["path"]) == Path(watched):
            return Path(r["path"])
    return None


def _run_folder(ctx: Ctx, watched) -> Path | None:
    """`watched` when it is a run folder of this workspace (cheap enough for the timer)."""
    if not watched:
        return None
    path = Path(watched).resolve()
    return path if path.parent == ctx.ws.runs_dir.resolve() and (path / "config.yaml").exists() else None


def _key(ctx: Ctx, run_dir, lang):
    snap = ctx.runner.snapshot(run_dir)
    return (str(run_dir), snap.offset, snap.status, lang, len(snap.metrics))


def _phase(lang, progress: dict) -> str:
    phase = str(progress.get("phase") or "")
    if phase == "train" and progress.get("epoch"):
        return t(lang, "phase.train_epoch", epoch=progress["epoch"])
    if phase.startswith("evaluate"):
        return t(lang, "phase.evaluate")
    key = f"phase.{phase}"
    try:
        return t(lang, key)
    except KeyError:
        return phase


def _bar(lang, snap) -> str:
    if snap.status == "done":
        fraction, text = 1.0, t(lang, "status.done")
    elif snap.active and snap.progress:
        p = snap.progress
        total = max(1, int(p.get("total") or 1))
        fraction = min(1.0, int(p.get("step") or 0) / total)
        text = f"{_phase(lang, p)} · {p.get('step')}/{total}"
        if p.get("eta_s") is not None:
            text += " · " + t(lang, "train.eta", eta=duration_text(lang, float(p["eta_s"])))
    elif snap.active:
        fraction, text = 0.0, t(lang, "status.starting")
    else:
        return ""
    return progress_html(fraction, text)


def _status(lang, snap) -> str:
    start = snap.start
    head = ""
    if start:
        head = t(lang, "train.running_what", model=start.get("model", "?"),
                 mode=t(lang, f"mode_short.{start.get('mode')}")
                 if start.get("mode") in MODES else start.get("mode", "?"), device=start.get("device", "?"))
        reason = engine_text(lang, "reason", start.get("mode_reason_code"), start.get("mode_reason_params"),
                             start.get("mode_reason"))
        if reason:
            head += f" — {reason}"
    if snap.status == "done":
        from engine.fsutil import read_json

        try:
            metrics = read_json(snap.run_dir / "metrics.json")
        except (OSError, ValueError):
            metrics = {}
        acc = headline_accuracy(metrics)
        body = t(lang, "train.done", seconds=duration_text(lang, float(metrics.get("train_seconds") or 0)),
                 acc=f"{acc:.0%}" if acc is not None else "?")
        return f"{head}\n\n{body}"
    if snap.status == "failed":
        return f"{head}\n\n**{t(lang, 'train.failed')}** {_ended_text(lang, snap)}\n\n{t(lang, 'train.see_log')}"
    if snap.status in ("cancelled", "interrupted"):
        return f"{head}\n\n**{t(lang, 'status.' + snap.status).capitalize()}.** {_ended_text(lang, snap)}"
    if snap.status == "starting":
        return t(lang, "status.starting")
    if snap.status == "running":
        last = snap.logs[-1] if snap.logs else ""
        return f"{head}\n\n{last}"
    return ""


def _plots(lang, snap):
    loss_rows, acc_rows, val = [], [], {}
    names = {"train": t(lang, "split.train"), "val": t(lang, "split.val")}
    for m in snap.metrics:
        epoch, split, values = m.get("epoch"), m.get("split"), m.get("values") or {}
        if not isinstance(epoch, int) or split not in names:
            continue
        if "loss" in values:
            loss_rows.append({"epoch": epoch, "value": values["loss"], "series": names[split]})
        if "accuracy" in values:
            acc_rows.append({"epoch": epoch, "value": values["accuracy"], "series": names[split]})
        if split == "val" and {"loss", "macro_f1"} <= set(values):
            val[epoch] = values
    if not loss_rows:
        return gr.update(visible=False), gr.update(visible=False)
    best = _best_epoch(val)
    return (gr.update(value=epoch_chart(lang, loss_rows, "train.loss", best), visible=True),
            gr.update(value=epoch_chart(lang, acc_rows, "train.accuracy", best, y_domain=[0, 1]) if acc_rows
                      else None, visible=bool(acc_rows)))


def _best_epoch(val: dict[int, dict]) -> int | None:
    """The epoch training keeps (the engine's own rule), first of equals; None without validation numbers."""
    from engine.train import selection_score

    return max(sorted(val), key=lambda e: selection_score(val[e])) if val else None


def epoch_chart(lang: str, rows: list[dict], y_key: str, best: int | None, y_domain: list | None = None):
    """A Vega-Lite chart of `rows` ({epoch, value, series}) for gr.Plot: whole epochs on x, a dot on each value,
    lines between them, and a dashed rule at the `best` epoch."""
    from gradio.components.plot import PlotData

    epochs = [r["epoch"] for r in rows]
    x = {"field": "epoch", "type": "quantitative", "title": t(lang, "train.epoch"),
         "scale": {"domain": [min(epochs) - 0.5, max(epochs) + 0.5], "nice": False},
         "axis": {"format": "d", "tickMinStep": 1}}
    y = {"field": "value", "type": "quantitative", "title": t(lang, y_key),
         "scale": {"domain": y_domain} if y_domain else {"zero": False}}
    layers = [{"mark": {"type": "line", "point": {"size": 60, "filled": True}},
               "encoding": {"x": x, "y": y, "color": {"field": "series", "type": "nominal", "title": None},
                            "tooltip": [{"field": "series", "title": " "},
                                        {"field": "epoch", "title": t(lang, "train.epoch")},
                                        {"field": "value", "title": t(lang, y_key), "format": ".3f"}]}}]
    if best is not None:
        label = t(lang, "train.best_epoch", epoch=best)
        mark = {"data": {"values": [{"epoch": best, "label": label}]},
                "encoding": {"x": {"field": "epoch", "type": "quantitative"}}}
        layers += [{**mark, "mark": {"type": "rule", "strokeDash": [4, 4], "color": "#16a34a"}},
                   {**mark, "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 4, "y": 2,
                                     "color": "#16a34a"}, "encoding": {**mark["encoding"], "text": {"field": "label"}}}]
    spec = {"data": {"values": rows}, "width": "container", "height": 260, "layer": layers,
            "config": {"legend": {"orient": "bottom"}}}
    return PlotData(type="altair", plot=json.dumps(spec))


def _log_tail(run_dir: Path) -> str:
    parts = []
    for name in ("train.log", "console.log"):
        path = run_dir / name
        if path.exists():
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_LINES:]
            if lines:
                parts.append(f"== {name} ==\n" + "\n".join(lines))
    return "\n\n".join(parts)
