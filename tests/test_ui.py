"""The UI without a browser: every string in both languages, fast start, private handlers, the sample data."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import UserError
from ui.i18n import LANGUAGES, preset_line, system_language, t
from ui.i18n.strings import PRESET_LINES_RU, STRINGS

ROOT = Path(__file__).resolve().parents[1]
UI_FILES = sorted((ROOT / "ui").rglob("*.py"))


def _keys_used_in_code() -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in UI_FILES if p.name != "strings.py")
    return set(re.findall(r'"((?:app|common|data|eval|export|projects|runs|settings|split|status|tab|test|time|train|'
                          r'why|mode|mode_short|preset|phase|problem)\.[a-z0-9_-]+)"', text))


def test_every_string_the_code_asks_for_exists_in_english_and_russian():
    missing = sorted(k for k in _keys_used_in_code() if k not in STRINGS)
    assert not missing, f"strings missing from ui/i18n/strings.py: {missing}"
    for key, (en, ru) in STRINGS.items():
        assert ru.strip(), f"{key} has no Russian"
        assert en.strip() or key.startswith("model."), f"{key} has no English"
        assert re.findall(r"{(\w+)}", en) == re.findall(r"{(\w+)}", ru) or not en, f"{key}: fields differ"


def test_strings_built_from_names_exist_for_every_name():
    from engine.data.importer import KIND_TITLES
    from ui.app import TAB_IDS
    from ui.tabs.train_form import MODES, PRESET_NAMES, cv_options

    names = ([f"tab.{i}" for i in TAB_IDS] + [f"mode.{m}" for m in MODES] + [f"mode_short.{m}" for m in MODES]
             + [f"train.cv_{c}" for c in cv_options()[0]]
             + [f"why.{m}" for m in MODES] + [f"preset.{p}" for p in PRESET_NAMES]
             + [f"problem.{k}" for k in KIND_TITLES]
             + [f"status.{s}" for s in ("created", "starting", "running", "done", "failed", "cancelled",
                                        "interrupted", "missing")])
    assert [n for n in names if n not in STRINGS] == []


def test_every_augmentation_step_has_a_russian_description():
    from engine.augment import PRESETS, describe

    lines = {line for preset in PRESETS for flip in (True, False) for line in describe(preset, hflip=flip)}
    assert sorted(lines - set(PRESET_LINES_RU)) == []
    assert preset_line("en", "Turn the picture grey one time in ten") == "Turn the picture grey one time in ten"


def test_t_fills_fields_and_falls_back_to_english():
    assert t("ru", "data.imported", n=5, k=2) == "Импортировано 5 картинок в 2 классах."
    assert t("xx", "tab.data") == STRINGS["tab.data"][0]


@pytest.mark.parametrize(("lang_env", "expected"), [("ru_RU.UTF-8", "ru"), ("de_DE.UTF-8", "en"), ("en_GB", "en")])
def test_the_first_language_follows_the_computer(monkeypatch, lang_env, expected):
    for var in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", lang_env)
    assert system_language() == expected
    assert set(LANGUAGES) == {"en", "ru"}


def test_settings_remember_the_language_and_the_project(tmp_path):
    from ui.state import Settings

    first = Settings(tmp_path)
    first.set(language="ru", last_project="p-1")
    again = Settings(tmp_path)
    assert again.language() == "ru" and again.get("last_project") == "p-1"


def test_building_the_page_imports_no_heavy_library_and_keeps_every_handler_private(tmp_path):
    code = (
        "import sys\n"
        "from engine.workspace import Workspace\n"
        "from engine.runner import LocalRunner\n"
        "from ui.app import build\n"
        f"ws = Workspace({str(tmp_path / 'ws')!r})\n"
        "demo = build(ws, LocalRunner(ws))\n"
        "heavy = [m for m in ('torch', 'timm', 'albumentations', 'ultralytics', 'cv2', 'sklearn') if m in sys.modules]\n"
        "public = [f.name for f in demo.fns.values() if f.api_visibility != 'private']\n"
        "print(heavy, public, len(demo.fns))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("[] [] "), out.stdout  # no heavy imports, no public endpoints
    assert int(out.stdout.split()[-1]) > 30


def test_the_sample_is_100_faces_and_100_other_pictures_written_once(tmp_path):
    from PIL import Image

    from ui.sample import write_sample

    folder = write_sample(tmp_path)
    faces = sorted((folder / "face").glob("*.png"))
    others = sorted((folder / "not_face").glob("*.png"))
    assert len(faces) == len(others) == 100
    with Image.open(faces[0]) as img:
        assert img.mode == "RGB" and img.size == (96, 96)
    stamp = faces[0].stat().st_mtime_ns
    assert write_sample(tmp_path) == folder and faces[0].stat().st_mtime_ns == stamp


def test_export_tab_sums_up_the_report_and_says_failures_in_one_sentence(monkeypatch):
    import sys as _sys

    from engine.runner import export_command
    from ui.tabs import export

    assert export_command("RUN", quantize="int8") == [_sys.executable, "-m", "engine", "export", "RUN", "--json",
                                                      "--quantize", "int8"]
    assert export_command("RUN")[-2:] == ["RUN", "--json"]
    report = {"files": {"model.onnx": 9_000_000, "model.int8.onnx": 2_500_000, "predict.py": 4000},
              "parity": {"onnx": {"n": 30, "top1_agreement": 1.0, "max_abs_diff": 2.4e-6}},
              "int8": {"accuracy_fp32": 0.9, "accuracy_int8": 0.8667, "accuracy_change_points": -3.33}}
    for lang in ("en", "ru"):
        text = export._summary(lang, report, 12_300_000)
        assert "12.3" in text and "`model.onnx`" in text and "`predict.py`" in text
        assert "30" in text and "100 %" in text and "2.4e-06" in text
        assert "-3.3" in text and "86.7" in text and "2.5" in text
    assert "model.int8" not in export._summary("en", {"files": {"model.onnx": 1}, "parity": {}}, 1)
    assert export._parse_json('some library chatter\n{\n  "zip": "x.zip"\n}\n') == {"zip": "x.zip"}
    assert export._parse_json('{\n  "zip": "x.zip"\n}') == {"zip": "x.zip"}
    err = "Exporting ONNX ...\nerror: The run has not finished training yet.\n"
    assert export._failure("en", 2, err) == "Export failed: The run has not finished training yet."
    crash = export._failure("en", 1, "Traceback (most recent call last):\n  ...\nRuntimeError: boom\n")
    assert "exit code 1" in crash and "Traceback" not in crash and "boom" not in crash


def test_paths_under_the_home_folder_are_shown_with_a_tilde(monkeypatch, tmp_path):
    from ui.state import shown_path

    monkeypatch.setenv("HOME", str(tmp_path))
    assert shown_path(tmp_path / "Konstruktor") == str(Path("~") / "Konstruktor")
    assert shown_path(tmp_path) == str(tmp_path)
    assert shown_path("/srv/data") == "/srv/data"


def test_settings_shows_the_last_lines_of_the_apps_log(tmp_path):
    from ui.tabs.settings import log_tail

    assert log_tail(tmp_path, "ru") == "Журнал пока пуст."
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "ui.log").write_text("".join(f"line {i}\n" for i in range(500)), encoding="utf-8")
    shown = log_tail(tmp_path, "en", lines=3).splitlines()
    assert shown == ["line 497", "line 498", "line 499"]


def test_epoch_charts_count_whole_epochs_show_each_value_and_mark_the_best():
    import json

    from ui.tabs.train_view import best_epoch, epoch_chart

    val = {1: {"loss": 0.9, "macro_f1": 0.5}, 2: {"loss": 0.4, "macro_f1": 0.8}, 3: {"loss": 0.5, "macro_f1": 0.8}}
    assert best_epoch(val) == 2  # a tie on macro-F1 goes to the lower loss, as training decides
    rows = [{"epoch": 1, "value": 0.61, "series": "валидация"}]
    spec = json.loads(epoch_chart("ru", rows, "train.accuracy", 1, y_domain=[0, 1]).plot)
    line, rule, label = spec["layer"]
    assert line["mark"]["type"] == "line" and line["mark"]["point"]  # one epoch is a dot, not an empty line
    x = line["encoding"]["x"]
    assert x["axis"] == {"format": "d", "tickMinStep": 1} and x["scale"]["domain"] == [0.5, 1.5]
    assert x["title"] == "эпоха" and line["encoding"]["y"]["title"] == "точность"
    assert rule["mark"]["type"] == "rule" and label["data"]["values"] == [{"epoch": 1, "label": "лучшая: эпоха 1"}]


def test_every_task_has_its_name_in_both_languages_and_a_project_is_created_for_the_task_picked(tmp_path):
    from engine.tasks import DEFAULT_TASK, get_task, task_names
    from engine.workspace import Workspace
    from ui.state import project_task, task_title
    from ui.tabs.projects import _task_choices

    for name in task_names():
        assert STRINGS[f"task.{name}"][0] == get_task(name).title
    assert _task_choices("ru")[0] == ("Классификация изображений", "image-classification")
    offered = [name for _, name in _task_choices("en")]
    assert "object-detection" in offered and all(get_task(n).in_app for n in offered)
    assert "text-classification" not in offered  # its tabs come later: the engine trains it, the app does not yet
    ws = Workspace(tmp_path / "ws")
    pid = ws.create_project("Cats", task=task_names()[-1])
    assert project_task(ws, pid).name == task_names()[-1]
    assert project_task(ws, None).name == project_task(ws, "no-such-project").name == DEFAULT_TASK
    assert task_title("en", DEFAULT_TASK) == get_task(DEFAULT_TASK).title


def _train_ctx(tmp_path):
    from imagegen import make_image_folder

    from engine.data import import_dataset
    from engine.runner import LocalRunner
    from engine.workspace import Workspace
    from ui.i18n import Texts
    from ui.state import Ctx, Settings

    ws = Workspace(tmp_path / "ws")
    pid = ws.create_project("cv")
    report = import_dataset(make_image_folder(tmp_path / "pictures"), ws.datasets_dir)
    ws.update_project_state(pid, dataset_dir=str(report.dataset_dir))
    return Ctx(ws, LocalRunner(ws), Texts("en"), Settings(ws.root)), pid


def test_the_train_form_leaves_cross_validation_to_the_config_unless_the_person_chooses(tmp_path):
    from engine.config import EvalConfig, RunConfig
    from ui.tabs.train_form import _config, cv_options

    ctx, pid = _train_ctx(tmp_path)
    offline = {"tf_efficientnet_lite0": True}
    form = ["tf_efficientnet_lite0", "linear-probe", "light", True, "", "", "", 0, ""]
    default = _config(ctx, "en", pid, *form, cv_options()[1], "local", offline)[0]
    assert default.eval.cv == EvalConfig().cv == "auto" and default.eval == RunConfig(data=".", model="m").eval
    assert default.task == ctx.ws.get_project(pid)["task"]  # the run carries its project's task
    assert _config(ctx, "en", pid, *form, "on", "local", offline)[0].eval.cv == "on"
    assert _config(ctx, "en", pid, *form, "off", "local", offline)[0].eval.cv == "off"
    with pytest.raises(UserError):
        _config(ctx, "en", pid, *form, "sometimes", "local", offline)


def test_the_run_view_shows_the_resolved_settings_of_the_start_event_and_nothing_for_older_runs(tmp_path):
    import json

    from engine.runner import LocalRunner
    from engine.workspace import Workspace
    from ui.tabs.train_view import status_text

    ws = Workspace(tmp_path / "ws")
    new, old = ws.new_run_dir("new"), ws.new_run_dir("old")
    start = {"t": "2026-01-01T00:00:00.000+00:00", "type": "start", "model": "tf_efficientnet_lite0",
             "mode": "fine-tune", "device": "cpu", "task": "image-classification"}
    resolved = {"task": "image-classification", "mode": "fine-tune", "epochs": 15, "lr": 0.0003, "batch_size": 32,
                "image_size": 224, "patience": 5, "cv": "auto", "augment": {"preset": "light", "hflip": True},
                "budget_minutes": None, "device": "cpu"}
    done = {"t": "2026-01-01T00:01:00.000+00:00", "type": "done", "metrics": {}}
    lines = {new: [{**start, "resolved": resolved}, done], old: [start, done]}
    for run_dir, events in lines.items():
        (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    runner = LocalRunner(ws)
    en, ru = status_text("en", runner.snapshot(new)), status_text("ru", runner.snapshot(new))
    assert ("Settings used: epochs 15 · learning rate 0.0003 · batch 32 · pictures 224 px · patience 5 · "
            "cross-validation auto · augmentation light · mirroring yes") in en
    assert "Настройки запуска: эпох 15 · скорость обучения 0.0003 · батч 32" in ru and "кросс-валидация авто" in ru
    assert "time limit" not in en  # a setting without a value is left out
    assert "Settings used" not in status_text("en", runner.snapshot(old))  # written before `resolved` existed


def test_the_data_tab_offers_the_import_forms_the_projects_task_takes():
    import dataclasses

    from engine.tasks import get_task
    from ui.tabs.data import import_forms

    task = get_task()
    assert import_forms(task) == {"folder": True, "zip": True, "bins": True}  # image classification takes all
    only_csv = dataclasses.replace(task, ui=dataclasses.replace(task.ui, data_sources=("csv",)))
    assert import_forms(only_csv) == {"folder": True, "zip": False, "bins": False}
    only_zip = dataclasses.replace(task, ui=dataclasses.replace(task.ui, data_sources=("zip",)))
    assert import_forms(only_zip) == {"folder": False, "zip": True, "bins": False}


def test_evaluate_test_and_export_show_what_the_projects_task_says():
    import dataclasses

    from engine.tasks import get_task
    from ui.tabs.evaluate import _cards, shown_views
    from ui.tabs.export import contents_line

    task = get_task()
    assert shown_views(task) == {"per_class": True, "confusion_matrix": True, "misclassified": True, "explain": True}
    bare = dataclasses.replace(task, ui=dataclasses.replace(task.ui, views=("per_class",), explain=None,
                                                             metrics=("macro_f1", "map50"),
                                                             export_files=("model.onnx", "boxes.json")))
    assert shown_views(bare) == {"per_class": True, "confusion_matrix": False, "misclassified": False,
                                 "explain": False}
    m = {"accuracy": 0.9, "balanced_accuracy": 0.85, "macro_f1": 0.88, "map50": 0.612, "n": 20}
    cards = _cards("en", m, "test", {"model": "m", "mode": "fine-tune"}, task.ui.metrics)
    assert [cards.index(x) < cards.index(y) for x, y in (("90%", "85%"), ("85%", "0.88"))] == [True, True]
    only = _cards("ru", m, "test", {}, bare.ui.metrics)
    assert "0.88" in only and "0.612" in only and "mAP50" in only and "90%" not in only
    assert contents_line("en", task).startswith("The package's main files: `model.onnx`, `model.pt`")
    assert contents_line("ru", bare) == "Основные файлы пакета: `model.onnx`, `boxes.json`."


def test_the_train_tab_offers_the_models_that_serve_the_projects_task():
    import dataclasses

    from engine.models import list_models
    from engine.tasks import get_task
    from ui.state import serves

    task = get_task()
    assert all(serves(spec, task) for spec in list_models("image-classification"))
    assert not any(serves(spec, task) for spec in list_models("object-detection"))
    other = dataclasses.replace(task, name="object-detection")
    detector = type("Spec", (), {"tasks": ("object-detection",)})()
    assert serves(detector, other) and not serves(detector, task) and not serves(list_models()[0], other)


def test_compare_offers_and_accepts_only_candidates_whose_model_serves_the_projects_task():
    import dataclasses

    from engine.tasks import get_task
    from ui.tabs.compare import candidate_specs, task_candidates

    offered, defaults = candidate_specs()
    task = get_task()
    classifiers = task_candidates(offered, task)
    assert classifiers and set(defaults) <= set(classifiers)
    assert task_candidates(offered, dataclasses.replace(task, name="no-such-task")) == []
    detectors = task_candidates(offered, get_task("object-detection"))
    assert detectors and not set(detectors) & set(classifiers) and "fcos-mobilenetv2:fine-tune" in detectors
