"""One app per workspace: a running app leaves its address in the workspace, and a second start opens it.

A second double-click on the desktop app must not start a second server on the same workspace (two writers
of one index, two sets of training children); it finds the first one here and opens the browser on it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import requests

from engine.events import pid_alive
from engine.fsutil import atomic_write_json

INSTANCE_FILE = "instance.json"
HEALTH_TIMEOUT_S = 3.0


def running(root: Path) -> str | None:
    """The URL of the app already serving this workspace, or None when there is none (a stale file is ignored)."""
    try:
        info = json.loads((Path(root) / INSTANCE_FILE).read_text(encoding="utf-8"))
        pid, url = int(info["pid"]), str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid() or not pid_alive(pid):
        return None
    try:
        answer = requests.get(url.rstrip("/") + "/health", timeout=HEALTH_TIMEOUT_S)
        if answer.status_code == 200 and answer.json().get("status") == "ok":
            return url
    except (requests.RequestException, ValueError):
        pass
    return None


def claim(root: Path, url: str) -> None:
    """Say that this process serves the workspace at `url`."""
    atomic_write_json(Path(root) / INSTANCE_FILE, {"pid": os.getpid(), "url": url})


def release(root: Path) -> None:
    """Forget this process's claim (another process's is left alone)."""
    path = Path(root) / INSTANCE_FILE
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass
