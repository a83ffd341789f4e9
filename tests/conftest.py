"""Shared fixtures. Image generators live in tests/imagegen.py (a module, so that test files
import them by a name no other conftest.py shadows)."""

from __future__ import annotations

from pathlib import Path

import pytest
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
