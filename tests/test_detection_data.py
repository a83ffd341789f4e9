"""Importing detection labels: YOLO, COCO and Pascal VOC, folders and zips, and every bad input named by its file."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from clitools import engine_cli
from detgen import CLASSES, make_scene, make_scenes, write_coco, write_voc, write_yolo, yolo_line, zip_folder

from engine.errors import DataError
from engine.tasks.object_detection.importer import box_stats, import_detection, looks_like_detection

SIZE = (160, 128)


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _problems(report, kind: str) -> list[dict]:
    return [p for p in report.problems if p["kind"] == kind]


def _boxes_by_original(report) -> dict[str, list]:
    return {it["original"]: sorted((b["label"], b["box"]) for b in it["boxes"]) for it in report.manifest["items"]}


def _close(got: list, want: list, tol: float = 0.02) -> bool:
    return len(got) == len(want) and all(
        g[0] == w[0] and all(abs(a - b) <= tol for a, b in zip(g[1], w[1], strict=True))
        for g, w in zip(sorted(got), sorted(want), strict=True))


@pytest.fixture
def scenes():
    return make_scenes(12, seed=1)


@pytest.fixture
def yolo(tmp_path, scenes) -> Path:
    return write_yolo(tmp_path / "yolo", scenes)


# --- each format ------------------------------------------------------------------------------------


def test_a_yolo_folder_imports_every_box_in_pixels_with_the_names_of_data_yaml(tmp_path, yolo, scenes):
    report = import_detection(yolo, tmp_path / "ds")
    manifest = report.manifest
    assert manifest["task"] == "object-detection" and manifest["labels"] == "yolo"
    assert manifest["format"] == "konstruktor-dataset/1"
    boxes = _boxes_by_original(report)
    for i, scene in enumerate(scenes):
        assert _close(boxes[f"images/img_{i:03d}.jpg"], [(c, b) for c, b in scene.boxes])
    assert set(manifest["classes"]) <= set(CLASSES)
    for it in manifest["items"]:
        assert (report.dataset_dir / it["file"]).is_file()
        assert it["label"] is not None and it["width"] == SIZE[0] and it["height"] == SIZE[1]
        assert all(b["box"][0] < b["box"][2] and b["box"][1] < b["box"][3] for b in it["boxes"])
    assert manifest["split"] == {"source": "generated", "seed": 0, "val_fraction": 0.15, "test_fraction": 0.15}
    assert not [p for p in report.problems if p["severity"] != "info"]


def test_yolo_without_data_yaml_names_the_classes_by_their_ids_and_says_so(tmp_path, scenes):
    src = write_yolo(tmp_path / "yolo", scenes, yaml=False)
    report = import_detection(src, tmp_path / "ds")
    used = sorted({str(CLASSES.index(c)) for s in scenes for c, _ in s.boxes})
    assert report.manifest["classes"] == used
    note = _problems(report, "no_names")
    assert note and note[0]["severity"] == "info" and "data.yaml" in note[0]["message"]


def test_data_yaml_names_as_a_list_are_read_too(tmp_path, scenes):
    src = write_yolo(tmp_path / "yolo", scenes)
    (src / "data.yaml").write_text("names: [square, disc, triangle]\n")
    report = import_detection(src, tmp_path / "ds")
    assert set(report.manifest["classes"]) == {c for s in scenes for c, _ in s.boxes}


def test_yolo_txt_files_beside_their_pictures_are_read(tmp_path, scenes):
    src = write_yolo(tmp_path / "yolo", scenes)
    for txt in (src / "labels").iterdir():
        txt.rename(src / "images" / txt.name)
    report = import_detection(src / "images", tmp_path / "ds")
    assert sum(len(it["boxes"]) for it in report.manifest["items"]) == sum(len(s.boxes) for s in scenes)


def test_yolo_split_folders_are_kept_as_given(tmp_path):
    src = tmp_path / "yolo"
    write_yolo(src, make_scenes(6, seed=2), split="train")
    write_yolo(src, make_scenes(3, seed=3), split="val")
    write_yolo(src, make_scenes(3, seed=4), split="test")
    report = import_detection(src, tmp_path / "ds")
    assert report.manifest["split"]["source"] == "given"
    for it in report.manifest["items"]:
        assert it["split"] == it["original"].split("/")[1]
    assert sum(it["split"] == "train" for it in report.manifest["items"]) == 6


def test_a_coco_json_imports_its_pixel_boxes(tmp_path, scenes):
    src = write_coco(tmp_path / "coco", scenes)
    report = import_detection(src, tmp_path / "ds")
    assert report.manifest["labels"] == "coco"
    boxes = _boxes_by_original(report)
    for i, scene in enumerate(scenes):
        assert _close(boxes[f"images/img_{i:03d}.png"], [(c, b) for c, b in scene.boxes])


def test_coco_files_named_by_split_keep_their_split(tmp_path):
    src = tmp_path / "coco"
    write_coco(src / "train", make_scenes(6, seed=5), json_name="instances_train.json")
    write_coco(src / "val", make_scenes(3, seed=6), json_name="instances_val.json")
    report = import_detection(src, tmp_path / "ds")
    assert report.manifest["split"]["source"] == "given"
    assert {it["original"].split("/")[0]: it["split"] for it in report.manifest["items"]} == {"train": "train",
                                                                                              "val": "val"}


def test_the_coco_2017_layout_finds_each_files_pictures_in_the_folder_of_its_split(tmp_path):
    src = tmp_path / "coco"
    for split, seed, n in (("train", 11, 6), ("val", 12, 3)):
        write_coco(tmp_path / split, make_scenes(n, seed=seed), json_name=f"instances_{split}2017.json")
        (src / "annotations").mkdir(parents=True, exist_ok=True)
        (tmp_path / split / f"instances_{split}2017.json").rename(src / "annotations" / f"instances_{split}2017.json")
        (tmp_path / split / "images").rename(src / f"{split}2017")
    report = import_detection(src, tmp_path / "ds")  # img_000.png is in both folders: the file's split decides
    assert len(report.manifest["items"]) == 9 and not _problems(report, "missing_picture")
    assert all(it["original"].startswith(it["split"]) for it in report.manifest["items"])


def test_pascal_voc_xml_imports_its_boxes(tmp_path, scenes):
    src = write_voc(tmp_path / "voc", scenes)
    report = import_detection(src, tmp_path / "ds")
    assert report.manifest["labels"] == "voc"
    boxes = _boxes_by_original(report)
    for i, scene in enumerate(scenes):
        assert _close(boxes[f"JPEGImages/img_{i:03d}.jpg"], [(c, b) for c, b in scene.boxes], tol=0.51)


def test_voc_xml_beside_its_pictures_is_found(tmp_path, scenes):
    src = write_voc(tmp_path / "voc", scenes)
    for xml in (src / "Annotations").iterdir():
        xml.rename(src / "JPEGImages" / xml.name)
    report = import_detection(src / "JPEGImages", tmp_path / "ds")
    assert len(report.manifest["items"]) == len(scenes)


@pytest.mark.parametrize("writer", [write_yolo, write_coco, write_voc])
def test_a_zip_of_each_format_imports_like_its_folder(tmp_path, scenes, writer):
    src = writer(tmp_path / "src", scenes)
    archive = zip_folder(src, tmp_path / "labelled.zip", top="my data")
    from_zip = import_detection(archive, tmp_path / "ds")
    from_folder = import_detection(src, tmp_path / "ds2")
    assert from_zip.manifest["fingerprint"] == from_folder.manifest["fingerprint"]
    assert from_zip.manifest["name"] == "labelled"
    assert not [p for p in (tmp_path / "ds").iterdir() if p.name.startswith(".")]  # the unpacked copy is gone


# --- bad input -------------------------------------------------------------------------------------------


def _yolo_one(tmp_path: Path, lines: list[str], n_good: int = 4, name: str = "odd") -> Path:
    """A YOLO folder of `n_good` fine pictures plus images/<name>.jpg labelled by `lines`."""
    src = write_yolo(tmp_path / "yolo", make_scenes(n_good, seed=7))
    make_scene(99).image.save(src / "images" / f"{name}.jpg", quality=95)
    (src / "labels" / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return src


def test_a_box_slightly_outside_is_clipped_and_one_mostly_outside_dropped_each_named(tmp_path):
    src = _yolo_one(tmp_path, [yolo_line(0, [140, 20, 170, 50], SIZE), yolo_line(1, [150, 60, 200, 90], SIZE),
                               yolo_line(2, [10, 10, 40, 40], SIZE)])
    report = import_detection(src, tmp_path / "ds")
    odd = _boxes_by_original(report)["images/odd.jpg"]
    assert ("square", [140.0, 20.0, 160.0, 50.0]) in odd and len(odd) == 2
    clipped, outside = _problems(report, "box_clipped"), _problems(report, "box_outside")
    assert clipped[0]["file"] == "labels/odd.txt" and clipped[0]["params"]["line"] == 1
    assert outside[0]["file"] == "labels/odd.txt" and outside[0]["params"]["line"] == 2


def test_a_box_without_area_is_dropped_and_named_with_its_line(tmp_path):
    src = _yolo_one(tmp_path, ["0 0.5 0.5 0 0.2", yolo_line(2, [10, 10, 40, 40], SIZE)])
    report = import_detection(src, tmp_path / "ds")
    assert len(_boxes_by_original(report)["images/odd.jpg"]) == 1
    [zero] = _problems(report, "box_zero_area")
    assert zero["file"] == "labels/odd.txt" and zero["params"]["line"] == 1


def test_an_unknown_class_id_is_named_and_its_box_skipped(tmp_path):
    src = _yolo_one(tmp_path, [yolo_line(7, [10, 10, 40, 40], SIZE), yolo_line(0, [50, 50, 80, 80], SIZE)])
    report = import_detection(src, tmp_path / "ds")
    assert _boxes_by_original(report)["images/odd.jpg"] == [("square", [50.0, 50.0, 80.0, 80.0])]
    [unknown] = _problems(report, "unknown_class")
    assert unknown["file"] == "labels/odd.txt" and unknown["params"]["line"] == 1 and "7" in unknown["message"]


def test_an_unknown_coco_category_is_named(tmp_path, scenes):
    src = write_coco(tmp_path / "coco", scenes)
    data = json.loads((src / "annotations.json").read_text())
    data["annotations"][0]["category_id"] = 42
    (src / "annotations.json").write_text(json.dumps(data))
    report = import_detection(src, tmp_path / "ds")
    [unknown] = _problems(report, "unknown_class")
    assert unknown["file"] == "annotations.json" and "42" in unknown["message"]
    assert sum(len(it["boxes"]) for it in report.manifest["items"]) == sum(len(s.boxes) for s in scenes) - 1


def test_a_label_file_without_its_picture_is_reported_and_the_import_goes_on(tmp_path, yolo, scenes):
    (yolo / "labels" / "ghost.txt").write_text(yolo_line(0, [10, 10, 40, 40], SIZE) + "\n")
    report = import_detection(yolo, tmp_path / "ds")
    [orphan] = _problems(report, "orphan_label")
    assert orphan["file"] == "labels/ghost.txt" and orphan["severity"] == "warning"
    assert len(report.manifest["items"]) == len(scenes)


def test_a_yolo_picture_without_a_label_file_is_kept_as_a_background_picture(tmp_path, yolo, scenes):
    make_scene(5, background=True).image.save(yolo / "images" / "empty_room.jpg")
    report = import_detection(yolo, tmp_path / "ds")
    [note] = _problems(report, "background")
    assert note["file"] == "images/empty_room.jpg" and note["severity"] == "info"
    item = next(it for it in report.manifest["items"] if it["original"] == "images/empty_room.jpg")
    assert item["boxes"] == [] and item["label"] is None
    assert report.manifest["stats"]["background_pictures"] == 1


def test_a_coco_entry_whose_picture_is_missing_is_named_and_the_rest_imported(tmp_path, scenes):
    src = write_coco(tmp_path / "coco", scenes)
    (src / "images" / "img_002.png").unlink()
    report = import_detection(src, tmp_path / "ds")
    [missing] = _problems(report, "missing_picture")
    assert missing["file"] == "annotations.json" and missing["params"]["picture"] == "img_002.png"
    assert len(report.manifest["items"]) == len(scenes) - 1


def test_a_size_in_the_labels_that_differs_from_the_picture_is_reported(tmp_path, scenes):
    src = write_voc(tmp_path / "voc", scenes)
    xml = src / "Annotations" / "img_001.xml"
    xml.write_text(xml.read_text().replace("<width>160</width>", "<width>320</width>"))
    report = import_detection(src, tmp_path / "ds")
    [odd] = _problems(report, "size_mismatch")
    assert odd["file"] == "Annotations/img_001.xml" and odd["params"]["stated"] == [320, 128]


def test_a_coco_or_voc_picture_no_file_lists_is_left_out_and_named(tmp_path, scenes):
    src = write_voc(tmp_path / "voc", scenes)
    make_scene(5).image.save(src / "JPEGImages" / "unlisted.jpg")
    report = import_detection(src, tmp_path / "ds")
    [left] = _problems(report, "unlabelled")
    assert left["file"] == "JPEGImages/unlisted.jpg"
    assert "JPEGImages/unlisted.jpg" not in _boxes_by_original(report)


def test_an_exact_duplicate_is_kept_once_and_reported(tmp_path, yolo, scenes):
    shutil.copy(yolo / "images" / "img_000.jpg", yolo / "images" / "copy.jpg")
    shutil.copy(yolo / "labels" / "img_000.txt", yolo / "labels" / "copy.txt")
    report = import_detection(yolo, tmp_path / "ds")
    assert len(report.manifest["items"]) == len(scenes)
    [dup] = _problems(report, "duplicate")
    assert dup["file"] == "images/img_000.jpg" and dup["params"]["kept"] == "images/copy.jpg"


def test_a_broken_label_line_is_named_with_its_line_and_the_rest_kept(tmp_path):
    src = _yolo_one(tmp_path, ["0 0.5 oops 0.1 0.1", yolo_line(1, [10, 10, 40, 40], SIZE), "1 0.5 0.5"])
    report = import_detection(src, tmp_path / "ds")
    assert _boxes_by_original(report)["images/odd.jpg"] == [("disc", [10.0, 10.0, 40.0, 40.0])]
    lines = sorted(p["params"]["line"] for p in _problems(report, "broken_line"))
    assert lines == [1, 3] and all(p["file"] == "labels/odd.txt" for p in _problems(report, "broken_line"))


def test_an_unparsable_json_beside_a_good_one_is_named(tmp_path, scenes):
    src = write_coco(tmp_path / "coco", scenes)
    (src / "notes.json").write_text("{not json")
    report = import_detection(src, tmp_path / "ds")
    [broken] = _problems(report, "broken_file")
    assert broken["file"] == "notes.json" and len(report.manifest["items"]) == len(scenes)


def test_an_unparsable_xml_is_named_and_the_other_pictures_imported(tmp_path, scenes):
    src = write_voc(tmp_path / "voc", scenes)
    (src / "Annotations" / "img_003.xml").write_text("<annotation><object>")
    report = import_detection(src, tmp_path / "ds")
    assert [p["file"] for p in _problems(report, "broken_file")] == ["Annotations/img_003.xml"]
    assert len(report.manifest["items"]) == len(scenes) - 1  # its picture has no readable labels: left out


def test_classes_of_data_yaml_that_no_box_uses_are_dropped_with_a_note(tmp_path):
    scenes = make_scenes(6, seed=8, classes=("square", "disc"))
    src = write_yolo(tmp_path / "yolo", scenes, classes=("square", "disc", "triangle", "star"))
    report = import_detection(src, tmp_path / "ds")
    assert report.manifest["classes"] == ["square", "disc"]
    [note] = _problems(report, "unused_class")
    assert note["file"] == "data.yaml" and note["params"]["classes"] == ["triangle", "star"]


def test_pixel_values_in_a_yolo_file_are_explained_and_not_trained_on(tmp_path):
    src = _yolo_one(tmp_path, ["0 25 25 30 30", yolo_line(1, [60, 60, 90, 90], SIZE)])
    report = import_detection(src, tmp_path / "ds")
    assert _boxes_by_original(report)["images/odd.jpg"] == [("disc", [60.0, 60.0, 90.0, 90.0])]
    [pixels] = _problems(report, "pixel_coords")
    assert pixels["file"] == "labels/odd.txt" and pixels["params"]["line"] == 1 and "pixels" in pixels["message"]


def test_a_yolo_file_wholly_in_pixels_that_fit_the_picture_is_converted_and_said_so(tmp_path):
    src = _yolo_one(tmp_path, ["0 25 25 30 30", "1 75 75 30 30"])
    report = import_detection(src, tmp_path / "ds")
    assert _boxes_by_original(report)["images/odd.jpg"] == [("disc", [60.0, 60.0, 90.0, 90.0]),
                                                            ("square", [10.0, 10.0, 40.0, 40.0])]
    [converted] = _problems(report, "pixel_converted")
    assert converted["file"] == "labels/odd.txt" and converted["severity"] == "warning"


def test_polygons_of_a_segmentation_export_become_their_bounding_boxes(tmp_path):
    w, h = SIZE
    polygon = f"2 {10 / w} {40 / h} {25 / w} {10 / h} {40 / w} {40 / h}"
    src = _yolo_one(tmp_path, [polygon])
    report = import_detection(src, tmp_path / "ds")
    [(label, box)] = _boxes_by_original(report)["images/odd.jpg"]
    assert label == "triangle" and all(abs(a - b) < 0.01 for a, b in zip(box, [10, 10, 40, 40], strict=True))
    [note] = _problems(report, "polygon")
    assert note["file"] == "labels/odd.txt" and note["params"]["n"] == 1


def test_a_corrupt_picture_is_skipped_and_named(tmp_path, yolo, scenes):
    (yolo / "images" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (yolo / "labels" / "broken.txt").write_text(yolo_line(0, [10, 10, 40, 40], SIZE) + "\n")
    report = import_detection(yolo, tmp_path / "ds")
    [bad] = _problems(report, "unreadable")
    assert bad["file"] == "images/broken.jpg" and len(report.manifest["items"]) == len(scenes)


def test_a_set_without_a_single_box_is_refused_with_what_to_do(tmp_path):
    src = write_yolo(tmp_path / "yolo", make_scenes(4, seed=9, background=True))
    with pytest.raises(DataError, match="No boxes .*draw boxes in the app or bring label files"):
        import_detection(src, tmp_path / "ds")
    assert not (tmp_path / "ds").exists() or not any((tmp_path / "ds").iterdir())


def test_one_class_is_enough_for_detection(tmp_path):
    src = write_yolo(tmp_path / "yolo", make_scenes(5, seed=10, classes=("disc",)), classes=("disc",))
    report = import_detection(src, tmp_path / "ds")
    assert report.manifest["classes"] == ["disc"]


def test_unicode_file_names_work(tmp_path):
    src = _yolo_one(tmp_path, [yolo_line(0, [10, 10, 40, 40], SIZE)], name="кошка на столе 🐈")
    report = import_detection(src, tmp_path / "ds")
    assert _boxes_by_original(report)["images/кошка на столе 🐈.jpg"] == [("square", [10.0, 10.0, 40.0, 40.0])]


def test_a_folder_without_label_files_is_refused(tmp_path):
    (tmp_path / "pics").mkdir()
    make_scene(1).image.save(tmp_path / "pics" / "a.jpg")
    with pytest.raises(DataError, match="No label files"):
        import_detection(tmp_path / "pics", tmp_path / "ds")


# --- split, identity, the user's folder ----------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_split_keeps_every_class_in_train_even_one_never_the_main_class(tmp_path, seed):
    # "disc" is always outnumbered by squares on its pictures, so stratifying on the main class alone ignores it.
    src = tmp_path / "yolo"
    (src / "images").mkdir(parents=True)
    (src / "labels").mkdir()
    for i in range(12):
        scene = make_scene(200 + i, background=True)
        scene.image.save(src / "images" / f"p{i}.jpg")
        lines = [yolo_line(0, [10, 10, 40, 40], SIZE), yolo_line(0, [50, 10, 80, 40], SIZE)]
        if i in (3, 7):
            lines.append(yolo_line(1, [90, 60, 120, 90], SIZE))
        (src / "labels" / f"p{i}.txt").write_text("\n".join(lines) + "\n")
    (src / "data.yaml").write_text("names: [square, disc]\n")
    report = import_detection(src, tmp_path / "ds", seed=seed)
    for label in ("square", "disc"):
        assert report.counts[label]["train"] >= 1
    assert sum(it["split"] != "train" for it in report.manifest["items"]) >= 2


def test_background_pictures_are_spread_over_the_splits(tmp_path, yolo):
    for i in range(8):
        make_scene(300 + i, background=True).image.save(yolo / "images" / f"bg{i}.jpg")
    report = import_detection(yolo, tmp_path / "ds")
    splits = {it["split"] for it in report.manifest["items"] if not it["boxes"]}
    assert splits == {"train", "val", "test"}


def test_importing_the_same_content_again_reuses_the_dataset(tmp_path, yolo):
    first = import_detection(yolo, tmp_path / "ds")
    again = import_detection(yolo, tmp_path / "ds")
    assert again.reused and not first.reused and again.dataset_dir == first.dataset_dir
    other_seed = import_detection(yolo, tmp_path / "ds", seed=5)
    assert other_seed.dataset_dir != first.dataset_dir and not other_seed.reused
    (yolo / "labels" / "img_000.txt").write_text(yolo_line(2, [1, 1, 30, 30], SIZE) + "\n")
    moved_box = import_detection(yolo, tmp_path / "ds")
    assert moved_box.manifest["fingerprint"] != first.manifest["fingerprint"]


def test_progress_counts_every_picture(tmp_path, yolo, scenes):
    seen: list[tuple[int, int]] = []
    import_detection(yolo, tmp_path / "ds", progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, len(scenes)) and seen[-1] == (len(scenes), len(scenes))


def test_the_users_folder_is_left_as_it_was(tmp_path, yolo):
    make_scene(5, background=True).image.save(yolo / "images" / "empty.jpg")
    before = _listing(yolo)
    import_detection(yolo, tmp_path / "ds")
    import_detection(yolo / ".." / "yolo", yolo / "datasets-inside")  # even with the datasets folder inside it
    after = {k: v for k, v in _listing(yolo).items() if not k.startswith("datasets-inside/")}
    assert after == before


def test_a_confined_import_does_not_follow_links_out_of_the_folder(tmp_path, yolo, scenes):
    outside = tmp_path / "secret.jpg"
    make_scene(77).image.save(outside)
    (yolo / "images" / "link.jpg").symlink_to(outside)
    (yolo / "labels" / "link.txt").write_text(yolo_line(0, [10, 10, 40, 40], SIZE) + "\n")
    confined = import_detection(yolo, tmp_path / "ds", confined=True)
    assert "images/link.jpg" not in _boxes_by_original(confined)
    assert "images/link.jpg" in _boxes_by_original(import_detection(yolo, tmp_path / "ds2"))


def test_stale_temp_folders_of_a_killed_import_are_removed(tmp_path, yolo):
    stale = tmp_path / "ds" / ".import-deadbeef-x"
    stale.mkdir(parents=True)
    os.utime(stale, (0, 0))
    import_detection(yolo, tmp_path / "ds")
    assert not stale.exists()


def test_box_stats_count_boxes_pictures_and_box_sizes(tmp_path, yolo, scenes):
    report = import_detection(yolo, tmp_path / "ds")
    stats = box_stats(report.manifest)
    assert stats == report.manifest["stats"]
    n_boxes = sum(len(s.boxes) for s in scenes)
    assert sum(c["boxes"] for c in stats["per_class"].values()) == n_boxes
    assert sum(stats["box_sizes"]["counts"]) == n_boxes
    assert len(stats["box_sizes"]["counts"]) == len(stats["box_sizes"]["bins"]) - 1
    for label, c in stats["per_class"].items():
        assert c["pictures"] == sum(any(b == label for b, _ in s.boxes) for s in scenes)
    assert "boxes" in report.summary() and "pictures" in report.summary()


# --- recognising the layout, the workspace and the command line ------------------------------------------


@pytest.mark.parametrize("writer", [write_yolo, write_coco, write_voc])
def test_each_format_is_recognised_as_detection_as_a_folder_and_as_a_zip(tmp_path, scenes, writer):
    src = writer(tmp_path / "src", scenes[:3])
    assert looks_like_detection(src)
    assert looks_like_detection(zip_folder(src, tmp_path / "src.zip"))


def test_yolo_without_data_yaml_is_recognised(tmp_path, scenes):
    assert looks_like_detection(write_yolo(tmp_path / "src", scenes[:3], yaml=False))


def test_class_folders_and_a_csv_are_not_detection(tmp_path, image_folder):
    assert not looks_like_detection(image_folder)
    assert not looks_like_detection(zip_folder(image_folder, tmp_path / "classes.zip"))
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label\nimages/red/0.png,red\n")
    assert not looks_like_detection(csv)
    (image_folder / "red" / "notes.json").write_text('{"a": 1}')
    assert not looks_like_detection(image_folder)


def test_the_workspace_imports_detection_labels(workspace, yolo, scenes):
    from engine.workspace import Workspace, import_into_workspace

    dataset_dir, manifest, report = import_into_workspace(yolo, task="object-detection")
    assert dataset_dir.parent == Workspace().datasets_dir and manifest["task"] == "object-detection"
    assert len(manifest["items"]) == len(scenes) and report.counts
    assert any(d["id"] == manifest["id"] for d in Workspace().list_datasets())


def test_the_command_line_recognises_the_task_from_the_layout(cli_env, yolo, scenes):
    result = engine_cli("import", str(yolo), "--json", env=cli_env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["n_images"] == len(scenes) and set(out["classes"]) <= set(CLASSES)
    manifest = json.loads((Path(out["dataset_dir"]) / "manifest.json").read_text())
    assert manifest["task"] == "object-detection"
