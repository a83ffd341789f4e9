"""engine.data import: sources, checks, problems, zip safety, dataset folder layout, torch Dataset."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from imagegen import make_image, make_image_folder
from PIL import Image

from engine.data import (
    FORMAT,
    ImageDataset,
    ZipLimits,
    import_dataset,
    is_dataset_dir,
    load_manifest,
    split_items,
)
from engine.data.archive import member_name
from engine.errors import DataError
from engine.preprocess import load_image


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file and folder under root with its content hash and mtime."""
    result = {}
    for path in sorted(root.rglob("*")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        result[path.relative_to(root).as_posix()] = (digest, path.stat().st_mtime_ns)
    return result


def problems_of(report, kind: str) -> list[dict]:
    return [p for p in report.problems if p["kind"] == kind]


def visible_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def two_classes(root: Path, n: int = 3, names=("cats", "dogs"), first_seed: int = 0) -> Path:
    colors = dict(zip(names, [(200, 40, 40), (40, 40, 200)], strict=True))
    return make_image_folder(root, per_class=n, classes=colors, first_seed=first_seed)


def zip_folder(folder: Path, zip_path: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return zip_path


def png_bytes(color=(10, 200, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), color).save(buf, "PNG")
    return buf.getvalue()


# --- the dataset folder ------------------------------------------------------------------------


def test_folder_of_class_folders_becomes_a_dataset_folder_as_the_contract_says(image_folder, tmp_path):
    report = import_dataset(image_folder, tmp_path / "datasets")

    m = report.manifest
    assert report.dataset_dir == tmp_path / "datasets" / m["id"]
    assert len(m["id"]) == 12 and int(m["id"], 16) >= 0
    assert m["format"] == FORMAT and m["name"] == "images"
    assert m["classes"] == ["blue", "green", "red"]
    assert m["split"] == {"source": "generated", "seed": 0, "val_fraction": 0.15, "test_fraction": 0.15}
    assert len(m["items"]) == 18 and report.problems == []
    for item in m["items"]:
        copy = report.dataset_dir / item["file"]
        original = image_folder / item["original"]
        assert copy.read_bytes() == original.read_bytes()
        assert item["sha256"] == hashlib.sha256(original.read_bytes()).hexdigest()
        assert item["file"].startswith(f"images/{m['classes'].index(item['label'])}/")
        assert (item["width"], item["height"]) == (32, 32)
        assert item["original"].split("/")[0] == item["label"]
    assert json.loads((report.dataset_dir / "manifest.json").read_text()) == m
    assert json.loads((report.dataset_dir / "problems.json").read_text()) == []
    assert report.counts == {c: {"train": 4, "val": 1, "test": 1} for c in m["classes"]}
    assert visible_dirs(tmp_path / "datasets") == [m["id"]]  # no temp folders left behind


def test_fingerprint_is_sha256_of_sorted_label_and_hash_pairs(image_folder, tmp_path):
    m = import_dataset(image_folder, tmp_path / "ds").manifest
    pairs = sorted(f"{i['label']}\t{i['sha256']}" for i in m["items"])
    assert m["fingerprint"] == hashlib.sha256("\n".join(pairs).encode()).hexdigest()


def test_source_folder_is_unchanged_byte_for_byte(image_folder, tmp_path):
    (image_folder / "red" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    shutil.copy(image_folder / "red" / "red_000.png", image_folder / "red" / "copy.png")
    before = snapshot(image_folder)
    import_dataset(image_folder, tmp_path / "ds")
    assert snapshot(image_folder) == before


def test_reimporting_identical_content_reuses_the_existing_folder(image_folder, tmp_path):
    first = import_dataset(image_folder, tmp_path / "ds")
    marker = first.dataset_dir / "manifest.json"
    mtime = marker.stat().st_mtime_ns
    again = import_dataset(image_folder, tmp_path / "ds")
    assert again.reused and not first.reused
    assert again.dataset_dir == first.dataset_dir and again.manifest == first.manifest
    assert marker.stat().st_mtime_ns == mtime
    assert visible_dirs(tmp_path / "ds") == [first.manifest["id"]]


def test_a_crash_while_writing_leaves_no_dataset_folder(image_folder, tmp_path, monkeypatch):
    import engine.data.importer as importer

    def crash(path, obj):
        raise OSError("disk full")

    monkeypatch.setattr(importer, "atomic_write_json", crash)
    with pytest.raises(OSError, match="disk full"):
        import_dataset(image_folder, tmp_path / "ds")
    assert list((tmp_path / "ds").iterdir()) == []  # neither the dataset nor its staging folder


def test_temp_folders_of_a_killed_import_are_cleaned_once_stale(image_folder, tmp_path):
    stale, fresh = tmp_path / "ds" / ".import-abc-1", tmp_path / "ds" / ".unzip-2"
    for folder in (stale, fresh):
        folder.mkdir(parents=True)
        (folder / "half.png").write_bytes(b"half")
    os.utime(stale, (0, 0))
    report = import_dataset(image_folder, tmp_path / "ds")
    assert visible_dirs(tmp_path / "ds") == sorted([fresh.name, report.manifest["id"]])


def test_a_dataset_root_inside_the_source_is_not_read_as_a_class(image_folder, tmp_path):
    first = import_dataset(image_folder, image_folder / "_datasets")
    again = import_dataset(image_folder, image_folder / "_datasets")
    assert again.reused and again.manifest["classes"] == ["blue", "green", "red"]
    assert first.dataset_dir == again.dataset_dir


def test_other_split_parameters_make_another_dataset(image_folder, tmp_path):
    a = import_dataset(image_folder, tmp_path / "ds", seed=0)
    b = import_dataset(image_folder, tmp_path / "ds", seed=1)
    c = import_dataset(image_folder, tmp_path / "ds", val_fraction=0.3)
    assert len({a.manifest["id"], b.manifest["id"], c.manifest["id"]}) == 3
    assert a.manifest["fingerprint"] == b.manifest["fingerprint"] == c.manifest["fingerprint"]


def test_hidden_and_system_files_are_ignored_silently(image_folder, tmp_path):
    (image_folder / ".DS_Store").write_bytes(b"\0\0junk")
    (image_folder / "red" / "Thumbs.db").write_bytes(b"junk")
    (image_folder / "red" / ".hidden.png").write_bytes(b"junk")
    make_image(image_folder / ".git" / "x.png")
    make_image(image_folder / "__MACOSX" / "red" / "._red_000.png")
    report = import_dataset(image_folder, tmp_path / "ds")
    assert report.problems == [] and report.manifest["classes"] == ["blue", "green", "red"]


def test_progress_reports_every_checked_file(image_folder, tmp_path):
    calls = []
    import_dataset(image_folder, tmp_path / "ds", progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 18) and calls[-1] == (18, 18) and len(calls) == 19


def test_summary_names_counts_splits_and_problem_files(image_folder, tmp_path):
    (image_folder / "red" / "bad.jpg").write_text("not an image")
    text = import_dataset(image_folder, tmp_path / "ds").summary()
    assert "18 images in 3 classes" in text
    assert "train 12, val 3, test 3" in text
    assert "red/bad.jpg" in text and "unreadable" in text


# --- bad files ---------------------------------------------------------------------------------


def _truncated_jpeg(path: Path) -> None:
    make_image(path, (64, 64), seed=3, fmt="JPEG")
    path.write_bytes(path.read_bytes()[:300])


BAD_FILES = {
    "random_bytes": (lambda p: p.write_bytes(os.urandom(500)), "not an image"),
    "truncated_jpeg": (_truncated_jpeg, "damaged or truncated"),
    "pdf_renamed_jpg": (
        lambda p: p.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"),
        "not an image",
    ),
    "zero_bytes": (lambda p: p.write_bytes(b""), "empty"),
    "text_file": (lambda p: p.write_text("hello, I am a text file\n"), "not an image"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_listed_with_a_reason_and_the_import_continues(image_folder, tmp_path, case):
    write, reason = BAD_FILES[case]
    write(image_folder / "green" / "bad.jpg")
    report = import_dataset(image_folder, tmp_path / "ds")
    [problem] = report.problems
    assert problem["file"] == "green/bad.jpg" and problem["kind"] == "unreadable"
    assert reason in problem["message"]
    assert len(report.manifest["items"]) == 18
    assert json.loads((report.dataset_dir / "problems.json").read_text()) == report.problems


def test_duplicate_within_a_class_keeps_one_copy_with_a_warning(image_folder, tmp_path):
    shutil.copy(image_folder / "red" / "red_000.png", image_folder / "red" / "zz_copy.png")
    report = import_dataset(image_folder, tmp_path / "ds")
    [dup] = problems_of(report, "duplicate")
    assert dup["file"] == "red/zz_copy.png" and dup["severity"] == "warning"
    assert "red/red_000.png" in dup["message"]
    originals = [i["original"] for i in report.manifest["items"]]
    assert "red/red_000.png" in originals and "red/zz_copy.png" not in originals
    assert report.counts["red"] == {"train": 4, "val": 1, "test": 1}


def test_same_image_in_two_classes_is_an_error_and_every_copy_is_left_out(image_folder, tmp_path):
    shutil.copy(image_folder / "red" / "red_000.png", image_folder / "blue" / "stray.png")
    report = import_dataset(image_folder, tmp_path / "ds")
    conflicts = problems_of(report, "conflict")
    assert {p["file"] for p in conflicts} == {"red/red_000.png", "blue/stray.png"}
    assert all(p["severity"] == "error" and "'blue' and 'red'" in p["message"] for p in conflicts)
    assert report.problems[0]["severity"] == "error"  # errors come first
    originals = {i["original"] for i in report.manifest["items"]}
    assert not originals & {"red/red_000.png", "blue/stray.png"}
    assert sum(report.counts["red"].values()) == 5 and sum(report.counts["blue"].values()) == 6


def test_class_with_one_image_is_dropped_with_a_warning(image_folder, tmp_path):
    make_image(image_folder / "lonely" / "only.png", color=(9, 9, 9))
    report = import_dataset(image_folder, tmp_path / "ds")
    [p] = problems_of(report, "small_class")
    assert p["file"] == "lonely/only.png" and "'lonely'" in p["message"] and p["severity"] == "warning"
    assert "lonely" not in report.manifest["classes"] and len(report.manifest["classes"]) == 3


def test_a_single_class_is_refused_with_a_sentence_and_leaves_nothing_behind(tmp_path):
    for i in range(4):
        make_image(tmp_path / "src" / "cats" / f"{i}.png", seed=i)
    with pytest.raises(
        DataError, match=r"Only one class \('cats'\) has images; a classifier needs at least two"
    ):
        import_dataset(tmp_path / "src", tmp_path / "ds")
    assert visible_dirs(tmp_path / "ds") == []


def test_only_one_class_left_after_dropping_small_ones_is_refused(tmp_path):
    two_classes(tmp_path / "src", n=1, names=("cats", "dogs"))
    make_image(tmp_path / "src" / "cats" / "more.png", seed=77)
    with pytest.raises(DataError, match=r"Only one class \('cats'\) has enough images"):
        import_dataset(tmp_path / "src", tmp_path / "ds")


def test_no_usable_images_at_all_is_refused(tmp_path):
    for name in ("a/1.jpg", "a/2.jpg", "b/1.jpg"):
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_text("nope")
    with pytest.raises(DataError, match="None of the 3 files .* could be read as an image"):
        import_dataset(tmp_path / "src", tmp_path / "ds")


def test_folder_without_class_folders_is_refused(tmp_path):
    make_image(tmp_path / "src" / "1.png")
    with pytest.raises(DataError, match="No images were found .* folder named after the class"):
        import_dataset(tmp_path / "src", tmp_path / "ds")


def test_missing_source_and_unsupported_file_types_are_refused(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        import_dataset(tmp_path / "nowhere", tmp_path / "ds")
    (tmp_path / "photos.rar").write_bytes(b"Rar!\x1a\x07\x00")
    with pytest.raises(
        DataError, match=r"'photos.rar' is a \.rar; Konstruktor imports a folder, a \.zip or a \.csv"
    ):
        import_dataset(tmp_path / "photos.rar", tmp_path / "ds")


def test_tiny_image_is_kept_with_a_warning(image_folder, tmp_path):
    make_image(image_folder / "red" / "tiny.png", size=(8, 12), seed=5)
    report = import_dataset(image_folder, tmp_path / "ds")
    [p] = problems_of(report, "tiny_image")
    assert p["file"] == "red/tiny.png" and "8×12" in p["message"]
    assert "red/tiny.png" in {i["original"] for i in report.manifest["items"]}


# --- image modes and orientation ---------------------------------------------------------------


def test_mode_conversions_are_noted_and_load_as_rgb_with_transparency_on_white(tmp_path):
    src = tmp_path / "src"
    make_image(src / "modes" / "gray.png", color=90, mode="L")
    make_image(src / "modes" / "palette.png", color=3, mode="P")
    make_image(src / "modes" / "deep.png", color=40000, mode="I;16")
    make_image(src / "modes" / "cmyk.jpg", color=(0, 200, 200, 0), mode="CMYK")
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[:16] = (255, 0, 0, 255)  # top half opaque red, bottom half fully transparent black
    Image.fromarray(rgba, "RGBA").save(src / "modes" / "alpha.png")
    make_image_folder(src, per_class=3, classes={"plain": (1, 2, 3)})

    report = import_dataset(src, tmp_path / "ds", val_fraction=0, test_fraction=0)
    converted = {p["file"]: p for p in problems_of(report, "converted")}
    assert set(converted) == {
        f"modes/{n}" for n in ("gray.png", "palette.png", "deep.png", "cmyk.jpg", "alpha.png")
    }
    assert all(p["severity"] == "info" for p in converted.values())
    assert "grayscale" in converted["modes/gray.png"]["message"]
    assert "16-bit" in converted["modes/deep.png"]["message"]
    assert "CMYK" in converted["modes/cmyk.jpg"]["message"]
    assert "white" in converted["modes/alpha.png"]["message"]
    files = {i["original"]: report.dataset_dir / i["file"] for i in report.manifest["items"]}
    for original, path in files.items():
        assert load_image(str(path)).mode == "RGB", original
    alpha = np.asarray(load_image(str(files["modes/alpha.png"])))
    assert (alpha[20:, :] == 255).all() and (alpha[:10, :, 0] == 255).all() and (alpha[:10, :, 1] == 0).all()


def test_exif_rotated_jpeg_has_width_and_height_swapped_and_a_note(image_folder, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    make_image(image_folder / "red" / "phone.jpg", size=(48, 24), seed=11, exif=exif.tobytes())
    report = import_dataset(image_folder, tmp_path / "ds")
    [item] = [i for i in report.manifest["items"] if i["original"] == "red/phone.jpg"]
    assert (item["width"], item["height"]) == (24, 48)
    [note] = problems_of(report, "exif_rotated")
    assert note["file"] == "red/phone.jpg" and note["severity"] == "info"


# --- names -------------------------------------------------------------------------------------


UNICODE_CLASSES = {"кошки": (200, 40, 40), "🐶 собаки": (40, 200, 40), "red panda": (40, 40, 200)}


def _unicode_folder(root: Path) -> Path:
    for c, (name, color) in enumerate(UNICODE_CLASSES.items()):
        for i, file in enumerate(["фото 1.png", "😀 smile.png", "a b  c.PNG"]):
            make_image(root / name / file, color=color, seed=10 * c + i)
    return root


def test_unicode_class_and_file_names_import_to_safe_names(tmp_path):
    report = import_dataset(_unicode_folder(tmp_path / "src"), tmp_path / "ds")
    assert set(report.manifest["classes"]) == set(UNICODE_CLASSES)
    originals = {i["original"] for i in report.manifest["items"]}
    assert "кошки/фото 1.png" in originals and "🐶 собаки/😀 smile.png" in originals
    for item in report.manifest["items"]:
        assert item["file"].isascii() and " " not in item["file"]
        assert item["file"].endswith(".png")  # ".PNG" is lowercased
        assert (report.dataset_dir / item["file"]).is_file()


def test_unicode_names_inside_a_zip_survive(tmp_path):
    archive = zip_folder(_unicode_folder(tmp_path / "src"), tmp_path / "unicode.zip")
    report = import_dataset(archive, tmp_path / "ds")
    assert set(report.manifest["classes"]) == set(UNICODE_CLASSES)
    assert "кошки/фото 1.png" in {i["original"] for i in report.manifest["items"]}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("кошки/1.png".encode(), "кошки/1.png"),
        ("кошки/фото 1.png".encode("cp866"), "кошки/фото 1.png"),
        ("café/résumé.png".encode("cp437"), "café/résumé.png"),
    ],
    ids=["utf8-without-flag", "cp866", "cp437"],
)
def test_zip_names_without_the_utf8_flag_are_decoded_sensibly(raw, expected):
    info = zipfile.ZipInfo(raw.decode("cp437"))  # what zipfile makes of an unflagged name
    info.flag_bits = 0
    assert member_name(info) == expected


# --- split folders and CSV ---------------------------------------------------------------------


def test_train_val_test_folders_give_the_split(tmp_path):
    src = tmp_path / "src"
    two_classes(src / "train", n=4)
    two_classes(src / "valid", n=2, first_seed=500)  # "valid" is an alias of val
    make_image(src / "test" / "cats" / "t.png", seed=9001)
    make_image(src / "test" / "dogs" / "t.png", seed=9002)
    report = import_dataset(src, tmp_path / "ds")
    assert report.manifest["split"]["source"] == "given"
    assert report.counts == {
        "cats": {"train": 4, "val": 2, "test": 1},
        "dogs": {"train": 4, "val": 2, "test": 1},
    }
    assert {i["split"] for i in report.manifest["items"] if i["original"].startswith("valid/")} == {"val"}


def test_split_folders_without_test_are_accepted(tmp_path):
    src = tmp_path / "src"
    two_classes(src / "train", n=3)
    make_image(src / "val" / "cats" / "v.png", seed=42)
    make_image(src / "val" / "dogs" / "v.png", seed=43)
    report = import_dataset(src, tmp_path / "ds")
    assert report.counts == {
        "cats": {"train": 3, "val": 1, "test": 0},
        "dogs": {"train": 3, "val": 1, "test": 0},
    }


def test_same_image_in_train_and_test_keeps_the_train_copy_with_a_leak_warning(tmp_path):
    src = tmp_path / "src"
    two_classes(src / "train", n=3)
    shutil.copytree(src / "train", src / "test")
    make_image(src / "test" / "cats" / "fresh.png", seed=555)
    report = import_dataset(src, tmp_path / "ds")
    leaks = problems_of(report, "leak")
    assert len(leaks) == 6 and all(
        p["file"].startswith("test/") and p["severity"] == "warning" for p in leaks
    )
    assert report.counts == {
        "cats": {"train": 3, "val": 0, "test": 1},
        "dogs": {"train": 3, "val": 0, "test": 0},
    }


def test_csv_with_header_split_column_and_a_missing_file(tmp_path):
    two_classes(tmp_path / "pics", n=3)
    rows = ["path,label,split"]
    for i in range(3):
        split = ["train", "train", "test"][i]
        rows.append(f"pics/cats/cats_{i:03d}.png,cats,{split}")
        rows.append(f"{tmp_path}/pics/dogs/dogs_{i:03d}.png,dogs,{split}")  # absolute paths work too
    rows.append("pics/cats/gone.png,cats,train")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    before = snapshot(tmp_path)
    report = import_dataset(tmp_path / "labels.csv", tmp_path / "ds")
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("ds")} == before
    assert report.manifest["name"] == "labels" and report.manifest["split"]["source"] == "given"
    assert report.counts == {
        "cats": {"train": 2, "val": 0, "test": 1},
        "dogs": {"train": 2, "val": 0, "test": 1},
    }
    [missing] = report.problems
    assert (
        missing["file"] == "pics/cats/gone.png"
        and missing["kind"] == "missing"
        and "row 8" in missing["message"]
    )


def test_headerless_csv_with_semicolons_generates_a_split(tmp_path):
    two_classes(tmp_path / "pics", n=3)
    lines = [f"pics/{c}/{c}_{i:03d}.png;{c}" for c in ("cats", "dogs") for i in range(3)]
    (tmp_path / "list.csv").write_text("\n".join(lines) + "\n")
    report = import_dataset(tmp_path / "list.csv", tmp_path / "ds")
    assert report.manifest["split"]["source"] == "generated"
    assert report.counts == {c: {"train": 1, "val": 1, "test": 1} for c in ("cats", "dogs")}


def test_csv_row_without_a_label_is_refused_naming_the_row(tmp_path):
    two_classes(tmp_path / "pics", n=2)
    (tmp_path / "bad.csv").write_text("path,label\npics/cats/cats_000.png,cats\npics/dogs/dogs_000.png\n")
    with pytest.raises(DataError, match="Row 3 of 'bad.csv' has 1 column"):
        import_dataset(tmp_path / "bad.csv", tmp_path / "ds")


def test_csv_header_without_path_and_label_columns_is_refused(tmp_path):
    (tmp_path / "bad.csv").write_text("file,kind\na.png,cats\n")
    with pytest.raises(DataError, match="Row 1 of 'bad.csv' is a header without both a 'path' and a 'label'"):
        import_dataset(tmp_path / "bad.csv", tmp_path / "ds")


# --- zips --------------------------------------------------------------------------------------


def test_zip_of_a_single_top_folder_with_split_folders(tmp_path):
    src = tmp_path / "src"
    two_classes(src / "train", n=3)
    make_image(src / "test" / "cats" / "t.png", seed=71)
    make_image(src / "test" / "dogs" / "t.png", seed=72)
    archive = zip_folder(src, tmp_path / "pets.zip", prefix="pets/")
    before = (archive.read_bytes(), archive.stat().st_mtime_ns)
    report = import_dataset(archive, tmp_path / "ds")
    assert (archive.read_bytes(), archive.stat().st_mtime_ns) == before
    assert report.manifest["name"] == "pets" and report.manifest["split"]["source"] == "given"
    assert report.counts["cats"] == {"train": 3, "val": 0, "test": 1}
    assert {i["original"].split("/")[0] for i in report.manifest["items"]} == {"pets"}
    assert visible_dirs(tmp_path / "ds") == [report.manifest["id"]]  # the unpacked temp folder is gone


def test_zip_and_folder_of_the_same_images_give_the_same_dataset(image_folder, tmp_path):
    archive = zip_folder(image_folder, tmp_path / "same.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("__MACOSX/red/._red_000.png", b"resource fork")
    from_folder = import_dataset(image_folder, tmp_path / "ds")
    from_zip = import_dataset(archive, tmp_path / "ds2")
    assert from_zip.problems == [] and from_zip.manifest["id"] == from_folder.manifest["id"]
    assert import_dataset(archive, tmp_path / "ds").reused


def _zip_with(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


def test_empty_zip_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    with pytest.raises(DataError, match="'empty.zip' is empty"):
        import_dataset(tmp_path / "empty.zip", tmp_path / "ds")


def test_damaged_zip_is_refused(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04" + os.urandom(200))
    with pytest.raises(DataError, match="'broken.zip' is not a readable zip"):
        import_dataset(tmp_path / "broken.zip", tmp_path / "ds")


@pytest.mark.parametrize(
    "evil", ["../evil.png", "cats/../../evil.png", "/tmp/evil.png", "C:/evil.png", "..\\evil.png"]
)
def test_zip_member_escaping_the_target_refuses_the_whole_archive(tmp_path, evil):
    members = {"cats/1.png": png_bytes(), "dogs/1.png": png_bytes((1, 1, 1)), evil: png_bytes((3, 3, 3))}
    archive = _zip_with(tmp_path / "evil.zip", members)
    (tmp_path / "ds").mkdir()
    with pytest.raises(DataError, match=f"the member '{re.escape(evil)}' points outside"):
        import_dataset(archive, tmp_path / "ds")
    assert not (tmp_path / "evil.png").exists() and not Path("/tmp/evil.png").exists()
    assert visible_dirs(tmp_path / "ds") == []


def test_zip_symlink_member_is_refused(tmp_path):
    link = zipfile.ZipInfo("cats/link.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as zf:
        zf.writestr("cats/1.png", png_bytes())
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(DataError, match="'cats/link.png' is a symbolic link"):
        import_dataset(tmp_path / "link.zip", tmp_path / "ds")


def test_zip_bomb_is_refused_before_extracting(tmp_path):
    archive = _zip_with(tmp_path / "bomb.zip", {"cats/1.png": png_bytes(), "cats/huge.png": bytes(8 << 20)})
    assert archive.stat().st_size < 100_000
    with pytest.raises(DataError, match="'cats/huge.png' expands more than 200 times, like a zip bomb"):
        import_dataset(archive, tmp_path / "ds")
    assert visible_dirs(tmp_path / "ds") == []


def test_zip_limits_on_entry_count_and_total_size(tmp_path):
    archive = _zip_with(tmp_path / "many.zip", {f"c{i % 2}/{i}.png": png_bytes((i, i, i)) for i in range(6)})
    with pytest.raises(DataError, match="holds 6 entries, more than the limit of 5"):
        import_dataset(archive, tmp_path / "ds", zip_limits=ZipLimits(max_members=5))
    with pytest.raises(DataError, match="unpacks to more than"):
        import_dataset(archive, tmp_path / "ds", zip_limits=ZipLimits(max_total_bytes=200))
    assert import_dataset(archive, tmp_path / "ds").manifest["classes"] == ["c0", "c1"]


# --- reading a dataset back --------------------------------------------------------------------


def test_load_manifest_and_is_dataset_dir(image_folder, tmp_path):
    report = import_dataset(image_folder, tmp_path / "ds")
    assert is_dataset_dir(report.dataset_dir) and load_manifest(report.dataset_dir) == report.manifest
    assert not is_dataset_dir(image_folder)
    with pytest.raises(DataError, match="no manifest.json"):
        load_manifest(image_folder)
    (report.dataset_dir / "manifest.json").write_text('{"format": "konstruktor-data')
    assert not is_dataset_dir(report.dataset_dir)
    with pytest.raises(DataError, match="cannot be read"):
        load_manifest(report.dataset_dir)


def test_split_items_selects_one_or_several_splits(image_folder, tmp_path):
    m = import_dataset(image_folder, tmp_path / "ds").manifest
    assert len(split_items(m, "train")) == 12 and len(split_items(m, ["val", "test"])) == 6
    with pytest.raises(ValueError):
        split_items(m, "validation")


def test_image_dataset_returns_transformed_tensors_and_targets(image_folder, tmp_path):
    import torch
    from torchvision.transforms.functional import pil_to_tensor

    report = import_dataset(image_folder, tmp_path / "ds")
    ds = ImageDataset(report.dataset_dir, ["train", "val"], pil_to_tensor)
    assert len(ds) == 15 and ds.labels == ["blue", "green", "red"]
    assert sorted(ds.targets) == [0] * 5 + [1] * 5 + [2] * 5
    assert all(f.is_absolute() and f.is_file() for f in ds.files)
    for i in range(len(ds)):
        x, y = ds[i]
        assert isinstance(x, torch.Tensor) and x.shape == (3, 32, 32) and y == ds.targets[i]
        channel = {"red": 0, "green": 1, "blue": 2}[ds.labels[y]]
        assert x[channel].float().mean() > 150  # the class colour dominates
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    xb, yb = next(iter(loader))
    assert xb.shape == (4, 3, 32, 32) and yb.dtype == torch.int64


def test_image_dataset_names_an_image_that_disappeared(image_folder, tmp_path):
    report = import_dataset(image_folder, tmp_path / "ds")
    ds = ImageDataset(report.dataset_dir, "test", None)
    ds.files[0].unlink()
    with pytest.raises(DataError, match=f"'{ds.files[0]}' is missing"):
        ds[0]


def test_importing_engine_data_does_not_import_torch():
    code = "import sys, engine.data; assert 'torch' not in sys.modules, 'torch imported'"
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
