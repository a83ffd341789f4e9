# ruff: noqa: F811 - pytest fixtures imported from cloud_stub are used as arguments
"""The cloud through the command line (`launcher.py engine`, where the engine and the cloud are composed):
train --target yandex, kill the client, attach again, check, cleanup; the engine alone points there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from clitools import engine_cli, launcher_cli
from cloud_stub import BUCKET, FOLDER, cloud_ws, s3_url, sa_key, stub, wait_for  # noqa: F401 - fixtures
from imagegen import make_pattern_folder

from cloud.jobs import Jobs
from engine.events import read_events

ROOT = Path(__file__).resolve().parents[1]


def test_killed_client_reattaches_and_the_cloud_run_works_like_a_local_one(cloud_ws, stub, tmp_path):
    data = make_pattern_folder(tmp_path / "patterns", per_class=8)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("image_size: 64\nbatch_size: 8\neval: {cv: 'off'}\n")
    client = subprocess.Popen([sys.executable, "launcher.py", "engine", "train", "--data", str(data), "--mode", "linear-probe",
                               "--config", str(cfg), "--target", "yandex", "--yes"], cwd=ROOT, env=os.environ.copy(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        job = wait_for(lambda: next((j for j in Jobs(cloud_ws).list() if j.state == "running"), None),
                       what="the job to reach the VM")
        wait_for(lambda: any(e["type"] == "start" for e in read_events(job.run_dir)[0]), what="mirrored start")
    finally:
        os.killpg(client.pid, signal.SIGKILL)  # the app is closed mid-job, without warning
        client.wait()
    assert b"about" in client.stderr.read()  # the cost estimate was shown before submitting
    listing = launcher_cli("cloud", "jobs")
    assert job.id in listing.stdout and "running" in listing.stdout
    attached = launcher_cli("cloud", "attach")
    assert attached.returncode == 0, attached.stderr
    assert f"{job.id}: done" in attached.stdout
    assert stub.live_instances() == []
    types = [e["type"] for e in read_events(job.run_dir)[0]]
    assert types[-1] == "done" and types.count("done") == 1
    # The mirrored run folder works with the local tools like any local run.
    r = engine_cli("evaluate", str(job.run_dir), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["test"]["accuracy"] >= 0.9


def test_check_reports_each_step_in_plain_words(cloud_ws, stub, monkeypatch):
    r = launcher_cli("cloud", "check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "The key works" in r.stdout and f"bucket '{BUCKET}' is reachable" in r.stdout

    from cloud.cli import check_connection
    from cloud.settings import CloudSettings, save_settings

    save_settings(cloud_ws, CloudSettings(folder_id=FOLDER, bucket="no-such-bucket"))
    steps = check_connection(cloud_ws)
    assert steps[-1][0] is False and "There is no bucket 'no-such-bucket'" in steps[-1][1]
    monkeypatch.setenv("KONSTRUKTOR_YC_IAM_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    steps = check_connection(cloud_ws)
    assert steps == [(False, steps[0][1])] and "Cannot reach Yandex Cloud" in steps[0][1]
    assert "proxy" in steps[0][1]


def test_cleanup_deletes_vms_left_by_jobs_this_workspace_no_longer_runs(cloud_ws, stub):
    from cloud.compute import VmSpec
    from cloud.jobs import Cloud, orphans
    from cloud.settings import load_settings

    cloud = Cloud(cloud_ws, load_settings(cloud_ws))
    op = cloud.compute.create_instance(job_id="ghost-1", spec=VmSpec("standard-v3-t4", 1, 4, 16), zone="ru-central1-a",
                                       service_account_id="aje-sa-1", user_data="#!/bin/bash\n",
                                       job_metadata={"bucket": BUCKET, "prefix": "nothing/", "deadline": 0},
                                       idempotency_key="k-ghost")
    ghost = op["metadata"]["instanceId"]
    assert [i["id"] for i in orphans(cloud)] == [ghost]
    assert ghost in launcher_cli("cloud", "jobs").stdout  # reported
    r = launcher_cli("cloud", "cleanup")
    assert r.returncode == 0 and "Deleted 1" in r.stdout
    assert stub.live_instances() == []


def test_setup_refuses_several_gpus_until_training_uses_them(cloud_ws):
    from cloud.settings import load_settings

    r = launcher_cli("cloud", "setup", "--gpus", "2")
    assert r.returncode != 0 and "Training on 2 GPUs is not supported yet" in r.stderr
    assert "Traceback" not in r.stderr and load_settings(cloud_ws).gpus == 1


def test_the_engine_alone_trains_here_and_names_the_command_that_trains_in_the_cloud(tmp_path):
    env = {**os.environ, "KONSTRUKTOR_WORKSPACE": str(tmp_path / "ws")}
    r = engine_cli("train", "--data", str(tmp_path / "none"), "--target", "yandex", env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "invalid choice" not in r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]  # one sentence
    assert "python launcher.py engine train ... --target yandex" in r.stderr
    assert not (tmp_path / "ws" / "runs").exists()  # refused before any folder is made
    assert "python launcher.py engine" in engine_cli("--help", env=env).stdout
    r = launcher_cli("train", "--data", str(tmp_path / "none"), "--target", "moon", env=env)
    assert r.returncode == 2 and "use one of local, yandex, auto" in r.stderr
