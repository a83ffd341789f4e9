"""Fashion-MNIST for the benchmarks: Debian's IDX files, a fixed test set and duplicate-free pools, and the
seeded k-shot episodes written as PNG class folders (used by bench.fewshot, bench.compare and bench.export).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import log

PACKAGE = "dataset-fashion-mnist"
# Fashion-MNIST's standard class names, in label order (folder-safe: "T-shirt/top" has a slash).
CLASSES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]
TEST_PER_CLASS = 100
EPISODE_SEED_BASE = 20240611  # episodes are drawn from default_rng([base, seed]): nested in k for one seed
IDX_NAME = re.compile(r"(train|t10k)-(images|labels)[-.]idx[13]-ubyte(\.gz)?$", re.IGNORECASE)


def _dpkg_files() -> list[str] | None:
    try:
        out = subprocess.run(["dpkg", "-L", PACKAGE], capture_output=True, text=True)
    except FileNotFoundError:
        return None
    return out.stdout.splitlines() if out.returncode == 0 else None


def ensure_dataset() -> dict[str, Path]:
    """Install Debian's Fashion-MNIST when missing; return its four IDX files by (split, kind)."""
    files = _dpkg_files()
    if files is None:
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            print(f"The benchmark needs the Debian package {PACKAGE}. Install it as root:\n"
                  f"    apt-get update && apt-get install -y {PACKAGE}\nthen run this again.", file=sys.stderr)
            sys.exit(2)
        log(f"installing {PACKAGE} with apt-get ...")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", PACKAGE]):
            if subprocess.run(cmd, env=env).returncode != 0:
                print(f"`{' '.join(cmd)}` failed; install {PACKAGE} by hand and run this again.", file=sys.stderr)
                sys.exit(2)
        files = _dpkg_files() or []
    found: dict[str, Path] = {}
    for f in files:
        m = IDX_NAME.search(f)
        if m and Path(f).is_file():
            key = f"{'train' if m.group(1).lower() == 'train' else 'test'}_{m.group(2).lower()}"
            found.setdefault(key, Path(f))
    missing = {"train_images", "train_labels", "test_images", "test_labels"} - found.keys()
    if missing:
        print(f"{PACKAGE} is installed but its IDX files {sorted(missing)} were not found in `dpkg -L {PACKAGE}`.",
              file=sys.stderr)
        sys.exit(2)
    return found


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped) of unsigned bytes as a numpy array."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path} holds {data.size} values, its header says {dims}")
    return data.reshape(dims)


@dataclass
class FashionMNIST:
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray  # the fixed test set: TEST_PER_CLASS unique images per class
    test_y: np.ndarray
    test_ids: np.ndarray  # their indices in the 10k test set
    pools: list[np.ndarray]  # per class, training indices safe to sample
    excluded: int  # training images left out of the pools as duplicates


def _digests(x: np.ndarray) -> list[bytes]:
    return [hashlib.blake2b(img.tobytes(), digest_size=16).digest() for img in x]


def load_fashion_mnist(files: dict[str, Path]) -> FashionMNIST:
    """The fixed test set and per-class sampling pools, free of duplicate images.

    The importer keeps one copy of identical files (and drops images found in two classes), so a
    training image identical to a test image, or to another training image, is never sampled.
    """
    train_x, train_y = read_idx(files["train_images"]), read_idx(files["train_labels"]).astype(np.int64)
    test_x, test_y = read_idx(files["test_images"]), read_idx(files["test_labels"]).astype(np.int64)
    seen: set[bytes] = set()
    chosen: list[list[int]] = [[] for _ in CLASSES]
    for i, (d, y) in enumerate(zip(_digests(test_x), test_y, strict=True)):
        if len(chosen[y]) < TEST_PER_CLASS and d not in seen:
            chosen[y].append(i)
        seen.add(d)
    test_ids = np.array([i for ids in chosen for i in ids])
    test_digests = set(_digests(test_x))
    train_digests = _digests(train_x)
    counts: dict[bytes, int] = {}
    for d in train_digests:
        counts[d] = counts.get(d, 0) + 1
    ok = np.array([counts[d] == 1 and d not in test_digests for d in train_digests])
    pools = [np.flatnonzero(ok & (train_y == c)) for c in range(len(CLASSES))]
    return FashionMNIST(train_x, train_y, test_x[test_ids], test_y[test_ids], test_ids, pools,
                        int((~ok).sum()))


def sample_episode(data: FashionMNIST, k: int, seed: int) -> np.ndarray:
    """k training indices per class; for one seed a smaller k is a prefix of a larger one."""
    rng = np.random.default_rng([EPISODE_SEED_BASE, seed])
    return np.concatenate([rng.permutation(pool)[:k] for pool in data.pools])


def write_pngs(folder: Path, images: np.ndarray, labels: np.ndarray, names: list[str]) -> list[Path]:
    """One grayscale PNG per image in folder/<class>/<name>.png."""
    from PIL import Image

    paths = []
    for img, y, name in zip(images, labels, names, strict=True):
        path = folder / CLASSES[y] / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img, mode="L").save(path)
        paths.append(path)
    return paths


def link_tree(src: Path, dst: Path) -> None:
    """Hard-link (or copy) a folder of files; the fixed test set is written once per invocation."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
