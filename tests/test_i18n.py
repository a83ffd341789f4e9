"""Sentences the engine writes (mode reasons, import problems, failures, data errors) in English and Russian."""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
from pathlib import Path

import pytest
from imagegen import make_image, make_image_folder

from engine import open_model
from engine.config import RunConfig
from engine.data import ZipLimits, archive, bins, import_dataset, importer, split
from engine.data.checks import _MODE_NOTES
from engine.data.importer import PROBLEM_CODES
from engine.train import FAILURE_CODES, MODE_REASONS, choose_mode, choose_mode_reason
from ui.i18n import engine_text, error_text, problem_text
from ui.i18n.strings import STRINGS

CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
# Every table of CodedDataError sentences; the UI says each code as `dataerr.<code>`.
ERROR_TABLES = (bins.ERRORS, importer.ERRORS, archive.ERRORS, split.ERRORS, open_model.ERRORS)


def _codes() -> list[str]:
    return ([f"reason.{c}" for c in MODE_REASONS] + [f"failure.{c}" for c in FAILURE_CODES]
            + ["failure.interrupted"] + [f"pmsg.{c}" for c in PROBLEM_CODES]
            + [f"dataerr.{c}" for table in ERROR_TABLES for c in table] + [f"refusal.{c}" for c in bins.REFUSALS]
            + [f"colour.{m}" for m in [*_MODE_NOTES, "PA"]])


def test_every_code_the_engine_can_emit_has_english_and_russian():
    missing = [k for k in _codes() if k not in STRINGS]
    assert missing == []
    for key in _codes():
        en, ru = STRINGS[key]
        assert en.strip() and CYRILLIC.search(ru), key


def test_every_bins_and_exclusion_string_the_ui_asks_for_exists():
    from pathlib import Path

    text = "\n".join(p.read_text(encoding="utf-8") for p in (Path(__file__).parents[1] / "ui").rglob("*.py"))
    used = set(re.findall(r"[\"']((?:bins|exclude|cv|failure)\.[a-z_]+)[\"']", text))
    assert {"bins.add", "exclude.button", "failure.interrupted"} <= used
    assert sorted(used - set(STRINGS)) == []


def test_english_templates_are_the_engines_own_sentences():
    # The UI shows the engine's sentence in English; the copy here must not drift from it.
    for code, text in MODE_REASONS.items():
        assert STRINGS[f"reason.{code}"][0] == text
    for table in ERROR_TABLES:
        for code, text in table.items():
            assert STRINGS[f"dataerr.{code}"][0] == text
    codes = [c for table in ERROR_TABLES for c in table]
    assert len(codes) == len(set(codes))  # one namespace: a code must not mean two sentences
    for mode, note in _MODE_NOTES.items():
        assert STRINGS[f"colour.{mode}"][0] == note


@pytest.mark.parametrize(("mode", "counts", "device", "pretrained", "code"), [
    ("auto", {"a": 3, "b": 9}, "cpu", True, "few_images"),
    ("auto", {"a": 30, "b": 30}, "cuda", True, "gpu"),
    ("auto", {"a": 30, "b": 30}, "cpu", True, "cpu_ok"),
    ("auto", {"a": 3000, "b": 3000}, "cpu", True, "cpu_slow"),
    ("auto", {"a": 30, "b": 30}, "cpu", False, "no_pretrained"),
    ("fine-tune", {"a": 30, "b": 30}, "cpu", True, "settings"),
])
def test_every_mode_reason_reads_in_russian_with_its_numbers(mode, counts, device, pretrained, code):
    cfg = RunConfig(data="unused", model="mobilenetv2_100", mode=mode)
    chosen, got, params = choose_mode_reason(cfg, counts, device, pretrained, 3.5)
    assert got == code
    english = choose_mode(cfg, counts, device, pretrained, 3.5)
    assert english == (chosen, MODE_REASONS[code].format(**params))
    assert engine_text("en", "reason", got, params, english[1]) == english[1]
    ru = engine_text("ru", "reason", got, params, english[1])
    assert CYRILLIC.search(ru) and "{" not in ru
    for value in params.values():
        assert str(value) in ru


def test_every_problem_of_a_real_import_reads_in_russian(tmp_path):
    src = make_image_folder(tmp_path / "src", per_class=4)
    make_image(src / "red" / "tiny.png", size=(8, 8), color=(250, 0, 0))
    (src / "red" / "copy.png").write_bytes((src / "red" / "red_000.png").read_bytes())
    (src / "green" / "also_red.png").write_bytes((src / "red" / "red_001.png").read_bytes())
    make_image(src / "green" / "grey.png", mode="L", color=90)
    make_image(src / "blue" / "faded.png", mode="RGBA", color=(0, 0, 200, 100))
    (src / "blue" / "notes.jpg").write_bytes(b"%PDF-1.4 not a picture")
    (src / "blue" / "empty.png").write_bytes(b"")
    make_image(src / "lonely" / "one.png", color=(9, 9, 9))
    make_image(src / "loose.png")
    report = import_dataset(src, tmp_path / "datasets")
    problems = json.loads((report.dataset_dir / "problems.json").read_text())
    codes = {p["code"] for p in problems}
    assert {"tiny_image", "duplicate", "conflict", "converted", "unreadable.not_image", "unreadable.empty",
            "small_class", "ignored.loose"} <= codes
    for p in problems:
        ru = problem_text("ru", p)
        assert CYRILLIC.search(ru) and "{" not in ru, (p, ru)
        assert problem_text("en", p) == p["message"]
    conflict = next(p for p in problems if p["code"] == "conflict")
    assert "'green', 'red'" in problem_text("ru", conflict)


def test_data_errors_and_refusals_read_in_russian(tmp_path):
    with pytest.raises(bins.CodedDataError) as e:
        bins.add_class(tmp_path, "a/b")
    assert error_text("ru", e.value) == "Название «a/b» не годится для имени папки; уберите \\ / : * ? \" < > | и " \
                                        "точки по краям."
    assert error_text("en", e.value) == str(e.value)
    plain = ValueError("The zip is empty.")
    assert error_text("ru", plain) == "The zip is empty."  # no code: the English sentence, never nothing


def _zip(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def _csv(tmp: Path, text: str | bytes, images: tuple[str, ...] = ()) -> Path:
    for name in images:
        make_image(tmp / name, seed=len(name))
    path = tmp / "labels.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _classes(tmp: Path, sizes: dict[str, int], prefix: str = "") -> Path:
    for c, (label, n) in enumerate(sizes.items()):
        for i in range(n):
            make_image(tmp / "src" / prefix / label / f"{i}.png", seed=100 * c + i)
    return tmp / "src"


def _damaged_zip(tmp: Path) -> Path:
    path = _zip(tmp / "damaged.zip", {"a/1.png": bytes(range(256)) * 64})
    data = bytearray(path.read_bytes())
    start = 30 + len("a/1.png") + 8  # inside the first member's compressed bytes
    data[start:start + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    return path


# (what the person gave, keyword arguments, the code it must be refused with)
IMPORT_ERRORS = {
    "missing": (lambda tmp: tmp / "nowhere", {}, "import_missing"),
    "pdf": (lambda tmp: _csv(tmp, "x").rename(tmp / "scan.pdf"), {}, "import_kind"),
    "no suffix": (lambda tmp: _csv(tmp, "x").rename(tmp / "README"), {}, "import_no_suffix"),
    "empty zip": (lambda tmp: _zip(tmp / "empty.zip", {}), {}, "import_zip_empty"),
    "not a zip": (lambda tmp: _csv(tmp, "not a zip").rename(tmp / "photos.zip"), {}, "zip_unreadable"),
    "zip slip": (lambda tmp: _zip(tmp / "slip.zip", {"../evil.png": b"x"}), {}, "zip_outside"),
    "zip symlink": (lambda tmp: _zip(tmp / "link.zip", {"a/1.png": b"x"}, symlink="a/2.png"), {}, "zip_symlink"),
    "zip entries": (lambda tmp: _zip(tmp / "many.zip", {"a/1.png": b"x", "a/2.png": b"y"}),
                    {"zip_limits": ZipLimits(max_members=1)}, "zip_too_many"),
    "zip size": (lambda tmp: _zip(tmp / "big.zip", {"a/1.png": b"x" * 5000}),
                 {"zip_limits": ZipLimits(max_total_bytes=1000)}, "zip_too_big"),
    "zip bomb": (lambda tmp: _zip(tmp / "bomb.zip", {"a/1.png": b"\0" * 100_000}),
                 {"zip_limits": ZipLimits(ratio_min_bytes=1000)}, "zip_bomb"),
    "zip damaged": (_damaged_zip, {}, "zip_damaged"),
    "csv not utf-8": (lambda tmp: _csv(tmp, "chat.png,кот".encode("cp1251")), {}, "csv_not_utf8"),
    "csv bad row": (lambda tmp: _csv(tmp, "a.png," + "x" * 200_000), {}, "csv_bad_row"),
    "csv empty": (lambda tmp: _csv(tmp, "\n"), {}, "csv_no_rows"),
    "csv header": (lambda tmp: _csv(tmp, "path,colour\na.png,red"), {}, "csv_bad_header"),
    "csv header only": (lambda tmp: _csv(tmp, "path,label\n"), {}, "csv_header_only"),
    "csv one column": (lambda tmp: _csv(tmp, "a.png\n"), {}, "csv_few_columns"),
    "csv empty label": (lambda tmp: _csv(tmp, "a.png,\n"), {}, "csv_empty_cell"),
    "csv split": (lambda tmp: _csv(tmp, "a.png,cat,holdout\n"), {}, "csv_bad_split"),
    "csv no files": (lambda tmp: _csv(tmp, "a.png,cat\nb.png,dog\n"), {}, "csv_no_files"),
    "csv mixed split": (lambda tmp: _csv(tmp, "a.png,cat,train\nb.png,dog\n", ("a.png", "b.png")), {},
                        "csv_mixed_split"),
    "no images": (lambda tmp: (tmp / "src" / "cats").mkdir(parents=True) or tmp / "src", {}, "import_no_images"),
    "unreadable": (lambda tmp: _csv(tmp / "src" / "cats", "x").parent.parent, {}, "import_unreadable"),
    "no class": (lambda tmp: _classes(tmp, {"a": 1, "b": 1}), {}, "import_no_class"),
    "no class in train": (lambda tmp: _classes(tmp, {"a": 1, "b": 1}, "train") and _classes(tmp, {"c": 2}, "val"),
                          {}, "import_no_class_train"),
    "one class": (lambda tmp: _classes(tmp, {"a": 3, "b": 1}), {}, "import_one_class"),
    "single class": (lambda tmp: _classes(tmp, {"a": 3}), {}, "import_single_class"),
    "fractions": (lambda tmp: _classes(tmp, {"a": 3, "b": 3}), {"val_fraction": 0.6, "test_fraction": 0.5},
                  "bad_fractions"),
}


@pytest.mark.parametrize("case", IMPORT_ERRORS)
def test_every_import_refusal_has_a_code_and_reads_in_russian(tmp_path, case):
    make_source, kwargs, code = IMPORT_ERRORS[case]
    (tmp_path / "in").mkdir()
    source = make_source(tmp_path / "in")
    with pytest.raises(bins.CodedDataError) as e:
        import_dataset(source, tmp_path / "datasets", **kwargs)
    assert e.value.code == code
    english = str(e.value)
    assert error_text("en", e.value) == english
    ru = error_text("ru", e.value)
    assert ru != english and CYRILLIC.search(ru) and "{" not in ru, ru
    for name, value in e.value.params.items():
        if isinstance(value, str | int) and name != "error":
            assert str(value) in ru, (name, value, ru)
    assert not (tmp_path / "datasets").exists() or not any((tmp_path / "datasets").glob("[!.]*"))


def test_unknown_codes_and_odd_params_fall_back_to_the_english_sentence():
    assert engine_text("ru", "reason", "from_the_future", {}, "because") == "because"
    assert engine_text("ru", "reason", "few_images", {"wrong": 1}, "because") == "because"
    assert engine_text("ru", "reason", None, None, None) == ""
    assert engine_text("ru", "failure", "internal_error", {"error": "E", "log": "L"}, "x").startswith(
        "Обучение остановилось из-за внутренней ошибки (E)")


def test_a_failed_run_says_why_by_code(tmp_path, monkeypatch):
    import engine.training.orchestration as train

    def out_of_memory(*_args):
        raise MemoryError

    monkeypatch.setattr(train, "_train", out_of_memory)
    (tmp_path / "run").mkdir()
    assert train.run(tmp_path / "run") == 1
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    failed = events[-1]
    assert failed["type"] == "failed" and failed["code"] == "out_of_memory"
    assert engine_text("en", "failure", failed["code"], failed["params"], failed["message"]) == failed["message"]
    assert engine_text("ru", "failure", failed["code"], failed["params"], failed["message"]).startswith(
        "Компьютеру не хватило памяти")


def test_the_train_tab_says_why_a_run_ended_in_russian(tmp_path):
    from engine.events import EventWriter
    from engine.runner import RunSnapshot
    from ui.tabs.train_view import status_text as _status

    EventWriter(tmp_path).emit("start", model="m", mode="linear-probe", mode_reason="the smallest class has only 2",
                               mode_reason_code="few_images", mode_reason_params={"smallest": 2}, device="cpu")
    EventWriter(tmp_path).emit("failed", message="The computer ran out of memory.", code="out_of_memory", params={})
    start = {"model": "m", "mode": "linear-probe", "device": "cpu", "mode_reason": "the smallest class has only 2",
             "mode_reason_code": "few_images", "mode_reason_params": {"smallest": 2}}
    failed = RunSnapshot(tmp_path, status="failed", start=start, message="The computer ran out of memory.",
                         code="out_of_memory", params={})  # as the runner folds them from the last event
    ru = _status("ru", failed)
    assert "Компьютеру не хватило памяти" in ru and "картинок для обучения всего 2" in ru
    assert "The computer ran out of memory." in _status("en", failed)
    interrupted = RunSnapshot(tmp_path, status="interrupted", start=start, message="ended unexpectedly")
    assert "Процесс обучения неожиданно завершился" in _status("ru", interrupted)
    stopped = RunSnapshot(tmp_path / "other", status="cancelled", start=start, message="Training was stopped.")
    assert "Обучение остановлено" in _status("ru", stopped)  # the runner's own `cancelled` has no code


def test_a_running_run_says_its_last_finished_epoch_in_the_apps_language(tmp_path):
    from engine.events import EventWriter
    from engine.runner import LocalRunner
    from engine.workspace import Workspace
    from ui.tabs.train_view import status_text

    run = tmp_path / "run"
    w = EventWriter(run)
    w.emit("start", model="m", mode="fine-tune", device="cpu", mode_reason="chosen in the settings",
           mode_reason_code="settings", mode_reason_params={})
    w.emit("log", level="info", message="Head initialised by a linear probe (C=0.1); now fine-tuning.")
    w.emit("epoch_end", epoch=2, epochs=5, elapsed_s=3.0)
    (run / ".pid").write_text(f"{os.getpid()}\n")  # this test's process stands in for the trainer
    snap = LocalRunner(Workspace(tmp_path / "ws")).snapshot(run)
    assert snap.status == "running" and snap.epoch_end["epoch"] == 2
    assert "Эпоха 2 из 5 завершена." in status_text("ru", snap)
    assert "Epoch 2 of 5 done." in status_text("en", snap) and "now fine-tuning" in status_text("en", snap)
