"""Running the engine's command line and the app as a user would, from the repository root."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def engine_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m engine ARGS` in a child process (this environment unless `env` is given)."""
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env or os.environ.copy(), timeout=timeout)


def launcher_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python launcher.py engine ARGS`: the engine's command line with the cloud composed in, as the app has it."""
    return subprocess.run([sys.executable, "launcher.py", "engine", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env or os.environ.copy(), timeout=timeout)


def start_app(workspace: Path, *extra: str, env: dict | None = None,
              ignore_sigint: bool = False) -> tuple[subprocess.Popen, str]:
    """launcher.py on a free port with its own workspace; returns the process and the URL once /health answers.

    `ignore_sigint` starts it as `app &` in a script does (SIGINT ignored), which the app must still handle.
    """
    from launcher import free_port

    port = free_port(preferred=0)
    # The workspace's parent is the app's home folder, so the footer and Settings show `~/Konstruktor` as a
    # user's would (screenshots in docs/), not a temp path; caches stay in the real home's.
    caches = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    full_env = {**os.environ, "KONSTRUKTOR_OFFLINE": "1", "LANG": "en_US.UTF-8", "HOME": str(workspace.parent),
                "XDG_CACHE_HOME": caches, "MPLCONFIGDIR": os.environ.get("MPLCONFIGDIR", caches + "/matplotlib"),
                **(env or {})}
    log = open(workspace.parent / f"app-{port}.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "launcher.py", "--no-browser", "--port", str(port), "--workspace",
                             str(workspace), *extra], cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the app exited with {proc.returncode}: {Path(log.name).read_text()}")
        try:
            if requests.get(url + "health", timeout=2).status_code == 200:
                return proc, url
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("the app never answered /health")
