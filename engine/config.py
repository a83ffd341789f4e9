"""RunConfig: the one description of a training run, and every default a run falls back on.

The UI builds one, the CLI reads one (YAML), the cloud worker receives one; it is saved as
run_dir/config.yaml and nothing else decides what a run does. `RunConfig` is a union discriminated on
`task`: the settings every task shares are here, a task's own settings live in its folder
(engine/tasks/<task>/config.py, a subclass of RunConfig). `engine.resolve` turns a config into the
concrete values a run uses, from the defaults below and nowhere else.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from engine.errors import UserError
from engine.fsutil import atomic_write_text
from engine.tasks import DEFAULT_TASK, TASKS, Task, get_task

Mode = Literal["auto", "linear-probe", "fine-tune", "full", "scratch"]
AugmentPreset = Literal["none", "light", "medium", "strong"]
Device = Literal["auto", "cpu", "cuda"]
CrossValidation = Literal["auto", "off", "on"]
Imbalance = Literal["auto", "none", "class-weights", "balanced-sampler"]
CONFIG_FILE = "config.yaml"

# Default epochs and peak learning rates per mode; one place, like every other default.
MODE_DEFAULTS: dict[str, dict[str, float]] = {
    "fine-tune": {"epochs": 15, "lr": 5e-4, "layer_decay": 0.6, "trainable_fraction": 0.5, "patience": 5},
    "full": {"epochs": 20, "lr": 3e-4, "layer_decay": 0.8, "trainable_fraction": 1.0, "patience": 5},
    # From scratch the validation score wanders for many epochs before it climbs: yolo11n-cls stopped by a
    # patience of 5 at epoch 18 / 22 of 60 scored 38 / 62 % on Fashion-MNIST 10 / 20-shot, where the full 60
    # epochs gave Ultralytics' trainer 47 / 71 %.
    "scratch": {"epochs": 60, "lr": 2e-3, "layer_decay": 1.0, "trainable_fraction": 1.0, "patience": 15},
}
DEFAULT_BATCH = 32  # RunConfig.batch_size None, for timm models
DEFAULT_WORKERS = 0  # RunConfig.num_workers None, for timm models: a few dozen images decode faster in-process
# Ultralytics' own default; its loader builder caps it by the CPU count and the batches an epoch has, and
# without these processes decoding and augmenting run between the steps instead of beside them.
ULTRALYTICS_WORKERS = 8
# Ultralytics' own default batch. On a CPU an epoch of yolo11n-cls at 224 px took 3.0 s at batch 32 and 2.74 s at
# 16 (170 images, 2 cores; Ultralytics' trainer: 3.1 s and 2.77 s): smaller batches keep the activations in cache.
ULTRALYTICS_BATCH = 16
# The input size when neither the settings nor the model say one (Ultralytics' classification default).
DEFAULT_IMAGE_SIZE = 224
# `auto` mode: below this many images in the smallest class a linear probe is the reliable choice.
AUTO_FEW_IMAGES = 5
# `auto` mode on a CPU: rough training speed (images/s) of a 5-million-parameter network at 224 px, forward and
# backward, on 2 cores, and the longest fine-tune it starts without being asked.
CPU_TRAIN_RATE_5M = 8.0
AUTO_CPU_FINETUNE_LIMIT_S = 15 * 60


class AugmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preset: AugmentPreset = "light"
    hflip: bool = Field(True, description="Mirror images left-right; turn off for mirror-sensitive classes.")


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cv: CrossValidation = Field(
        "auto", description="Repeated stratified cross-validation; 'auto' runs it when the validation set is tiny."
    )
    cv_folds: int = Field(5, ge=2, le=20)
    cv_repeats: int = Field(3, ge=1, le=20)
    tiny_val_threshold: int = Field(
        30, ge=0, description="A validation set smaller than this counts as tiny and gets cross-validation."
    )
    top_k: int = Field(5, ge=1, le=20)


class RunConfig(BaseModel):
    """What to train, on which data, how; saved as run_dir/config.yaml.

    The settings every task shares. `RunConfig(...)`, `from_dict`, `from_yaml` and `load` return the config
    of the task named by `task` (the default task when none is named): a subclass defined in the task's folder.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    task: str = DEFAULT_TASK
    data: str = Field(..., description="An imported dataset folder (with manifest.json) or a raw source to import.")
    model: str = "tf_efficientnet_lite0"
    weights: str | None = Field(None, description="A weights file supplied by the user, used instead of the defaults.")
    mode: Mode = "auto"
    epochs: int | None = Field(None, ge=1, le=1000, description="None: the mode's default.")
    batch_size: int | None = Field(None, ge=1, le=1024, description="Examples per step; None: the family's default "
                                   "(32 for timm models, 16 for YOLO as in Ultralytics).")
    lr: float | None = Field(None, gt=0, description="Peak learning rate; None: the mode's default.")
    weight_decay: float = Field(0.05, ge=0)
    warmup_epochs: float = Field(1.0, ge=0)
    early_stopping_patience: int | None = Field(None, ge=0, description="Epochs without validation gain before "
                                                "stopping; 0 is off; None: 5, or 15 when training from scratch.")
    eval: EvalConfig = Field(default_factory=EvalConfig)
    seed: int = 0
    device: Device = "auto"
    amp: bool = Field(True, description="Mixed precision on CUDA; ignored on the CPU.")
    num_workers: int | None = Field(None, ge=0, le=32, description="Data-loading processes; None: the family's "
                                    "own choice (none for timm's few-image runs, Ultralytics' rule for YOLO).")
    budget_minutes: float | None = Field(None, gt=0, description="Stop training (keeping the best checkpoint) after this long.")
    val_fraction: float = Field(0.15, ge=0, lt=0.5)
    test_fraction: float = Field(0.15, ge=0, lt=0.5)

    def __new__(cls, *args: Any, **fields: Any):
        # `RunConfig(...)` names no task class: build the one the fields' `task` says.
        if cls is RunConfig and fields:
            return config_class(fields.get("task")).model_validate(fields)
        return super().__new__(cls)

    def __init__(self, /, **fields: Any):
        if fields and getattr(self, "__pydantic_fields_set__", None) is not None:
            return  # already validated by __new__ (Python calls __init__ again on what __new__ returned)
        super().__init__(**fields)

    def resolve_task_settings(self, model: Any, data: Any) -> dict[str, Any]:
        """The task's own settings made concrete for engine.resolve (a task's config overrides this)."""
        return {}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)

    def save(self, run_dir: str | Path) -> Path:
        return atomic_write_text(Path(run_dir) / CONFIG_FILE, self.to_yaml())

    @classmethod
    def from_yaml(cls, text: str, source: str = "config") -> RunConfig:
        try:
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            raise UserError(f"{source} is not valid YAML: {e}") from None
        if not isinstance(raw, dict):
            raise UserError(f"{source} must be a mapping of settings, got {type(raw).__name__}.")
        return cls.from_dict(raw, source)

    @classmethod
    def from_dict(cls, raw: dict, source: str = "config") -> RunConfig:
        task = raw.get("task", DEFAULT_TASK)
        if not isinstance(task, str) or task not in TASKS:
            raise UserError(f"{source}: setting 'task' is invalid: Konstruktor knows the tasks {', '.join(TASKS)}, "
                            f"not {task!r}.")
        try:
            return _union().validate_python({**raw, "task": task})
        except ValidationError as e:
            first = e.errors()[0]
            loc = [str(p) for p in first["loc"]]
            if loc and loc[0] == task:  # the discriminated union puts the task's tag first
                loc = loc[1:]
            where = ".".join(loc) or "config"
            raise UserError(f"{source}: setting '{where}' is invalid: {first['msg']}.") from None

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        if path.is_dir():
            path = path / CONFIG_FILE
        if not path.exists():
            raise UserError(f"No run configuration at {path}.")
        return cls.from_yaml(path.read_text(encoding="utf-8"), source=str(path))


def config_class(task: str | None = None) -> type[RunConfig]:
    """The RunConfig subclass of a task (its folder's config.py names it CONFIG)."""
    task = task or DEFAULT_TASK
    if task not in TASKS:
        raise UserError(f"Unknown task '{task}'. Konstruktor knows: {', '.join(TASKS)}.")
    return importlib.import_module(f"{TASKS[task]}.config").CONFIG


_UNION: list[TypeAdapter] = []


def _union() -> TypeAdapter:
    """Every task's config in one pydantic union discriminated on `task` (built once, on first use)."""
    if not _UNION:
        members = tuple(config_class(name) for name in TASKS)
        kind = members[0] if len(members) == 1 else Annotated[Union[members], Field(discriminator="task")]  # noqa: UP007
        _UNION.append(TypeAdapter(kind))
    return _UNION[0]


def task_of_run(run_dir: str | Path) -> Task:
    """The task a run folder was trained for: its config.yaml's `task` (the default task when it says none)."""
    try:
        raw = yaml.safe_load((Path(run_dir) / CONFIG_FILE).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        raw = {}
    return get_task(raw.get("task") if isinstance(raw, dict) else None)
