"""Compare: several candidates on one split, a budget, a leaderboard and a recommendation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from clitools import engine_cli
from imagegen import make_pattern_folder

from engine.compare import Candidate, parse_candidates, read_leaderboard, recommend, trials_of
from engine.errors import UserError
from engine.events import read_events

ROOT = Path(__file__).resolve().parents[1]
# Small input size, one epoch, small batches: a fine-tune candidate trains in seconds on a CPU.
QUICK_FT = "epochs=1,image_size=96,batch_size=8"


# --- specs, trials and the recommendation rule (no training) -------------------------------------

def test_candidate_specs_resolve_aliases_and_settings():
    cands = parse_candidates("lite0:linear-probe; mobilenetv2:fine-tune:lr=0.001,epochs=3 "
                             "mobilenetv2_100:full:search=lr,epochs,trials=3")
    assert [(c.model, c.mode) for c in cands] == [("tf_efficientnet_lite0", "linear-probe"),
                                                  ("mobilenetv2_100", "fine-tune"), ("mobilenetv2_100", "full")]
    assert cands[1].options == {"lr": 0.001, "epochs": 3}
    assert cands[2].search == ("lr", "epochs") and cands[2].options["trials"] == 3


@pytest.mark.parametrize("spec, words", [
    ("resnet9000:fine-tune", "Unknown model"),
    ("lite0:finetune-all", "unknown mode"),
    ("lite0", "model:mode"),
    ("lite0:fine-tune:momentum=0.9", "settings are key=value"),
    ("lite0:fine-tune:search=dropout", "search covers"),
    ("lite0:fine-tune:epochs=lots", "not a number"),
    ("lite0:linear-probe lite0:linear-probe", "listed twice"),
])
def test_bad_candidate_specs_are_refused_with_a_sentence(spec, words):
    with pytest.raises(UserError, match=words):
        parse_candidates(spec)


def test_a_search_is_a_small_seeded_grid_that_starts_from_the_defaults():
    cand = parse_candidates("mobilenetv2:fine-tune:search=lr,epochs,trials=4")[0]
    trials = trials_of(cand, seed=0)
    assert len(trials) == 4
    assert trials[0].settings == {"lr": 5e-4, "epochs": 15}  # the mode's defaults come first
    assert len({(t.settings["lr"], t.settings["epochs"]) for t in trials}) == 4
    assert [t.settings for t in trials] == [t.settings for t in trials_of(cand, seed=0)]
    # A linear probe has no learning rate or epochs to search: one trial.
    assert len(trials_of(Candidate("tf_efficientnet_lite0", "linear-probe", {"search": ("lr",)}), 0)) == 1


def _row(rid, acc, latency, n=200):
    return {"id": rid, "model": rid, "mode": "fine-tune", "status": "done", "accuracy": acc, "macro_f1": acc,
            "latency_ms": latency, "n_eval": n, "best_trial": True}


def test_recommendation_prefers_a_much_faster_model_within_a_point_of_the_best():
    rid, why = recommend([_row("big", 0.900, 30.0), _row("small", 0.895, 10.0), _row("bad", 0.60, 1.0)])
    assert rid == "small" and "3.0× faster" in why and "within" in why
    rid, why = recommend([_row("big", 0.900, 30.0), _row("small", 0.85, 10.0)])
    assert rid == "big" and "best accuracy" in why and "5.0 points above" in why
    rid, why = recommend([{**_row("x", 0.9, 1.0), "status": "skipped"}])
    assert rid is None and why


# --- end to end through the CLI ---------------------------------------------------------------------

def test_compare_trains_every_candidate_and_writes_a_leaderboard(workspace, pattern_data, tmp_path):
    """Two candidates, the second with a two-trial learning-rate search: three runs, three rows."""
    out = tmp_path / "cmp"
    specs = ["lite0:linear-probe", f"mobilenetv2:fine-tune:{QUICK_FT},search=lr,trials=2"]
    r = engine_cli("compare", "--data", str(pattern_data), "--candidates", " ".join(specs), "--budget-minutes", "30",
                   "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    board = json.loads(r.stdout)
    assert board == {**read_leaderboard(out), "compare_dir": str(out.resolve())}
    rows = board["rows"]
    searched = f"mobilenetv2_100:fine-tune:{QUICK_FT},trials=2,search=lr"
    assert [row["group"] for row in rows] == ["tf_efficientnet_lite0:linear-probe", searched, searched]
    assert board["status"] == "done"
    for row in rows:
        assert row["status"] == "done", row
        assert row["accuracy"] >= 0.8 and 0 <= row["macro_f1"] <= 1  # chance is 0.33
        assert row["latency_ms"] > 0 and row["params"] > 1e6 and row["size_bytes"] >= 4 * row["params"]
        assert row["train_seconds"] > 0 and row["spread"]["what"]  # a tiny validation set: CV spread
        run_dir = out / row["run_dirs"][0]
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["test"]["accuracy"] == row["accuracy"]
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
        assert 0 < cfg["budget_minutes"] <= 30  # each run gets what is left of the budget
        assert cfg["lr"] == row["settings"].get("lr")
    # The search: both trials visible, different learning rates, exactly one marked best.
    assert [row["trial"] for row in rows[1:]] == [1, 2] and rows[1]["settings"]["lr"] != rows[2]["settings"]["lr"]
    assert sum(row["best_trial"] for row in rows[1:]) == 1 and rows[0]["best_trial"]
    # Every candidate trained on the one imported split.
    assert len({json.loads((out / r["run_dirs"][0] / "metrics.json").read_text())["dataset"]["fingerprint"]
                for r in rows}) == 1
    rec = board["recommendation"]
    assert rec["row"] in {row["id"] for row in rows if row["best_trial"]} and rec["reason"].endswith(".")
    assert "Recommended" in (out / "leaderboard.md").read_text()
    types = [e["type"] for e in read_events(out)[0]]
    assert types[0] == "start" and types[-1] == "done" and types.count("row") == 3
    # The CLI indexed the runs, as `train` does.
    from engine.workspace import Workspace

    assert {r["id"] for r in Workspace(workspace).list_runs()} == {Path(row["run_dirs"][0]).name for row in rows}


def test_an_impossible_budget_skips_candidates_with_a_reason(workspace, pattern_data, tmp_path):
    out = tmp_path / "cmp"
    r = engine_cli("compare", "--data", str(pattern_data), "--candidates", "lite0:linear-probe lite0:fine-tune",
                   "--budget-minutes", "0.05", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    board = json.loads(r.stdout)
    assert [row["status"] for row in board["rows"]] == ["skipped", "skipped"]
    assert all("budget" in row["message"] and row["estimate_s"] > 3 for row in board["rows"])
    from ui.tabs.compare import _message

    assert "бюджет" not in _message("ru", board["rows"][0]) and "осталось" in _message("ru", board["rows"][0])
    assert not (out / "runs").exists()
    assert board["recommendation"] is None and board["note"]


def test_a_candidate_that_fails_is_a_row_with_its_message_not_a_crash(workspace, pattern_data, tmp_path):
    r = engine_cli("compare", "--data", str(pattern_data), "--candidates", "lite0:fine-tune:image_size=8",
                   "--out", str(tmp_path / "cmp"), "--json")
    assert r.returncode == 0, r.stderr
    board = json.loads(r.stdout)
    (row,) = board["rows"]
    assert row["status"] == "failed" and "image_size" in row["message"] and board["status"] == "done"


def test_a_bad_candidate_is_a_clean_exit_2(workspace, pattern_data, tmp_path):
    r = engine_cli("compare", "--data", str(pattern_data), "--candidates", "lite0:linear-probe resnet9000:fine-tune",
                   "--out", str(tmp_path / "cmp"))
    assert r.returncode == 2
    assert "Unknown model 'resnet9000'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "cmp").exists()


def test_stopping_compare_stops_the_training_and_keeps_the_partial_leaderboard(workspace, pattern_data, tmp_path):
    out = tmp_path / "cmp"
    cmd = [sys.executable, "-m", "engine", "compare", "--data", str(pattern_data), "--candidates",
           "mobilenetv2:fine-tune:epochs=200,image_size=96,batch_size=8 lite0:linear-probe", "--out", str(out),
           "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            board = read_leaderboard(out)
            run = out / "runs" / f"{out.name}-01-mobilenetv2_100-fine-tune"
            if board and board["rows"][0]["status"] == "running" and any(
                    e["type"] == "progress" and e.get("phase") == "train" for e in read_events(run)[0]):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGTERM)  # as the UI's Stop does: the whole group
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    board = read_leaderboard(out)
    assert board["status"] == "cancelled"
    assert [row["status"] for row in board["rows"]] == ["cancelled", "cancelled"]
    assert board["rows"][1]["message"] == "not run: the comparison was stopped"
    assert read_events(out)[0][-1]["type"] == "cancelled"
    last = read_events(run)[0][-1]
    assert last["type"] == "cancelled", last  # the trainer said so itself
    assert not (out / ".pid").exists()


# --- the UI's handlers (no browser) --------------------------------------------------------------------

def _fake_run(folder: Path, model: str, acc: float, fingerprint: str = "f" * 64) -> Path:
    """A finished run folder as the trainer leaves it (metrics, events, best.pt, a confusion matrix)."""
    from PIL import Image

    from engine.events import EventWriter

    folder.mkdir(parents=True)
    per_class = {c: {"precision": acc, "recall": acc, "f1": acc, "support": 5} for c in ("cat", "dog")}
    metrics = {"model": model, "mode": "linear-probe", "train_seconds": 3.5, "params": 2_000_000,
               "epochs_run": 1, "best_epoch": 1, "dataset": {"id": "d1", "fingerprint": fingerprint},
               "test": {"accuracy": acc, "balanced_accuracy": acc, "macro_f1": acc, "n": 10, "per_class": per_class},
               "cv": {"accuracy": {"mean": acc, "std": 0.05}, "macro_f1": {"mean": acc, "std": 0.05}}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "config.yaml").write_text(yaml.safe_dump({"data": "unused", "model": model}))
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "best.pt").write_bytes(b"0" * 1000)
    (folder / "artifacts").mkdir()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(folder / "artifacts" / "confusion_matrix_test.png")
    EventWriter(folder).emit("start", model=model, mode="linear-probe")
    EventWriter(folder).emit("done", metrics={})
    return folder


def test_runs_tab_shows_two_to_four_picked_runs_side_by_side(tmp_path):
    from engine.workspace import Workspace
    from ui.tabs.runs import side_by_side

    ws = Workspace(tmp_path / "ws")
    pid = ws.create_project("p")
    ids = []
    for i, (model, acc) in enumerate([("mobilenetv2_100", 0.8), ("tf_efficientnet_lite0", 0.9)]):
        run = _fake_run(ws.runs_dir / f"run-{i}", model, acc)
        ids.append(ws.register_run(run, project_id=pid, model=model, mode="linear-probe"))
    note, summary, per_class, gallery = side_by_side(ws, pid, "ru", ids)
    table = summary["value"]
    titles = list(table.columns)[1:]
    assert titles[0].startswith("mobilenetv2_100 · линейный зонд · ") and titles[1].startswith("tf_efficientnet_lite0")
    assert table.iloc[:, 0].tolist()[0] == "модель" and ["0.8", "0.9"] in table.iloc[:, 1:].values.tolist()
    assert per_class["value"].values.tolist() == [["cat", 0.8, 0.9], ["dog", 0.8, 0.9]]
    assert len(gallery["value"]) == 2 and "одних данных" in note
    for bad in ([ids[0]], [*ids, "../../etc"], None):
        with pytest.raises(UserError):
            side_by_side(ws, pid, "en", bad)
    with pytest.raises(UserError):
        side_by_side(ws, ws.create_project("other"), "en", ids)  # runs of another project are refused


def test_compare_tab_draws_the_leaderboard_and_indexes_the_runs_in_the_project(tmp_path):
    from engine.compare import LEADERBOARD_FILE
    from engine.fsutil import atomic_write_json
    from engine.workspace import Workspace
    from ui.tabs import compare as tab

    ws = Workspace(tmp_path / "ws")
    pid = ws.create_project("p")
    folder = ws.root / "compare" / "c1"
    rows = []
    for i, (model, acc, ms) in enumerate([("tf_efficientnet_lite0", 0.90, 30.0), ("mobilenetv2_100", 0.895, 10.0)]):
        _fake_run(folder / "runs" / f"c1-0{i}", model, acc)
        rows.append({"id": f"0{i}", "group": f"{model}:linear-probe", "model": model, "mode": "linear-probe",
                     "settings": {}, "trial": 1, "trials": 1, "best_trial": True, "status": "done", "message": None,
                     "run_dirs": [f"runs/c1-0{i}"], "accuracy": acc, "macro_f1": acc, "n_eval": 200,
                     "spread": None, "train_seconds": 3.0, "latency_ms": ms, "params": 3e6, "size_bytes": 12e6})
    rows.append({**rows[1], "id": "02", "model": "yolo11n-cls", "mode": "full", "status": "skipped",
                 "message": "skipped: needs about 9 min", "run_dirs": [], "accuracy": None})
    from engine.compare import recommendation

    atomic_write_json(folder / LEADERBOARD_FILE, {"format": "konstruktor-compare/1", "status": "done",
                                                  "elapsed_s": 75, "rows": rows, "data": {"id": "d1"},
                                                  "recommendation": recommendation(rows)})
    atomic_write_json(folder / tab.UI_FILE, {"project_id": pid})
    bar, status, rec, table, how = tab.board_view("ru", folder)
    assert "75 с" in status and "mobilenetv2_100" in rec and "Рекомендуем" in rec and "в 3.0 раза" in rec
    assert table.shape[0] == 3 and table.iloc[1, 0] == "→" and table.iloc[2, 3] == "пропущен"
    tab._register_runs(ws, folder, set())
    assert sorted(r["id"] for r in ws.list_runs(pid)) == ["c1-00", "c1-01"]
    # A folder outside the workspace's compare folder is never read on a page's word.
    assert tab._compare_folder(ws, str(tmp_path)) is None and tab._compare_folder(ws, str(folder)) == folder


def test_compare_tab_checks_the_form_on_the_server(tmp_path, monkeypatch):
    from engine.workspace import Workspace
    from ui.state import Ctx
    from ui.tabs import compare as tab

    ws = Workspace(tmp_path / "ws")
    pid = ws.create_project("p")

    class Runner:
        def active_run(self, _pid):
            return None

    ctx = Ctx(ws, Runner(), None, None)
    offered, defaults = tab.candidate_specs()
    assert defaults and set(defaults) <= set(offered)
    with pytest.raises(UserError, match="project"):
        tab._start(ctx, tab._Processes(), "en", "nope", defaults, 10, False, offered)
    with pytest.raises(UserError):  # no data imported yet
        tab._start(ctx, tab._Processes(), "en", pid, defaults, 10, False, offered)
    data = make_pattern_folder(tmp_path / "patterns", per_class=4)
    from engine.data import import_dataset

    report = import_dataset(data, ws.datasets_dir)
    ws.update_project_state(pid, dataset_dir=str(report.dataset_dir))
    for picked, minutes in (([], 10), (["resnet50:scratch; rm -rf /"], 10), (defaults, 0), (defaults, "nan")):
        with pytest.raises(UserError):
            tab._start(ctx, tab._Processes(), "en", pid, picked, minutes, False, offered)


def test_compare_tab_starts_a_comparison_that_lands_in_the_project(tmp_path, monkeypatch):
    from engine.compare import compare_status, read_leaderboard
    from engine.data import import_dataset
    from engine.workspace import Workspace
    from ui.state import Ctx
    from ui.tabs import compare as tab

    monkeypatch.setenv("KONSTRUKTOR_OFFLINE", "1")
    ws = Workspace(tmp_path / "ws")
    pid = ws.create_project("p")
    report = import_dataset(make_pattern_folder(tmp_path / "patterns", per_class=10), ws.datasets_dir)
    ws.update_project_state(pid, dataset_dir=str(report.dataset_dir))

    class Runner:
        def active_run(self, _pid):
            return None

    ctx = Ctx(ws, Runner(), None, None)
    offered, _ = tab.candidate_specs()
    procs = tab._Processes()
    folder, proc = tab._start(ctx, procs, "en", pid, ["mobilenetv2_100:linear-probe"], 10, False, offered)
    procs.by_project[pid] = (folder, proc)
    with pytest.raises(UserError, match="already running"):
        tab._start(ctx, procs, "en", pid, ["mobilenetv2_100:linear-probe"], 10, False, offered)
    try:
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, (folder / "console.log").read_text()
    assert compare_status(folder) == "done" and tab._project_compare(ws, pid) == folder
    board = read_leaderboard(folder)
    assert board["rows"][0]["status"] == "done" and board["budget_minutes"] == 10
    _, status, rec, table, _ = tab.board_view("en", folder)
    assert status.startswith("Done") and "mobilenetv2_100" in rec and table.shape[0] == 1
    # The child did not touch the index (--no-index); the UI puts the run into the project.
    assert ws.list_runs(pid) == []
    tab._register_runs(ws, folder, set())
    assert [(r["model"], r["status"]) for r in ws.list_runs(pid)] == [("mobilenetv2_100", "done")]
