"""Build the double-click desktop app (a PyInstaller one-folder build) and smoke-test it.

    python build/build.py             # build into build/dist/Konstruktor (build/work holds PyInstaller's cache)
    python build/build.py --smoke     # build (or reuse the build) and prove the frozen app works end to end
    python build/build.py --cpu-only  # leave the CUDA libraries out (torch then runs on the CPU only)

The smoke test starts the frozen executable headless on a free port with a fresh workspace, waits for the
UI to answer, then uses the frozen executable's own `engine` sub-command to import the sample pictures,
train a tiny linear-probe run and export it, and runs the exported package's predict.py. Any failure
exits non-zero with one sentence saying which step failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "build" / "konstruktor.spec"
DIST = ROOT / "build" / "dist"
WORK = ROOT / "build" / "work"
APP_DIR = DIST / "Konstruktor"
EXE = APP_DIR / ("Konstruktor.exe" if os.name == "nt" else "Konstruktor")
UI_WAIT_S = 180


class SmokeFailure(RuntimeError):
    """A step of the smoke test did not do what it should."""


def build(*, cpu_only: bool = False) -> dict:
    """Run PyInstaller on the spec; return the build's time and size."""
    started = time.monotonic()
    env = {**os.environ, "KONSTRUKTOR_BUILD_CPU_ONLY": "1" if cpu_only else "0"}
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                    "--distpath", str(DIST), "--workpath", str(WORK), str(SPEC)], check=True, cwd=ROOT, env=env)
    seconds = time.monotonic() - started
    size = folder_size(APP_DIR)
    print(f"Built {APP_DIR} in {seconds:.0f} s: {size / 2**30:.2f} GiB", flush=True)
    return {"build_s": round(seconds, 1), "size_bytes": size}


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if proc.poll() is not None:
            raise SmokeFailure(f"the frozen app exited with code {proc.returncode} before its UI answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.2)
    raise SmokeFailure(f"the frozen app's UI did not answer within {timeout_s:.0f} s")


def _engine(workspace: Path, *args: str, timeout_s: float = 600) -> str:
    """Run `Konstruktor engine ARGS` (the frozen app's own engine) and return its stdout."""
    env = {**os.environ, "KONSTRUKTOR_WORKSPACE": str(workspace), "KONSTRUKTOR_OFFLINE": "1"}
    done = subprocess.run([str(EXE), "engine", *args], capture_output=True, text=True, env=env, timeout=timeout_s)
    if done.returncode != 0:
        raise SmokeFailure(f"`engine {' '.join(args)}` failed with code {done.returncode}: "
                           f"{(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def start_app(workspace: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "KONSTRUKTOR_OFFLINE": "1"}
    log = open(workspace.parent / "app.log", "w")  # noqa: SIM115 - closed when the smoke test ends
    return subprocess.Popen([str(EXE), "--no-browser", "--port", str(port), "--workspace", str(workspace)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop_app(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def smoke() -> dict:
    """Start the frozen app, train, export and predict with it; return what was measured."""
    if not EXE.exists():
        raise SmokeFailure(f"no build at {EXE}: run `python build/build.py` first")
    tmp = Path(tempfile.mkdtemp(prefix="konstruktor-smoke-"))
    workspace = tmp / "Konstruktor"
    port = _free_port()
    figures: dict = {}
    proc = start_app(workspace, port)
    try:
        figures["ui_answers_s"] = round(_wait_for(f"http://127.0.0.1:{port}/health", proc, UI_WAIT_S), 1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            if b"Konstruktor" not in r.read():
                raise SmokeFailure("the frozen app's first page does not say Konstruktor")
        print(f"UI answered {figures['ui_answers_s']} s after launch", flush=True)
        second = subprocess.run([str(EXE), "--no-browser", "--workspace", str(workspace)], capture_output=True,
                                text=True, timeout=60, env={**os.environ, "KONSTRUKTOR_OFFLINE": "1"})
        if second.returncode != 0 or str(port) not in second.stdout:
            raise SmokeFailure(f"a second start did not point to the running app: {second.stdout} {second.stderr}")
        figures["browser"] = _browser_train(f"http://127.0.0.1:{port}/")
        sample = _write_sample(tmp)
        run = tmp / "run"
        started = time.monotonic()
        _engine(workspace, "train", "--data", str(sample), "--mode", "linear-probe", "--out", str(run))
        figures["train_s"] = round(time.monotonic() - started, 1)
        metrics = json.loads((run / "metrics.json").read_text())
        print(f"trained a linear probe in {figures['train_s']} s", flush=True)
        # Ultralytics in the frozen app: its model yaml files, its trainer and our callbacks, one short epoch.
        yolo = tmp / "run-yolo"
        started = time.monotonic()
        _engine(workspace, "train", "--data", str(sample), "--model", "yolo11n-cls", "--mode", "scratch",
                "--epochs", "1", "--out", str(yolo))
        if not (yolo / "metrics.json").exists():
            raise SmokeFailure("the YOLO11 run in the frozen app wrote no metrics.json")
        figures["yolo_train_s"] = round(time.monotonic() - started, 1)
        print(f"trained yolo11n-cls for one epoch in {figures['yolo_train_s']} s", flush=True)
        out = json.loads(_engine(workspace, "export", str(run), "--json"))
        package = Path(out["folder"]) if "folder" in out else _package_folder(run)
        picture = next((sample / "face").glob("*.png"))
        predicted = subprocess.run([sys.executable, "predict.py", str(picture), "--json"], cwd=package,
                                   capture_output=True, text=True, timeout=120)
        if predicted.returncode != 0:
            raise SmokeFailure(f"the exported predict.py failed: {predicted.stderr.strip()[-1000:]}")
        answer = json.loads(predicted.stdout)
        figures["test_accuracy"] = metrics.get("test", {}).get("accuracy")
        figures["predicted"] = answer
        print(f"the exported package predicts: {json.dumps(answer)[:200]}", flush=True)
    finally:
        stop_app(proc)
    shutil.rmtree(tmp, ignore_errors=True)
    return figures


def _browser_train(url: str) -> str:
    """In a real browser: the sample project, then a linear probe trained by the frozen app's own child process.

    Needs Playwright (the test extra) and Debian's Chromium; without them this part is skipped and says so.
    """
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        print("browser part skipped: Playwright is not installed (pip install -e '.[test]')", flush=True)
        return "skipped"
    if not Path(chromium).exists():
        print("browser part skipped: no Chromium (apt-get install chromium)", flush=True)
        return "skipped"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            page.set_default_timeout(60_000)
            page.goto(url)
            page.wait_for_selector("body[data-konstruktor-ready='1']", state="attached")
            page.click("#k-sample")
            expect(page.locator("#k-data-summary")).to_contain_text("200 pictures in 2 classes")
            page.get_by_role("tab", name="2 · Train").click()
            page.locator("#k-model label", has_text="mobilenetv2_100").click()
            page.locator("#k-mode label", has_text="Linear probe").click()
            page.click("#k-start")
            status = page.locator("#k-train-status")
            # Done, or any other end (failed, stopped): whichever comes first, without waiting out the timeout.
            page.wait_for_function("""() => { const s = document.querySelector('#k-train-status');
                return s && /Done|Failed|failed|stopped|interrupted|error/.test(s.innerText); }""", timeout=300_000)
            if "Done" not in status.inner_text():
                raise SmokeFailure(f"training from the browser did not finish: {status.inner_text().strip()}")
        except SmokeFailure:
            raise
        except Exception as e:  # Playwright's errors: one sentence is what the smoke test reports
            raise SmokeFailure(f"the browser could not train the sample in the frozen app: {e}") from e
        finally:
            browser.close()
    print("the frozen app trained the sample project from the browser", flush=True)
    return "trained"


def _write_sample(tmp: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from ui.sample import write_sample

    return write_sample(tmp / "samples")


def _package_folder(run: Path) -> Path:
    found = sorted((run / "exports").glob("*/predict.py"))
    if not found:
        raise SmokeFailure(f"the export wrote no package with a predict.py under {run / 'exports'}")
    return found[-1].parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="smoke-test the built app (builds it first if missing)")
    p.add_argument("--rebuild", action="store_true", help="with --smoke: build again even if a build exists")
    p.add_argument("--cpu-only", action="store_true", help="leave the CUDA libraries out of the build")
    p.add_argument("--json", action="store_true", help="print the measured figures as JSON at the end")
    args = p.parse_args(argv)
    figures: dict = {}
    try:
        if not args.smoke or args.rebuild or not EXE.exists():
            figures.update(build(cpu_only=args.cpu_only))
        if args.smoke:
            figures.update(smoke())
            print("smoke test passed", flush=True)
    except (SmokeFailure, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        print(f"smoke test failed: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
