"""Importing labelled texts: CSV/TSV in any of the usual encodings, class folders of .txt files, zips, every bad
input named in one sentence while the rest is imported, and the checks of duplicates, lengths and languages."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import textgen

from engine.errors import DataError
from engine.tasks import recognise_task
from engine.tasks.text_classification.checks import MAX_CHARS
from engine.tasks.text_classification.importer import import_text


def kinds(report) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in report.problems:
        out.setdefault(p["kind"], []).append(p)
    return out


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
def test_a_russian_csv_reads_the_same_in_utf8_with_or_without_bom_and_in_cp1251(tmp_path, encoding):
    rows = textgen.texts("ru", 6)
    report = import_text(textgen.write_csv(tmp_path / "ru.csv", rows, encoding=encoding), tmp_path / "ds")
    assert sorted(it["text"] for it in report.manifest["items"]) == sorted(t for t, _ in rows)
    assert report.manifest["classes"] == sorted(textgen.TOPICS["ru"])
    assert report.manifest["languages"]["ru"] == len(rows)


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_the_delimiter_is_sniffed(tmp_path, delimiter):
    rows = textgen.texts("en", 5)
    name = "t.tsv" if delimiter == "\t" else "t.csv"
    report = import_text(textgen.write_csv(tmp_path / name, rows, delimiter=delimiter), tmp_path / "ds")
    assert len(report.manifest["items"]) == len(rows)


def test_a_folder_of_class_folders_and_a_zip_of_it_import_alike(tmp_path):
    rows = textgen.texts("en", 6)
    folder = textgen.write_folder(tmp_path / "topics", rows)
    zpath = tmp_path / "topics.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for f in folder.rglob("*.txt"):
            z.write(f, f"topics/{f.relative_to(folder).as_posix()}")
    a = import_text(folder, tmp_path / "ds")
    b = import_text(zpath, tmp_path / "ds")
    assert a.manifest["fingerprint"] == b.manifest["fingerprint"]
    assert {it["label"] for it in a.manifest["items"]} == set(textgen.TOPICS["en"])


def test_a_binary_txt_and_an_undecodable_txt_are_skipped_with_a_sentence_and_the_rest_imported(tmp_path):
    folder = textgen.write_folder(tmp_path / "topics", textgen.texts("en", 5))
    (folder / "payment" / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    (folder / "account" / "weird.txt").write_bytes(b"\xff\xfe\x98\x98 \x98\x81\x98")
    report = import_text(folder, tmp_path / "ds")
    skipped = {p["file"]: p["message"] for p in kinds(report)["unreadable"]}
    assert "binary" in skipped["payment/photo.txt"]
    assert "encoding" in skipped["account/weird.txt"]
    assert len(report.manifest["items"]) == 15


def test_an_empty_csv_and_a_csv_without_a_label_column_are_refused_in_one_sentence(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        import_text(tmp_path / "empty.csv", tmp_path / "ds")
    nolabel = textgen.write_csv(tmp_path / "nolabel.csv", [("hello", "x")], header=("text", "kind_of"))
    with pytest.raises(DataError, match="no label column"):
        import_text(nolabel, tmp_path / "ds")


def test_a_ragged_row_is_named_by_its_line_and_the_other_rows_are_imported(tmp_path):
    rows = textgen.texts("en", 5)
    path = textgen.write_csv(tmp_path / "t.csv", rows)
    with open(path, "a", encoding="utf-8") as f:
        f.write("broken, row, with, commas,payment\n")
    report = import_text(path, tmp_path / "ds")
    ragged = kinds(report)["ragged_row"]
    assert len(ragged) == 1 and ragged[0]["params"]["line"] == len(rows) + 2
    assert "line 17" in ragged[0]["message"]
    assert len(report.manifest["items"]) == len(rows)


def test_empty_duplicate_conflicting_long_and_few_texts_are_reported(tmp_path):
    rows = textgen.texts("en", 6)
    long_text = "courier parcel " * 300
    rows += [("   ", "payment"), (rows[0][0], rows[0][1]), (rows[1][0], "payment"), (long_text, "delivery"),
             (rows[7][0].replace(".", "!").replace("?", "!"), "delivery"), ("lonely text", "misc")]
    report = import_text(textgen.write_csv(tmp_path / "t.csv", rows), tmp_path / "ds")
    found = kinds(report)
    assert {"empty_text", "duplicate", "conflict", "long_text", "small_class"} <= set(found)
    assert len(found["conflict"]) == 2  # both copies of the text labelled twice are left out
    texts = {it["text"] for it in report.manifest["items"]}
    assert rows[1][0] not in texts and "lonely text" not in texts
    assert max(len(t) for t in texts) == MAX_CHARS
    assert "misc" not in report.manifest["classes"]
    assert any("check the labels" in p["message"] for p in found.get("near_conflict", []))


def test_mixed_languages_are_reported(tmp_path):
    rows = textgen.texts("en", 5) + textgen.texts("ru", 5)
    report = import_text(textgen.write_csv(tmp_path / "t.csv", rows), tmp_path / "ds")
    (mixed,) = kinds(report)["mixed_languages"]
    assert mixed["params"]["languages"]["ru"] == 15 and mixed["params"]["languages"]["en"] == 15


def test_the_split_is_stratified_and_the_same_for_the_same_seed(tmp_path):
    rows = textgen.texts("en", 20)
    path = textgen.write_csv(tmp_path / "t.csv", rows)
    a = import_text(path, tmp_path / "a", seed=1)
    b = import_text(path, tmp_path / "b", seed=1)
    c = import_text(path, tmp_path / "c", seed=2)
    split = lambda r: {it["text"]: it["split"] for it in r.manifest["items"]}  # noqa: E731
    assert split(a) == split(b) and split(a) != split(c)
    for label in textgen.TOPICS["en"]:
        assert {s: n for s, n in a.counts[label].items()} == {"train": 14, "val": 3, "test": 3}


def test_the_layout_says_the_task_and_an_image_csv_stays_image_classification(tmp_path):
    rows = textgen.texts("en", 3)
    assert recognise_task(str(textgen.write_csv(tmp_path / "t.csv", rows))) == "text-classification"
    assert recognise_task(str(textgen.write_folder(tmp_path / "folder", rows))) == "text-classification"
    images = textgen.write_csv(tmp_path / "img.csv", [("cats/1.jpg", "cats")], header=("path", "label"))
    assert recognise_task(str(images)) is None


def test_the_importer_does_not_import_torch(tmp_path):
    path = textgen.write_csv(tmp_path / "t.csv", textgen.texts("en", 4))
    code = ("import sys; from engine.tasks.text_classification.importer import import_text; "
            f"import_text({str(path)!r}, {str(tmp_path / 'ds')!r}); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"
