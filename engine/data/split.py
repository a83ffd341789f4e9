"""Stratified, seeded train/val/test splits that do not depend on file order on disk.

Tiny classes follow one rule: train always keeps at least one image; a class of 2 goes 1 train +
1 val; from 3 images on, val and test each get at least one when their fraction is above zero,
so a class of 3 is split 1/1/1. Larger classes get round(n * fraction) images in val and test.
Near-duplicates of one class can be asked to stay together; they then share one split.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable

from engine.data.errors import CodedDataError

SPLITS = ("train", "val", "test")
# English sentence of each error, by code (ui/i18n says it in Russian as `dataerr.<code>`).
ERRORS = {
    "bad_fractions": "The validation and test fractions ({val}, {test}) must each be between 0 and 1 and add up to "
                     "less than 1; lower them.",
}


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Refuse fractions that leave nothing (or less than nothing) for training."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        params = {"val": val_fraction, "test": test_fraction}
        raise CodedDataError("bad_fractions", ERRORS["bad_fractions"].format(**params), **params)


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """How many of a class's n images go to (train, val, test); see the module docstring for the rule."""
    if n <= 1:
        return n, 0, 0
    if n == 2:
        if val_fraction > 0:
            return 1, 1, 0
        return (1, 0, 1) if test_fraction > 0 else (2, 0, 0)
    n_val = math.floor(n * val_fraction + 0.5)
    n_test = math.floor(n * test_fraction + 0.5)
    if val_fraction > 0:
        n_val = max(n_val, 1)
    if test_fraction > 0:
        n_test = max(n_test, 1)
    while n_val + n_test > n - 1:
        if n_val >= n_test:
            n_val -= 1
        else:
            n_test -= 1
    return n - n_val - n_test, n_val, n_test


def assign_splits(
    items: Iterable[tuple[str, str]],
    *,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    together: Iterable[Iterable[str]] = (),
) -> dict[str, str]:
    """Map each (label, sha256) to a split, stratified by label and reproducible for a seed.

    Each class is shuffled by its own generator seeded from (seed, label), after sorting by hash,
    so adding a class or renaming files never moves the images of another class. Each group of hashes in
    `together` (near-duplicates) then joins the split of its member that came first in its class's order, so
    copies of one photo never sit on both sides of the train/test line; the class's counts may shift by a few.
    """
    check_fractions(val_fraction, test_fraction)
    by_label: dict[str, list[str]] = defaultdict(list)
    label_of: dict[str, str] = {}
    for label, sha in items:
        by_label[label].append(sha)
        label_of[sha] = label
    result: dict[str, str] = {}
    position: dict[str, int] = {}
    for label, hashes in by_label.items():
        hashes = sorted(hashes)
        random.Random(f"{seed}:{label}").shuffle(hashes)
        n_train, n_val, _ = split_sizes(len(hashes), val_fraction, test_fraction)
        for i, sha in enumerate(hashes):
            result[sha] = "train" if i < n_train else "val" if i < n_train + n_val else "test"
            position[sha] = i
    for group in together:
        per_class: dict[str, list[str]] = defaultdict(list)
        for sha in group:
            if sha in label_of:
                per_class[label_of[sha]].append(sha)
        for members in per_class.values():
            split = result[min(members, key=position.__getitem__)]
            for sha in members:
                result[sha] = split
    return result
