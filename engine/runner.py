"""LocalRunner: starts training runs in child processes, watches them through events.jsonl, stops them.

The one place that knows how to start the engine in a child process (`engine_command`). Each run
gets its own process group, so Stop ends the trainer and anything it started. The runner keeps
no state that a restart would lose: the run folders (config.yaml, events.jsonl, .pid) are the
truth, and a new runner re-attaches to the runs that are still going.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import CONFIG_FILE, RunConfig
from engine.errors import UserError
from engine.events import PID_FILE, TERMINAL_TYPES, EventWriter, owner_alive, read_events, read_pid
from engine.fsutil import atomic_write_text

CONSOLE_FILE = "console.log"
STOP_GRACE_S = 10.0
_SOURCE_ROOT = Path(__file__).resolve().parents[1]


class RunnerBusy(UserError):
    """A project already has a training run going; two never share one project at once."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        super().__init__(f"A training run is already going in this project ({run_dir.name}). "
                         "Wait for it to finish or stop it, then start the next one.")


def engine_command(*args: str) -> list[str]:
    """The command line that runs `engine <args>` in a child process, from source or from the frozen app."""
    if getattr(sys, "frozen", False):
        # A PyInstaller app has no `python -m`; its launcher runs the engine as a sub-command.
        return [sys.executable, "engine", *args]
    return [sys.executable, "-m", "engine", *args]


def export_command(run_dir: str | Path, *, quantize: str | None = None) -> list[str]:
    """`engine export RUN_DIR --json [--quantize Q]`: the export report as JSON on stdout, progress on stderr."""
    return engine_command("export", str(run_dir), "--json", *(["--quantize", quantize] if quantize else []))


def engine_env(workspace_root: str | Path) -> dict[str, str]:
    """The environment of an engine child process: this workspace, unbuffered output, and (from source) the
    project on its import path whatever the working directory."""
    env = {**os.environ, "KONSTRUKTOR_WORKSPACE": str(workspace_root), "PYTHONUNBUFFERED": "1"}
    if not getattr(sys, "frozen", False):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_SOURCE_ROOT), env.get("PYTHONPATH")) if p)
    return env


@dataclass
class RunSnapshot:
    """What a UI needs to draw a run: its status, the latest progress and the metrics so far."""

    run_dir: Path
    status: str = "created"  # created, starting, running, done, failed, cancelled, interrupted
    start: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    message: str | None = None
    offset: int = 0

    @property
    def active(self) -> bool:
        return self.status in ("starting", "running")

    @property
    def version(self) -> tuple[int, str]:
        """Changes whenever anything a UI shows changes."""
        return self.offset, self.status


@dataclass
class _Tracked:
    run_dir: Path
    project_id: str | None
    proc: subprocess.Popen | None = None  # None when re-attached to a run started by an earlier process
    started: float = field(default_factory=time.monotonic)


class LocalRunner:
    """Trains runs of one workspace on this computer, at most one at a time per project."""

    def __init__(self, workspace):
        self.ws = workspace
        self._lock = threading.RLock()
        self._runs: dict[Path, _Tracked] = {}
        self._snapshots: dict[Path, RunSnapshot] = {}
        self.reattach()

    # --- starting --------------------------------------------------------------------------
    def submit(self, cfg: RunConfig, *, project_id: str | None = None, dataset_id: str | None = None) -> Path:
        """Create a run folder for `cfg`, register it and start training it; refuses a busy project."""
        with self._lock:
            self._refuse_if_busy(project_id)
            run_dir = self.ws.new_run_dir(cfg.model)
            cfg.save(run_dir)
            self.ws.register_run(run_dir, project_id=project_id, dataset_id=dataset_id, model=cfg.model,
                                 mode=cfg.mode)
            self.start(run_dir, project_id=project_id)
            return run_dir

    def start(self, run_dir: str | Path, *, project_id: str | None = None) -> None:
        """Start (or resume) training an existing run folder in a child process of its own."""
        run_dir = Path(run_dir).resolve()
        if not (run_dir / CONFIG_FILE).exists():
            raise UserError(f"{run_dir} is not a run folder (no {CONFIG_FILE}).")
        with self._lock:
            self._refuse_if_busy(project_id, run_dir)
            env = engine_env(self.ws.root)
            console = open(run_dir / CONSOLE_FILE, "ab")  # noqa: SIM115 - the child owns it from here
            try:
                proc = subprocess.Popen(engine_command("train", str(run_dir), "--quiet"), cwd=run_dir, env=env,
                                        stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                                        **_new_group())
            finally:
                console.close()
            # The trainer writes its pid itself once it has started; writing it now covers the seconds
            # of imports before that, so a restarted UI still finds the process.
            atomic_write_text(run_dir / PID_FILE, f"{proc.pid}\n")
            self._runs[run_dir] = _Tracked(run_dir, project_id, proc)
            self._snapshots.pop(run_dir, None)

    def _refuse_if_busy(self, project_id: str | None, run_dir: Path | None = None) -> None:
        for tracked in self._runs.values():
            same_run = run_dir is not None and tracked.run_dir == run_dir
            same_project = project_id is not None and tracked.project_id == project_id
            if (same_run and self._alive(tracked)) or (same_project and self._training(tracked)):
                raise RunnerBusy(tracked.run_dir)

    # --- watching --------------------------------------------------------------------------
    def active_run(self, project_id: str | None) -> Path | None:
        """The run training now in this project, if any."""
        with self._lock:
            for tracked in self._runs.values():
                if tracked.project_id == project_id and self._training(tracked):
                    return tracked.run_dir
        return None

    def active_runs(self) -> list[Path]:
        with self._lock:
            return [t.run_dir for t in self._runs.values() if self._training(t)]

    def _training(self, tracked: _Tracked) -> bool:
        # A trainer that wrote its outcome is done even while its process still exits (index, output): the
        # run reads as finished and the project may start the next one at once.
        return self._alive(tracked) and self.snapshot(tracked.run_dir).status not in TERMINAL_TYPES

    def snapshot(self, run_dir: str | Path) -> RunSnapshot:
        """The run's state, read incrementally from its events.jsonl (cheap to call every second)."""
        run_dir = Path(run_dir).resolve()
        with self._lock:
            snap = self._snapshots.get(run_dir)
            if snap is None:
                snap = self._snapshots[run_dir] = RunSnapshot(run_dir)
            events, snap.offset = read_events(run_dir, snap.offset)
            for e in events:
                _fold(snap, e)
            tracked = self._runs.get(run_dir)
            alive = self._alive(tracked) if tracked else owner_alive(run_dir)
            if snap.status in TERMINAL_TYPES:
                return snap
            if alive:
                snap.status = "running" if snap.start else "starting"
            elif snap.start:
                snap.status = "interrupted"
                snap.message = _ended_message(run_dir, tracked)
            elif tracked is not None and tracked.proc is not None:
                snap.status = "failed"
                snap.message = _ended_message(run_dir, tracked)
            else:
                snap.status = "created"
            return snap

    # --- stopping --------------------------------------------------------------------------
    def stop(self, run_dir: str | Path, grace_s: float = STOP_GRACE_S) -> bool:
        """Ask the run's process group to stop (SIGTERM), kill it after `grace_s`; False if nothing ran."""
        run_dir = Path(run_dir).resolve()
        with self._lock:
            tracked = self._runs.get(run_dir) or _Tracked(run_dir, None)
            pid = self._pid(tracked)
            if pid is None or not self._alive(tracked):
                return False
            # A child we started leads its own group; a re-attached pid that doesn't is signalled alone.
            group = tracked.proc is not None or _leads_group(pid)
        _signal(pid, signal.SIGTERM, group)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and self._alive(tracked):
            time.sleep(0.1)
        _signal(pid, signal.SIGKILL, group)  # also ends helpers the trainer started, if it left any
        if tracked.proc is not None:
            try:
                tracked.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        events, _ = read_events(run_dir)
        if not any(e["type"] in TERMINAL_TYPES for e in events):
            # Killed before it could say so itself; the run resumes from its last checkpoint when started again.
            EventWriter(run_dir).emit("cancelled", message="Training was stopped. Start the run again to resume it.")
        (run_dir / PID_FILE).unlink(missing_ok=True)
        return True

    def shutdown(self, grace_s: float = 5.0) -> None:
        """Stop every run this runner is watching (the app is quitting), in parallel."""
        threads = [threading.Thread(target=self.stop, args=(d, grace_s), daemon=True) for d in self.active_runs()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(grace_s + 10)

    # --- re-attaching ------------------------------------------------------------------------
    def reattach(self) -> list[Path]:
        """Watch again the runs of this workspace whose training process is still alive (after a UI restart)."""
        found = []
        for run in self.ws.list_runs():
            run_dir = Path(run["path"]).resolve()
            if run_dir in self._runs or not owner_alive(run_dir):
                continue
            self._runs[run_dir] = _Tracked(run_dir, run.get("project_id"))
            found.append(run_dir)
        return found

    # --- processes ---------------------------------------------------------------------------
    def _pid(self, tracked: _Tracked) -> int | None:
        if tracked.proc is not None:
            return tracked.proc.pid
        return read_pid(tracked.run_dir)

    def _alive(self, tracked: _Tracked) -> bool:
        if tracked.proc is not None:
            return tracked.proc.poll() is None  # poll() also reaps it, so a finished child is no zombie
        return owner_alive(tracked.run_dir)


def _fold(snap: RunSnapshot, e: dict[str, Any]) -> None:
    kind = e.get("type")
    if kind == "start":
        snap.start = e
        snap.status = "running"
        snap.message = None
    elif kind == "progress":
        snap.progress = e
    elif kind == "metrics":
        snap.metrics.append(e)
    elif kind == "log":
        if e.get("message") and e.get("message") != "resumed":
            snap.logs = [*snap.logs[-49:], str(e["message"])]
    elif kind in TERMINAL_TYPES:
        snap.status = kind
        snap.message = e.get("message")


def _ended_message(run_dir: Path, tracked: _Tracked | None) -> str:
    code = tracked.proc.returncode if tracked is not None and tracked.proc is not None else None
    how = f" (exit code {code})" if code is not None else ""
    return (f"The training process ended unexpectedly{how}. The details are in {run_dir / CONSOLE_FILE} and "
            f"{run_dir / 'train.log'}; start the run again to resume it.")


def _new_group() -> dict[str, Any]:
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _leads_group(pid: int) -> bool:
    try:
        return os.name != "nt" and os.getpgid(pid) == pid
    except (ProcessLookupError, PermissionError):
        return False


def _signal(pid: int, sig: int, group: bool) -> None:
    """Signal the run's process group (the child leads its own session), or the process alone."""
    try:
        if os.name == "nt":
            os.kill(pid, signal.CTRL_BREAK_EVENT if sig == signal.SIGTERM else signal.SIGTERM)
        elif group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
