"""The annotation store: pictures added once, boxes saved at every change and read back by a new store, progress,
and the YOLO layout it hands to the detection importer."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from detgen import make_scenes

from engine.errors import UserError
from engine.tasks.object_detection.annotations import AnnotationStore


@pytest.fixture
def pictures(tmp_path) -> list[Path]:
    folder = tmp_path / "mine"
    folder.mkdir()
    out = []
    for i, scene in enumerate(make_scenes(4, seed=3)):
        path = folder / f"кот_{i}.png"  # the user's own (non-ASCII) names
        scene.image.save(path)
        out.append(path)
    return out


def test_boxes_drawn_are_saved_and_read_back_by_a_new_store(tmp_path, pictures):
    store = AnnotationStore(tmp_path / "ann")
    entry, new = store.add_picture(pictures[0])
    assert new and entry["name"] == "кот_0.png"
    store.add_class("кошка")
    store.set_boxes(entry["id"], [{"label": "кошка", "box": [10, 12, 60, 70]},
                                  {"label": "car", "box": [5, 5, 500, 90]}])  # a new label, a box past the edge

    again = AnnotationStore(tmp_path / "ann")
    boxes = again.picture(entry["id"])["boxes"]
    assert again.classes == ["кошка", "car"]
    assert boxes == [{"label": "кошка", "box": [10.0, 12.0, 60.0, 70.0]},
                     {"label": "car", "box": [5.0, 5.0, 160.0, 90.0]}]  # clipped to the 160 px wide picture
    assert again.path_of(entry["id"]).read_bytes() == pictures[0].read_bytes()


def test_a_box_without_area_is_dropped_and_deleting_all_boxes_unlabels(tmp_path, pictures):
    store = AnnotationStore(tmp_path / "ann")
    entry, _ = store.add_picture(pictures[0])
    store.set_boxes(entry["id"], [{"label": "a", "box": [10, 10, 10, 40]}])
    assert store.picture(entry["id"])["boxes"] == []
    store.set_boxes(entry["id"], [{"label": "a", "box": [10, 10, 30, 40]}])
    assert store.progress() == (1, 1)
    store.set_boxes(entry["id"], [])
    assert store.progress() == (0, 1)


def test_progress_counts_boxed_and_no_object_pictures(tmp_path, pictures):
    store = AnnotationStore(tmp_path / "ann")
    added, refused = store.add_pictures([(p, p.name) for p in pictures])
    assert (added, refused) == (4, [])
    ids = [p["id"] for p in store.pictures()]
    assert store.progress() == (0, 4)
    store.set_boxes(ids[0], [{"label": "a", "box": [1, 1, 20, 20]}])
    store.set_background(ids[1], True)
    assert AnnotationStore(tmp_path / "ann").progress() == (2, 4)


def test_the_same_picture_twice_is_kept_once(tmp_path, pictures):
    store = AnnotationStore(tmp_path / "ann")
    copy = tmp_path / "copy.png"
    copy.write_bytes(pictures[0].read_bytes())
    added, _ = store.add_pictures([(pictures[0], pictures[0].name), (copy, copy.name)])
    assert added == 1 and len(store.pictures()) == 1
    assert len(list((tmp_path / "ann" / "pictures").iterdir())) == 1


def test_a_broken_picture_is_refused_with_its_name(tmp_path, pictures):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    store = AnnotationStore(tmp_path / "ann")
    with pytest.raises(UserError, match="broken.jpg"):
        store.add_picture(broken)
    added, refused = store.add_pictures([(broken, "broken.jpg"), (pictures[1], pictures[1].name)])
    assert added == 1 and len(refused) == 1 and "broken.jpg" in refused[0]
    assert store.progress() == (0, 1)


def test_removing_a_picture_removes_its_file(tmp_path, pictures):
    store = AnnotationStore(tmp_path / "ann")
    entry, _ = store.add_picture(pictures[0])
    store.remove_picture(entry["id"])
    assert store.pictures() == [] and not (tmp_path / "ann" / entry["file"]).exists()


def test_to_source_writes_a_yolo_layout_of_the_labelled_pictures(tmp_path, pictures):
    store = AnnotationStore(tmp_path / "ann")
    store.add_pictures([(p, p.name) for p in pictures])
    ids = [p["id"] for p in store.pictures()]
    store.set_boxes(ids[0], [{"label": "disc", "box": [16, 32, 48, 96]}])
    store.set_boxes(ids[1], [{"label": "square", "box": [0, 0, 80, 64]}, {"label": "disc", "box": [90, 10, 150, 70]}])
    store.set_background(ids[2], True)  # ids[3] stays unlabelled: not part of the dataset

    src = store.to_source(tmp_path / "src")
    names = yaml.safe_load((src / "data.yaml").read_text(encoding="utf-8"))["names"]
    assert names == {0: "disc", 1: "square"}
    assert sorted(p.stem for p in (src / "images").iterdir()) == sorted(ids[:3])
    assert (src / "labels" / f"{ids[2]}.txt").read_text() == ""  # a background picture: an empty label file
    first = (src / "labels" / f"{ids[0]}.txt").read_text().split()
    assert first[0] == "0" and [float(v) for v in first[1:]] == pytest.approx([0.2, 0.5, 0.2, 0.5])
    assert len((src / "labels" / f"{ids[1]}.txt").read_text().splitlines()) == 2


def test_to_source_refuses_when_nothing_is_labelled(tmp_path, pictures):
    store = AnnotationStore(tmp_path / "ann")
    store.add_picture(pictures[0])
    with pytest.raises(UserError, match="labelled"):
        store.to_source(tmp_path / "src")


def test_the_yolo_layout_imports_as_the_same_boxes(tmp_path, pictures):
    from engine.tasks.object_detection.importer import import_detection

    store = AnnotationStore(tmp_path / "ann")
    store.add_pictures([(p, p.name) for p in pictures])
    for i, p in enumerate(store.pictures()):
        store.set_boxes(p["id"], [{"label": ("disc", "square")[i % 2], "box": [10 + i, 12, 60, 70 + i]}])
    src = store.to_source(tmp_path / "src")
    try:
        report = import_detection(src, tmp_path / "datasets")
    except UserError as e:
        if "not ready" in str(e):
            pytest.skip("the detection importer has not landed yet")
        raise
    by_sha = {p["sha256"]: p for p in store.pictures()}
    for item in report.manifest["items"]:
        drawn = by_sha[item["sha256"]]["boxes"]
        assert [b["label"] for b in item["boxes"]] == [b["label"] for b in drawn]
        for got, want in zip(item["boxes"], drawn, strict=True):
            assert got["box"] == pytest.approx(want["box"], abs=0.05)
