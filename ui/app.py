"""The Gradio app: a header (project, language) over one tab per step, and a safe launch.

Each tab is a module in ui/tabs with `ID` and `build(ctx)`; what they share (the open project,
the language, refreshes after a change) goes through `ui.state.Ctx`. Heavy libraries (torch,
albumentations) are imported inside handlers, so the first page answers as soon as Gradio is up.
"""

from __future__ import annotations

import hmac
import logging
import signal
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import gradio as gr
from starlette.middleware import Middleware

from engine import __version__
from ui import instance
from ui.gradio_locale import follow_language
from ui.guard import LoginThrottle, Policy, RequestGuard, is_loopback
from ui.i18n import LANGUAGES, Texts, normalize, t
from ui.state import PRIVATE, Ctx, Settings, project_or_none, shown_path
from ui.tabs import compare, data, evaluate, export, projects, runs, settings, test, train

TAB_MODULES = (projects, data, train, evaluate, test, export, runs, compare, settings)
TAB_IDS = tuple(m.ID for m in TAB_MODULES)  # each tab module names itself; the page, its labels and memory follow
MAX_FILE_SIZE = "500mb"  # a picture or the zip of a small dataset; the upload hint says it (data.zip_hint)
# Gradio's cache of uploads and outputs: every half hour, files older than two hours go.
DELETE_CACHE = (1800, 7200)
LEFTOVER_TICK_S = 2.0
CSS = """
#k-header { align-items: center; }
#k-header h1 { margin: 0; }
.k-progress { width: 100%; height: 14px; border-radius: 7px; background: var(--neutral-200); overflow: hidden; }
.k-progress > div { height: 100%; background: var(--color-accent); transition: width .4s; }
.k-progress-text { margin-top: 4px; font-size: .9em; color: var(--body-text-color-subdued); }
.k-cards { display: flex; gap: 12px; flex-wrap: wrap; }
.k-card { flex: 1 1 200px; border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 14px; }
.k-card .k-num { font-size: 2em; font-weight: 600; }
.k-card .k-what { font-size: .9em; color: var(--body-text-color-subdued); }
.k-count-row { display: flex; align-items: center; gap: 8px; margin: 4px 0; }
.k-count-name { flex: 0 0 30%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.k-count-bar { flex: 1; display: flex; height: 18px; }
.k-train { background: #6366f1; } .k-val { background: #f59e0b; } .k-test { background: #ef4444; }
.k-legend { margin-top: 8px; font-size: .85em; color: var(--body-text-color-subdued); }
.k-dot { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; }
.k-badge { display: inline-block; padding: 1px 8px; border-radius: 9px; font-size: .85em; }
.k-ok { background: #dcfce7; color: #166534; }
.k-no { background: #fef3c7; color: #92400e; }
"""
log = logging.getLogger("konstruktor.ui")


def build(ws, runner, *, shared: bool = False) -> gr.Blocks:
    """The whole page for one workspace; `shared` disables what only makes sense on this computer."""
    store = Settings(ws.root)
    texts = Texts(store.language())
    ctx = Ctx(ws, runner, texts, store, shared)
    with gr.Blocks(title="Konstruktor", delete_cache=DELETE_CACHE) as demo:
        ctx.pid = gr.State(None)
        ctx.lang = gr.State(texts.lang)
        with gr.Row(elem_id="k-header"):
            texts.make(gr.Markdown, {"value": "app.title"}, elem_id="k-title")
            ctx.project_picker = texts.make(gr.Dropdown, {"label": "app.project"}, choices=[], value=None,
                                            interactive=True, elem_id="k-project", scale=2)
            language = texts.make(gr.Dropdown, {"label": "app.language"}, choices=[(v, k) for k, v in LANGUAGES.items()],
                                  value=texts.lang, interactive=True, elem_id="k-language", scale=1)
        with gr.Tabs(elem_id="k-tabs") as tabs:
            ctx.tabs = tabs
            tab_blocks = {}
            for module in TAB_MODULES:
                with gr.Tab(t(texts.lang, f"tab.{module.ID}"), id=module.ID, elem_id=f"k-tab-{module.ID}") as tab:
                    tab_blocks[module.ID] = tab
                    module.build(ctx, tab)
        texts.make(gr.Markdown, {"value": lambda lang: t(lang, "app.footer", version=__version__,
                                                           root=shown_path(ws.root))}, elem_id="k-footer")

        ctx.on_refresh(lambda pid, lang: _picker(ctx, pid), [ctx.project_picker])
        _warn_of_leftover_vms(runner, ctx)
        ctx.language_inputs.append(language)

        for tab_id, tab in tab_blocks.items():
            tab.select(lambda pid, tab_id=tab_id: _remember_tab(ctx, pid, tab_id), [ctx.pid], None,
                       show_progress="hidden", **PRIVATE)

        tab_labels = [tab_blocks[m.ID] for m in TAB_MODULES]

        def relabel(lang):
            return [lang, *texts.updates(lang), *[gr.update(label=t(lang, f"tab.{m.ID}")) for m in TAB_MODULES],
                    *[gr.update(value=lang) for _ in ctx.language_inputs]]

        def on_language(lang):
            lang = normalize(lang)
            store.set(language=lang)
            return relabel(lang)

        relabel_outputs = [ctx.lang, *texts.components, *tab_labels, *ctx.language_inputs]
        for control in ctx.language_inputs:
            changed = control.input(on_language, control, relabel_outputs, show_progress="hidden", **PRIVATE)
            follow_language(changed, language)
            ctx.then_refresh(changed)

        def on_load():
            lang = store.language()
            pid = store.get("last_project")
            project = project_or_none(ws, pid)
            if project is None:
                listed = ws.list_projects()
                project = listed[0] if listed else None
            pid = project["id"] if project else None
            tab = (project or {}).get("state", {}).get("tab") or "projects"
            return [pid, gr.Tabs(selected=tab if tab in TAB_IDS else "projects"), *relabel(lang)]

        loaded = ctx.then_refresh(demo.load(on_load, None, [ctx.pid, ctx.tabs, *relabel_outputs],
                                            show_progress="hidden", **PRIVATE))

        def on_pick(pid):
            if project_or_none(ws, pid) is None:
                return gr.skip(), gr.skip()
            store.set(last_project=pid)
            tab = ws.get_project(pid)["state"].get("tab") or "data"
            return pid, gr.Tabs(selected=tab if tab in TAB_IDS else "data")

        ctx.then_refresh(ctx.project_picker.input(on_pick, ctx.project_picker, [ctx.pid, ctx.tabs],
                                                  show_progress="hidden", **PRIVATE))
        chained = list(ctx._after)
        ends = ctx.wire_refreshes()
        loaded_end = next(end for dep, end in zip(chained, ends, strict=True) if dep is loaded)
        # Marks the page as settled (last project and tab restored), for people's scripts and the browser tests.
        follow_language(loaded_end.then(None, None, None, js="() => { document.body.dataset.konstruktorReady = '1'; }",
                                        **PRIVATE), language)
    return demo


def _warn_of_leftover_vms(runner, ctx: Ctx) -> None:
    """A warning once per page when cloud VMs that no training owns are running (they cost money every hour).

    The app looks for them in the background when it starts; the page asks its memory every few seconds until
    that look is over (never the network), so a page opened before the answer still hears it.
    """
    timer = gr.Timer(LEFTOVER_TICK_S)

    def tick(lang):
        known = settings.known_leftovers(runner)
        if known is None:
            return gr.skip()
        if known:
            gr.Warning(t(lang, "settings.leftovers_warning", n=len(known)))
        return gr.Timer(active=False)

    timer.tick(tick, ctx.lang, timer, show_progress="hidden", **PRIVATE)


def _picker(ctx: Ctx, pid: str | None):
    choices = [(p["name"], p["id"]) for p in ctx.ws.list_projects()]
    return gr.update(choices=choices, value=pid if any(c[1] == pid for c in choices) else None)


def _remember_tab(ctx: Ctx, pid: str | None, tab_id: str) -> None:
    if project_or_none(ctx.ws, pid) is not None and tab_id in TAB_IDS:
        ctx.ws.update_project_state(pid, tab=tab_id)


def password_auth(user: str, password: str):
    """A Gradio auth callable for one user; throttling of wrong guesses is per client, in ui.guard."""
    def check(u: str, p: str) -> bool:
        return hmac.compare_digest(u.encode(), user.encode()) & hmac.compare_digest(p.encode(), password.encode())

    return check


def launch(ws, *, host: str, port: int, share: bool, auth, open_browser: bool) -> int:
    """Serve the app until Ctrl+C (or SIGTERM / a closed terminal); then stop the trainings it runs."""
    _log_to(ws.root / "logs" / "ui.log")
    from cloud.runner import with_cloud

    runner = with_cloud(ws)  # this computer and Yandex Cloud as a second place to train; re-attaches unfinished jobs
    # Anyone who can reach a non-loopback address is as much a stranger as a share link's visitor.
    demo = build(ws, runner, shared=share or not is_loopback(host))
    policy = Policy(bind_host=host, port=port)
    guard = Middleware(RequestGuard, policy=policy, throttle=LoginThrottle())
    app, local_url, share_url = demo.launch(
        server_name=host, server_port=port, share=share, auth=password_auth(*auth) if auth else None,
        inbrowser=open_browser, prevent_thread_lock=True, max_file_size=MAX_FILE_SIZE, enable_monitoring=False,
        quiet=True, blocked_paths=_blocked(ws), app_kwargs={"middleware": [guard]},
        footer_links=[], css=CSS, theme=gr.themes.Soft(), mcp_server=False, ssr_mode=False,
    )
    if share_url:
        policy.share_host = urlsplit(share_url).hostname

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "version": __version__}

    instance.claim(ws.root, local_url)
    print(f"Konstruktor is running at {local_url}" + (f" and {share_url}" if share_url else ""), flush=True)
    _stop_on_signals()
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("Stopping Konstruktor ...", flush=True)
    finally:
        instance.release(ws.root)
        runner.shutdown()
        demo.close()
    return 0


def _blocked(ws) -> list[str]:
    """Never served, whatever else is allowed: the index (and its WAL files), logs, future cloud secrets."""
    index = str(ws.index_path)
    return [index, index + "-wal", index + "-shm", str(ws.root / "logs"), str(ws.root / "cloud"),
            str(ws.root / "secrets"), str(ws.root / "cloud.json"), str(ws.root / instance.INSTANCE_FILE)]


def _stop_on_signals() -> None:
    """Ctrl+C, SIGTERM and SIGHUP (a closed terminal window) end the app.

    SIGINT is set here too: a shell script's `app &` starts it ignored, and Python keeps that.
    """
    def interrupt(signum, _frame):
        raise KeyboardInterrupt

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name) and threading.current_thread() is threading.main_thread():
            signal.signal(getattr(signal, name), interrupt)


def _log_to(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("konstruktor")
    if not any(isinstance(h, logging.FileHandler) for h in logger.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
