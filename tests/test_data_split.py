"""engine.data splits: the tiny-class rule, stratification, determinism, and independence from disk order."""

from __future__ import annotations

import hashlib
import random
import shutil
from collections import Counter

import pytest
from imagegen import make_image_folder

from engine.data import assign_splits, import_dataset, split_sizes
from engine.errors import DataError


def fake_hashes(label: str, n: int) -> list[tuple[str, str]]:
    return [(label, hashlib.sha256(f"{label}{i}".encode()).hexdigest()) for i in range(n)]


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, (1, 0, 0)),
        (2, (1, 1, 0)),
        (3, (1, 1, 1)),
        (4, (2, 1, 1)),
        (10, (6, 2, 2)),
        (20, (14, 3, 3)),
        (100, (70, 15, 15)),
    ],
)
def test_split_sizes_for_default_fractions(n, expected):
    assert split_sizes(n, 0.15, 0.15) == expected


def test_split_sizes_respect_zero_fractions():
    assert split_sizes(2, 0.0, 0.2) == (1, 0, 1)
    assert split_sizes(2, 0.0, 0.0) == (2, 0, 0)
    assert split_sizes(9, 0.2, 0.0) == (7, 2, 0)
    assert split_sizes(9, 0.0, 0.0) == (9, 0, 0)


@pytest.mark.parametrize(("val", "test"), [(0.15, 0.15), (0.5, 0.45), (0.1, 0.0), (0.0, 0.3), (0.33, 0.33)])
def test_every_class_keeps_a_train_image_and_val_test_get_one_from_three_up(val, test):
    for n in range(1, 40):
        n_train, n_val, n_test = split_sizes(n, val, test)
        assert n_train + n_val + n_test == n
        assert n_train >= 1
        if n >= 3:
            assert (n_val >= 1) == (val > 0) and (n_test >= 1) == (test > 0)


@pytest.mark.parametrize(("val", "test"), [(-0.1, 0.1), (0.6, 0.4), (1.0, 0.0)])
def test_impossible_fractions_are_refused(val, test):
    with pytest.raises(DataError, match="add up to less than 1"):
        assign_splits([], seed=0, val_fraction=val, test_fraction=test)


def test_assignment_is_stratified_per_class():
    items = fake_hashes("a", 40) + fake_hashes("b", 20) + fake_hashes("c", 3)
    split = assign_splits(items, seed=0, val_fraction=0.25, test_fraction=0.25)
    per_class = {label: Counter(split[sha] for lab, sha in items if lab == label) for label in "abc"}
    assert per_class["a"] == Counter(train=20, val=10, test=10)
    assert per_class["b"] == Counter(train=10, val=5, test=5)
    assert per_class["c"] == Counter(train=1, val=1, test=1)


def test_assignment_does_not_depend_on_input_order_but_on_the_seed():
    items = fake_hashes("a", 30) + fake_hashes("b", 30)
    shuffled = items[:]
    random.Random(5).shuffle(shuffled)
    a = assign_splits(items, seed=7, val_fraction=0.2, test_fraction=0.2)
    assert assign_splits(shuffled, seed=7, val_fraction=0.2, test_fraction=0.2) == a
    assert assign_splits(items, seed=8, val_fraction=0.2, test_fraction=0.2) != a


def test_adding_a_class_does_not_move_the_images_of_another():
    a = assign_splits(fake_hashes("a", 30), seed=1, val_fraction=0.2, test_fraction=0.2)
    both = assign_splits(
        fake_hashes("a", 30) + fake_hashes("b", 12), seed=1, val_fraction=0.2, test_fraction=0.2
    )
    assert {sha: s for sha, s in both.items() if sha in a} == a


def _assignment(report) -> dict[str, str]:
    return {i["sha256"]: i["split"] for i in report.manifest["items"]}


def test_import_split_is_stable_when_files_are_renamed(tmp_path):
    src = make_image_folder(tmp_path / "src", per_class=12)
    renamed = tmp_path / "renamed"
    shutil.copytree(src, renamed)
    for i, path in enumerate(sorted(renamed.rglob("*.png"), reverse=True)):
        path.rename(path.with_name(f"{i:03d}_x.png"))  # a different name order on disk
    a = import_dataset(src, tmp_path / "ds1", seed=3)
    b = import_dataset(renamed, tmp_path / "ds2", seed=3)
    assert a.manifest["id"] == b.manifest["id"]
    assert _assignment(a) == _assignment(b)
    assert a.counts == {c: {"train": 8, "val": 2, "test": 2} for c in ("blue", "green", "red")}


def test_import_with_another_seed_splits_differently(tmp_path):
    src = make_image_folder(tmp_path / "src", per_class=12)
    a = import_dataset(src, tmp_path / "ds", seed=0)
    b = import_dataset(src, tmp_path / "ds", seed=1)
    assert _assignment(a) != _assignment(b)
    assert a.counts == b.counts
