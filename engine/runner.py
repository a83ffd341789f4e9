"""Runners: the `Runner` protocol, LocalRunner (training on this computer), and the Dispatcher that holds
runners by target and sends each call to the runner that owns the run.

The one place that starts the engine in a child process (`start_engine`, `engine_command`) and stops
a process group (`stop_process`). Each local run gets its own process group, so Stop ends the trainer
and anything it started. A runner keeps no state that a restart would lose: the run folders
(config.yaml, events.jsonl, .pid) are the truth, and a new runner re-attaches to the runs still going.
Other places to train (the cloud) implement `Runner` outside the engine; the engine never imports them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from engine.config import CONFIG_FILE, RunConfig
from engine.errors import UserError
from engine.events import PID_FILE, TERMINAL_TYPES, EventWriter, owner_alive, pid_alive, read_events, read_pid
from engine.fsutil import atomic_write_text
from engine.snapshot import RunSnapshot, fold

CONSOLE_FILE = "console.log"
STOP_GRACE_S = 10.0
LOCAL = "local"  # the target LocalRunner serves: this computer
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


def start_engine(*args: str, cwd: str | Path, workspace_root: str | Path, own_group: bool = True) -> subprocess.Popen:
    """Start `engine ARGS` in a child process, its output appended to `cwd`/console.log.

    With `own_group` it leads a process group of its own (Stop reaches everything it starts); without, it
    shares this process's group, so a Ctrl+C or a group-wide Stop that reaches this process reaches it too.
    """
    console = open(Path(cwd) / CONSOLE_FILE, "ab")  # noqa: SIM115 - the child owns it from here
    try:
        return subprocess.Popen(engine_command(*args), cwd=cwd, env=engine_env(workspace_root),
                                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                                **(_new_group() if own_group else {}))
    finally:
        console.close()


def stop_process(process: subprocess.Popen | int, *, group: bool = True, grace_s: float = STOP_GRACE_S,
                 alive: Callable[[], bool] | None = None) -> None:
    """Ask a process (with `group`, its whole process group) to stop with SIGTERM; SIGKILL after `grace_s`.

    `alive` says whether it still runs (default: the child's poll, or its pid); a group is killed even once
    its leader has ended, as helpers it started may linger.
    """
    proc = process if isinstance(process, subprocess.Popen) else None
    pid = proc.pid if proc is not None else int(process)
    if alive is None:
        alive = (lambda: proc.poll() is None) if proc is not None else (lambda: pid_alive(pid))
    _signal(pid, signal.SIGTERM, group)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and alive():
        time.sleep(0.1)
    if group or alive():
        _signal(pid, signal.SIGKILL, group)
    if proc is not None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


# --- the protocol ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Capabilities:
    """What a runner can do: the targets it trains on, and abilities beyond training (named by their owner)."""

    targets: tuple[str, ...]
    abilities: tuple[str, ...] = ()

    def serves(self, target: str) -> bool:
        return target in self.targets

    def can(self, ability: str) -> bool:
        return ability in self.abilities


class Runner(Protocol):
    """Trains runs of one workspace somewhere, at most one at a time per project, and reports on them."""

    def capabilities(self) -> Capabilities:
        """The targets this runner serves and its extra abilities."""

    def owns(self, run_dir: Path) -> bool:
        """Whether this run folder is this runner's to watch and stop (e.g. it trains elsewhere)."""

    def submit(self, cfg: RunConfig, *, project_id: str | None = None, dataset_id: str | None = None,
               target: str = LOCAL) -> Path:
        """Create a run folder for `cfg`, register it and start training it on `target`."""

    def start(self, run_dir: str | Path, *, project_id: str | None = None) -> None:
        """Start (or resume) training an existing run folder."""

    def release(self, run_dir: str | Path) -> None:
        """Give up a run that is not training, so another runner may train it; RunnerBusy while it trains."""

    def snapshot(self, run_dir: str | Path) -> RunSnapshot:
        """The run's state (cheap to call every second)."""

    def stop(self, run_dir: str | Path, grace_s: float = STOP_GRACE_S) -> bool:
        """Stop the run; False if nothing was running."""

    def active_run(self, project_id: str | None) -> Path | None:
        """The run training now in this project, if any."""

    def active_runs(self) -> list[Path]:
        """Every run training now."""

    def shutdown(self, grace_s: float = 5.0) -> None:
        """The app is quitting: stop or let go of the runs."""


@dataclass
class _Tracked:
    run_dir: Path
    project_id: str | None
    proc: subprocess.Popen | None = None  # None when re-attached to a run started by an earlier process
    started: float = field(default_factory=time.monotonic)


class LocalRunner:
    """The Runner of this computer: trains runs of one workspace in child processes, one at a time per project."""

    def __init__(self, workspace):
        self.ws = workspace
        self._lock = threading.RLock()
        self._runs: dict[Path, _Tracked] = {}
        self._snapshots: dict[Path, RunSnapshot] = {}
        self.reattach()

    def capabilities(self) -> Capabilities:
        return Capabilities(targets=(LOCAL,))

    def owns(self, run_dir: Path) -> bool:
        return Path(run_dir).resolve() in self._runs

    # --- starting --------------------------------------------------------------------------
    def submit(self, cfg: RunConfig, *, project_id: str | None = None, dataset_id: str | None = None,
               target: str = LOCAL) -> Path:
        """Create a run folder for `cfg`, register it and start training it; refuses a busy project."""
        _check_target(self, target)
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
            proc = start_engine("train", str(run_dir), "--quiet", cwd=run_dir, workspace_root=self.ws.root)
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

    def release(self, run_dir: str | Path) -> None:
        run_dir = Path(run_dir).resolve()
        with self._lock:
            tracked = self._runs.get(run_dir)
            if tracked is not None and self._alive(tracked):
                raise RunnerBusy(run_dir)
            self._runs.pop(run_dir, None)
            self._snapshots.pop(run_dir, None)

    # --- watching --------------------------------------------------------------------------
    def active_run(self, project_id: str | None) -> Path | None:
        """The run training now in this project, if any."""
        with self._lock:
            for tracked in self._runs.values():
                if tracked.project_id == project_id and self._training(tracked):
                    return tracked.run_dir
        return None

    def active_runs(self) -> list[Path]:
        """Every run training now on this computer."""
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
                fold(snap, e)
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
        stop_process(tracked.proc or pid, group=group, grace_s=grace_s, alive=lambda: self._alive(tracked))
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


class Dispatcher:
    """Runners by target: a run goes to the runner of its target, each later call to the runner that owns it.

    The first runner is the default: it owns every run no other runner claims. A project trains one run at
    a time whichever runner trains it.
    """

    def __init__(self, *runners: Runner):
        if not runners:
            raise ValueError("a Dispatcher needs at least one runner")
        self.runners = runners
        self._by_target: dict[str, Runner] = {}
        for r in runners:  # the first runner that serves a target trains on it
            for t in r.capabilities().targets:
                self._by_target.setdefault(t, r)

    def capabilities(self) -> Capabilities:
        """Every target and ability of the runners held."""
        caps = [r.capabilities() for r in self.runners]
        return Capabilities(targets=tuple(dict.fromkeys(t for c in caps for t in c.targets)),
                            abilities=tuple(dict.fromkeys(a for c in caps for a in c.abilities)))

    def runner_for(self, target: str) -> Runner:
        """The runner that trains on `target`."""
        try:
            return self._by_target[target]
        except KeyError:
            raise UserError(f"Nothing here trains on '{target}'; the choices are "
                            f"{', '.join(self._by_target)}.") from None

    def with_ability(self, ability: str) -> Runner | None:
        """The runner that has `ability` (see Capabilities), or None when none has."""
        return next((r for r in self.runners if r.capabilities().can(ability)), None)

    def owner(self, run_dir: str | Path) -> Runner:
        """The runner that watches and stops this run."""
        run_dir = Path(run_dir).resolve()
        # The others first: the default runner may see a run that trains elsewhere as one of its own.
        return next((r for r in self.runners[1:] if r.owns(run_dir)), self.runners[0])

    def owns(self, run_dir: Path) -> bool:
        return True

    def submit(self, cfg: RunConfig, *, project_id: str | None = None, dataset_id: str | None = None,
               target: str = LOCAL) -> Path:
        """Create and start a run on `target`; refuses a project that trains already, anywhere."""
        runner = self.runner_for(target)
        self._refuse_if_busy(project_id)
        return runner.submit(cfg, project_id=project_id, dataset_id=dataset_id, target=target)

    def start(self, run_dir: str | Path, *, project_id: str | None = None, target: str = LOCAL) -> None:
        """Start (or resume) a run folder on `target`; the runner that had it lets it go first."""
        runner = self.runner_for(target)
        self._refuse_if_busy(project_id)
        owner = self.owner(run_dir)
        if owner is not runner:
            owner.release(run_dir)
        runner.start(run_dir, project_id=project_id)

    def release(self, run_dir: str | Path) -> None:
        self.owner(run_dir).release(run_dir)

    def _refuse_if_busy(self, project_id: str | None) -> None:
        busy = self.active_run(project_id) if project_id is not None else None
        if busy is not None:
            raise RunnerBusy(busy)

    def snapshot(self, run_dir: str | Path) -> RunSnapshot:
        return self.owner(run_dir).snapshot(run_dir)

    def stop(self, run_dir: str | Path, grace_s: float = STOP_GRACE_S) -> bool:
        return self.owner(run_dir).stop(run_dir, grace_s)

    def active_run(self, project_id: str | None) -> Path | None:
        return next((d for r in self.runners if (d := r.active_run(project_id)) is not None), None)

    def active_runs(self) -> list[Path]:
        return [d for r in self.runners for d in r.active_runs()]

    def shutdown(self, grace_s: float = 5.0) -> None:
        for r in self.runners:
            r.shutdown(grace_s)


def _check_target(runner: Runner, target: str) -> None:
    if not runner.capabilities().serves(target):
        raise UserError(f"This runner trains on {', '.join(runner.capabilities().targets)}, not on '{target}'.")


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
