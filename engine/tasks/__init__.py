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
    "object-detection": "engine.tasks.object_detection",
    "text-classification": "engine.tasks.text_classification",
}
DEFAULT_TASK = "image-classification"

__all__ = ["DEFAULT_TASK", "TASKS", "Task", "TaskUI", "get_task", "recognise_task", "task_names"]


def task_names() -> tuple[str, ...]:
    return tuple(TASKS)


def get_task(name: str | None = None) -> Task:
    """The task called `name` (the default task for None); an unknown name is a UserError naming the known ones."""
    name = name or DEFAULT_TASK
    if name not in TASKS:
        raise UserError(f"Unknown task '{name}'. Konstruktor knows: {', '.join(TASKS)}.")
    return importlib.import_module(TASKS[name]).TASK


def recognise_task(source: str | None) -> str | None:
    """The task whose data layout `source` has (a task's `dataset.recognises(path)`), or None when none claims it.

    The default task claims nothing: it is what a source no other task recognises is imported as.
    """
    if not source:
        return None
    from pathlib import Path

    path = Path(source).expanduser()
    if not path.exists():
        return None
    for name in TASKS:
        if name == DEFAULT_TASK:
            continue
        recognises = getattr(get_task(name).part("dataset"), "recognises", None)
        if recognises is not None and recognises(path):
            return name
    return None
