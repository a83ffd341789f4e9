# ruff: noqa: F811 - pytest fixtures imported from cloud_stub are used as arguments
"""Cloud jobs end to end on loopback: a moto S3 server, the Compute/IAM stub and the real worker process.

Nothing inside the client is mocked: it speaks HTTP to the stub and to S3 exactly as to Yandex Cloud.
"""

from __future__ import annotations

import json
import os
import threading

import pytest
from cloud_stub import (  # noqa: F401 - fixtures
    cloud_ws,
    prepare_run,
    s3_url,
    sa_key,
    stub,
    wait_for,
)
from imagegen import make_pattern_folder

from cloud.jobs import Cloud, JobDriver, submit
from cloud.settings import load_settings
from engine.events import read_events


@pytest.fixture(scope="module")
def patterns(tmp_path_factory):
    return make_pattern_folder(tmp_path_factory.mktemp("data") / "patterns", per_class=8)


def _types(run_dir):
    return [e["type"] for e in read_events(run_dir)[0]]


def _drive(cloud, job_id, poll_s=0.3):
    driver = JobDriver(cloud, job_id, poll_s=poll_s)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("job", driver.run()), daemon=True)
    thread.start()
    return driver, thread, result


def test_job_trains_on_the_vm_mirrors_events_live_and_deletes_the_vm(cloud_ws, stub, patterns, sa_key,
                                                                     monkeypatch):
    stub.faults["create"] = [503, 500]  # passing server errors are retried (with the same Idempotency-Key)
    run_dir = prepare_run(cloud_ws, patterns, mode="linear-probe", eval={"cv": "off"})
    cloud = Cloud(cloud_ws, load_settings(cloud_ws))
    job = submit(cloud, run_dir)
    driver, thread, result = _drive(cloud, job.id)
    # Live: the worker's progress shows up locally while the job is still running on the VM.
    wait_for(lambda: "progress" in _types(run_dir) and cloud.jobs.get(job.id).state == "running",
             what="mirrored progress while running")
    stub.expire_tokens()  # every IAM token dies mid-job: client and worker get new ones and go on
    # The client loses the network for a while: it says so once and waits; the VM trains on.
    storage_url = os.environ["KONSTRUKTOR_YC_STORAGE_ENDPOINT"]
    monkeypatch.setenv("KONSTRUKTOR_YC_STORAGE_ENDPOINT", "http://127.0.0.1:9")
    wait_for(lambda: any("Cannot reach Yandex Cloud" in str(e.get("message")) for e in read_events(run_dir)[0]),
             what="the client to notice the outage")
    monkeypatch.setenv("KONSTRUKTOR_YC_STORAGE_ENDPOINT", storage_url)
    thread.join(300)
    final = result["job"]
    assert final.state == "done", final.message
    types = _types(run_dir)
    assert types.count("start") == 1 and types[-1] == "done"
    for name in ("metrics.json", "labels.json", "checkpoints/best.pt", "artifacts/confusion_matrix_test.png"):
        assert (run_dir / name).exists(), name
    assert json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"] >= 0.9
    # The VM is deleted and verified gone; the job's files left the bucket.
    assert stub.live_instances() == [] and len(stub.deleted) == 1
    assert cloud.storage.list(job.prefix) == {}
    # The create call carried an Idempotency-Key; the VM got a service account, labels, and no secrets.
    body = stub.bodies[0]
    assert body["bootDiskSpec"]["diskSpec"]["imageId"] == "fd8-ubuntu-2004-lts-gpu"  # the T4's documented family
    assert body["serviceAccountId"] == sa_key["service_account_id"] and body["labels"]["konstruktor-job"]
    sent = json.dumps(body)
    assert sa_key["private_key"].splitlines()[1] not in sent and sa_key["id"] not in sent
    # The key appears in no file of the run folder.
    secret = sa_key["private_key"].splitlines()[1]
    for f in run_dir.rglob("*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f
    assert len(stub.bodies) == 1 and stub.requests.count(("POST", "/iam/v1/tokens")) >= 2
    steps = [r["step"] for r in cloud.jobs.journal(job.id)]
    assert steps.index("creating-vm") < steps.index("vm-requested") < steps.index("vm-created")


def test_cancel_mid_run_deletes_the_vm(cloud_ws, stub, patterns):
    run_dir = prepare_run(cloud_ws, patterns, mode="full", epochs=30, early_stopping_patience=0)
    cloud = Cloud(cloud_ws, load_settings(cloud_ws))
    job = submit(cloud, run_dir)
    driver, thread, result = _drive(cloud, job.id)
    wait_for(lambda: "start" in _types(run_dir), what="training to start on the VM")
    driver.request_cancel()
    thread.join(120)
    assert result["job"].state == "cancelled"
    assert _types(run_dir)[-1] == "cancelled"
    assert stub.live_instances() == [] and stub.deleted
    assert cloud.storage.list(job.prefix) == {} and (run_dir / "cloud_train.log").exists()


def test_preempted_vm_is_replaced_and_training_resumes_from_the_checkpoint(cloud_ws, stub, patterns):
    import dataclasses

    from cloud.settings import save_settings

    save_settings(cloud_ws, dataclasses.replace(load_settings(cloud_ws), preemptible=True))
    run_dir = prepare_run(cloud_ws, patterns, mode="scratch", epochs=6, early_stopping_patience=0,
                          model="mobilenetv2_100", image_size=32, eval={"cv": "off"})
    cloud = Cloud(cloud_ws, load_settings(cloud_ws))
    job = submit(cloud, run_dir)
    driver, thread, result = _drive(cloud, job.id)

    def epoch_synced():
        synced = cloud.storage.list(job.prefix + "run/checkpoints/")
        epochs = [e["epoch"] for e in read_events(run_dir)[0] if e["type"] == "metrics" and e.get("split") == "train"]
        return job.prefix + "run/checkpoints/last.pt" in synced and epochs and max(epochs) >= 1

    wait_for(epoch_synced, what="an epoch and its checkpoint synced")
    first_vm = cloud.jobs.get(job.id).instance_id
    stub.preempt(first_vm)
    thread.join(300)
    final = result["job"]
    assert final.state == "done", final.message
    assert final.attempt == 2
    events = read_events(run_dir)[0]
    starts = [e for e in events if e["type"] == "start"]
    assert len(starts) == 2 and starts[1]["resumed"] is True
    after = events[events.index(starts[1]):]
    epochs = [e["epoch"] for e in after if e["type"] == "metrics" and e.get("split") == "train"]
    # Resumed, not restarted: the second VM starts after the synced epoch (on a loaded machine the first VM may
    # even have trained every epoch before the preemption landed, leaving the second nothing to train).
    assert not epochs or (epochs[0] >= 2 and epochs[-1] == 6), epochs
    assert json.loads((run_dir / "metrics.json").read_text())["epochs_run"] == 6
    assert stub.live_instances() == [] and first_vm in stub.deleted and len(stub.deleted) == 2


def test_hard_time_limit_stops_the_job_and_deletes_the_vm(cloud_ws, stub, patterns):
    import dataclasses

    from cloud.settings import save_settings

    save_settings(cloud_ws, dataclasses.replace(load_settings(cloud_ws), max_hours=0.004))  # about 14 s
    run_dir = prepare_run(cloud_ws, patterns, mode="full", epochs=200, early_stopping_patience=0)
    cloud = Cloud(cloud_ws, load_settings(cloud_ws))
    job = submit(cloud, run_dir)
    final = JobDriver(cloud, job.id, poll_s=0.3).run()
    assert final.state in ("cancelled", "failed") and "time limit" in final.message
    assert _types(run_dir)[-1] in ("cancelled", "failed")
    assert stub.live_instances() == []


@pytest.mark.parametrize("fault, needle", [("403", "refused permission"), ("503", "server error")])
def test_refused_or_failing_vm_creation_fails_clearly_and_leaks_no_vm(cloud_ws, stub, patterns, fault, needle):
    stub.faults["create"] = [int(fault)] * 10  # more than the client retries
    run_dir = prepare_run(cloud_ws, patterns, mode="linear-probe")
    cloud = Cloud(cloud_ws, load_settings(cloud_ws))
    final = JobDriver(cloud, submit(cloud, run_dir).id).run()
    assert final.state == "failed" and needle in final.message
    assert "Traceback" not in final.message and final.message.count(". ") <= 3
    assert _types(run_dir)[-1] == "failed" and stub.live_instances() == []


def test_wrong_key_fails_before_anything_is_created(cloud_ws, stub, patterns):
    from cloud_stub import make_key

    from cloud.auth import save_credentials

    save_credentials(cloud_ws, key=make_key())  # a key the cloud does not know
    run_dir = prepare_run(cloud_ws, patterns, mode="linear-probe")
    cloud = Cloud(cloud_ws, load_settings(cloud_ws))
    final = JobDriver(cloud, submit(cloud, run_dir).id).run()
    assert final.state == "failed" and final.message.count("did not accept the service-account key") == 1
    assert "VM" not in final.message  # none was created, so none is mentioned
    assert stub.bodies == [] and stub.live_instances() == []
    assert [e["message"] for e in read_events(run_dir)[0] if e["type"] == "failed"] == [final.message]


def test_a_vm_whose_worker_never_starts_is_deleted_with_its_console_kept(cloud_ws, stub, patterns, monkeypatch):
    monkeypatch.setenv("KONSTRUKTOR_YC_WORKER_START_S", "1")
    stub.start_workers = False
    run_dir = prepare_run(cloud_ws, patterns, mode="linear-probe")
    cloud = Cloud(cloud_ws, load_settings(cloud_ws))
    final = JobDriver(cloud, submit(cloud, run_dir).id, poll_s=0.2).run()
    assert final.state == "failed" and "did not start training" in final.message
    assert "cloud-init: boot" in (run_dir / "vm_console.log").read_text()
    assert stub.live_instances() == [] and len(stub.deleted) == 1


def test_results_that_do_not_come_back_are_named_and_kept_in_the_bucket(cloud_ws, stub, patterns, s3_url,
                                                                        monkeypatch):
    from cloud_stub import BareListingProxy

    # The client's storage answers listings without the XML namespace and cannot list metrics.json.
    proxy = BareListingProxy(s3_url, hide=("metrics.json",))
    monkeypatch.setenv("KONSTRUKTOR_YC_STORAGE_ENDPOINT", proxy.url)
    try:
        run_dir = prepare_run(cloud_ws, patterns, mode="linear-probe", eval={"cv": "off"})
        cloud = Cloud(cloud_ws, load_settings(cloud_ws))
        job = submit(cloud, run_dir)
        final = JobDriver(cloud, job.id, poll_s=0.3).run()
    finally:
        proxy.stop()
    assert final.state == "failed" and "metrics.json did not come back" in final.message
    assert f"under {job.prefix}run/" in final.message
    assert (run_dir / "labels.json").exists() and (run_dir / "checkpoints" / "best.pt").exists()
    assert _types(run_dir)[-1] == "failed" and "done" not in _types(run_dir)
    # The remote copy stays; the VM does not.
    import requests

    listing = requests.get(f"{s3_url}/{cloud.settings.bucket}", params={"list-type": "2", "prefix": job.prefix},
                           timeout=10).text
    assert f"{job.prefix}run/metrics.json" in listing
    assert stub.live_instances() == []


BOOT_FAILURE = ("curl: (22) The requested URL returned error: 403\n"
                "konstruktor: the start-up script failed at line 21 (exit code 22); powering off\n")


@pytest.mark.parametrize("preemptible", [False, True])
def test_a_vm_whose_start_up_fails_is_not_recreated_and_its_console_ends_the_message(cloud_ws, stub, patterns,
                                                                                    preemptible):
    import dataclasses

    from cloud.settings import save_settings

    save_settings(cloud_ws, dataclasses.replace(load_settings(cloud_ws), preemptible=preemptible))
    stub.boot_failure = BOOT_FAILURE  # the bundle cannot be fetched: the script says so and powers off
    stub.boot_failure_reported = preemptible  # a stopped preemptible VM is a preemption unless it says otherwise
    run_dir = prepare_run(cloud_ws, patterns, mode="linear-probe")
    cloud = Cloud(cloud_ws, load_settings(cloud_ws))
    final = JobDriver(cloud, submit(cloud, run_dir).id, poll_s=0.2).run()
    assert final.state == "failed" and final.attempt == 1 and len(stub.bodies) == 1
    assert "start-up" in final.message and "not started again" in final.message
    assert final.message.rstrip(").").endswith("vm_console.log in the run folder")
    assert "returned error: 403" in final.message and "failed at line 21" in final.message
    assert _types(run_dir)[-1] == "failed" and stub.live_instances() == [] and len(stub.deleted) == 1
