"""The app starts on loopback, answers /health, and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from launcher import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_app_starts_answers_health_and_stops(tmp_path):
    port = free_port()
    env = {**os.environ, "KONSTRUKTOR_WORKSPACE": str(tmp_path / "ws")}
    proc = subprocess.Popen([sys.executable, "launcher.py", "--no-browser", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read()
            try:
                r = requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
                if r.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError("the app never answered /health")
        assert r.json()["status"] == "ok"
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "Konstruktor" in page.text
        assert (tmp_path / "ws" / "index.sqlite").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("the app did not stop on Ctrl+C") from None

