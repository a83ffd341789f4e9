# ruff: noqa: F811 - pytest fixtures imported from cloud_stub are used as arguments
"""Yandex Cloud in the browser: the Settings form saves a key and 'Check connection' answers step by step,
the Train tab's Yandex Cloud target shows the cost estimate, and a cloud run starts only on a second click
at the price shown. The app talks to the loopback stub and S3."""

from __future__ import annotations

import json

import pytest
from cloud_stub import BUCKET, FOLDER, cloud_ws, s3_url, sa_key, stub, wait_for  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e
WAIT_MS = 90_000  # generous: two cores shared with other work


def test_settings_form_and_train_target_in_the_browser(browser, stub, sa_key, screenshots_dir, tmp_path):
    from e2e.conftest import app_page
    from playwright.sync_api import expect

    key_file = tmp_path / "authorized_key.json"
    key_file.write_text(json.dumps(sa_key))
    workspace = tmp_path / "Konstruktor"
    # inherits the endpoint variables that point at the stub
    with app_page(browser, workspace, WAIT_MS) as (page, url):
        page.get_by_role("tab", name="Settings").click()
        page.locator("#k-cloud-folder textarea, #k-cloud-folder input").first.fill(FOLDER)
        page.locator("#k-cloud-bucket textarea, #k-cloud-bucket input").first.fill(BUCKET)
        page.set_input_files("#k-cloud-key input[type=file]", str(key_file))
        # The upload must land before Save reads it.
        expect(page.locator("#k-cloud-key")).to_contain_text("authorized_key.json", timeout=WAIT_MS)
        page.click("#k-cloud-save")
        status = page.locator("#k-cloud-status")
        saved = f"A key of service account {sa_key['service_account_id']} is saved"
        expect(status).to_contain_text(saved, timeout=WAIT_MS)
        expect(status).to_contain_text("RUB/hour", timeout=WAIT_MS)
        page.click("#k-cloud-check")
        expect(status).to_contain_text("There is a subnet in ru-central1-a", timeout=WAIT_MS)
        assert "✗" not in status.inner_text()
        page.screenshot(path=str(screenshots_dir / "12-settings-cloud.png"), full_page=True)
        page.get_by_role("tab", name="2 · Train").click()
        page.locator("#k-where").get_by_text("Yandex Cloud").click()
        expect(page.locator("body")).to_contain_text("Training will run on Yandex Cloud", timeout=WAIT_MS)
    secrets = workspace / "secrets" / "yandex.json"
    assert json.loads(secrets.read_text())["key"]["id"] == sa_key["id"]
    app_log = tmp_path / f"app-{url.rstrip('/').rsplit(':', 1)[1]}.log"
    secret = sa_key["private_key"].splitlines()[1].encode()
    assert secret not in app_log.read_bytes()
    for f in workspace.rglob("*"):  # only secrets/ holds the key: not the logs, the index or the settings
        if f.is_file() and "secrets" not in f.parts:
            assert secret not in f.read_bytes(), f


def test_a_cloud_run_asks_for_the_price_first_and_starts_on_the_second_click(browser, stub, cloud_ws):
    from e2e.conftest import app_page
    from playwright.sync_api import expect

    stub.start_workers = False  # the VM only has to exist: this test is about who starts it, and when
    with app_page(browser, cloud_ws, WAIT_MS) as (page, url):
        page.click("#k-sample")
        expect(page.locator("#k-data-summary")).to_contain_text("200 pictures in 2 classes")
        page.get_by_role("tab", name="2 · Train").click()
        page.locator("#k-where").get_by_text("Decide for me").click()
        expect(page.locator("#k-where-why")).to_contain_text("Decided for you.")
        page.locator("#k-where").get_by_text("Yandex Cloud").click()
        expect(page.locator("#k-where-why")).to_contain_text("Training will run on Yandex Cloud")
        page.click("#k-start")
        confirm = page.locator("#k-start-cloud")
        expect(confirm).to_be_visible()
        expect(confirm).to_contain_text("Start in the cloud (about ")
        expect(page.locator("#k-train-status")).to_contain_text("Training in Yandex Cloud is paid.")
        assert stub.bodies == []  # the first click asked; it started nothing
        confirm.click()
        expect(confirm).to_be_hidden()
        expect(page.locator("#k-stop")).to_be_enabled()
        vm = wait_for(stub.live_instances, what="the cloud VM of the confirmed run")
        page.click("#k-stop")  # cancelling deletes the VM
        expect(page.locator("#k-train-status")).to_contain_text("Stopped")
    assert len(stub.bodies) == 1 and stub.live_instances() == [] and stub.deleted == vm
