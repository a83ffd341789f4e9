# ruff: noqa: F811 - pytest fixtures imported from cloud_stub are used as arguments
"""The app's side of the cloud: the Settings form, Check connection, leftover VMs, and the Train tab's runner,
`auto` target and price confirmation."""

from __future__ import annotations

import json
import stat

import pytest
from cloud_stub import (  # noqa: F401 - fixtures
    BUCKET,
    FOLDER,
    cloud_ws,
    prepare_run,
    s3_url,
    sa_key,
    stub,
    wait_for,
)
from imagegen import make_pattern_folder

from engine.config import RunConfig
from engine.workspace import Workspace


def test_settings_form_keeps_the_key_private_and_checks_the_connection(stub, sa_key, tmp_path, monkeypatch):
    from cloud.auth import secrets_path
    from ui.app import _blocked
    from ui.tabs.settings import check_form, save_form

    root = tmp_path / "ws"
    monkeypatch.setenv("KONSTRUKTOR_WORKSPACE", str(root))
    ws = Workspace(root)
    upload = tmp_path / "gradio-upload" / "key.json"
    upload.parent.mkdir()
    upload.write_text(json.dumps(sa_key))
    answer = save_form(root, "en", FOLDER, BUCKET, "ru-central1-a", "standard-v3-t4", 1, True, 1.5, str(upload), "")
    assert sa_key["service_account_id"] in answer and "preemptible" in answer and "RUB" in answer
    assert sa_key["private_key"].splitlines()[1] not in answer
    assert not upload.exists()  # the uploaded copy is gone; the key lives only in secrets/
    assert stat.S_IMODE(secrets_path(root).stat().st_mode) == 0o600
    assert str(secrets_path(root).parent) in _blocked(ws)
    checked = check_form(root, "en")
    assert checked.count("✓") == 4 and "✗" not in checked
    save_form(root, "en", FOLDER, "missing-bucket", "ru-central1-a", "standard-v3-t4", 1, False, 1, None, "")
    assert "✗ There is no bucket 'missing-bucket'" in check_form(root, "en")


def test_train_tab_runner_trains_in_the_cloud_and_stop_deletes_the_vm(stub, sa_key, tmp_path, monkeypatch):
    from cloud.auth import save_credentials
    from cloud.runner import with_cloud
    from cloud.settings import CloudSettings, save_settings

    root = tmp_path / "ws"
    monkeypatch.setenv("KONSTRUKTOR_WORKSPACE", str(root))
    ws = Workspace(root)
    save_settings(root, CloudSettings(folder_id=FOLDER, bucket=BUCKET))
    save_credentials(root, key=sa_key)
    template = prepare_run(root, make_pattern_folder(tmp_path / "patterns", per_class=8), mode="full", epochs=30,
                           early_stopping_patience=0)
    cfg = RunConfig.load(template)
    runner = with_cloud(ws, reattach=False)  # the app's runner: a cloud run goes to the cloud's part of it
    pid = ws.create_project("cloud")
    run_dir = runner.submit(cfg, project_id=pid, target="yandex")
    assert runner.active_run(pid) == run_dir.resolve()
    wait_for(lambda: runner.snapshot(run_dir).status == "running", what="the cloud run to start training")
    assert runner.stop(run_dir) is True
    snap = runner.snapshot(run_dir)
    assert snap.status == "cancelled" and "deleted" in snap.message
    assert stub.live_instances() == [] and runner.active_run(pid) is None


# --- leftover VMs -------------------------------------------------------------------------------

def _ghost_vm(root, stub, job_id: str) -> str:
    """A Konstruktor-labelled VM whose job this workspace does not run (left by a crash or another computer)."""
    from cloud.compute import VmSpec
    from cloud.jobs import Cloud
    from cloud.settings import load_settings

    stub.start_workers = False  # it only has to exist and cost money
    op = Cloud(root, load_settings(root)).compute.create_instance(
        job_id=job_id, spec=VmSpec("standard-v3-t4", 1, 4, 16), zone="ru-central1-a", service_account_id="aje-sa-1",
        user_data="#!/bin/bash\n", job_metadata={"bucket": BUCKET, "prefix": "nothing/", "deadline": 0},
        idempotency_key=f"k-{job_id}")
    return op["metadata"]["instanceId"]


def _runner(root, **kw):
    """The app's runner: this computer and Yandex Cloud, chosen by target."""
    from cloud.runner import with_cloud

    return with_cloud(Workspace(root), **kw)


def _started_looking(runner, timeout: float) -> bool:
    """Whether the runner's start-up look for leftover VMs ended within `timeout` seconds."""
    from ui.state import leftover_vms

    return leftover_vms(runner).orphans_checked.wait(timeout)


def test_a_leftover_vm_found_at_start_is_shown_and_delete_removes_every_current_one(cloud_ws, stub):
    from ui.i18n import t
    from ui.tabs.settings import delete_leftovers, known_leftovers, leftovers_line

    first = _ghost_vm(cloud_ws, stub, "ghost-1")
    runner = _runner(cloud_ws)  # looks for leftovers in the background, as the app does when it starts
    assert _started_looking(runner, 120)
    known = known_leftovers(runner)
    assert [i["id"] for i in known] == [first]
    line = leftovers_line("en", known)
    assert "Leftover cloud VMs: 1." in line and first in line and "cost money" in line
    assert first in leftovers_line("ru", known) and "стоят денег" in leftovers_line("ru", known)
    assert "(1)" in t("en", "settings.leftovers_warning", n=len(known))
    # A VM left after the page drew its list is deleted too: the click asks Yandex Cloud again.
    second = _ghost_vm(cloud_ws, stub, "ghost-2")
    text, offer_again = delete_leftovers(cloud_ws, runner, "en")
    assert text == "Deleted leftover VMs: 2." and offer_again is False
    assert stub.live_instances() == [] and sorted(stub.deleted) == sorted([first, second])
    assert known_leftovers(runner) == []


def test_the_vm_of_a_job_still_running_is_no_leftover(cloud_ws, stub, tmp_path):
    from cloud.jobs import Cloud
    from cloud.settings import load_settings, vm_spec
    from ui.tabs.settings import check_leftovers

    settings = load_settings(cloud_ws)
    job = Cloud(cloud_ws, settings).jobs.create(tmp_path / "run", settings, vm_spec(settings))
    owned = _ghost_vm(cloud_ws, stub, job.id)
    runner = _runner(cloud_ws, reattach=False)
    assert check_leftovers(cloud_ws, runner, "en") == ("No leftover cloud VMs.", False)
    ghost = _ghost_vm(cloud_ws, stub, "ghost-3")
    text, offer = check_leftovers(cloud_ws, runner, "ru")
    assert offer is True and ghost in text and owned not in text and "Оставшихся облачных ВМ: 1." in text
    assert sorted(stub.live_instances()) == sorted([owned, ghost])  # checking deletes nothing


def test_without_the_cloud_or_its_network_nothing_is_shown_and_nothing_waits(stub, sa_key, tmp_path, monkeypatch):
    from cloud.auth import save_credentials
    from cloud.settings import CloudSettings, save_settings
    from ui.tabs.settings import check_leftovers, delete_leftovers, known_leftovers

    root = tmp_path / "ws"
    monkeypatch.setenv("KONSTRUKTOR_WORKSPACE", str(root))
    runner = _runner(root)  # not set up: the start-up look ends at once, with nothing found
    assert _started_looking(runner, 60) and known_leftovers(runner) == []
    assert check_leftovers(root, runner, "en") == (
        "Yandex Cloud is not set up yet: save the folder, bucket and key above first.", False)
    save_settings(root, CloudSettings(folder_id=FOLDER, bucket=BUCKET))
    save_credentials(root, key=sa_key)
    monkeypatch.setenv("KONSTRUKTOR_YC_IAM_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    runner = _runner(root)
    assert _started_looking(runner, 120) and known_leftovers(runner) == []
    text, offer = delete_leftovers(root, runner, "en")
    assert "Cannot reach Yandex Cloud" in text and offer is False and stub.deleted == []


# --- the Train tab: `auto`, and a second click before a paid run ----------------------------------

FORM = ("tf_efficientnet_lite0", "fine-tune", "none", False, None, 8, None, 0, None, "auto")  # then: where


@pytest.fixture
def train_ctx(cloud_ws, tmp_path):
    from engine.data import import_dataset
    from ui.i18n import Texts
    from ui.state import Ctx, Settings

    ws = Workspace(cloud_ws)
    pid = ws.create_project("cloud")
    report = import_dataset(make_pattern_folder(tmp_path / "patterns", per_class=8), ws.datasets_dir)
    ws.update_project_state(pid, dataset_dir=str(report.dataset_dir))
    runner = _runner(cloud_ws, reattach=False)
    return Ctx(ws, runner, Texts("en"), Settings(cloud_ws)), pid


def test_auto_says_where_the_job_goes_and_why_in_both_languages(train_ctx, monkeypatch):
    from cloud.target import TARGET_REASONS
    from ui.i18n.strings import STRINGS
    from ui.tabs import train_form as train

    for code, english in TARGET_REASONS.items():
        assert STRINGS[f"target.{code}"][0] == english
    monkeypatch.setattr(train, "has_gpu", lambda: False)
    ctx, pid = train_ctx
    offline = {FORM[0]: True}
    short = (*FORM[:4], 5, *FORM[5:], "auto")  # 24 images × 5 epochs: minutes on this CPU
    assert train.prepare(ctx, "en", pid, short, offline)[2:] == (
        "local", "**Decided for you.** A small job (24 images, fine-tune): training on this computer's CPU.")
    long = (*FORM[:4], 1000, *FORM[5:], "auto")
    target, why = train.prepare(ctx, "ru", pid, long, offline)[2:]
    assert target == "yandex" and "24 картинок, дообучение" in why and "Yandex Cloud" in why
    assert train.where_line(ctx, "en", pid, long, offline).endswith("training on Yandex Cloud.")


def test_a_cloud_run_starts_only_on_a_second_click_at_the_price_shown(train_ctx, stub, cloud_ws):
    import dataclasses

    from cloud.settings import load_settings, save_settings
    from ui.tabs.train_form import start_run

    ctx, pid = train_ctx
    offline = {FORM[0]: True}
    form = (*FORM, "cloud")
    run_dir, text, price = start_run(ctx, "en", pid, form, offline)
    assert run_dir is None and "Training in Yandex Cloud is paid." in text and price["text"] in text
    assert price["button"].startswith("Start in the cloud (about ") and "RUB/hour, at most " in price["button"]
    assert stub.bodies == [] and ctx.ws.list_runs(pid) == []  # nothing started, nothing paid
    save_settings(cloud_ws, dataclasses.replace(load_settings(cloud_ws), max_hours=3.0))
    run_dir, text, new_price = start_run(ctx, "en", pid, form, offline, accepted=price["text"])
    assert run_dir is None and text.startswith("The cloud settings changed") and new_price != price
    assert ctx.ws.list_runs(pid) == []
    run_dir, text, _ = start_run(ctx, "en", pid, form, offline, accepted=new_price["text"])
    assert run_dir is not None and ctx.runner.active_run(pid) == run_dir.resolve()
    wait_for(lambda: stub.live_instances(), what="the cloud VM to be created")
    assert ctx.runner.stop(run_dir) is True and stub.live_instances() == []
    # The choice changed under the button (say, to this computer): nothing starts on that click.
    assert start_run(ctx, "en", pid, (*FORM, "local"), offline, accepted=new_price["text"])[0] is None
