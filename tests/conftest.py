"""Shared fixtures. Image generators live in tests/imagegen.py (a module, so that test files
import them by a name no other conftest.py shadows)."""

from __future__ import annotations

from pathlib import Path

import pytest
from imagegen import make_image_folder


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """tmp_path/images: classes red, green and blue with 6 distinct 32×32 PNGs each."""
    return make_image_folder(tmp_path / "images")
