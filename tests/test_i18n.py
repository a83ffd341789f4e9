"""Sentences the engine writes (mode reasons, import problems, failures, data errors) in English and Russian."""

from __future__ import annotations

import json
import re

import pytest
from imagegen import make_image, make_image_folder

from engine.config import RunConfig
from engine.data import bins, import_dataset
from engine.data.importer import _MODE_NOTES, PROBLEM_CODES
from engine.train import FAILURE_CODES, MODE_REASONS, choose_mode, choose_mode_reason
from ui.i18n import engine_text, error_text, problem_text
from ui.i18n.strings import STRINGS

CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


def _codes() -> list[str]:
    return ([f"reason.{c}" for c in MODE_REASONS] + [f"failure.{c}" for c in FAILURE_CODES]
            + ["failure.interrupted"] + [f"pmsg.{c}" for c in PROBLEM_CODES]
            + [f"dataerr.{c}" for c in bins.ERRORS] + [f"refusal.{c}" for c in bins.REFUSALS]
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
    for code, text in bins.ERRORS.items():
        assert STRINGS[f"dataerr.{code}"][0] == text
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


def test_unknown_codes_and_odd_params_fall_back_to_the_english_sentence():
    assert engine_text("ru", "reason", "from_the_future", {}, "because") == "because"
    assert engine_text("ru", "reason", "few_images", {"wrong": 1}, "because") == "because"
    assert engine_text("ru", "reason", None, None, None) == ""
    assert engine_text("ru", "failure", "internal_error", {"error": "E", "log": "L"}, "x").startswith(
        "Обучение остановилось из-за внутренней ошибки (E)")


def test_a_failed_run_says_why_by_code(tmp_path, monkeypatch):
    import engine.train as train

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
    from ui.tabs.train import _status

    EventWriter(tmp_path).emit("start", model="m", mode="linear-probe", mode_reason="the smallest class has only 2",
                               mode_reason_code="few_images", mode_reason_params={"smallest": 2}, device="cpu")
    EventWriter(tmp_path).emit("failed", message="The computer ran out of memory.", code="out_of_memory", params={})
    start = {"model": "m", "mode": "linear-probe", "device": "cpu", "mode_reason": "the smallest class has only 2",
             "mode_reason_code": "few_images", "mode_reason_params": {"smallest": 2}}
    failed = RunSnapshot(tmp_path, status="failed", start=start, message="The computer ran out of memory.")
    ru = _status("ru", failed)
    assert "Компьютеру не хватило памяти" in ru and "картинок для обучения всего 2" in ru
    assert "The computer ran out of memory." in _status("en", failed)
    interrupted = RunSnapshot(tmp_path, status="interrupted", start=start, message="ended unexpectedly")
    assert "Процесс обучения неожиданно завершился" in _status("ru", interrupted)
    stopped = RunSnapshot(tmp_path / "other", status="cancelled", start=start, message="Training was stopped.")
    assert "Обучение остановлено" in _status("ru", stopped)  # the runner's own `cancelled` has no code
