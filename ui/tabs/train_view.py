"""The Train tab's run view: the progress bar, the status line with the run's resolved settings, the epoch
charts and the log, all read from the run's events (never from its log sentences)."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from ui.i18n import engine_text, t
from ui.state import Ctx, duration_text, headline_accuracy, progress_html, project_or_none, project_runs
from ui.tabs.train_form import MODES

LOG_LINES = 200
# The resolved settings the run view names, in this order (the `start` event's `resolved`, as in resolved.yaml);
# any other setting follows under its own name. Model, mode and device are in the line above it already.
RESOLVED_SHOWN = ("epochs", "lr", "batch_size", "image_size", "patience", "cv", "augment.preset", "augment.hflip",
                  "budget_minutes", "seed", "workers")
RESOLVED_SKIPPED = ("model", "mode", "device", "task", "data")


def _ended_text(lang, snap) -> str:
    """Why a run ended without a model, in `lang`: by the code of its last event, else its English message."""
    if snap.status == "interrupted":
        paths = {"console": str(snap.run_dir / "console.log"), "log": str(snap.run_dir / "train.log")}
        return engine_text(lang, "failure", "interrupted", paths, snap.message)
    # The runner writes `cancelled` itself when it had to kill the process: same meaning, no code.
    code = snap.code or ("cancelled" if snap.status == "cancelled" else None)
    return engine_text(lang, "failure", code, snap.params, snap.message or "")


def own_run(ctx: Ctx, pid, watched) -> Path | None:
    """`watched` if it is a run of this project (the value comes from the page), else None."""
    if not watched or project_or_none(ctx.ws, pid) is None:
        return None
    for r in project_runs(ctx.ws, pid):
        if Path(r["path"]) == Path(watched):
            return Path(r["path"])
    return None


def run_folder(ctx: Ctx, watched) -> Path | None:
    """`watched` when it is a run folder of this workspace (cheap enough for the timer)."""
    if not watched:
        return None
    path = Path(watched).resolve()
    return path if path.parent == ctx.ws.runs_dir.resolve() and (path / "config.yaml").exists() else None


def snapshot_key(ctx: Ctx, run_dir, lang):
    """What the view shows of a run, to skip redrawing when nothing changed."""
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


def bar_html(lang, snap) -> str:
    """The progress bar with its phase, step and time left; nothing for a run that ended without a model."""
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


def status_text(lang, snap) -> str:
    """What the run is (model, mode, device, why), its resolved settings, and how it ended, in `lang`."""
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
        settings = resolved_text(lang, start.get("resolved"))
        if settings:
            head += f"\n\n{settings}"
    if snap.status == "done":
        from engine.fsutil import read_json

        try:
            metrics = read_json(snap.run_dir / "metrics.json")
        except (OSError, ValueError):
            metrics = {}
        acc = headline_accuracy(metrics)
        found = _headline_map(metrics)
        if acc is None and found is not None:  # a detector: its boxes' mAP instead of an accuracy
            body = t(lang, "train.done_det", seconds=duration_text(lang, float(metrics.get("train_seconds") or 0)),
                     map=f"{found[0]:.2f}", map50=f"{found[1]:.2f}")
            return f"{head}\n\n{body}"
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
        from engine.snapshot import upgrade_event

        lines = []
        epoch = snap.epoch_end
        if epoch.get("epoch") and epoch.get("epochs"):  # said in `lang`, from the event rather than a log line
            lines.append(t(lang, "train.epoch_done", epoch=epoch["epoch"], epochs=epoch["epochs"]))
        last = snap.logs[-1] if snap.logs else ""
        if last and upgrade_event({"type": "log", "message": last})["type"] == "log":  # not an old epoch line
            lines.append(last)
        return "\n\n".join([head, *lines])
    return ""


def resolved_text(lang: str, resolved) -> str:
    """The settings a run actually used (defaults filled in), as one line in `lang`; "" for runs written before
    the `start` event carried them."""
    if not isinstance(resolved, dict) or not resolved:
        return ""
    flat = {}
    for key, value in resolved.items():
        if isinstance(value, dict):  # a group of settings (augment, eval): one level, named by its key
            flat.update({f"{key}.{k}": v for k, v in value.items() if not isinstance(v, (dict, list))})
        elif not isinstance(value, list):
            flat[key] = value
    flat.setdefault("cv", flat.pop("eval.cv", None))
    order = [k for k in RESOLVED_SHOWN if k in flat] + sorted(k for k in flat if k not in RESOLVED_SHOWN)
    parts = [f"{_setting_name(lang, k)} {_setting_value(lang, k, flat[k])}" for k in order
             if flat[k] is not None and k not in RESOLVED_SKIPPED]
    return t(lang, "train.resolved", settings=" · ".join(parts)) if parts else ""


def _setting_name(lang: str, key: str) -> str:
    from ui.i18n.strings import STRINGS

    return t(lang, f"resolved.{key}") if f"resolved.{key}" in STRINGS else key


def _setting_value(lang: str, key: str, value) -> str:
    from ui.i18n.strings import STRINGS

    if isinstance(value, bool):
        return t(lang, "common.yes" if value else "common.no")
    if key == "cv" and f"train.cv_{value}" in STRINGS:
        return t(lang, f"train.cv_{value}")
    if key == "augment.preset" and f"preset.{value}" in STRINGS:
        return t(lang, f"preset.{value}").split(" (")[0].lower()
    if key == "image_size":
        return t(lang, "train.pixels", n=value)
    if key == "budget_minutes":
        return duration_text(lang, float(value) * 60)
    return f"{value:g}" if isinstance(value, float) else str(value)


def epoch_plots(lang, snap):
    """Updates of the loss and accuracy charts from the run's per-epoch metrics (hidden before the first)."""
    loss_rows, acc_rows, map_rows, val = [], [], [], {}
    names = {"train": t(lang, "split.train"), "val": t(lang, "split.val")}
    for m in snap.metrics:
        epoch, split, values = m.get("epoch"), m.get("split"), m.get("values") or {}
        if not isinstance(epoch, int) or split not in names:
            continue
        if "loss" in values:
            loss_rows.append({"epoch": epoch, "value": values["loss"], "series": names[split]})
        if "accuracy" in values:
            acc_rows.append({"epoch": epoch, "value": values["accuracy"], "series": names[split]})
        for key in ("map50", "map50_95"):  # a detector's validation scores, in the same chart
            if key in values:
                map_rows.append({"epoch": epoch, "value": values[key], "series": key.replace("_", "-")})
        if split == "val" and {"loss", "macro_f1"} <= set(values):
            val[epoch] = values
    if not loss_rows:
        return gr.update(visible=False), gr.update(visible=False)
    best = best_epoch(val)
    if map_rows and not acc_rows:
        return (gr.update(value=epoch_chart(lang, loss_rows, "train.loss", best), visible=True),
                gr.update(value=epoch_chart(lang, map_rows, "train.map", None, y_domain=[0, 1]), visible=True))
    return (gr.update(value=epoch_chart(lang, loss_rows, "train.loss", best), visible=True),
            gr.update(value=epoch_chart(lang, acc_rows, "train.accuracy", best, y_domain=[0, 1]) if acc_rows
                      else None, visible=bool(acc_rows)))


def _headline_map(metrics: dict) -> tuple[float, float] | None:
    """(mAP50-95, mAP50) on the test split, else validation; None without them."""
    for split in ("test", "val"):
        m = metrics.get(split)
        if isinstance(m, dict) and isinstance(m.get("map50_95"), (int, float)):
            return float(m["map50_95"]), float(m.get("map50") or 0.0)
    return None


def best_epoch(val: dict[int, dict]) -> int | None:
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


def log_tail(run_dir: Path) -> str:
    """The last lines of the run's logs, for the log section."""
    parts = []
    for name in ("train.log", "console.log"):
        path = run_dir / name
        if path.exists():
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_LINES:]
            if lines:
                parts.append(f"== {name} ==\n" + "\n".join(lines))
    return "\n\n".join(parts)
