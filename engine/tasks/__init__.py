"""The task registry: a task's name -> the package that owns it (Ultralytics' task_map, for us).

Adding a task is one folder under engine/tasks and one line in TASKS. Nothing outside a task's folder
compares task names; everything else asks `get_task(name)`.
"""

from __future__ import annotations

import importlib

from engine.errors import UserError
from engine.tasks.base import Task, TaskUI

TASKS: dict[str, str] = {
    "image-classification": "engine.tasks.image_classification",
}
DEFAULT_TASK = "image-classification"

__all__ = ["DEFAULT_TASK", "TASKS", "Task", "TaskUI", "get_task", "task_names"]


def task_names() -> tuple[str, ...]:
    return tuple(TASKS)


def get_task(name: str | None = None) -> Task:
    """The task called `name` (the default task for None); an unknown name is a UserError naming the known ones."""
    name = name or DEFAULT_TASK
    if name not in TASKS:
        raise UserError(f"Unknown task '{name}'. Konstruktor knows: {', '.join(TASKS)}.")
    return importlib.import_module(TASKS[name]).TASK
