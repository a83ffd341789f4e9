"""Near-duplicate pictures: a 128-bit difference hash of each decoded picture, and the pairs that are close.

The same photo resized, saved again as JPEG, made brighter or cropped a little keeps the pattern of "brighter
than the neighbour" between the cells of a 9x9 greyscale thumbnail (64 bits across, 64 down), so its hash stays
within a few bits of the original's. Two things keep different pictures apart where the grey layout alone
agrees (a chessboard in two colourings, two blank-ish frames): a pair must also have about the same average
colour, and a picture whose thumbnail is (nearly) flat, like a blank frame or a texture finer than a ninth of
the picture, is not compared at all; and the pair's 16x16 thumbnails must correlate closely (MIN_CORRELATION)
so that different objects with one silhouette are not joined. Finding the pairs is one vectorised XOR + popcount sweep over all hashes:
quadratic, but about 0.2 s for 5,000 pictures and 2 s for 20,000 (MAX_CELLS bounds its memory). This module
must not import torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

THUMB = (9, 9)  # 8 differences across x 8 rows, and 8 down x 8 columns: 128 bits
# Measured on half-size, double-size, JPEG, brighter, darker, 2 %-cropped and 2 px-shifted copies against
# different pictures (scikit-image's and scikit-learn's sample photos and their quarters; imagegen's patterns, as
# tests/test_neardup.py does). At 14 bits: 99 % of the photos' copies are found, 89 % of 2 % crops, and of 12,720
# pairs of different photos only the chessboards matched (each other); of imagegen's 64 px patterns about 4 in 5
# copies are found and 0-5 of 4,950 different pairs match. 16 finds a few more crops and joins more of the
# synthetic look-alikes; the 64 across-bits alone (a classic dHash) at 8 matched different photos.
MAX_DISTANCE = 14
# A second look at each pair the hash finds: the correlation of the two 16x16 greyscale thumbnails. Pictures
# that share a silhouette but are different objects pass the 128 bits easily when a data set is homogeneous
# (Fashion-MNIST, 1,000 images: 2,381 hash pairs, 148 pictures warned as "like one in another class"); at
# 0.96 none of those cross-class pairs is left, while resized, re-saved, brighter, darker and 2 px-shifted
# copies of photos stay at 0.97-1.0. A 2 % crop moves the 16x16 grid and measured 0.85-0.97: about half are
# still found. Better to miss a crop than to call two different things one picture.
SHAPE = (16, 16)
MIN_CORRELATION = 0.96
DEAD_ZONE = 1.0  # grey levels: a flat, noisy area reads "not brighter" in every copy instead of flipping bits
# A picture is not compared when its thumbnail spans fewer grey levels than FLAT_RANGE (a blank frame, a texture
# that averages out) or has fewer than MIN_EDGES neighbour steps (of 128) larger than DEAD_ZONE: its bits would be
# noise, and such pictures would otherwise match each other.
FLAT_RANGE = 8.0
MIN_EDGES = 16
COLOUR_ABS, COLOUR_REL = 16.0, 0.3  # mean-chroma tolerance: absolute, plus a share for brightness scaling
MAX_CELLS = 2_000_000  # hash pairs compared at once (2 x 16 MB of uint64)
_LOW64 = (1 << 64) - 1
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Fingerprint:
    """A picture's difference hash (64 bits across, 64 down), its mean chroma (red and blue minus luma) and its
    16x16 greyscale thumbnail, centred and scaled to unit length (float32 bytes)."""

    bits: int
    chroma: tuple[float, float]
    shape: bytes = b""


def fingerprint(img: Image.Image) -> Fingerprint | None:
    """The near-duplicate fingerprint of a decoded picture; None when it is too flat to compare."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    # An exact box average: a faster integer pre-reduction (reducing_gap) moves the cells of a resized or
    # cropped copy against the original's, and measurably loses many of the 2 % crops.
    thumb = np.asarray(rgb.resize(THUMB, Image.Resampling.BOX), dtype=np.float32)
    grey = thumb @ _LUMA
    if float(grey.max() - grey.min()) < FLAT_RANGE:
        return None
    steps = np.concatenate([(grey[:8, 1:] - grey[:8, :-1]).ravel(), (grey[1:, :8] - grey[:-1, :8]).ravel()])
    if int((np.abs(steps) > DEAD_ZONE).sum()) < MIN_EDGES:
        return None
    bits = int.from_bytes(np.packbits(steps > DEAD_ZONE).tobytes(), "big")
    mean = thumb.reshape(-1, 3).mean(axis=0)
    luma = float(mean @ _LUMA)
    shape = np.asarray(rgb.resize(SHAPE, Image.Resampling.BOX), dtype=np.float32) @ _LUMA
    shape = shape - shape.mean()
    shape = shape / max(float(np.linalg.norm(shape)), 1e-6)
    return Fingerprint(bits, (round(float(mean[0]) - luma, 2), round(float(mean[2]) - luma, 2)),
                       shape.astype(np.float32).tobytes())


def distance(a: Fingerprint, b: Fingerprint) -> int:
    """How many of the 128 bits differ."""
    return (a.bits ^ b.bits).bit_count()


def pairs(prints: Sequence[Fingerprint | None], max_distance: int = MAX_DISTANCE) -> list[tuple[int, int]]:
    """(i, j), i < j, for each two pictures within `max_distance` bits of each other and of about the same colour."""
    index = [i for i, p in enumerate(prints) if p is not None]
    if len(index) < 2:
        return []
    across = np.array([prints[i].bits >> 64 for i in index], dtype=np.uint64)
    down = np.array([prints[i].bits & _LOW64 for i in index], dtype=np.uint64)
    chroma = np.array([prints[i].chroma for i in index], dtype=np.float32)
    shapes = np.stack([_shape(prints[i]) for i in index])
    found: list[tuple[int, int]] = []
    rows_at_once = max(1, MAX_CELLS // len(index))
    for start in range(0, len(index), rows_at_once):
        stop = min(start + rows_at_once, len(index))
        # Each picture against itself and the ones after it; the pairs below the diagonal were seen already.
        bits_apart = (_popcount(across[start:stop, None] ^ across[None, start:])
                      + _popcount(down[start:stop, None] ^ down[None, start:]))
        rows, cols = np.nonzero(bits_apart <= max_distance)
        rows, cols = rows + start, cols + start
        upper = cols > rows
        rows, cols = rows[upper], cols[upper]
        alike = _same_colour(chroma[rows], chroma[cols])
        alike &= np.einsum("ij,ij->i", shapes[rows], shapes[cols]) >= MIN_CORRELATION
        found += [(index[r], index[c]) for r, c in zip(rows[alike].tolist(), cols[alike].tolist(), strict=True)]
    return sorted(found)


def groups(near: Sequence[tuple[int, int]]) -> list[list[int]]:
    """The pictures of `near` pairs joined transitively (A like B, B like C: one group), each group sorted."""
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        parent.setdefault(i, i)
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in near:
        parent[root(b)] = root(a)
    found: dict[int, list[int]] = {}
    for i in list(parent):
        found.setdefault(root(i), []).append(i)
    return sorted(sorted(g) for g in found.values())


def _shape(p: Fingerprint) -> np.ndarray:
    size = SHAPE[0] * SHAPE[1]
    # A fingerprint without its thumbnail (made by hand) correlates with everything: the hash alone decides.
    return np.frombuffer(p.shape, dtype=np.float32) if p.shape else np.full(size, size ** -0.5, np.float32)


def _same_colour(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Brightening a picture scales its chroma too, hence the relative part of the tolerance.
    gap = np.linalg.norm(a - b, axis=1)
    scale = np.maximum(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))
    return gap <= np.maximum(COLOUR_ABS, COLOUR_REL * scale)


_M1, _M2, _M4 = np.uint64(0x5555555555555555), np.uint64(0x3333333333333333), np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


def _popcount(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (numpy before 2.0 has no bitwise_count)."""
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)
