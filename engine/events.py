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

EVENTS_FILE = "events.jsonl"
TERMINAL_TYPES = ("done", "failed", "cancelled")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class EventWriter:
    """Appends events to a run's events.jsonl; `emit` never raises on serialisation of numpy scalars."""

    def __init__(self, run_dir: str | Path, echo: Any = None):
        self.path = Path(run_dir) / EVENTS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._echo = echo

    def emit(self, type: str, **fields: Any) -> dict:
        event = {"t": _now(), "type": type, **fields}
        line = json.dumps(event, default=_jsonable, ensure_ascii=False)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            if type in TERMINAL_TYPES:
                os.fsync(f.fileno())
        if self._echo is not None:
            self._echo(event)
        return event


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


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


def run_status(run_dir: str | Path) -> str:
    """'created', 'running', 'done', 'failed', 'cancelled', or 'interrupted' (its process died)."""
    events, _ = read_events(run_dir)
    status = "created"
    for e in events:
        if e["type"] == "start":
            status = "running"
        elif e["type"] in TERMINAL_TYPES:
            status = e["type"]
    if status == "running" and not _owner_alive(Path(run_dir)):
        return "interrupted"
    return status


PID_FILE = ".pid"


def _owner_alive(run_dir: Path) -> bool:
    """Whether the process that is training this run (recorded in run_dir/.pid) still exists."""
    try:
        pid = int((run_dir / PID_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
