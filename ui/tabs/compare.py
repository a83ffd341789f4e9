"""Compare tab: tick candidates (model · mode), set a time budget, start `engine compare` in a child process
and watch its leaderboard grow; the recommendation is drawn under it.

The comparison runs in a process of its own (engine.compare.start_compare), like training; this tab reads
the compare folder's leaderboard.json once a second. The UI is the only writer of the workspace index, so it
registers each finished candidate run in the project itself.
"""

from __future__ import annotations

import html
import math
import threading
from pathlib import Path

import gradio as gr
import pandas as pd

from engine.compare.candidates import default_candidates
from engine.errors import UserError
from engine.fsutil import atomic_write_json, read_json
from ui.i18n import t
from ui.state import (
    PRIVATE,
    Ctx,
    duration_text,
    has_gpu,
    header_widths,
    message,
    progress_html,
    project_dataset,
    project_or_none,
    project_task,
    serves,
)

ID = "compare"
TICK_S = 1.0
BUDGET_DEFAULT = 15
BUDGET_MAX = 240
UI_FILE = "ui.json"  # which project a compare folder belongs to (written by the UI that started it)


def candidate_specs() -> tuple[list[str], list[str]]:
    """(every candidate the UI offers, the default ones): defaults first, then offline models × two modes."""
    from engine.compare import default_candidates
    from engine.models import get_family, list_models

    defaults = default_candidates("cuda" if has_gpu() else "cpu")
    offered = list(defaults)
    for spec in list_models():
        offered += [f"{spec.name}:{mode}" for mode in get_family(spec.family).offered_modes(spec)]
    return list(dict.fromkeys(offered)), defaults


def task_candidates(offered: list[str], task) -> list[str]:
    """The candidates (model:mode) whose model serves `task`, in the order offered."""
    from engine.models import get_spec

    return [c for c in offered if serves(get_spec(c.split(":")[0]), task)]


def _choices(lang: str, offered: list[str]) -> list[tuple[str, str]]:
    out = []
    for spec in offered:
        model, mode = spec.split(":")[:2]
        out.append((f"{model} · {t(lang, f'mode_short.{mode}')}", spec))
    return out


class _Processes:
    """The comparisons this UI process started, by project (the folder's .pid covers a restarted UI)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_project: dict[str, tuple[Path, object]] = {}

    def active(self, pid: str) -> Path | None:
        from engine.compare import compare_status

        with self.lock:
            found = self.by_project.get(pid)
        if found is None:
            return None
        folder, proc = found
        if proc.poll() is None or compare_status(folder) in ("starting", "running"):
            return folder
        return None


def build(ctx: Ctx, tab: gr.Tab) -> None:
    T = ctx.texts.make
    ws = ctx.ws
    offered, defaults = candidate_specs()
    procs = _Processes()
    registered: set[str] = set()
    watch = gr.State(None)  # the compare folder shown
    seen = gr.State(None)  # what was drawn last
    finished = gr.State(None)  # changes when a watched comparison ends: refreshes the other tabs

    T(gr.Markdown, {"value": "cmp.intro"})
    data_line = gr.Markdown(elem_id="k-cmp-data")
    picks = T(gr.CheckboxGroup, {"label": "cmp.candidates", "info": "cmp.candidates_info",
                                 "choices": lambda lang: _choices(lang, offered)}, value=list(defaults),
              elem_id="k-cmp-candidates")
    with gr.Row(equal_height=True):
        budget = T(gr.Slider, {"label": "cmp.budget"}, minimum=1, maximum=BUDGET_MAX, step=1, value=BUDGET_DEFAULT,
                   scale=3, elem_id="k-cmp-budget")
        search = T(gr.Checkbox, {"label": "cmp.search", "info": "cmp.search_info"}, value=False, scale=2,
                   elem_id="k-cmp-search")
    with gr.Row():
        start = T(gr.Button, {"value": "cmp.start"}, variant="primary", elem_id="k-cmp-start")
        stop = T(gr.Button, {"value": "cmp.stop"}, variant="stop", interactive=False, elem_id="k-cmp-stop")
    bar = gr.HTML(elem_id="k-cmp-progress")
    status = gr.Markdown(elem_id="k-cmp-status")
    rec = gr.Markdown(elem_id="k-cmp-rec")
    table = T(gr.Dataframe, {"label": "cmp.table", "column_widths": _widths}, interactive=False, wrap=True,
              elem_id="k-cmp-table")
    how = gr.Markdown(elem_id="k-cmp-how")
    timer = gr.Timer(TICK_S)
    outputs = [bar, status, rec, table, how, start, stop]

    def draw(lang, folder: Path | None, running: bool):
        if folder is None:
            return ["", "", "", pd.DataFrame(columns=_columns(lang)), "", gr.update(interactive=True),
                    gr.update(interactive=False)]
        return [*board_view(lang, folder), gr.update(interactive=not running), gr.update(interactive=running)]

    def refresh(pid, lang, picked):
        found = project_dataset(ws, pid) if project_or_none(ws, pid) else None
        folder = _project_compare(ws, pid)
        if folder is not None:
            _register_runs(ws, folder, registered)
        running = folder is not None and _running(folder)
        task = project_task(ws, pid)
        shown = task_candidates(offered, task)
        # A project of another task (or the first visit): its own default candidates, picked.
        kept = [p for p in (picked or []) if p in shown] or [
            c for c in default_candidates("cuda" if has_gpu() else "cpu", task.name) if c in shown]
        return [_data_line(lang, found), str(folder) if folder else None, None, *draw(lang, folder, running),
                gr.update(choices=_choices(lang, shown), value=kept)]

    ctx.on_refresh(refresh, [data_line, watch, seen, *outputs, picks], inputs=[picks])

    def on_start(pid, lang, picked, minutes, do_search):
        try:
            folder, proc = _start(ctx, procs, lang, pid, picked, minutes, do_search, offered)
        except Exception as e:
            return [gr.skip(), gr.skip(), "", message(lang, e), *[gr.skip()] * (len(outputs) - 2)]
        with procs.lock:
            procs.by_project[pid] = (folder, proc)
        return [str(folder), None, *draw(lang, folder, True)]

    start.click(on_start, [ctx.pid, ctx.lang, picks, budget, search], [watch, seen, *outputs], **PRIVATE)

    def on_stop(pid, lang):
        from engine.compare import stop_compare

        folder = procs.active(pid) if pid else None
        folder = folder or (_project_compare(ws, pid) if project_or_none(ws, pid) else None)
        with procs.lock:
            proc = (procs.by_project.get(pid) or (None, None))[1]
        if folder is None or not stop_compare(folder, proc):
            return t(lang, "cmp.nothing_running")
        return t(lang, "cmp.stopped")

    stop.click(on_stop, [ctx.pid, ctx.lang], status, **PRIVATE)

    def on_tick(pid, lang, watched, last):
        # Every open page calls this each second: it reads one small JSON file, never the index, unless a row ended.
        folder = _compare_folder(ws, watched)
        if folder is None:
            return [gr.skip()] * (3 + len(outputs))
        key = _key(folder, lang)
        if key == last:
            return [gr.skip()] * (3 + len(outputs))
        procs.active(pid)  # reaps a finished child of this process
        running = _running(folder)
        _register_runs(ws, folder, registered)  # the other tabs see new runs at their next refresh
        was_running = bool(last) and last[0] == str(folder) and last[2] in ("starting", "running")
        ended = f"{folder}:{key[2]}" if was_running and key[2] not in ("starting", "running") else gr.skip()
        return [str(folder), key, ended, *draw(lang, folder, running)]

    timer.tick(on_tick, [ctx.pid, ctx.lang, watch, seen], [watch, seen, finished, *outputs], show_progress="hidden",
               **PRIVATE)
    ctx.then_refresh(finished.change(lambda: None, None, None, show_progress="hidden", **PRIVATE))


# --- starting -------------------------------------------------------------------------------------

def _start(ctx: Ctx, procs: _Processes, lang: str, pid, picked, minutes, do_search, offered):
    """Check the form on the server (every value comes from the browser) and start the comparison."""
    from engine.compare import start_compare

    if project_or_none(ctx.ws, pid) is None:
        raise UserError(t(lang, "common.no_project"))
    found = project_dataset(ctx.ws, pid)
    if found is None:
        raise UserError(t(lang, "train.no_data"))
    picked = [p for p in (picked or []) if isinstance(p, str)]
    if not picked:
        raise UserError(t(lang, "cmp.none_picked"))
    if any(p not in task_candidates(offered, project_task(ctx.ws, pid)) for p in picked):
        raise UserError(t(lang, "cmp.bad_choice"))
    try:
        minutes = float(minutes)
    except (TypeError, ValueError):
        minutes = float("nan")
    if not math.isfinite(minutes) or not 1 <= minutes <= BUDGET_MAX:
        raise UserError(t(lang, "train.bad_number"))
    if ctx.runner.active_run(pid) is not None:
        raise UserError(t(lang, "cmp.busy_train"))
    if procs.active(pid) is not None:
        raise UserError(t(lang, "cmp.busy"))
    current = _project_compare(ctx.ws, pid)
    from engine.compare import compare_status

    if current is not None and compare_status(current) in ("starting", "running"):
        raise UserError(t(lang, "cmp.busy"))
    dataset_dir, _ = found
    folder, proc = start_compare(ctx.ws.root, dataset_dir, picked, budget_minutes=minutes, search=bool(do_search))
    atomic_write_json(folder / UI_FILE, {"project_id": pid})
    ctx.ws.update_project_state(pid, compare_dir=str(folder))
    return folder, proc


# --- reading a compare folder ------------------------------------------------------------------------

def _compare_root(ws) -> Path:
    return (Path(ws.root) / "compare").resolve()


def _compare_folder(ws, watched) -> Path | None:
    """`watched` when it is a compare folder of this workspace (the value comes from the page)."""
    if not watched or not isinstance(watched, str):
        return None
    path = Path(watched).resolve()
    return path if path.parent == _compare_root(ws) and path.is_dir() else None


def _project_compare(ws, pid) -> Path | None:
    project = project_or_none(ws, pid)
    folder = (project or {}).get("state", {}).get("compare_dir")
    return _compare_folder(ws, folder)


def _running(folder: Path) -> bool:
    from engine.compare import compare_status

    return compare_status(folder) in ("starting", "running")


def _key(folder: Path, lang: str) -> tuple:
    from engine.compare import LEADERBOARD_FILE, compare_status

    try:
        stamp = (folder / LEADERBOARD_FILE).stat().st_mtime_ns
    except OSError:
        stamp = 0
    return (str(folder), stamp, compare_status(folder), lang)


def _register_runs(ws, folder: Path, registered: set[str]) -> None:
    """Put the comparison's finished runs into the index, in the project that started it."""
    from engine.compare import read_leaderboard

    board = read_leaderboard(folder)
    if board is None:
        return
    try:
        pid = read_json(folder / UI_FILE).get("project_id")
    except (OSError, ValueError, AttributeError):
        pid = None
    for row in board.get("rows", []):
        if row.get("status") not in ("done", "failed", "cancelled"):
            continue
        for rel in row.get("run_dirs") or []:
            run_dir = (folder / rel).resolve()
            if run_dir.name in registered or not run_dir.is_dir() or run_dir.parent != folder / "runs":
                continue
            if ws.refresh_run(run_dir.name) is None:
                ws.register_run(run_dir, project_id=pid, dataset_id=(board.get("data") or {}).get("id"),
                                model=row.get("model"), mode=row.get("mode"))
                ws.refresh_run(run_dir.name)
            registered.add(run_dir.name)


def board_view(lang: str, folder: Path) -> list:
    """[progress bar, status line, recommendation, table, latency note] for a compare folder."""
    from engine.compare import compare_status, read_leaderboard

    board = read_leaderboard(folder)
    state = compare_status(folder)
    if board is None:
        text = t(lang, "cmp.status_starting") if state == "starting" else t(lang, "cmp.status_failed", folder=folder)
        return ["", text, "", pd.DataFrame(columns=_columns(lang)), ""]
    rows = board.get("rows") or []
    ended = [r for r in rows if r["status"] not in ("pending", "running")]
    elapsed = duration_text(lang, float(board.get("elapsed_s") or 0))
    if state == "running":
        now = next((r for r in rows if r["status"] == "running"), None)
        what = _label(lang, now) if now else "…"
        text = t(lang, "cmp.status_running", done=len(ended), total=len(rows), what=html.escape(what))
    elif state in ("done", "cancelled"):
        text = t(lang, f"cmp.status_{state}", time=elapsed)
    elif state == "interrupted":
        text = t(lang, "cmp.status_interrupted")
    else:
        text = t(lang, "cmp.status_failed", folder=folder)
    fraction = len(ended) / max(1, len(rows))
    bar = progress_html(fraction) if rows else ""
    recommendation = board.get("recommendation")
    rec = (t(lang, "cmp.recommended", reason=_reason(lang, recommendation)) if recommendation
           else t(lang, "cmp.no_recommendation"))
    rec_id = (recommendation or {}).get("row")
    names = next((r["score_names"] for r in rows if r.get("score_names")), None)
    table = pd.DataFrame([_table_row(lang, r, rec_id) for r in rows], columns=_columns(lang, names))
    return [bar, text, rec, table, t(lang, "cmp.latency_how")]


def _reason(lang: str, rec: dict) -> str:
    """The recommendation's sentence in `lang`, part by part; the engine's English one when a code is unknown."""
    from engine.compare import render_reason

    if lang == "en":
        return str(rec.get("reason") or "")
    try:  # t() without fields gives the template; a key it lacks raises KeyError
        return render_reason(rec["code"], rec.get("params") or {}, lambda key: t(lang, f"cmp.{key}"))
    except (KeyError, IndexError, ValueError, TypeError):
        return str(rec.get("reason") or "")


def _keys() -> set[str]:
    from ui.i18n.strings import STRINGS

    return set(STRINGS)


def _label(lang: str, row: dict) -> str:
    text = f"{row['model']} · {t(lang, 'mode_short.' + row['mode'])}"
    if row.get("trials", 1) > 1:
        text += f" #{row['trial']}"
    return text


def _columns(lang: str, names: list[str] | None = None) -> list[str]:
    """The table's headers; `names`: the rows' two scores (engine's score_names), accuracy and macro-F1 when None."""
    from engine.compare.leaderboard import SCORE_TITLES

    first, second = names or ("accuracy", "macro_f1")
    return ["→", t(lang, "cmp.col_candidate"), t(lang, "cmp.col_trial"), t(lang, "cmp.col_status"),
            t(lang, "common.accuracy") if first == "accuracy" else SCORE_TITLES.get(first, first),
            SCORE_TITLES.get(second, second), t(lang, "cmp.col_pictures"), t(lang, "cmp.col_spread"),
            t(lang, "cmp.col_train"), t(lang, "cmp.col_latency"), t(lang, "cmp.col_params"), t(lang, "cmp.col_size"),
            t(lang, "cmp.col_note")]


WIDE_PX = {1: 230, 7: 170, 12: 240}  # the candidate, the spread and the note: their text wraps inside this


def _widths(lang: str) -> list[int]:
    return header_widths(_columns(lang), WIDE_PX)


def _table_row(lang: str, r: dict, rec_id: str | None) -> list:
    trial = ""
    if r.get("trials", 1) > 1:
        hp = ", ".join(f"{k} {v}" for k, v in (r.get("settings") or {}).items() if k in ("lr", "epochs"))
        trial = f"{r['trial']}/{r['trials']} ({hp})" + (" ★" if r.get("best_trial") else "")
    return ["→" if r["id"] == rec_id else "", _label(lang, r), trial, t(lang, f"cmp.row.{r['status']}"),
            _round(r.get("accuracy"), 3), _round(r.get("macro_f1"), 3), r.get("n_eval"), _spread(lang, r),
            _round(r.get("train_seconds"), 1),
            _round(r.get("latency_ms"), 1), _round((r.get("params") or 0) / 1e6 or None, 2),
            _round((r.get("size_bytes") or 0) / 1e6 or None, 1), _message(lang, r)]


def _spread(lang: str, r: dict) -> str:
    """Accuracy mean ± spread and what it is over: cross-validation (on how many pictures) or training seeds."""
    spread = r.get("spread") or {}
    acc = spread.get("accuracy")
    if not acc:
        return ""
    mean, std = f"{acc[0]:.3f}", f"{acc[1]:.3f}"
    if spread.get("kind") == "seeds":
        return t(lang, "cmp.spread_seeds", mean=mean, std=std)
    if spread.get("n"):
        return t(lang, "cmp.spread_cv", mean=mean, std=std, n=spread["n"])
    return f"{mean} ± {std}"


def _message(lang: str, r: dict) -> str:
    """The row's note in `lang` when the engine gave it a code; else its own (English) sentence."""
    key = f"cmp.msg.{r.get('message_code')}"
    if lang != "en" and r.get("message_code") and key in _keys():
        try:
            params = {k[:-2]: duration_text(lang, float(v)) if k.endswith("_s") else v
                      for k, v in (r.get("message_params") or {}).items()}
            return t(lang, key, **params)
        except (KeyError, IndexError, ValueError):
            pass
    return r.get("message") or ""


def _round(value, digits):
    return round(float(value), digits) if value is not None else None


def _data_line(lang, found) -> str:
    if found is None:
        return t(lang, "train.no_data")
    _, manifest = found
    per_class: dict[str, int] = {}
    for it in manifest["items"]:
        if it["split"] == "train":
            per_class[it["label"]] = per_class.get(it["label"], 0) + 1
    return t(lang, "train.data_line", n=len(manifest["items"]), k=len(manifest["classes"]),
             smallest=min(per_class.values()) if per_class else 0)
