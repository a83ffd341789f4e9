"""Tiny generated test images and folders of them. No network, no real datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# One clearly different colour per class, so even a linear probe can learn them.
CLASS_COLORS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (40, 50, 220)}


def make_image(
    path: str | Path,
    size: tuple[int, int] = (32, 32),
    color: int | tuple[int, ...] = (200, 30, 30),
    mode: str = "RGB",
    fmt: str | None = None,
    *,
    seed: int | None = None,
    **save_kwargs,
) -> Path:
    """Write a flat-colour image (plus a little seeded noise, so images differ, when `seed` is given)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if seed is not None:
        rgb = np.broadcast_to(np.asarray(color, dtype=np.int16)[:3], (size[1], size[0], 3))
        noise = np.random.default_rng(seed).integers(-25, 26, rgb.shape, dtype=np.int16)
        img = Image.fromarray(np.clip(rgb + noise, 0, 255).astype(np.uint8), "RGB")
        img = img if mode == "RGB" else img.convert(mode)
    else:
        img = Image.new(mode, size, color)
    img.save(path, format=fmt, **save_kwargs)
    return path


def make_image_folder(
    root: str | Path,
    per_class: int = 6,
    classes: dict[str, tuple[int, int, int]] | None = None,
    size: tuple[int, int] = (32, 32),
    first_seed: int = 0,
) -> Path:
    """A folder of class folders, `per_class` distinct PNGs in each, coloured by class (vary `first_seed` for new images)."""
    root = Path(root)
    for c, (name, color) in enumerate((classes or CLASS_COLORS).items()):
        for i in range(per_class):
            make_image(root / name / f"{name}_{i:03d}.png", size, color, seed=first_seed + 1000 * c + i)
    return root





def make_pattern_image(path: str | Path, pattern: str, seed: int, size: int = 64) -> Path:
    """A photo-like test image whose class is its pattern (stripes, checks or a disc), not its colour.

    Colour, phase and position vary with the seed, so a model has to learn the shape.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    period = rng.integers(8, 14)
    phase = rng.integers(0, period)
    if pattern == "stripes":
        mask = ((yy + phase) // (period // 2)) % 2 == 0
    elif pattern == "checks":
        mask = (((yy + phase) // (period // 2)) + ((xx + phase) // (period // 2))) % 2 == 0
    else:
        cy, cx = rng.integers(size // 3, 2 * size // 3, 2)
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < (size // 4) ** 2
    fg, bg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    while np.abs(fg.astype(int) - bg).sum() < 150:
        fg = rng.integers(0, 256, 3)
    arr = np.where(mask[..., None], fg, bg) + rng.integers(-12, 13, (size, size, 3))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB").save(path)
    return path


PATTERNS = ("checks", "disc", "stripes")


def make_pattern_folder(root: str | Path, per_class: int = 10, first_seed: int = 0) -> Path:
    root = Path(root)
    for c, name in enumerate(PATTERNS):
        for i in range(per_class):
            make_pattern_image(root / name / f"{name}_{i:03d}.png", name, seed=first_seed + 1000 * c + i)
    return root
