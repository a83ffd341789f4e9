"""What a stranger cannot do: lock the owner out, reach the app through another name or site, fill the disk,
read this computer's folders, disguise a name, or keep the app running after Ctrl+C.

Two real apps are started once for the module (one on this computer only, one on every address with a password);
the rest runs in this process.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from clitools import start_app
from imagegen import make_image_folder
from starlette.datastructures import Headers

from engine.data.importer import import_dataset
from engine.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
OWNER, PASSWORD = "owner", "right-password"
server = pytest.mark.server


def _start(workspace: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    """launcher.py on a free port, started with SIGINT ignored as `app &` in a script does; (process, port)."""
    proc, url = start_app(workspace, *extra, env={"PYTHONPATH": str(ROOT)}, ignore_sigint=True)
    return proc, int(url.rstrip("/").rsplit(":", 1)[1])


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


@pytest.fixture(scope="module")
def local_app(tmp_path_factory):
    """The default mode: this computer only, no password. (process, port)"""
    proc, port = _start(tmp_path_factory.mktemp("local") / "ws")
    yield proc, port
    _stop(proc)


@pytest.fixture(scope="module")
def open_app(tmp_path_factory):
    """Listening on every address, behind a password. (process, port)"""
    proc, port = _start(tmp_path_factory.mktemp("open") / "ws", "--host", "0.0.0.0", "--auth", f"{OWNER}:{PASSWORD}")
    yield proc, port
    _stop(proc)


def _client(source: str = "127.0.0.1") -> httpx.Client:
    """An HTTP client whose requests come from `source` (any 127.x address is this computer on Linux)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10)


def _login(client: httpx.Client, port: int, password: str) -> httpx.Response:
    return client.post(f"http://127.0.0.1:{port}/login", data={"username": OWNER, "password": password})


# --- 1. login throttling is per client ---------------------------------------------------------------------

@server
def test_an_attackers_wrong_passwords_slow_the_attacker_but_never_lock_out_the_owner(open_app):
    _, port = open_app
    with _client("127.0.0.2") as attacker, _client("127.0.0.1") as owner:
        answers = [_login(attacker, port, f"guess-{i}").status_code for i in range(6)]
        assert answers[:3] == [400, 400, 400]
        assert answers[3] == 400 and set(answers[4:]) == {429}  # the 4th wrong guess makes it wait
        refused = _login(attacker, port, PASSWORD)  # while it waits, not even the right password is tried
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert _login(owner, port, "a typo").status_code == 400
        ok = _login(owner, port, PASSWORD)
        assert ok.status_code == 200 and ok.json() == {"success": True}


def test_each_failure_past_the_free_ones_doubles_the_wait_and_a_success_forgets_them():
    from ui.guard import LoginThrottle

    throttle = LoginThrottle(free=2, first_delay_s=1.0, max_delay_s=4.0)
    waits = []
    for _ in range(6):
        throttle.failed("a", now=100.0)
        waits.append(throttle.wait_s("a", now=100.0))
    assert waits == [0, 0, 1.0, 2.0, 4.0, 4.0]
    assert throttle.wait_s("b", now=100.0) == 0
    throttle.succeeded("a")
    assert throttle.wait_s("a", now=100.0) == 0


def test_behind_the_share_tunnel_a_client_is_the_address_the_tunnel_saw_not_what_it_claims():
    from ui.guard import Policy, client_key

    policy = Policy(bind_host="127.0.0.1", port=7860, share_host="abc.gradio.live")

    def key(client: str, **headers: str) -> str:
        scope = {"type": "http", "client": (client, 5000), "headers": []}
        return client_key(scope, Headers({k.replace("_", "-"): v for k, v in headers.items()}), policy)

    tunnel = {"host": "abc.gradio.live"}
    assert key("127.0.0.1", **tunnel, x_forwarded_for="1.2.3.4, 5.6.7.8") == "tunnel:5.6.7.8"
    assert key("127.0.0.1", **tunnel, x_forwarded_for="9.9.9.9, 5.6.7.8") == key("127.0.0.1", **tunnel,
                                                                                x_forwarded_for="5.6.7.8")
    # Not through the tunnel: a forwarded header is the client's own story and changes nothing.
    assert key("10.0.0.7", host="10.0.0.1:7860", x_forwarded_for="5.6.7.8") == "10.0.0.7"


# --- 2. DNS rebinding and other sites ------------------------------------------------------------------------

@server
def test_a_loopback_app_answers_only_to_loopback_names_on_its_port(local_app):
    _, port = local_app
    with _client() as c:
        url = f"http://127.0.0.1:{port}/config"
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            assert c.get(url, headers={"Host": host}).status_code == 200, host
        for host in (f"attacker.example:{port}", "127.0.0.1:80", f"127.0.0.1.attacker.example:{port}"):
            assert c.get(url, headers={"Host": host}).status_code == 403, host
        rebound = c.post(f"http://127.0.0.1:{port}/gradio_api/queue/join",
                         headers={"Host": f"attacker.example:{port}", "Origin": f"http://attacker.example:{port}"},
                         json={"fn_index": 0, "data": [], "session_hash": "x"})
        assert rebound.status_code == 403


@server
def test_writes_from_another_site_are_refused_and_the_apps_own_page_may_upload(local_app):
    _, port = local_app
    own = f"http://127.0.0.1:{port}"
    upload = f"{own}/gradio_api/upload"
    files = {"files": ("a.txt", b"hello", "text/plain")}
    with _client() as c:
        assert c.post(upload, files=files, headers={"Origin": "http://evil.example"}).status_code == 403
        assert c.post(upload, files=files, headers={"Origin": "null"}).status_code == 403
        assert c.post(upload, files=files, headers={"Referer": "http://evil.example/page"}).status_code == 403
        assert c.post(upload, files=files, headers={"Origin": f"http://localhost:{port}"}).status_code == 403
        ok = c.post(upload, files=files, headers={"Origin": own, "Referer": own + "/"})
        assert ok.status_code == 200 and len(ok.json()) == 1
        assert c.post(upload, files=files).status_code == 200  # a script of this computer's user, not a web page


# --- 3. a non-loopback bind is shared ------------------------------------------------------------------------

@server
def test_an_app_on_every_address_is_shared_so_no_folder_of_the_computer_can_be_imported(open_app):
    _, port = open_app
    with _client() as owner:
        assert _login(owner, port, PASSWORD).status_code == 200
        config = owner.get(f"http://127.0.0.1:{port}/config").json()
    folder = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "k-folder")
    assert folder["props"]["interactive"] is False


def test_a_confined_csv_reads_only_files_inside_its_own_folder(tmp_path):
    outside = make_image_folder(tmp_path / "outside")
    upload = tmp_path / "upload"
    make_image_folder(upload / "inside")
    rows = [f"{p},{p.parent.name}" for p in sorted(outside.rglob("*.png"))]  # absolute paths of this computer
    rows += [f"../outside/{p.relative_to(outside).as_posix()},{p.parent.name}" for p in sorted(outside.rglob("*.png"))]
    (upload / "absolute.csv").write_text("path,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(UserError) as refused:
        import_dataset(upload / "absolute.csv", tmp_path / "datasets", confined=True)
    assert refused.value.code == "csv_no_files"
    inside = [f"inside/{p.relative_to(upload / 'inside').as_posix()},{p.parent.name}"
              for p in sorted((upload / "inside").rglob("*.png"))]
    (upload / "mixed.csv").write_text("path,label\n" + "\n".join(rows + inside) + "\n", encoding="utf-8")
    report = import_dataset(upload / "mixed.csv", tmp_path / "datasets", confined=True)
    assert len(report.manifest["items"]) == len(inside)
    assert all(str(outside) not in json.dumps(item) for item in report.manifest["items"])
    # On this computer only (not shared), a CSV may name any file, as before.
    assert len(import_dataset(upload / "absolute.csv", tmp_path / "own", confined=False).manifest["items"]) > 0


# --- 4. uploads ---------------------------------------------------------------------------------------------

@server
def test_uploads_are_capped_at_500_mb_and_the_hint_says_so_in_both_languages(local_app):
    from ui.i18n import t

    _, port = local_app
    with _client() as c:
        assert c.get(f"http://127.0.0.1:{port}/config").json()["max_file_size"] == 500 * 1024 ** 2
    assert "500 MB" in t("en", "data.zip") and "500 МБ" in t("ru", "data.zip")


# --- 5. handlers reached by number, with forged inputs -------------------------------------------------------

FORGED_PID = "../../etc"


def _forged(component, outside: Path):
    """A hostile value for one input: a project id out of the workspace, a path of this computer, odd lists."""
    import gradio as gr

    if isinstance(component, gr.State):
        return FORGED_PID
    if isinstance(component, (gr.File, gr.Image, gr.Gallery, gr.Files)):
        return str(outside / "secret.txt")
    if isinstance(component, (gr.CheckboxGroup, gr.Dataframe)):
        return [str(outside / "secret.txt"), "../../etc/passwd"]
    if isinstance(component, (gr.Number, gr.Slider)):
        return -1
    if isinstance(component, gr.Checkbox):
        return True
    return str(outside)


def _tree(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_every_handler_called_by_number_with_forged_ids_and_paths_stays_inside_the_workspace(tmp_path, monkeypatch):
    import gradio as gr

    from engine.runner import LocalRunner
    from engine.workspace import Workspace
    from ui.app import DELETE_CACHE, build

    monkeypatch.setenv("KONSTRUKTOR_OFFLINE", "1")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    outside = make_image_folder(tmp_path / "outside")
    (outside / "secret.txt").write_text("TOP-SECRET", encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    ws.create_project("mine")
    demo = build(ws, LocalRunner(ws), shared=True)
    assert demo.delete_cache == DELETE_CACHE  # Gradio's cache is emptied on a schedule
    before = _tree(tmp_path / "outside")
    around = sorted(tmp_path.parent.iterdir()), sorted(tmp_path.iterdir())
    called = 0
    for index, fn in demo.fns.items():
        if fn.fn is None or fn.name == "<lambda>" and not fn.inputs:
            continue
        args = [_forged(c, outside) for c in fn.inputs]
        try:
            result = fn.fn(*args)
            if hasattr(result, "__next__"):
                result = [next(result, None)]
        except (UserError, gr.Error, ValueError, TypeError, KeyError):
            continue
        finally:
            called += 1
        text = repr(result)
        assert "TOP-SECRET" not in text and "Traceback" not in text, (index, fn.name)
    assert called > 100
    assert _tree(tmp_path / "outside") == before
    assert (sorted(tmp_path.parent.iterdir()), sorted(p for p in tmp_path.iterdir() if p.name != "gradio")) == around
    assert all(ws.project_dir(p["id"]).parent == ws.root / "projects" for p in ws.list_projects())


def test_an_imported_upload_is_removed_from_gradios_cache_but_no_other_file_is(tmp_path, monkeypatch):
    from ui.state import discard_upload

    cache = tmp_path / "gradio"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    upload = cache / "0123abcd" / "classes.zip"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"PK")
    mine = tmp_path / "mine.zip"
    mine.write_bytes(b"PK")
    discard_upload(upload)
    discard_upload(mine)
    assert not upload.parent.exists() and cache.exists() and mine.exists()


# --- 6. names that disguise themselves ----------------------------------------------------------------------

HIDDEN = ["bad\x00name", "bell\x07", "cat\u202egpj.exe", "x\u202ay", "x\u2066y", "x\u200fy", "x\u200ey"]


@pytest.mark.parametrize("name", HIDDEN)
def test_project_and_class_names_with_control_or_bidi_characters_are_refused_with_a_code(tmp_path, name):
    from engine.data import bins
    from engine.workspace import Workspace
    from ui.i18n import error_text

    ws = Workspace(tmp_path / "ws")
    with pytest.raises(UserError) as project:
        ws.create_project(name)
    assert project.value.code == "hidden_char"
    pid = ws.create_project("fine")
    with pytest.raises(UserError):
        ws.rename_project(pid, name)
    assert ws.get_project(pid)["name"] == "fine"
    with pytest.raises(UserError) as cls:
        bins.add_class(tmp_path / "bins", name)
    assert cls.value.code == "hidden_char"
    ru = error_text("ru", cls.value)
    assert "управляющий символ" in ru and "U+" in ru and not any(c in ru for c in name if not c.isprintable())


def test_an_import_with_a_class_folder_named_with_a_bidi_override_is_refused(tmp_path):
    folder = make_image_folder(tmp_path / "images")
    (folder / "red").rename(folder / "red\u202egpj")
    with pytest.raises(UserError) as refused:
        import_dataset(folder, tmp_path / "datasets")
    assert refused.value.code == "hidden_char" and refused.value.params["char"] == "U+202E"


# --- 7. Ctrl+C when started in the background (last: it stops the shared app) -----------------------------

@server
def test_sigint_stops_the_app_even_when_it_was_started_with_sigint_ignored(local_app):
    proc, _ = local_app
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
