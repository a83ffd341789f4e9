"""Browser tests: the real app (launcher.py in a subprocess) driven by Debian's Chromium through Playwright.

Never downloads a browser. Screenshots of failures go to test-artifacts/e2e/; set
KONSTRUKTOR_SCREENSHOTS_DIR (e.g. docs/screenshots) to also keep the screenshots of each tab.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from clitools import start_app

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FAILURES = ROOT / "test-artifacts" / "e2e"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "e2e" in item.nodeid.split("/"):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@contextmanager
def app_page(browser, workspace: Path, wait_ms: int, **kwargs) -> Iterator[tuple[object, str]]:
    """A fresh app on `workspace` and one ready English page of it: (page, url); both closed afterwards."""
    proc, url = start_app(workspace, **kwargs)
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        try:
            page = context.new_page()
            page.set_default_timeout(wait_ms)
            page.goto(url)
            page.wait_for_selector("body[data-konstruktor-ready='1']", state="attached")
            yield page, url
        finally:
            context.close()
    finally:
        stop_app(proc)


def stop_app(proc: subprocess.Popen, timeout: float = 30) -> int:
    """Ctrl+C, as a person in a terminal would; the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("the app did not stop on Ctrl+C") from None
    return proc.returncode


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser tests need Debian's Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app(browser, tmp_path_factory):
    """The app on a fresh workspace, shared by the tests of one module."""
    workspace = tmp_path_factory.mktemp("e2e") / "Konstruktor"
    proc, url = start_app(workspace)
    yield {"url": url, "workspace": workspace, "proc": proc}
    stop_app(proc)


@pytest.fixture
def page(browser, app, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="en-US")
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(app["url"])
    pg.wait_for_selector("#k-tabs")
    # The page restores the last project and tab after it loads; let that finish before clicking,
    # or the restore can switch tabs under the test.
    pg.wait_for_selector("body[data-konstruktor-ready='1']", state="attached")
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        FAILURES.mkdir(parents=True, exist_ok=True)
        shot = FAILURES / f"{request.node.name}.png"
        pg.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failure: {shot}; page errors: {errors}")
    context.close()


@pytest.fixture(scope="session")
def screenshots_dir(tmp_path_factory) -> Path:
    """Where tab screenshots go: KONSTRUKTOR_SCREENSHOTS_DIR (e.g. docs/screenshots), else a temp folder."""
    wanted = os.environ.get("KONSTRUKTOR_SCREENSHOTS_DIR")
    folder = (ROOT / wanted) if wanted and not Path(wanted).is_absolute() else Path(wanted or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
