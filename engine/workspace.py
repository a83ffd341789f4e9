"""The workspace: projects, imported datasets and runs on disk, indexed in SQLite.

Layout:  <root>/index.sqlite, datasets/<id>/, runs/<run id>/, cache/{weights,embeddings,onnx}/.
The index is a convenience over the folders, never the truth: a run's status is read from its
own events.jsonl, so a crash can't leave the index pointing at a half-written run. Only one
process (the UI, or the CLI when used alone) writes the index; a training child writes only its
own run folder.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import HIDDEN_CHAR, CodedError, UserError, hidden_char
from engine.tasks import DEFAULT_TASK, get_task

ENV_WORKSPACE = "KONSTRUKTOR_WORKSPACE"
INDEX_FILE = "index.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, name TEXT, source TEXT, path TEXT NOT NULL,
    created TEXT NOT NULL, n_images INTEGER, n_classes INTEGER, project_id TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, project_id TEXT, path TEXT NOT NULL, dataset_id TEXT, model TEXT, mode TEXT,
    status TEXT NOT NULL, created TEXT NOT NULL, finished TEXT, metrics TEXT NOT NULL DEFAULT '{}'
);
"""


def default_root() -> Path:
    """KONSTRUKTOR_WORKSPACE, else the platform's per-user data folder."""
    env = os.environ.get(ENV_WORKSPACE)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "Konstruktor"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _slug(text: str, limit: int = 24) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug[:limit] or "run"


def _project_name(name: str) -> str:
    """The name as stored (stripped); refused when empty or holding characters that disguise it on screen."""
    name = name.strip()
    if not name:
        raise UserError("A project needs a name.")
    hidden = hidden_char(name)
    if hidden:
        raise CodedError("hidden_char", HIDDEN_CHAR.format(**hidden), **hidden)
    return name


@contextmanager
def sqlite_connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to the workspace index (WAL, waits for a busy writer), closed on exit."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=30000")
        db.row_factory = sqlite3.Row
        yield db
    finally:
        db.close()


@contextmanager
def sqlite_write(path: Path) -> Iterator[sqlite3.Connection]:
    """A short write transaction (BEGIN IMMEDIATE), committed on success and rolled back on any error."""
    with sqlite_connect(path) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _migrate(db: sqlite3.Connection) -> None:
    """Bring an index written by an older version up to the schema (columns added since, with their defaults)."""
    columns = {row["name"] for row in db.execute("PRAGMA table_info(projects)")}
    # The task column is added here, for a new index too: one way to have it. Projects from before tasks were a
    # choice were all image classification, the default task.
    if "task" not in columns:
        db.execute(f"ALTER TABLE projects ADD COLUMN task TEXT NOT NULL DEFAULT '{DEFAULT_TASK}'")


class Workspace:
    """One folder holding everything Konstruktor keeps for a user."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root else default_root()
        try:
            for sub in ("datasets", "runs", "cache/weights", "cache/embeddings", "cache/onnx"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"Cannot use {self.root} as the workspace: {e.strerror}. Choose another folder.") from None
        self.index_path = self.root / INDEX_FILE
        with self._connect() as db:
            db.executescript(_SCHEMA)
        with self._write() as db:  # in a write transaction: two processes opening an old index migrate it once
            _migrate(db)

    datasets_dir = property(lambda self: self.root / "datasets")
    runs_dir = property(lambda self: self.root / "runs")
    weights_dir = property(lambda self: self.root / "cache" / "weights")
    embeddings_dir = property(lambda self: self.root / "cache" / "embeddings")
    onnx_dir = property(lambda self: self.root / "cache" / "onnx")

    def _connect(self):
        return sqlite_connect(self.index_path)

    def _write(self):
        return sqlite_write(self.index_path)

    # --- projects -------------------------------------------------------------------------
    def create_project(self, name: str, task: str = DEFAULT_TASK) -> str:
        """A new project for one task (a name in engine.tasks.TASKS; an unknown one is a UserError); its id."""
        name = _project_name(name)
        task = get_task(task).name
        pid = f"{_slug(name, 16)}-{secrets.token_hex(3)}"
        with self._write() as db:
            db.execute("INSERT INTO projects (id, name, created, updated, task) VALUES (?, ?, ?, ?, ?)",
                       (pid, name, _now(), _now(), task))
        return pid

    def list_projects(self) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM projects ORDER BY updated DESC").fetchall()
        return [{**dict(r), "state": json.loads(r["state"])} for r in rows]

    def get_project(self, pid: str) -> dict[str, Any]:
        with self._connect() as db:
            row = db.execute("SELECT * FROM projects WHERE id = ?", (pid,)).fetchone()
        if row is None:
            raise UserError(f"There is no project '{pid}' in {self.root}.")
        return {**dict(row), "state": json.loads(row["state"])}

    def rename_project(self, pid: str, name: str) -> None:
        name = _project_name(name)
        with self._write() as db:
            db.execute("UPDATE projects SET name = ?, updated = ? WHERE id = ?", (name, _now(), pid))

    def update_project_state(self, pid: str, **state: Any) -> None:
        current = self.get_project(pid)["state"]
        current.update(state)
        with self._write() as db:
            db.execute("UPDATE projects SET state = ?, updated = ? WHERE id = ?", (json.dumps(current), _now(), pid))

    def project_dir(self, pid: str) -> Path:
        """<root>/projects/<pid>: files the project itself owns (its class bins); the project must exist."""
        self.get_project(pid)
        if not re.fullmatch(r"[A-Za-z0-9._-]+", pid) or pid.strip(".") != pid:
            raise UserError(f"There is no project '{pid}' in {self.root}.")
        return self.root / "projects" / pid

    def delete_project(self, pid: str) -> None:
        """Remove the project from the index; its run folders stay on disk (nothing finished is lost)."""
        with self._write() as db:
            db.execute("DELETE FROM projects WHERE id = ?", (pid,))
            db.execute("UPDATE runs SET project_id = NULL WHERE project_id = ?", (pid,))

    # --- datasets -------------------------------------------------------------------------
    def register_dataset(self, manifest: dict[str, Any], path: str | Path, project_id: str | None = None) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO datasets (id, fingerprint, name, source, path, created, n_images, n_classes, project_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (manifest["id"], manifest["fingerprint"], manifest.get("name"), manifest.get("source"), str(path),
                 manifest.get("created") or _now(), len(manifest["items"]), len(manifest["classes"]), project_id),
            )

    def list_datasets(self, project_id: str | None = None) -> list[dict[str, Any]]:
        with self._connect() as db:
            if project_id:
                rows = db.execute("SELECT * FROM datasets WHERE project_id = ? ORDER BY created DESC", (project_id,))
            else:
                rows = db.execute("SELECT * FROM datasets ORDER BY created DESC")
            return [dict(r) for r in rows.fetchall()]

    # --- runs -----------------------------------------------------------------------------
    def new_run_dir(self, hint: str = "run") -> Path:
        """A fresh, empty run folder; mkdir without exist_ok means two runs never share one."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for _ in range(100):
            path = self.runs_dir / f"{stamp}-{_slug(hint)}-{secrets.token_hex(2)}"
            try:
                path.mkdir(parents=True)
                return path
            except FileExistsError:
                continue
        raise UserError(f"Could not create a new run folder in {self.runs_dir}.")

    def register_run(self, run_dir: str | Path, *, project_id: str | None = None, dataset_id: str | None = None,
                     model: str | None = None, mode: str | None = None) -> str:
        run_dir = Path(run_dir).resolve()
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO runs (id, project_id, path, dataset_id, model, mode, status, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_dir.name, project_id, str(run_dir), dataset_id, model, mode, "created", _now()),
            )
        return run_dir.name

    def refresh_run(self, run_id: str) -> dict[str, Any] | None:
        """Read a run's status and final metrics from its folder into the index."""
        from engine.events import run_status

        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        path = Path(row["path"])
        status = run_status(path) if path.exists() else "missing"
        metrics: dict[str, Any] = {}
        metrics_file = path / "metrics.json"
        if status == "done" and metrics_file.exists():
            try:
                metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                metrics = {}
        finished = _now() if status in ("done", "failed", "cancelled") and not row["finished"] else row["finished"]
        with self._write() as db:
            db.execute("UPDATE runs SET status = ?, metrics = ?, finished = ? WHERE id = ?",
                       (status, json.dumps(metrics), finished, run_id))
        return {**dict(row), "status": status, "metrics": metrics, "finished": finished}

    def list_runs(self, project_id: str | None = None) -> list[dict[str, Any]]:
        with self._connect() as db:
            if project_id:
                rows = db.execute("SELECT id FROM runs WHERE project_id = ? ORDER BY created DESC", (project_id,))
            else:
                rows = db.execute("SELECT id FROM runs ORDER BY created DESC")
            ids = [r["id"] for r in rows.fetchall()]
        return [r for r in (self.refresh_run(i) for i in ids) if r is not None]


def import_into_workspace(source: str | Path, *, task: str | None = None, seed: int = 0, val_fraction: float = 0.15,
                          test_fraction: float = 0.15, project_id: str | None = None):
    """(dataset_dir, manifest, report) — a raw source imported (by the task's importer) into the workspace, or an
    imported folder as is.

    `report` is None when `source` already is an imported dataset folder.
    """
    from engine.data import is_dataset_dir, load_manifest
    from engine.tasks import get_task

    if is_dataset_dir(source):
        return Path(source).resolve(), load_manifest(source), None
    ws = Workspace()
    report = get_task(task).part("dataset").import_data(source, ws.datasets_dir, seed=seed, val_fraction=val_fraction,
                                                        test_fraction=test_fraction)
    ws.register_dataset(report.manifest, report.dataset_dir, project_id=project_id)
    return report.dataset_dir, report.manifest, report
