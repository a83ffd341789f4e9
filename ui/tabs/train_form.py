"""The Train tab's form: the models on offer, the mode and augmentation choices, where to train, and the
RunConfig the form makes (every value checked here: the browser is not trusted)."""

from __future__ import annotations

import html
import math
from collections import Counter

import gradio as gr

from engine.errors import UserError
from engine.runner import RunnerBusy
from ui.i18n import engine_text, preset_line, t
from ui.state import Ctx, can_train_in_cloud, has_gpu, project_dataset, project_or_none, project_task, serves

MODES = ("linear-probe", "fine-tune", "full", "scratch")
PRESET_NAMES = ("none", "light", "medium", "strong")
PREVIEW_N = 8


def model_specs():
    """Every model the registry knows (ModelSpec), in its order."""
    from engine.models import list_models

    return list_models()


def offline_weights(ctx: Ctx, name: str) -> bool:
    """Whether `name`'s pretrained weights are on this computer (no download needed)."""
    from engine.models import available_offline

    try:
        return available_offline(name, cache_dir=ctx.ws.weights_dir)
    except UserError:
        return False


def model_choices(lang, models, offline, show_all: bool) -> list[tuple[str, str]]:
    """(label, name) of the models to offer: those with offline weights, or all of them."""
    out = []
    for m in models:
        if not (show_all or offline[m.name]):
            continue
        badge = t(lang, "train.offline_badge") if offline[m.name] else t(lang, "train.download_badge")
        out.append((f"{m.name} · {m.params_m:.1f} M · {m.input_size} px · {badge}", m.name))
    return out


def model_card(lang, name, models, offline) -> str:
    """A few lines on the chosen model: size, input, whether its weights are here."""
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


def mode_choices(lang) -> list[tuple[str, str]]:
    """(label, mode) of the training modes, in `lang`."""
    return [(t(lang, f"mode.{m}"), m) for m in MODES]


def preset_choices(lang) -> list[tuple[str, str]]:
    """(label, preset) of the augmentation presets, in `lang`."""
    return [(t(lang, f"preset.{p}"), p) for p in PRESET_NAMES]


def where_choices(lang) -> list[tuple[str, str]]:
    """(label, where) of the places to train: this computer, decided for you, the cloud."""
    return [(t(lang, "train.where_gpu" if has_gpu() else "train.where_cpu"), "local"),
            (t(lang, "train.where_auto"), "auto"), (t(lang, "train.where_cloud"), "cloud")]


def cloud_cost(ctx: Ctx, lang: str) -> dict | None:
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


def prepare(ctx: Ctx, lang: str, pid, values, offline) -> tuple:
    """The form's RunConfig, its dataset id, where it trains ('local' | 'yandex') and, for `auto`, why."""
    from cloud.target import decide

    where_value = values[-1]
    cfg, dataset_id = _config(ctx, lang, pid, *values, offline)
    if where_value == "local":
        return cfg, dataset_id, "local", ""
    if where_value == "cloud":
        return cfg, dataset_id, "yandex", ""
    target, code, params = decide(cfg, gpu=has_gpu(), cloud=cloud_cost(ctx, lang) is not None)
    return cfg, dataset_id, target, t(lang, "train.auto_decided", why=_target_reason(lang, code, params))


def start_run(ctx: Ctx, lang: str, pid, values, offline, accepted: str | None = None) -> tuple:
    """Start training from the form: (run folder, "", None), or (None, why not, the price to accept).

    A cloud run costs money, so it starts only on a second click that `accepted` the price shown by the first.
    """
    cfg, dataset_id, target, why = prepare(ctx, lang, pid, values, offline)
    if target == "local":
        if accepted is not None:  # the choice changed under the cloud button: start nothing rather than guess
            return None, why or t(lang, "train.bad_choice"), None
        return ctx.runner.submit(cfg, project_id=pid, dataset_id=dataset_id), "", None
    cost = cloud_cost(ctx, lang)
    ask = t(lang, "train.cloud_confirm", cost=cost["text"])
    if accepted is None:
        busy = ctx.runner.active_run(pid)
        if busy is not None:
            raise RunnerBusy(busy)
        return None, "\n\n".join(filter(None, [why, ask])), cost
    if accepted != cost["text"]:  # the settings changed since: the person agreed to another price
        return None, f"{t(lang, 'train.cloud_price_changed')}\n\n{ask}", cost
    return ctx.runner.submit(cfg, project_id=pid, dataset_id=dataset_id, target="yandex"), "", None


def where_line(ctx: Ctx, lang: str, pid, values, offline) -> str:
    """Under the 'where' choice: the price of the cloud, or where `auto` sends this job and why."""
    if values[-1] == "cloud":
        cost = cloud_cost(ctx, lang)
        return t(lang, "train.cloud_estimate", text=cost["text"]) if cost else t(lang, "train.cloud_setup_first")
    if values[-1] == "auto":
        return prepare(ctx, lang, pid, values, offline)[3]
    return ""


def steps_md(lang, preset_name, flip) -> str:
    """The augmentation preset's steps as a Markdown list, in `lang`."""
    from engine.augment import describe

    return "\n".join(f"- {preset_line(lang, line)}" for line in describe(preset_name, hflip=flip))


def data_summary(lang, found) -> str:
    """One line on the project's data: pictures, classes, the smallest class."""
    if found is None:
        return t(lang, "train.no_data")
    _, manifest = found
    per_class = Counter(it["label"] for it in manifest["items"] if it["split"] == "train")
    return t(lang, "train.data_line", n=len(manifest["items"]), k=len(manifest["classes"]),
             smallest=min(per_class.values()) if per_class else 0)


def recommend(ctx: Ctx, lang: str, found, name) -> tuple[object, str]:
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
                                              offline_weights(ctx, name), spec.params_m)
    return gr.update(value=chosen), _why(lang, chosen, code, params, mode_reason_text(code, params))


def _why(lang, chosen, code, params, english) -> str:
    """'Recommended: X.' and the engine's reason for it, in `lang` (by the reason's code)."""
    head = t(lang, "train.recommended", mode=t(lang, f"mode_short.{chosen}"))
    reason = engine_text(lang, "reason", code, params, english)
    return f"{head} {reason[:1].upper() + reason[1:]}." if reason else head


def preview_examples(found, name, preset_name, flip, seed, models) -> list:
    """PREVIEW_N augmented versions of one training picture, as the chosen model would see them."""
    from engine.augment import preview

    dataset_dir, manifest = found
    spec = next(m for m in models if m.name == name)
    train_items = [it for it in manifest["items"] if it["split"] == "train"] or manifest["items"]
    item = train_items[seed % len(train_items)]
    cfg = {"input_size": min(spec.input_size, 224), "crop_pct": 0.875, "interpolation": "bilinear",
           "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "max_side": 1024}
    return preview(dataset_dir / item["file"], preset_name, cfg, hflip=flip, n=PREVIEW_N, seed=seed)


def cv_options() -> tuple[tuple[str, ...], str]:
    """(the cross-validation choices, the default) as engine.config's EvalConfig declares them."""
    from typing import get_args

    from engine.config import EvalConfig

    field = EvalConfig.model_fields["cv"]
    return get_args(field.annotation), field.default


def cv_choices(lang) -> list[tuple[str, str]]:
    """(label, value) of the cross-validation choices, in `lang`."""
    return [(t(lang, f"train.cv_{c}"), c) for c in cv_options()[0]]


def _config(ctx, lang, pid, name, mode_value, preset_name, flip, n_epochs, n_batch, rate, seed_value, minutes,
             cv_value, where_value, offline):
    """A RunConfig from the form, every value checked here (the browser is not trusted)."""
    from engine.config import AugmentConfig, RunConfig
    from engine.models import get_spec

    if project_or_none(ctx.ws, pid) is None:
        raise UserError(t(lang, "common.no_project"))
    found = project_dataset(ctx.ws, pid)
    if found is None:
        raise UserError(t(lang, "train.no_data"))
    if where_value not in ("local", "auto", "cloud"):
        raise UserError(t(lang, "train.bad_choice"))
    if where_value == "cloud" and cloud_cost(ctx, lang) is None:
        raise UserError(t(lang, "train.cloud_setup_first"))
    cv_values, cv_default = cv_options()
    if name not in offline or mode_value not in MODES or preset_name not in PRESET_NAMES or cv_value not in cv_values:
        raise UserError(t(lang, "train.bad_choice"))
    task = project_task(ctx.ws, pid)
    if not serves(get_spec(name), task):  # a model of another task, forged past the form
        raise UserError(t(lang, "train.bad_choice"))

    dataset_dir, manifest = found
    raw = {"task": task.name, "data": str(dataset_dir), "model": name, "mode": mode_value,
           "augment": AugmentConfig(preset=preset_name, hflip=bool(flip)),
           "seed": _field(lang, "seed", "train.seed", seed_value, int) or 0}
    if cv_value != cv_default:  # the config's default unless the person chose otherwise, as on the command line
        raw["eval"] = {"cv": cv_value}
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
