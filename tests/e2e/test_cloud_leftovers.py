# ruff: noqa: F811 - pytest fixtures imported from cloud_stub are used as arguments
"""A cloud VM that no training owns, seen in the browser: the page warns once, Settings lists it, and
'Delete leftover VMs' deletes it. The app talks to the loopback Compute stub and S3."""

from __future__ import annotations

import pytest
from cloud_stub import BUCKET, cloud_ws, s3_url, sa_key, stub  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e
WAIT_MS = 90_000  # generous: two cores shared with other work


def test_a_leftover_vm_is_shown_in_settings_and_deleted_from_there(browser, stub, cloud_ws, screenshots_dir):
    from e2e.conftest import app_page
    from playwright.sync_api import expect

    from cloud.compute import VmSpec
    from cloud.jobs import Cloud
    from cloud.settings import load_settings

    stub.start_workers = False  # the VM only has to exist and cost money
    op = Cloud(cloud_ws, load_settings(cloud_ws)).compute.create_instance(
        job_id="lost-job", spec=VmSpec("standard-v3-t4", 1, 4, 16), zone="ru-central1-a",
        service_account_id="aje-sa-1", user_data="#!/bin/bash\n",
        job_metadata={"bucket": BUCKET, "prefix": "nothing/", "deadline": 0}, idempotency_key="k-lost")
    ghost = op["metadata"]["instanceId"]
    # inherits the endpoint variables that point at the stub
    with app_page(browser, cloud_ws, WAIT_MS) as (page, url):
        toasts = page.locator(".toast-wrap")
        expect(toasts).to_contain_text("Leftover cloud VMs that no training owns are running and cost money (1)")
        toasts.locator(".toast-close").first.click()  # read; out of the way of the screenshot
        expect(toasts).not_to_contain_text("Leftover cloud VMs")
        page.get_by_role("tab", name="Settings").click()
        line = page.locator("#k-cloud-leftovers")
        expect(line).to_contain_text("Leftover cloud VMs: 1.")
        expect(line).to_contain_text(ghost)
        delete = page.locator("#k-cloud-delete-leftovers")
        expect(delete).to_be_visible()
        page.locator("#k-cloud").screenshot(path=str(screenshots_dir / "13-cloud-leftover.png"))
        delete.click()
        expect(line).to_contain_text("Deleted leftover VMs: 1.")
        expect(line).not_to_contain_text(ghost)
        expect(delete).to_be_hidden()
    assert stub.live_instances() == [] and stub.deleted == [ghost]
