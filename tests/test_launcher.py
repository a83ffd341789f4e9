"""The app starts on loopback, answers /health, exposes no API, guards remote access with a password,
and on Ctrl+C stops cleanly, ending the trainings it runs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import pytest
import requests

from engine.events import EventWriter
from engine.workspace import Workspace
from launcher import free_port, resolve_auth

ROOT = Path(__file__).resolve().parents[1]


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, int]:
    port = free_port(preferred=0)
    env = {**os.environ, "KONSTRUKTOR_WORKSPACE": str(tmp_path / "ws"), "KONSTRUKTOR_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "launcher.py", "--no-browser", "--port", str(port), *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc, port
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("the app never answered /health")


def _ctrl_c(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the app did not stop on Ctrl+C") from None
    assert proc.returncode == 0, out
    return out


def test_app_starts_answers_health_exposes_no_api_and_stops(tmp_path):
    from gradio_client import Client

    proc, port = _start(tmp_path)
    try:
        url = f"http://127.0.0.1:{port}/"
        assert requests.get(url + "health", timeout=5).json()["status"] == "ok"
        page = requests.get(url, timeout=10)
        assert page.status_code == 200 and "Konstruktor" in page.text
        assert (tmp_path / "ws" / "index.sqlite").exists()
        # Every handler is internal: nothing is callable through Gradio's client API.
        api = Client(url, verbose=False, download_files=False).view_api(print_info=False, return_format="dict")
        assert api["named_endpoints"] == {} and api["unnamed_endpoints"] == {}
        # The workspace index is never served, even by path.
        index = tmp_path / "ws" / "index.sqlite"
        assert requests.get(f"{url}gradio_api/file={index}", timeout=5).status_code in (403, 404)
    finally:
        out = _ctrl_c(proc)
    assert "Traceback" not in out


def test_a_second_start_on_the_same_workspace_points_to_the_running_app(tmp_path):
    proc, port = _start(tmp_path)
    try:
        assert json.loads((tmp_path / "ws" / "instance.json").read_text())["url"].startswith(f"http://127.0.0.1:{port}")
        env = {**os.environ, "KONSTRUKTOR_WORKSPACE": str(tmp_path / "ws"), "KONSTRUKTOR_OFFLINE": "1"}
        second = subprocess.run([sys.executable, "launcher.py", "--no-browser"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stderr
        assert f"already running at http://127.0.0.1:{port}" in second.stdout
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    finally:
        _ctrl_c(proc)
    assert not (tmp_path / "ws" / "instance.json").exists()  # a clean stop forgets the address


def test_a_stale_address_file_does_not_stop_the_app_from_starting(tmp_path):
    from ui.instance import claim, running

    ws = tmp_path / "ws"
    ws.mkdir()
    claim(ws, "http://127.0.0.1:9/")  # this process claims it, and nothing answers there
    assert running(ws) is None
    (ws / "instance.json").write_text(json.dumps({"pid": 2**22 + 7, "url": "http://127.0.0.1:9/"}))  # a dead pid
    assert running(ws) is None
    (ws / "instance.json").write_text("{half a file")
    assert running(ws) is None


def test_free_port_takes_the_next_one_when_the_preferred_is_busy():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        port = free_port(preferred=taken)
    assert port != taken and port > 0


def _args(**kw) -> Namespace:
    return Namespace(**{"auth": None, "share": False, "host": "127.0.0.1", **kw})


def test_share_or_a_network_address_never_runs_without_a_password(capsys):
    assert resolve_auth(_args()) is None
    for args in (_args(share=True), _args(host="0.0.0.0")):
        user, password = resolve_auth(args)
        assert len(password) >= 12
        assert password in capsys.readouterr().out  # printed, so the person can log in
    assert resolve_auth(_args(share=True, auth="ann:s3cret")) == ("ann", "s3cret")
    for bad in ("ann", "ann:", ":pw"):
        with pytest.raises(ValueError, match="USER:PASS"):
            resolve_auth(_args(auth=bad))


def test_password_protected_app_makes_a_client_that_keeps_guessing_wait(tmp_path):
    proc, port = _start(tmp_path, "--auth", "ann:right-password")
    login = f"http://127.0.0.1:{port}/login"
    try:
        config = requests.get(f"http://127.0.0.1:{port}/config", timeout=5)
        assert config.status_code == 401 or json.loads(config.text).get("auth_required")
        assert requests.post(login, data={"username": "ann", "password": "right-password"}, timeout=5).ok
        answers = [requests.post(login, data={"username": "ann", "password": "guess"}, timeout=5).status_code
                   for _ in range(5)]
        assert answers == [400, 400, 400, 400, 429]
        # While it waits, this client's tries are not even checked: guessing does not pay.
        late = requests.post(login, data={"username": "ann", "password": "right-password"}, timeout=5)
        assert late.status_code == 429 and late.headers["Retry-After"]
    finally:
        _ctrl_c(proc)


def test_ctrl_c_ends_the_trainings_the_app_runs(tmp_path):
    # A run left training by an earlier app session: the new app re-attaches to it, and Ctrl+C ends it.
    ws = Workspace(tmp_path / "ws")
    pid = ws.create_project("p")
    run_dir = ws.new_run_dir("fake")
    (run_dir / "config.yaml").write_text("data: x\n")
    ws.register_run(run_dir, project_id=pid, model="fake", mode="linear-probe")
    trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    try:
        (run_dir / ".pid").write_text(f"{trainer.pid}\n")
        EventWriter(run_dir).emit("start", model="fake", mode="linear-probe")
        proc, _ = _start(tmp_path)
        assert trainer.poll() is None
        out = _ctrl_c(proc)
        assert trainer.wait(timeout=10) is not None, out
        events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
        assert events[-1]["type"] == "cancelled"
    finally:
        if trainer.poll() is None:
            trainer.kill()
