# ruff: noqa: F811 - pytest fixtures imported from cloud_stub are used as arguments
"""The app's side of the cloud: the Settings form, Check connection, and the runner the Train tab uses."""

from __future__ import annotations

import json
import stat

from cloud_stub import BUCKET, FOLDER, prepare_run, s3_url, sa_key, stub, wait_for  # noqa: F401 - fixtures
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
    from cloud.runner import CloudRunner
    from cloud.settings import CloudSettings, save_settings
    from engine.runner import LocalRunner

    root = tmp_path / "ws"
    monkeypatch.setenv("KONSTRUKTOR_WORKSPACE", str(root))
    ws = Workspace(root)
    save_settings(root, CloudSettings(folder_id=FOLDER, bucket=BUCKET))
    save_credentials(root, key=sa_key)
    template = prepare_run(root, make_pattern_folder(tmp_path / "patterns", per_class=8), mode="full", epochs=30,
                           early_stopping_patience=0)
    cfg = RunConfig.load(template)
    runner = CloudRunner(LocalRunner(ws), reattach=False)
    pid = ws.create_project("cloud")
    run_dir = runner.submit(cfg, project_id=pid, target="yandex")
    assert runner.active_run(pid) == run_dir.resolve()
    wait_for(lambda: runner.snapshot(run_dir).status == "running", what="the cloud run to start training")
    assert runner.stop(run_dir) is True
    snap = runner.snapshot(run_dir)
    assert snap.status == "cancelled" and "deleted" in snap.message
    assert stub.live_instances() == [] and runner.active_run(pid) is None
