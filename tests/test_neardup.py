"""Near-duplicate pictures: the hash finds resized, re-compressed and brightened copies and keeps different
pictures apart; an import reports them by class and split, keeps a class's copies in one split, shows them in
the Data tab, and leaving a copy out regroups the rest."""

from __future__ import annotations

import io
import json
import random
import shutil
from pathlib import Path

import numpy as np
from imagegen import PATTERNS, make_image, make_pattern_folder, make_pattern_image
from PIL import Image, ImageEnhance

from engine.data import assign_splits, import_dataset, neardup
from engine.data.importer import NEAR_KINDS, PROBLEM_CODES, exclude_files, flagged_files
from engine.preprocess import load_image
from ui.i18n import problem_text


def _reloaded(img: Image.Image, fmt: str, **save) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    buf.seek(0)
    return load_image(buf)


def _copies(img: Image.Image) -> dict[str, Image.Image]:
    """What people's near-duplicates are: the same picture resized, saved again as JPEG, brighter or darker."""
    w, h = img.size
    brighter = np.clip(np.asarray(img, dtype=np.int16) + 20, 0, 255).astype(np.uint8)
    return {
        "half size": img.resize((w // 2, h // 2), Image.Resampling.BICUBIC),
        "double size": img.resize((w * 2, h * 2), Image.Resampling.BICUBIC),
        "JPEG q75": _reloaded(img, "JPEG", quality=75),
        "brighter": Image.fromarray(brighter),
        "darker": ImageEnhance.Brightness(img).enhance(0.8),
    }


def _pattern_pictures(folder: Path, per_pattern: int) -> list[Image.Image]:
    return [load_image(str(make_pattern_image(folder / f"{p}_{i}.png", p, seed=1000 * j + i)))
            for j, p in enumerate(PATTERNS) for i in range(per_pattern)]


def test_copies_of_pattern_pictures_are_near_duplicates_and_different_ones_are_not(tmp_path):
    pictures = _pattern_pictures(tmp_path, 20)
    prints = [neardup.fingerprint(p) for p in pictures]
    compared = [(p, f) for p, f in zip(pictures, prints, strict=True) if f is not None]
    assert len(compared) >= 40  # fine stripes and checks can average out to a flat thumbnail; most do not

    assert neardup.pairs(prints) == []  # 60 different pictures: no two are taken for copies
    found = tried = 0
    for picture, print_ in compared:
        for copy in _copies(picture).values():
            found += neardup.pairs([print_, neardup.fingerprint(copy)]) == [(0, 1)]
            tried += 1
    # When the threshold was chosen, 220 of these 245 copies were found (of copies of photos: 99 %).
    assert found >= 0.75 * tried


def test_the_same_layout_in_other_colours_is_not_a_near_duplicate(tmp_path):
    picture = load_image(str(make_pattern_image(tmp_path / "disc.png", "disc", seed=2)))
    recoloured = Image.fromarray(np.ascontiguousarray(np.asarray(picture)[..., [2, 0, 1]]))
    a, b = neardup.fingerprint(picture), neardup.fingerprint(recoloured)
    assert neardup.distance(a, b) <= neardup.MAX_DISTANCE  # the grey layout alone would call them copies
    assert neardup.pairs([a, b]) == []


def test_flat_pictures_are_not_compared():
    blank = Image.new("RGB", (64, 48), (240, 240, 240))
    assert neardup.fingerprint(blank) is None
    assert neardup.fingerprint(blank.resize((32, 24))) is None
    assert neardup.pairs([None, None]) == []


def test_pairs_are_found_across_sweep_blocks_and_grouped_transitively(monkeypatch):
    monkeypatch.setattr(neardup, "MAX_CELLS", 1000)  # many small blocks, so pairs straddle block edges
    rng = random.Random(5)
    prints = [neardup.Fingerprint(rng.getrandbits(128), (0.0, 0.0)) for _ in range(300)]
    a, b, c = 17, 150, 299
    prints[b] = neardup.Fingerprint(prints[a].bits ^ 0b111, (3.0, -2.0))  # 3 bits from a
    prints[c] = neardup.Fingerprint(prints[b].bits ^ (((1 << 13) - 1) << 60), (0.0, 4.0))  # 13 from b, 16 from a
    far = neardup.Fingerprint(prints[a].bits, (90.0, 0.0))  # the same bits in another colour
    assert neardup.pairs([*prints, far]) == [(a, b), (b, c)]
    assert neardup.groups([(a, b), (b, c)]) == [[a, b, c]]


# --- the import ------------------------------------------------------------------------------------------------


def _save_copy(original: Path, target: Path, how: str) -> Path:
    img = load_image(str(original))
    target.parent.mkdir(parents=True, exist_ok=True)
    if how == "double":
        img.resize((img.width * 2, img.height * 2), Image.Resampling.BICUBIC).save(target)
    elif how == "jpeg":
        img.save(target, "JPEG", quality=85)
    else:
        Image.fromarray(np.clip(np.asarray(img, dtype=np.int16) + 20, 0, 255).astype(np.uint8)).save(target)
    return target


def _problems(report) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in report.problems:
        if p["kind"] in NEAR_KINDS:
            out.setdefault(p["file"], []).append(p)
    return out


def test_a_near_duplicate_in_another_class_is_a_warning_on_both_and_can_be_left_out(tmp_path):
    src = make_pattern_folder(tmp_path / "src", per_class=5)
    _save_copy(src / "disc" / "disc_000.png", src / "stripes" / "from_disc.jpg", "jpeg")
    report = import_dataset(src, tmp_path / "datasets")
    near = _problems(report)
    assert sorted(near) == ["disc/disc_000.png", "stripes/from_disc.jpg"]
    (mine,) = near["stripes/from_disc.jpg"]
    assert (mine["code"], mine["severity"]) == ("near_conflict", "warning")
    assert mine["params"]["others"] == ["disc/disc_000.png"] and mine["params"]["classes"] == ["disc"]
    assert "'disc/disc_000.png'" in mine["message"]
    ru = problem_text("ru", mine)
    assert "Почти такая же, как 'disc/disc_000.png' (класс 'disc')" in ru and "{" not in ru
    assert {p["code"] for p in report.problems} <= set(PROBLEM_CODES)
    assert ("Warning: 2 × looks almost the same as a picture of another class (kept; check the labels): "
            "disc/disc_000.png, stripes/from_disc.jpg.") in report.summary()

    flagged = {f["file"]: [p["kind"] for p in f["problems"]] for f in flagged_files(report.dataset_dir)}
    assert flagged["disc/disc_000.png"] == ["near_conflict"] and flagged["stripes/from_disc.jpg"] == ["near_conflict"]
    rebuilt = exclude_files(report.dataset_dir, ["stripes/from_disc.jpg"])
    assert _problems(rebuilt) == {}  # the copy left in 'disc' has nothing to be near any more
    assert "disc/disc_000.png" not in {f["file"] for f in flagged_files(rebuilt.dataset_dir)}


def test_a_generated_split_keeps_the_near_duplicates_of_a_class_together(tmp_path):
    src = make_pattern_folder(tmp_path / "src", per_class=8)
    original = src / "disc" / "disc_002.png"
    copies = [_save_copy(original, src / "disc" / f"copy_{how}.png", how) for how in ("double", "jpeg", "bright")]
    group = sorted(["disc/disc_002.png", *(f"disc/{c.name}" for c in copies)])
    straddled = 0
    for seed in range(4):
        report = import_dataset(src, tmp_path / "datasets", seed=seed)
        split = {it["original"]: it["split"] for it in report.manifest["items"]}
        assert len({split[f] for f in group}) == 1, seed
        near = _problems(report)
        assert sorted(near) == group and all(ps[0]["code"] == "near_duplicate" for ps in near.values())
        assert report.manifest["split"]["near_duplicates"] == "same split"
        sha = {it["original"]: it["sha256"] for it in report.manifest["items"]}
        alone = assign_splits(((it["label"], it["sha256"]) for it in report.manifest["items"]), seed=seed,
                              val_fraction=0.15, test_fraction=0.15)
        straddled += len({alone[sha[f]] for f in group}) > 1
    assert straddled  # without the rule the copies would have landed in several splits

    renamed = tmp_path / "renamed"
    shutil.copytree(src, renamed)
    (renamed / "disc" / "copy_jpeg.png").rename(renamed / "disc" / "zzz.png")
    again = import_dataset(renamed, tmp_path / "datasets2", seed=3)
    assert sorted((it["sha256"], it["split"]) for it in again.manifest["items"]) == sorted(
        (it["sha256"], it["split"]) for it in report.manifest["items"])


def test_pictures_without_near_duplicates_keep_their_split_and_dataset_id(pattern_data, tmp_path):
    report = import_dataset(pattern_data, tmp_path / "datasets")
    assert _problems(report) == {}
    assert "near_duplicates" not in report.manifest["split"]
    expected = assign_splits(((it["label"], it["sha256"]) for it in report.manifest["items"]), seed=0,
                             val_fraction=0.15, test_fraction=0.15)
    assert {it["sha256"]: it["split"] for it in report.manifest["items"]} == expected


def _given_splits(root: Path) -> Path:
    for j, pattern in enumerate(PATTERNS):
        for split, n in (("train", 4), ("val", 2), ("test", 2)):
            for i in range(n):
                make_pattern_image(root / split / pattern / f"{split}_{i}.png", pattern, seed=1000 * j + 10 * i
                                   + len(split))
    return root


def test_near_duplicates_across_given_splits_are_a_warning_and_leaving_one_out_regroups_the_rest(tmp_path):
    src = _given_splits(tmp_path / "src")
    original = src / "train" / "disc" / "train_0.png"
    _save_copy(original, src / "test" / "disc" / "seen.png", "double")
    _save_copy(original, src / "train" / "disc" / "again.png", "bright")
    report = import_dataset(src, tmp_path / "datasets")
    near = _problems(report)
    group = ["test/disc/seen.png", "train/disc/again.png", "train/disc/train_0.png"]
    assert sorted(near) == group
    assert {ps[0]["code"] for ps in near.values()} == {"near_leak"}
    (in_test,) = near["test/disc/seen.png"]
    assert in_test["params"]["split"] == "test" and in_test["params"]["other"] == "train"
    assert "while this one is in test" in in_test["message"]
    ru = problem_text("ru", in_test)
    assert "в части «обучение», а эта — в части «тест»" in ru and "{" not in ru
    assert report.manifest["split"]["source"] == "given"  # the user's own split is reported, never changed
    assert {it["original"]: it["split"] for it in report.manifest["items"]}["test/disc/seen.png"] == "test"

    rebuilt = exclude_files(report.dataset_dir, ["test/disc/seen.png"])
    left = _problems(rebuilt)
    assert sorted(left) == group[1:]
    assert {ps[0]["code"] for ps in left.values()} == {"near_duplicate"}  # same class, same split: information
    assert {ps[0]["params"]["others"][0] for ps in left.values()} == set(group[1:])
    assert not {"train/disc/again.png", "train/disc/train_0.png"} & {f["file"] for f in flagged_files(
        rebuilt.dataset_dir)}


def test_the_data_tab_tells_of_near_duplicates_and_lists_them_to_leave_out(tmp_path):
    from ui.tabs.data import report_message
    from ui.tabs.data_report import flagged_choices as _flagged_choices
    from ui.tabs.data_report import problems_table as problem_table

    src = make_pattern_folder(tmp_path / "src", per_class=4)
    _save_copy(src / "disc" / "disc_002.png", src / "checks" / "disc_again.png", "double")
    make_image(src / "checks" / "tiny.png", size=(8, 8), color=(200, 10, 10))
    report = import_dataset(src, tmp_path / "datasets")
    assert "2 picture(s) look almost the same as one in another class or split" in report_message("en", report)
    assert "Картинок, почти совпадающих с картинкой другого класса" in report_message("ru", report)
    choices = {file: label for label, file in _flagged_choices("ru", report.dataset_dir)}
    assert "почти такая же, как картинка другого класса" in choices["checks/disc_again.png"]
    assert "checks/tiny.png" in choices  # the other warnings are listed as before
    table = problem_table("ru", report.dataset_dir)
    row = table[table.iloc[:, 0] == "checks/disc_again.png"].iloc[0]
    assert row.iloc[2].startswith("Почти такая же, как 'disc/disc_002.png'")


def test_problems_json_of_an_import_stays_small_for_a_burst_of_shots(tmp_path):
    src = make_pattern_folder(tmp_path / "src", per_class=3)
    original = src / "disc" / "disc_000.png"
    for i in range(1, 13):  # twelve more shots of one scene, as a phone's burst mode leaves them
        img = load_image(str(original))
        arr = np.clip(np.asarray(img, dtype=np.int16) + i, 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(src / "disc" / f"burst_{i:02d}.png")
    report = import_dataset(src, tmp_path / "datasets")
    near = _problems(report)
    assert len(near) == 13
    assert all(len(ps[0]["params"]["others"]) == 5 for ps in near.values())  # named: a few, not all twelve
    split = {it["original"]: it["split"] for it in report.manifest["items"]}
    assert len({split[f] for f in near}) == 1  # one burst, one split
    assert json.loads((report.dataset_dir / "problems.json").read_text()) == report.problems
