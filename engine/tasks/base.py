"""What a task is: the one object the engine and the UI ask about a kind of problem.

A task owns its dataset schema (manifest entries, import and checks, split), its heads and loss, its
metrics and the views they feed, its export signature and its generated `predict.py`. The fields here are
plain data, cheap to read while the first page is drawn; what needs torch is imported by the task's own
modules when a run asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType


@dataclass(frozen=True)
class TaskUI:
    """What the app shows for a task, tab by tab (the tabs ask; they never compare task names)."""

    example: str  # what one example is: "image", "boxes" (pictures with boxes), later "text", "audio"
    data_sources: tuple[str, ...]  # import forms offered: "folder", "zip", "csv", "bins"
    metrics: tuple[str, ...]  # final metrics shown, in this order (keys of metrics.json's split entries)
    views: tuple[str, ...]  # evaluation views: "confusion_matrix", "per_class", "misclassified"
    test_input: str  # the Test tab's widget: "image"
    explain: str | None  # how the Test tab shows why: "gradcam", or None
    export_files: tuple[str, ...]  # what the export package holds, for the Export tab's list
    # The two scores compare ranks candidates by (metrics.json split keys): the first decides, the second breaks
    # ties and picks a searched candidate's best trial on the validation split.
    ranking: tuple[str, str] = ("accuracy", "macro_f1")


@dataclass(frozen=True)
class Task:
    """One kind of problem Konstruktor trains models for; `engine.tasks.get_task(name)` returns it."""

    name: str  # the RunConfig discriminator, e.g. "image-classification"
    title: str  # English; the UI says it in other languages by `task.<name>`
    description: str
    ui: TaskUI
    module: str = field(repr=False)  # the task's package, e.g. "engine.tasks.image_classification"
    # compare's default candidates (model:mode) on a CPU and on a GPU; empty: engine.compare.candidates' defaults
    in_app: bool = True  # False: the engine trains it, the app's tabs don't show it yet (no project of it)
    compare_cpu: tuple[str, ...] = ()
    compare_gpu: tuple[str, ...] = ()

    def part(self, name: str) -> ModuleType:
        """One of the task's own modules (config, heads, metrics, export, ...), imported when first asked."""
        import importlib

        return importlib.import_module(f"{self.module}.{name}")

    def hook(self, name: str):
        """The task's own way of doing a step of the pipeline (its `pipeline` module's function `name`), or None
        when the task goes the shared way (the classification pipeline of engine.training, engine.inference and
        engine.export).

        The hooks: `train(ctx) -> metrics.json's dict`; `predict_files(run_dir, files, **options) -> list` (one
        entry per file, an `error` key where a file could not be read); `evaluate_run(run_dir, data) -> dict`;
        `export_build(run_dir, work, formats, quantize, log) -> the export report` (the package written into
        `work`);
        `summary(metrics) -> (dict for --json, one line)`.
        """
        import importlib.util

        if importlib.util.find_spec(f"{self.module}.pipeline") is None:
            return None
        return getattr(self.part("pipeline"), name, None)
