"""Shared UI plumbing: settings kept on disk, the context every tab is built with, reads of project data.

Nothing here imports torch: it runs while the first page is drawn.
"""

from __future__ import annotations

import html
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from engine.errors import UserError
from engine.fsutil import atomic_write_json, read_json
from engine.tasks import Task, get_task
from ui.i18n import Texts, normalize, system_language, t

SETTINGS_FILE = "ui_settings.json"
# Every event handler of the app is internal: not listed in the API page or the client's view_api(). That hides,
# it does not protect: any handler still runs on `POST /gradio_api/queue/join {"fn_index": N}`, with whatever inputs
# the caller forges, so each one checks its inputs on the server (project ids, class names, paths).
PRIVATE: dict[str, Any] = {"api_visibility": "private"}
log = logging.getLogger("konstruktor.ui")


class Settings:
    """App-wide choices kept in <workspace>/ui_settings.json: language, the project open last."""

    def __init__(self, root: Path):
        self.path = Path(root) / SETTINGS_FILE
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            data = read_json(self.path)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def get(self, key: str, default: Any = None) -> Any:
        return self._read().get(key, default)

    def set(self, **values: Any) -> None:
        with self._lock:
            data = self._read()
            data.update(values)
            atomic_write_json(self.path, data)

    def language(self) -> str:
        return normalize(self.get("language") or system_language())


Refresher = Callable[..., Any]


@dataclass
class Ctx:
    """What every tab is built with: the workspace, the runner, strings, and the page's shared state."""

    ws: Any
    runner: Any
    texts: Texts
    settings: Settings
    shared: bool = False
    pid: gr.State | None = None
    lang: gr.State | None = None
    tabs: gr.Tabs | None = None
    project_picker: gr.Dropdown | None = None
    language_inputs: list[Any] = field(default_factory=list)
    _after: list[Any] = field(default_factory=list)
    refreshers: list[tuple[Refresher, list[Any], list[Any]]] = field(default_factory=list)

    def on_refresh(self, fn: Refresher, outputs: list[Any], inputs: list[Any] | None = None) -> None:
        """`fn(pid, lang, *inputs)` redraws `outputs` whenever the project, its data or its runs change."""
        self.refreshers.append((fn, outputs, inputs or []))

    def then_refresh(self, dep):
        """After `dep` (project opened, data imported, run finished), redraw every tab.

        Chained once the whole page is built (`wire_refreshes`), when every tab's refresher is known.
        """
        self._after.append(dep)
        return dep

    def wire_refreshes(self) -> list:
        """Chain the refreshers; returns the last step of each chain, in the order they were added."""
        ends = []
        for dep in self._after:
            for fn, outputs, inputs in self.refreshers:
                dep = dep.then(fn, [self.pid, self.lang, *inputs], outputs, show_progress="hidden", **PRIVATE)
            ends.append(dep)
        self._after.clear()
        return ends


def message(lang: str, e: BaseException) -> str:
    """A sentence for people: a UserError as it is, anything else briefly, with the trace in the log."""
    if isinstance(e, UserError):
        return str(e)
    log.exception("unexpected error in the UI")
    return t(lang, "common.unexpected", what=f"{type(e).__name__}: {e}")


# --- projects, data, runs ----------------------------------------------------------------------

# Gradio sizes a table column by its cells and then breaks a longer header anywhere ("accura|cy"): give every
# column room for its header on one line (px per character of the theme's font, plus the sort button and padding).
HEADER_PX_PER_CHAR = 9
HEADER_PAD_PX = 44


def header_widths(columns: list[str], wide: dict[int, int] | None = None) -> list[int]:
    """Column widths in px that fit each header on one line; `wide` gives columns of long text their room."""
    wide = wide or {}
    return [max(wide.get(i, 0), HEADER_PAD_PX + HEADER_PX_PER_CHAR * len(name)) for i, name in enumerate(columns)]


def shown_path(path: str | Path) -> str:
    """A path as a person reads it: under the home folder written with `~` (the home folder itself stays whole)."""
    path, home = Path(path), Path.home()
    try:
        rest = path.relative_to(home)
    except ValueError:
        return str(path)
    return str(Path("~") / rest) if rest.parts else str(path)


def project_or_none(ws, pid: str | None) -> dict | None:
    if not pid:
        return None
    try:
        return ws.get_project(pid)
    except UserError:
        return None


def project_task(ws, pid: str | None) -> Task:
    """The task of the project (the default task without one): what each tab asks what to show."""
    project = project_or_none(ws, pid)
    return get_task((project or {}).get("task"))


def serves(spec, task: Task) -> bool:
    """Whether the model `spec` (a ModelSpec) serves `task`: by the tasks the spec lists."""
    return task.name in spec.tasks


def task_title(lang: str, name: str) -> str:
    """A task's name for people: `task.<name>` in `lang`, else the task's own English title (else the name, for a
    task this version does not know)."""
    from ui.i18n.strings import STRINGS

    if f"task.{name}" in STRINGS:
        return t(lang, f"task.{name}")
    try:
        return get_task(name).title
    except UserError:
        return name


def project_dataset(ws, pid: str | None) -> tuple[Path, dict] | None:
    """The project's imported dataset folder and manifest, or None before any import."""
    from engine.data import is_dataset_dir, load_manifest

    project = project_or_none(ws, pid)
    path = (project or {}).get("state", {}).get("dataset_dir")
    if not path or not is_dataset_dir(path):
        return None
    return Path(path), load_manifest(path)


def project_runs(ws, pid: str | None) -> list[dict]:
    """The project's runs, newest first, each with its status read from its own folder."""
    return ws.list_runs(pid) if pid else []


def chosen_run_id(ws, pid: str | None) -> str | None:
    project = project_or_none(ws, pid)
    return (project or {}).get("state", {}).get("chosen_run")


def finished_runs(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r["status"] == "done" and ((Path(r["path"]) / "checkpoints" / "best.pt").exists()
                                                          or (Path(r["path"]) / "package" / "model.onnx").exists())]


def run_choices(lang: str, runs: list[dict], chosen: str | None) -> list[tuple[str, str]]:
    """(label, run id) of finished runs for a dropdown; the chosen model is starred."""
    out = []
    for r in finished_runs(runs):
        acc = headline_accuracy(r.get("metrics") or {})
        star = "★ " if r["id"] == chosen else ""
        score = f" · {t(lang, 'common.accuracy')} {acc:.0%}" if acc is not None else ""
        out.append((f"{star}{r.get('model') or '?'} · {r['created'][:16].replace('T', ' ')}{score}", r["id"]))
    return out


def default_run(runs: list[dict], chosen: str | None) -> str | None:
    done = [r["id"] for r in finished_runs(runs)]
    if chosen in done:
        return chosen
    return done[0] if done else None


def run_dir_of(ws, pid: str | None, run_id: str | None) -> Path:
    """The folder of a finished run of this project; anything else (a forged id, say) is refused."""
    for r in finished_runs(project_runs(ws, pid)):
        if r["id"] == run_id:
            return Path(r["path"])
    raise UserError("Choose a finished run of this project first.")


def headline_accuracy(metrics: dict) -> float | None:
    """Accuracy on the test split (held out), else on validation; None before the run is done."""
    for split in ("test", "val"):
        if isinstance(metrics.get(split), dict) and "accuracy" in metrics[split]:
            return float(metrics[split]["accuracy"])
    return None


def duration_text(lang: str, seconds: float) -> str:
    """'45 s' or '3 min' in `lang`."""
    seconds = max(0, round(seconds))
    if seconds < 90:
        return t(lang, "time.seconds", n=seconds)
    return t(lang, "time.minutes", n=round(seconds / 60))


def progress_html(fraction: float, text: str | None = None) -> str:
    """The app's progress bar (styled by .k-progress in ui/app.py), with an optional line under it."""
    bar = (f'<div class="k-progress" role="progressbar" aria-valuenow="{fraction * 100:.0f}" aria-valuemin="0" '
           f'aria-valuemax="100"><div style="width:{fraction * 100:.1f}%"></div></div>')
    return bar if text is None else bar + f'<div class="k-progress-text">{html.escape(text)}</div>'


# --- what the runner can do (one place each, so the runner's own answer replaces the guess in one line) ------

def can_train_in_cloud(runner) -> bool:
    """Whether the app's runner can send a training to Yandex Cloud (it says so in its capabilities)."""
    from cloud.runner import TARGET

    return runner.capabilities().serves(TARGET)


def leftover_vms(runner):
    """The runner that lists and deletes cloud VMs no training owns (orphans, check_orphans, delete_orphans), or
    None when the app trains without the cloud."""
    from cloud.runner import LEFTOVER_VMS

    finder = getattr(runner, "with_ability", None)
    if finder is not None:
        return finder(LEFTOVER_VMS)
    return runner if runner.capabilities().can(LEFTOVER_VMS) else None


def has_gpu() -> bool:
    """A cheap guess (no torch import) whether an NVIDIA GPU is here; the trainer decides for real."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def download_copy(src: Path, name: str | None = None) -> str:
    """A copy of a workspace file in a fresh temp folder, which Gradio may serve (the workspace it may not)."""
    _remove_old_downloads()
    folder = Path(tempfile.mkdtemp(prefix=_DL_PREFIX))
    dest = folder / (name or src.name)
    try:
        dest.hardlink_to(src)
    except OSError:
        shutil.copy2(src, dest)
    return str(dest)


_DL_PREFIX = "konstruktor-dl-"


def _remove_old_downloads(max_age_s: float = 3600) -> None:
    """Gradio keeps its own copy of what it served; our staging folders can go after a while."""
    import time

    cutoff = time.time() - max_age_s
    for folder in Path(tempfile.gettempdir()).glob(f"{_DL_PREFIX}*"):
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue



def discard_upload(path: str | Path) -> None:
    """Remove a file Gradio received once it has been read, with its folder when that is left empty.

    Only files in Gradio's upload folder: a path from anywhere else is never deleted.
    """
    from gradio.utils import get_upload_folder

    file = Path(path).resolve()
    cache = Path(get_upload_folder()).resolve()
    if not file.is_relative_to(cache) or file == cache or not file.is_file():
        return
    file.unlink(missing_ok=True)
    folder = file.parent
    if folder != cache:
        try:
            folder.rmdir()
        except OSError:
            pass
