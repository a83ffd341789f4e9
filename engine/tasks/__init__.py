"""The task registry: a task's name -> the package that owns it (Ultralytics' task_map, for us).

Adding a task is one folder under engine/tasks and one line in TASKS. Nothing outside a task's folder
compares task names; everything else asks `get_task(name)`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from engine.errors import UserError
from engine.tasks.base import Task, TaskUI

TASKS: dict[str, str] = {
    "image-classification": "engine.tasks.image_classification",
}
DEFAULT_TASK = "image-classification"

__all__ = ["DEFAULT_TASK", "TASKS", "Task", "TaskUI", "get_task", "task_names", "task_of_run"]


def task_names() -> tuple[str, ...]:
    return tuple(TASKS)


def get_task(name: str | None = None) -> Task:
    """The task called `name` (the default task for None); an unknown name is a UserError naming the known ones."""
    name = name or DEFAULT_TASK
    if name not in TASKS:
        raise UserError(f"Unknown task '{name}'. Konstruktor knows: {', '.join(TASKS)}.")
    return importlib.import_module(TASKS[name]).TASK


def task_of_run(run_dir: str | Path) -> Task:
    """The task a run folder was trained for: its config.yaml's `task` (the default task when it says none)."""
    import yaml

    from engine.config import CONFIG_FILE

    try:
        raw = yaml.safe_load((Path(run_dir) / CONFIG_FILE).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        raw = {}
    return get_task(raw.get("task") if isinstance(raw, dict) else None)
