"""Shared fixtures. Image generators live in tests/imagegen.py (a module, so that test files
import them by a name no other conftest.py shadows)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from clitools import engine_cli
from imagegen import make_image_folder, make_pattern_folder


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """tmp_path/images: classes red, green and blue with 6 distinct 32×32 PNGs each."""
    return make_image_folder(tmp_path / "images")


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """An empty workspace for the engine (also for its child processes), offline."""
    ws = tmp_path / "ws"
    monkeypatch.setenv("KONSTRUKTOR_WORKSPACE", str(ws))
    monkeypatch.setenv("KONSTRUKTOR_OFFLINE", "1")
    return ws


@pytest.fixture
def pattern_data(tmp_path) -> Path:
    """tmp_path/patterns: the three pattern classes of imagegen, 10 images each."""
    return make_pattern_folder(tmp_path / "patterns", per_class=10)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory) -> dict:
    """An environment for `python -m engine` children: a fresh workspace of the module, offline."""
    values = {"KONSTRUKTOR_WORKSPACE": str(tmp_path_factory.mktemp("ws")), "KONSTRUKTOR_OFFLINE": "1"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in values.items():
            mp.setenv(key, value)
        yield {**os.environ, **values}


@pytest.fixture(scope="module")
def tiny_run(cli_env, tmp_path_factory) -> Path:
    """One tiny linear-probe run (96 px, 10 pattern pictures a class) trained once per module."""
    root = tmp_path_factory.mktemp("run")
    data = make_pattern_folder(root / "patterns", per_class=10)
    cfg = root / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"image_size": 96, "batch_size": 8}))
    out = root / "run"
    r = engine_cli("train", "--data", str(data), "--mode", "linear-probe", "--config", str(cfg), "--out", str(out),
                   "--quiet", env=cli_env)
    assert r.returncode == 0, r.stderr
    return out
