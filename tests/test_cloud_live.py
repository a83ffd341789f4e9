"""Opt-in smoke test against the real Yandex Cloud; skipped unless credentials are in the environment.

Set KONSTRUKTOR_YC_LIVE_KEY_FILE (an authorized key JSON), KONSTRUKTOR_YC_LIVE_FOLDER_ID and
KONSTRUKTOR_YC_LIVE_BUCKET. It checks the connection and round-trips one small object; it starts no VM.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

LIVE = {k: os.environ.get(f"KONSTRUKTOR_YC_LIVE_{k}") for k in ("KEY_FILE", "FOLDER_ID", "BUCKET")}
pytestmark = pytest.mark.skipif(not all(LIVE.values()), reason="no live Yandex Cloud credentials in the environment")


def test_live_connection_and_storage_round_trip(tmp_path):
    from cloud.auth import parse_key, save_credentials
    from cloud.cli import check_connection
    from cloud.jobs import Cloud
    from cloud.settings import CloudSettings, load_settings, save_settings

    save_settings(tmp_path, CloudSettings(folder_id=LIVE["FOLDER_ID"], bucket=LIVE["BUCKET"]))
    save_credentials(tmp_path, key=parse_key(Path(LIVE["KEY_FILE"]).read_text()))
    steps = check_connection(tmp_path)
    assert all(ok for ok, _ in steps), steps
    cloud = Cloud(tmp_path, load_settings(tmp_path))
    cloud.storage.put_bytes("konstruktor/smoke.txt", b"ok")
    assert cloud.storage.get_bytes("konstruktor/smoke.txt") == b"ok"
    cloud.storage.delete("konstruktor/smoke.txt")
