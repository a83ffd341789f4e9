"""Class bins built in the app, and leaving flagged files out of a dataset: names, files, limits, rebuilds."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from imagegen import make_image, make_image_folder

from engine.data import bins, import_dataset
from engine.data.bins import CodedDataError
from engine.data.importer import PROBLEM_CODES, exclude_files, flagged_files
from engine.workspace import Workspace


def _pictures(folder: Path, n: int, color=(200, 30, 30), first_seed: int = 0) -> list[tuple[Path, str]]:
    return [(make_image(folder / f"p{i}.png", color=color, seed=first_seed + i), f"p{i}.png") for i in range(n)]


def _code(excinfo) -> str:
    return excinfo.value.code


def test_classes_are_added_renamed_and_removed_as_folders(tmp_path):
    root = tmp_path / "bins"
    assert bins.list_classes(root) == []
    assert bins.add_class(root, "  Кошки  ") == "Кошки"
    decomposed = unicodedata.normalize("NFD", "Café")
    assert bins.add_class(root, decomposed) == "Café"  # stored composed: one class, never two look-alikes
    assert bins.unused_name(root, "Class") == "Class 1"
    bins.add_class(root, bins.unused_name(root, "Class"))
    assert bins.unused_name(root, "Class") == "Class 2"
    assert [c for c, _ in bins.list_classes(root)] == ["Café", "Class 1", "Кошки"]

    bins.add_files(root, "Кошки", _pictures(tmp_path / "in", 2))
    assert bins.rename_class(root, "Кошки", "коты") == "коты"
    assert dict(bins.list_classes(root))["коты"] == 2  # pictures move with their class
    assert bins.rename_class(root, "коты", "Коты") == "Коты"  # a change of case alone works too
    bins.remove_class(root, "Class 1")
    assert sorted(p.name for p in root.iterdir()) == ["Café", "Коты"]


@pytest.mark.parametrize(("name", "code"), [
    ("", "empty_name"), ("   ", "empty_name"), (None, "empty_name"), ("a/b", "bad_name"), ("..", "bad_name"),
    ("x" * 65, "long_name"), ("CON", "bad_name"), ("nul.txt", "bad_name"), (".hidden", "bad_name"),
    ("bell\x07", "hidden_char"), ("a|b", "bad_name"),
])
def test_names_that_cannot_be_folders_are_refused_with_a_code(tmp_path, name, code):
    with pytest.raises(CodedDataError) as e:
        bins.add_class(tmp_path / "bins", name)
    assert _code(e) == code
    assert not (tmp_path / "bins").exists() or list((tmp_path / "bins").iterdir()) == []


def test_taken_names_and_forged_classes_are_refused(tmp_path):
    root = tmp_path / "bins"
    bins.add_class(root, "ripe")
    bins.add_class(root, "green")
    for action in (lambda: bins.add_class(root, "RIPE"), lambda: bins.rename_class(root, "green", "Ripe")):
        with pytest.raises(CodedDataError) as e:
            action()
        assert _code(e) == "taken"
    (tmp_path / "outside").mkdir()
    for forged in ("../outside", "missing", "", 42):
        with pytest.raises(CodedDataError) as e:
            bins.add_files(root, forged, _pictures(tmp_path / "in", 1))
        assert _code(e) == "no_class"
    assert list((tmp_path / "outside").iterdir()) == []


def test_pictures_get_safe_unique_names_and_other_files_are_refused_one_by_one(tmp_path):
    root = tmp_path / "bins"
    bins.add_class(root, "ripe")
    src = tmp_path / "in"
    png = make_image(src / "a.png", seed=1)
    jpeg_named_png = make_image(src / "b.png", seed=2, fmt="JPEG")
    pdf = src / "scan.jpg"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    empty = src / "empty.png"
    empty.write_bytes(b"")
    result = bins.add_files(root, "ripe", [
        (png, "photo.png"), (png, "photo.png"), (jpeg_named_png, "../../evil:name?.png"), (pdf, "scan.jpg"),
        (empty, "empty.png"), (src / "gone.png", "gone.png"),
    ])
    assert result.added == ["photo.png", "photo-2.png", "evil_name_.jpg"]  # the suffix follows the real format
    assert [(f, code) for f, code, _ in result.refused] == [
        ("scan.jpg", "not_image"), ("empty.png", "empty"), ("gone.png", "missing")]
    assert sorted(p.name for p in (root / "ripe").iterdir()) == ["evil_name_.jpg", "photo-2.png", "photo.png"]
    assert (root / "ripe" / "photo.png").read_bytes() == png.read_bytes()
    assert not list(tmp_path.glob("evil*"))
    assert "is not a picture" in result.refusal_text()[0]


def test_one_picture_is_removed_by_its_name_and_nothing_else(tmp_path):
    root = tmp_path / "bins"
    bins.add_class(root, "ripe")
    added = bins.add_files(root, "ripe", _pictures(tmp_path / "in", 2)).added
    (tmp_path / "keep.png").write_bytes(b"not in the class")
    for forged in ("../../keep.png", "missing.png", None):
        with pytest.raises(CodedDataError) as e:
            bins.remove_image(root, "ripe", forged)
        assert _code(e) == "no_picture"
    bins.remove_image(root, "ripe", added[0])
    assert [p.name for p in bins.list_images(root, "ripe")] == added[1:]
    assert (tmp_path / "keep.png").exists()


def test_too_many_files_at_once_are_refused_before_any_is_read(tmp_path, monkeypatch):
    root = tmp_path / "bins"
    bins.add_class(root, "ripe")
    never_read = [(tmp_path / f"nothing-{i}.png", f"{i}.png") for i in range(bins.MAX_FILES_PER_ADD + 1)]
    with pytest.raises(CodedDataError) as e:
        bins.add_files(root, "ripe", never_read)
    assert _code(e) == "too_many_files" and e.value.params["n"] == 1001
    with pytest.raises(CodedDataError) as e:
        bins.add_files(root, "ripe", [])
    assert _code(e) == "no_files"

    monkeypatch.setattr(bins, "MAX_FILES_PER_CLASS", 2)
    result = bins.add_files(root, "ripe", _pictures(tmp_path / "in", 3))
    assert len(result.added) == 2 and [c for _, c, _ in result.refused] == ["class_full"]


def test_bins_import_through_the_normal_importer(tmp_path):
    ws = Workspace(tmp_path / "ws")
    pid = ws.create_project("Ripe or not")
    root = ws.project_dir(pid) / "bins"
    assert root.is_relative_to(ws.root)
    bins.add_class(root, "ripe")
    bins.add_class(root, "зелёные")
    bins.add_files(root, "ripe", _pictures(tmp_path / "a", 7, (220, 30, 30)))
    bins.add_files(root, "зелёные", _pictures(tmp_path / "b", 7, (30, 200, 40), first_seed=100))
    report = import_dataset(root, ws.datasets_dir, name="Ripe or not")
    assert report.manifest["name"] == "Ripe or not"
    assert report.manifest["classes"] == ["ripe", "зелёные"]
    assert {c: sum(v.values()) for c, v in report.counts.items()} == {"ripe": 7, "зелёные": 7}
    assert all(sum(report.counts[c][s] for c in report.counts) > 0 for s in ("train", "val", "test"))
    assert import_dataset(root, ws.datasets_dir).reused  # same pictures, same split: the same dataset
    with pytest.raises(Exception, match="no project"):
        ws.project_dir("../../etc")


def _flagged_dataset(tmp_path) -> Path:
    src = make_image_folder(tmp_path / "src", per_class=6)
    make_image(src / "red" / "tiny.png", size=(8, 8), color=(250, 0, 0))
    (src / "red" / "copy.png").write_bytes((src / "red" / "red_000.png").read_bytes())
    make_image(src / "green" / "grey.png", mode="L", color=90)
    return import_dataset(src, tmp_path / "datasets").dataset_dir


def test_problems_carry_a_code_and_params_a_ui_can_translate(tmp_path):
    dataset = _flagged_dataset(tmp_path)
    problems = json.loads((dataset / "problems.json").read_text())
    by_file = {p["file"]: p for p in problems}
    assert by_file["red/tiny.png"]["code"] == "tiny_image"
    assert by_file["red/tiny.png"]["params"] == {"width": 8, "height": 8, "min": 16}
    (duplicate,) = [p for p in problems if p["kind"] == "duplicate"]
    assert duplicate["code"] == "duplicate"
    assert {duplicate["file"], duplicate["params"]["kept"]} == {"red/copy.png", "red/red_000.png"}
    assert by_file["green/grey.png"]["params"] == {"mode": "L"}
    assert {p["code"] for p in problems} <= set(PROBLEM_CODES)


def test_leaving_flagged_files_out_makes_a_new_dataset_and_keeps_the_old_one(tmp_path):
    old = _flagged_dataset(tmp_path)
    before = {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()}
    old_manifest = json.loads((old / "manifest.json").read_text())
    flagged = {f["file"]: [p["kind"] for p in f["problems"]] for f in flagged_files(old)}
    assert flagged["red/tiny.png"] == ["tiny_image"]
    assert "green/grey.png" not in flagged  # only information (converted to RGB), no warning
    kept_copy = next(f for f, kinds in flagged.items() if "duplicate" in kinds)  # the copy in the dataset
    assert kept_copy in {it["original"] for it in old_manifest["items"]}

    report = exclude_files(old, ["red/tiny.png", kept_copy, "not/in/it.png"])
    new = report.manifest
    assert report.dataset_dir != old and not report.reused
    assert new["id"] != old_manifest["id"] and new["fingerprint"] != old_manifest["fingerprint"]
    assert new["derived_from"] == old_manifest["id"]
    assert new["excluded"] == sorted(["red/tiny.png", kept_copy])
    originals = {it["original"]: it for it in new["items"]}
    assert "red/tiny.png" not in originals and kept_copy not in originals
    assert len(new["items"]) == len(old_manifest["items"]) - 2
    old_split = {it["original"]: it["split"] for it in old_manifest["items"]}
    assert all(old_split[o] == it["split"] for o, it in originals.items())  # splits unchanged
    assert all((report.dataset_dir / it["file"]).is_file() for it in new["items"])
    excluded = [p for p in report.problems if p["kind"] == "excluded"]
    assert sorted(p["file"] for p in excluded) == sorted(["red/tiny.png", kept_copy])
    assert all(p["file"] not in ("red/tiny.png",) or p["kind"] == "excluded" for p in report.problems)
    after = {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()}
    assert after == before  # finished runs on the old dataset stay valid

    again = exclude_files(old, [kept_copy, "red/tiny.png"])
    assert again.reused and again.dataset_dir == report.dataset_dir


def test_leaving_out_too_much_or_nothing_is_refused(tmp_path):
    src = make_image_folder(tmp_path / "src", per_class=3)
    old = import_dataset(src, tmp_path / "datasets").dataset_dir
    manifest = json.loads((old / "manifest.json").read_text())
    reds = [it["original"] for it in manifest["items"] if it["label"] == "red"]
    with pytest.raises(CodedDataError) as e:
        exclude_files(old, reds[:2])
    assert _code(e) == "exclude_empties_class" and e.value.params["label"] == "red"
    with pytest.raises(CodedDataError) as e:
        exclude_files(old, ["nope.png"])
    assert _code(e) == "exclude_none"
    assert sorted(p.name for p in (tmp_path / "datasets").iterdir()) == [old.name]
