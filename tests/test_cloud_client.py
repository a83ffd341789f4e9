# ruff: noqa: F811 - pytest fixtures imported from cloud_stub are used as arguments
"""The thin client's parts against loopback servers: IAM tokens, Object Storage, bundles, user-data, costs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tarfile
import threading

import jwt
import pytest
from cloud_stub import BUCKET, FOLDER, CloudStub, make_key, s3_url, sa_key, stub  # noqa: F401 - fixtures

from cloud import endpoints, storage
from cloud.auth import TokenProvider, load_credentials, make_jwt, save_credentials, secrets_path
from cloud.bundle import extract_bundle
from cloud.compute import Compute, VmSpec, user_data
from cloud.http import CloudError
from cloud.settings import CloudSettings, estimate, load_rates
from cloud.storage import Storage
from engine.errors import UserError


def test_jwt_is_ps256_signed_for_the_service_account_with_the_fixed_audience(sa_key, monkeypatch):
    monkeypatch.setenv(endpoints.env_name("IAM"), "http://127.0.0.1:8443")  # a proxy or a test server
    token = make_jwt(sa_key, now=1_800_000_000)
    assert jwt.get_unverified_header(token) == {"alg": "PS256", "kid": sa_key["id"], "typ": "JWT"}
    claims = jwt.decode(token, sa_key["public_key"], algorithms=["PS256"],
                        audience="https://iam.api.cloud.yandex.net/iam/v1/tokens",
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["iss"] == sa_key["service_account_id"] and claims["exp"] - claims["iat"] <= 3600


def test_token_is_cached_shared_by_threads_and_refreshed_near_expiry(stub, sa_key):
    tokens = TokenProvider({"key": sa_key})
    got = []
    threads = [threading.Thread(target=lambda: got.append(tokens())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1 and stub.requests.count(("POST", "/iam/v1/tokens")) == 1
    stub.token_lifetime_s = 60  # shorter than the refresh margin: every call needs a fresh token
    tokens.invalidate()
    first = tokens()
    assert tokens() != first and stub.requests.count(("POST", "/iam/v1/tokens")) == 3


def test_oauth_token_is_exchanged_and_a_bad_one_is_named(stub):
    assert TokenProvider({"oauth_token": "y0_good-oauth"})().startswith("t1.")
    with pytest.raises(CloudError, match="did not accept the OAuth token") as err:
        TokenProvider({"oauth_token": "y0_revoked"})()
    assert err.value.kind == "auth"


def test_credentials_are_owner_only_and_validated(tmp_path, sa_key):
    path = save_credentials(tmp_path, key=sa_key)
    assert path == secrets_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_credentials(tmp_path)["key"]["private_key"] == sa_key["private_key"]
    with pytest.raises(CloudError, match="missing private_key"):
        save_credentials(tmp_path, key={"id": "x", "service_account_id": "y"})


def test_storage_put_get_list_delete_and_ranges(stub):
    tokens = TokenProvider({"oauth_token": "y0_good-oauth"})
    s3 = Storage(BUCKET, tokens)
    s3.put_bytes("t/a.txt", b"hello\nworld\n")
    assert s3.get_bytes("t/a.txt") == b"hello\nworld\n"
    assert s3.get_bytes("t/a.txt", offset=6) == b"world\n"
    assert s3.get_bytes("t/a.txt", offset=12) is None and s3.get_bytes("t/none") is None
    assert s3.list("t/") == {"t/a.txt": 12}
    s3.delete("t/a.txt")
    assert s3.list("t/") == {}
    with pytest.raises(CloudError, match="There is no bucket 'nope'"):
        Storage("nope", tokens).check_bucket()


def test_large_files_go_up_in_parts(stub, tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "MULTIPART_THRESHOLD", 6 * 1024 * 1024)
    monkeypatch.setattr(storage, "PART_SIZE", 5 * 1024 * 1024)
    blob = os.urandom(11 * 1024 * 1024)
    (tmp_path / "big.bin").write_bytes(blob)
    s3 = Storage(BUCKET, TokenProvider({"oauth_token": "y0_good-oauth"}))
    s3.put_file("t/big.bin", tmp_path / "big.bin")
    assert s3.get_file("t/big.bin", tmp_path / "back.bin") and (tmp_path / "back.bin").read_bytes() == blob
    s3.delete("t/big.bin")


def test_bucket_listings_parse_with_or_without_the_s3_namespace():
    for ns in (' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"', ""):
        body = (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult{ns}><Name>b</Name>'
                "<IsTruncated>true</IsTruncated><NextContinuationToken>tok-2</NextContinuationToken>"
                "<Contents><Key>run/metrics.json</Key><Size>120</Size></Contents>"
                "<Contents><Key>run/checkpoints/best.pt</Key><Size>9000</Size></Contents></ListBucketResult>")
        assert storage.parse_listing(body.encode()) == ({"run/metrics.json": 120, "run/checkpoints/best.pt": 9000},
                                                        "tok-2"), ns
        last = body.replace("<IsTruncated>true", "<IsTruncated>false")
        assert storage.parse_listing(last.encode())[1] is None


def test_list_calls_follow_next_page_token(stub):
    stub.max_page_size = 1  # one item per page: only a client that follows nextPageToken sees them all
    stub.subnets = [{"id": "e9b-b", "zoneId": "ru-central1-b"}, {"id": "fl8-d", "zoneId": "ru-central1-d"},
                    {"id": "e9b-a", "zoneId": "ru-central1-a"}]
    stub.start_workers = False
    compute = Compute(FOLDER, TokenProvider({"oauth_token": "y0_good-oauth"}))
    assert compute.subnet_id("ru-central1-a") == "e9b-a"
    for n in range(3):
        compute.create_instance(job_id=f"page-{n}", spec=VmSpec("standard-v3-t4", 1, 4, 16), zone="ru-central1-a",
                                service_account_id="aje-sa-1", user_data="#!/bin/bash\n", job_metadata={},
                                idempotency_key=f"k-page-{n}")
    assert sorted(i["labels"]["konstruktor-job"] for i in compute.list_instances()) == ["page-0", "page-1", "page-2"]


def test_unreachable_cloud_gives_a_plain_sentence(monkeypatch):
    monkeypatch.setenv("KONSTRUKTOR_YC_IAM_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("KONSTRUKTOR_YC_RETRY_BASE_S", "0.01")
    with pytest.raises(CloudError, match=r"Cannot reach Yandex Cloud \(127.0.0.1:9.*Check the internet connection"):
        TokenProvider({"oauth_token": "y0_x"})()


def test_user_data_carries_no_secret_and_a_power_off_guard(sa_key):
    text = user_data(bucket="b", prefix="konstruktor/jobs/1/", deadline=1e9, max_hours=2,
                     env={"KONSTRUKTOR_YC_STORAGE_ENDPOINT": "http://127.0.0.1:1"})
    assert "shutdown -P +130" in text and "python -m cloud.worker" in text
    # A failing step reports startup-failed to the job's status and powers off, instead of idling on a GPU.
    assert "trap 'startup_failed" in text and "startup-failed" in text and "shutdown -P now" in text
    assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
    # Python 3.11 comes with uv, whatever Python the image has (Ubuntu 20.04's 3.8 has no python3.11 package).
    assert "apt-get" not in text and "./uv venv --python 3.11 venv" in text
    for secret in (sa_key["private_key"], sa_key["id"]):
        assert secret not in text


def test_each_platform_boots_the_image_family_yandex_documents_for_it(tmp_path):
    from cloud.settings import load_settings, vm_spec

    documented = {"standard-v3-t4": "ubuntu-2004-lts-gpu", "gpu-standard-v2": "ubuntu-2004-lts-gpu",
                  "gpu-standard-v3": "ubuntu-2004-lts-a100"}
    for platform, family in documented.items():
        assert load_rates()["platforms"][platform]["image_family"] == family
        assert vm_spec(CloudSettings(platform=platform)).image_family == family
    # A workspace saved with the old, undocumented default gets the platform's family; a chosen one is kept.
    (tmp_path / "cloud.json").write_text(json.dumps({"platform": "standard-v3-t4",
                                                     "image_family": "ubuntu-2204-lts-cuda-12-2"}))
    assert vm_spec(load_settings(tmp_path)).image_family == "ubuntu-2004-lts-gpu"
    assert vm_spec(CloudSettings(image_family="my-own-image")).image_family == "my-own-image"


def test_bundle_extraction_refuses_paths_outside(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    (tmp_path / "x").write_text("x")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(tmp_path / "x", arcname="../outside.txt")
    with pytest.raises(UserError, match="unsafe entry"):
        extract_bundle(evil, tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists()


def test_estimate_is_hourly_rate_times_the_time_limit():
    rates = load_rates()
    assert rates["date"] and rates["source"]
    est = estimate(CloudSettings(platform="gpu-standard-v2", gpus=1, max_hours=3))
    plat = rates["platforms"]["gpu-standard-v2"]
    expected = plat["hour"] + rates["disk_gib_hour"] * 60
    assert est["hourly"] == pytest.approx(expected) and est["total"] == pytest.approx(expected * 3)
    cheap = estimate(CloudSettings(platform="gpu-standard-v2", gpus=1, max_hours=3, preemptible=True))
    assert cheap["total"] < est["total"] and "preemptible" in cheap["text"]
    with pytest.raises(UserError, match="Training on 4 GPUs is not supported yet: it would use one GPU"):
        estimate(CloudSettings(platform="standard-v3-t4", gpus=4))


def test_stub_rejects_a_jwt_signed_by_another_key(s3_url, tmp_path, monkeypatch):
    known, other = make_key(), make_key()
    other["id"] = known["id"]  # same key id, wrong private key: the signature check must catch it
    server = CloudStub(s3_url, tmp_path, keys=[known]).start()
    try:
        monkeypatch.setenv("KONSTRUKTOR_YC_IAM_ENDPOINT", server.url)
        assert TokenProvider({"key": known})()
        with pytest.raises(CloudError, match="did not accept the service-account key"):
            TokenProvider({"key": other})()
    finally:
        server.stop()


def test_auto_target_prefers_the_cpu_for_small_jobs_and_the_cloud_for_big_ones(tmp_path, monkeypatch, sa_key):
    import torch

    from cloud.target import choose_target
    from engine.config import RunConfig

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    data = tmp_path / "ds"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"items": [{}] * 2000}))
    run = tmp_path / "run"
    run.mkdir()
    RunConfig(data=str(data), mode="linear-probe").save(run)
    assert choose_target("auto", run, tmp_path)[0] == "local"
    RunConfig(data=str(data), mode="fine-tune", epochs=20).save(run)
    target, reason = choose_target("auto", run, tmp_path)
    assert target == "local" and "not set up" in reason and "minutes" in reason
    from cloud.auth import save_credentials
    from cloud.settings import save_settings

    save_settings(tmp_path, CloudSettings(folder_id="f", bucket="b"))
    save_credentials(tmp_path, key=sa_key)
    target, reason = choose_target("auto", run, tmp_path)
    assert target == "yandex" and "2000 images" in reason
