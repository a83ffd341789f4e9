"""The run's event stream: one JSON object per line in run_dir/events.jsonl.

Writers append and flush every line; readers tolerate a half-written last line, so a
process that tails the file (UI, CLI, cloud mirror) never sees a broken event.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import stopping
from engine.fsutil import jsonable

EVENTS_FILE = "events.jsonl"
TERMINAL_TYPES = ("done", "failed", "cancelled")

# The vocabulary: every event type a writer may emit, with the fields it carries (besides "t" and "type").
# Readers rely on these and on nothing written in a `log` message.
EVENTS: dict[str, str] = {
    "start": "a training attempt began. model, mode, mode_reason, mode_reason_code, mode_reason_params, device, "
             "labels, n_train, n_val, n_test, dataset, resumed (bool), resolved (the resolved settings, as in "
             "resolved.yaml), task; a compare folder's start: candidates, trials; an opened model's: imported",
    "resumed": "the attempt goes on from a checkpoint. epoch (the last finished one), elapsed_s (training seconds "
               "of the earlier attempts)",
    "progress": "phase (embedding, train, evaluate-val, ...), epoch or null, step, total, eta_s or null",
    "metrics": "epoch (null for final figures), split (train, val, test), values {name: number}, final (bool, "
               "optional)",
    "epoch_end": "an epoch is finished and checkpointed. epoch, epochs (planned), elapsed_s (training seconds of "
                 "this run so far, earlier attempts included)",
    "log": "level (info, warning), message: for people only; nothing reads meaning from it",
    "artifact": "kind (confusion_matrix, misclassified, ...), path (relative to the run folder), split, count",
    "row": "a compare folder's leaderboard row. row {...}",
    "done": "the run finished. metrics (a summary of metrics.json)",
    "failed": "the run failed. message (English), code, params (for the UI's other languages)",
    "cancelled": "the run was stopped; it resumes from its last checkpoint. message, code, params",
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class EventWriter:
    """Appends events to a run's events.jsonl; `emit` never raises on serialisation of numpy scalars."""

    def __init__(self, run_dir: str | Path, echo: Any = None):
        self.path = Path(run_dir) / EVENTS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._echo = echo

    def emit(self, type: str, **fields: Any) -> dict:
        if type not in EVENTS:
            raise ValueError(f"unknown event type {type!r}; the vocabulary is engine.events.EVENTS")
        event = {"t": _now(), "type": type, **fields}
        line = json.dumps(event, default=jsonable, ensure_ascii=False)
        with stopping.held(), open(self.path, "a", encoding="utf-8") as f:  # a Stop never tears a line
            f.write(line + "\n")
            f.flush()
            if type in TERMINAL_TYPES:
                os.fsync(f.fileno())
        if self._echo is not None:
            self._echo(event)
        return event


def read_events(run_dir: str | Path, offset: int = 0) -> tuple[list[dict], int]:
    """Events from byte `offset` on, and the offset after the last complete line.

    A last line without its newline (still being written) is left for the next call.
    """
    path = Path(run_dir) / EVENTS_FILE
    if not path.exists():
        return [], offset
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    events: list[dict] = []
    consumed = 0
    for raw in data.splitlines(keepends=True):
        if not raw.endswith(b"\n"):
            break
        consumed += len(raw)
        raw = raw.strip()
        if not raw:
            continue
        try:
            events.append(json.loads(raw))
        except json.JSONDecodeError:
            continue  # a line torn by a killed writer; the next one starts clean
    return events, offset + consumed


def elapsed_before(events: list[dict]) -> float:
    """Training seconds already spent by the attempts these events record (0 for a fresh run).

    Reads `epoch_end` and `resumed`; runs written before those types existed carried `elapsed_s` on `log`
    events, which still count.
    """
    best = 0.0
    for e in events:
        if e.get("type") in ("epoch_end", "resumed", "log") and e.get("elapsed_s") is not None:
            best = max(best, float(e["elapsed_s"]))
    return best


def run_status(run_dir: str | Path) -> str:
    """'created', 'running', 'done', 'failed', 'cancelled', or 'interrupted' (its process died)."""
    events, _ = read_events(run_dir)
    status = "created"
    for e in events:
        if e["type"] == "start":
            status = "running"
        elif e["type"] in TERMINAL_TYPES:
            status = e["type"]
    if status == "running" and not owner_alive(run_dir):
        return "interrupted"
    return status


PID_FILE = ".pid"


def read_pid(run_dir: str | Path) -> int | None:
    """The process id recorded in run_dir/.pid by the process training the run, if any."""
    try:
        return int((Path(run_dir) / PID_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def owner_alive(run_dir: str | Path) -> bool:
    """Whether the process recorded in run_dir/.pid still runs (a zombie counts as ended)."""
    pid = read_pid(run_dir)
    return pid is not None and pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie counts as ended); sends it no signal, on any OS."""
    if os.name == "nt":
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _windows_alive(pid: int) -> bool:
    # os.kill(pid, 0) would terminate the process on Windows; ask for its exit code instead.
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def follow(run_dir: str | Path, poll_s: float = 0.5, stop_when_done: bool = True):
    """Yield events as they are appended, until a terminal event (for CLI rendering)."""
    offset = 0
    while True:
        events, offset = read_events(run_dir, offset)
        for e in events:
            yield e
            if stop_when_done and e["type"] in TERMINAL_TYPES:
                return
        time.sleep(poll_s)
