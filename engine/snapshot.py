"""A run's state as a UI draws it, folded from its events (RunSnapshot), for every runner alike."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.events import TERMINAL_TYPES

# Runs written before `resumed` and `epoch_end` were event types said them as these log messages.
_OLD_RESUMED = "resumed"
_OLD_EPOCH_END = re.compile(r"epoch (\d+)/(\d+) done")


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
    # The final event's code and params (failed, cancelled), for a message in the UI's language.
    code: str | None = None
    params: dict[str, Any] | None = None
    epoch_end: dict[str, Any] = field(default_factory=dict)  # the last `epoch_end`: epoch, epochs, elapsed_s
    resumed: dict[str, Any] = field(default_factory=dict)  # the last `resumed` of this run, if it resumed
    offset: int = 0

    @property
    def active(self) -> bool:
        return self.status in ("starting", "running")

    @property
    def version(self) -> tuple[int, str]:
        """Changes whenever anything a UI shows changes."""
        return self.offset, self.status


def upgrade_event(e: dict[str, Any]) -> dict[str, Any]:
    """The event in today's vocabulary: an older run's `log` "resumed" / "epoch N/M done" become their types."""
    if e.get("type") != "log":
        return e
    message = str(e.get("message") or "")
    if message == _OLD_RESUMED:
        return {**e, "type": "resumed"}
    if m := _OLD_EPOCH_END.fullmatch(message):
        return {**e, "type": "epoch_end", "epoch": int(m[1]), "epochs": int(m[2])}
    return e


def fold(snap: RunSnapshot, e: dict[str, Any]) -> None:
    """Update `snap` with one event of its run."""
    e = upgrade_event(e)
    kind = e.get("type")
    if kind == "start":
        snap.start = e
        snap.status = "running"
        snap.message = snap.code = snap.params = None
    elif kind == "progress":
        snap.progress = e
    elif kind == "metrics":
        snap.metrics.append(e)
    elif kind == "epoch_end":
        snap.epoch_end = e
        if e.get("message"):  # an older run's "epoch N/M done" line stays among its log lines, as it was
            snap.logs = [*snap.logs[-49:], str(e["message"])]
    elif kind == "resumed":
        snap.resumed = e
    elif kind == "log":
        if e.get("message"):
            snap.logs = [*snap.logs[-49:], str(e["message"])]
    elif kind in TERMINAL_TYPES:
        snap.status = kind
        snap.message = e.get("message")
        snap.code = e.get("code")
        snap.params = e.get("params")
