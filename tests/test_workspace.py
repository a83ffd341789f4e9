"""Workspace: projects, run folders and the index that reads status from the folders."""

from __future__ import annotations

import threading

import pytest

from engine.errors import UserError
from engine.events import EventWriter, read_events, run_status
from engine.workspace import Workspace


def test_projects_create_rename_delete(tmp_path):
    ws = Workspace(tmp_path / "ws")
    pid = ws.create_project("Мои котики")
    assert [p["name"] for p in ws.list_projects()] == ["Мои котики"]
    ws.rename_project(pid, "Cats")
    ws.update_project_state(pid, tab="train")
    assert ws.get_project(pid)["name"] == "Cats" and ws.get_project(pid)["state"] == {"tab": "train"}
    ws.delete_project(pid)
    assert ws.list_projects() == []
    with pytest.raises(UserError):
        ws.create_project("   ")


def test_two_runs_never_share_a_folder(tmp_path):
    ws = Workspace(tmp_path / "ws")
    made: list = []

    def worker():
        for _ in range(20):
            made.append(ws.new_run_dir("tf_efficientnet_lite0"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 80 and len(set(made)) == 80 and all(p.is_dir() for p in made)


def test_index_reads_run_status_from_the_run_folder(tmp_path):
    ws = Workspace(tmp_path / "ws")
    run = ws.new_run_dir("x")
    ws.register_run(run, model="m", mode="linear-probe")
    assert ws.list_runs()[0]["status"] == "created"
    ev = EventWriter(run)
    ev.emit("start")
    # No live process owns the run: it died without a final event.
    assert ws.list_runs()[0]["status"] == "interrupted"
    ev.emit("done", metrics={})
    (run / "metrics.json").write_text('{"test": {"accuracy": 0.5}}')
    row = ws.list_runs()[0]
    assert row["status"] == "done" and row["metrics"]["test"]["accuracy"] == 0.5


def test_unusable_workspace_is_a_user_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="workspace"):
        Workspace(blocker / "ws")


def test_event_reader_tolerates_a_half_written_last_line(tmp_path):
    ev = EventWriter(tmp_path)
    ev.emit("start", n=1)
    ev.emit("progress", step=1, total=2)
    with open(tmp_path / "events.jsonl", "a") as f:
        f.write('{"t": "x", "type": "prog')  # the writer is mid-line
    events, offset = read_events(tmp_path)
    assert [e["type"] for e in events] == ["start", "progress"]
    with open(tmp_path / "events.jsonl", "a") as f:
        f.write('ress", "step": 2, "total": 2}\n')
    more, _ = read_events(tmp_path, offset)
    assert more == [{"t": "x", "type": "progress", "step": 2, "total": 2}]
    assert run_status(tmp_path) == "interrupted"


def test_a_project_keeps_the_task_it_was_created_for(tmp_path):
    ws = Workspace(tmp_path / "ws")
    pid = ws.create_project("Cats", task="image-classification")
    assert ws.get_project(pid)["task"] == "image-classification"
    assert ws.get_project(ws.create_project("Dogs"))["task"] == "image-classification"  # the default task
    with pytest.raises(UserError, match="Unknown task 'poetry'"):
        ws.create_project("Verse", task="poetry")
    assert len(ws.list_projects()) == 2


def test_an_index_from_before_tasks_opens_and_reads_its_projects_as_image_classification(tmp_path):
    import sqlite3

    root = tmp_path / "ws"
    root.mkdir()
    db = sqlite3.connect(root / "index.sqlite")
    db.execute("CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT NOT NULL, created TEXT NOT NULL, "
               "updated TEXT NOT NULL, state TEXT NOT NULL DEFAULT '{}')")
    db.execute("INSERT INTO projects (id, name, created, updated) VALUES ('old-1', 'Old', 'x', 'x')")
    db.commit()
    db.close()
    ws = Workspace(root)
    assert [(p["id"], p["task"]) for p in ws.list_projects()] == [("old-1", "image-classification")]
    assert Workspace(root).get_project("old-1")["task"] == "image-classification"  # opened again: nothing to do
