"""What a model family is: plain data about its models, and behaviour its own modules supply when used.

A family's light module (`engine/models/<family>/__init__.py`) defines FAMILY, an instance of a `Family`
subclass; everything that needs torch, timm or Ultralytics sits in the family's other modules and is imported
by the methods here when a model is built, trained or exported. Listing models and families stays cheap.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """What a person choosing a model needs to know; `pretrained_offline` means weights ship with Konstruktor."""

    name: str
    family: str
    params_m: float
    input_size: int
    pretrained_offline: bool
    description: str
    weights_hint: str
    tasks: tuple[str, ...] = ("image-classification",)


@dataclass
class BuiltModel:
    """A ready model plus everything that must travel with it (preprocessing, where its weights came from)."""

    model: nn.Module
    preprocess: dict[str, Any]
    name: str
    family: str
    pretrained: bool
    weights_source: str
    embed_dim: int
    layer_groups: list[list[nn.Parameter]] = field(repr=False)


class Family:
    """One family of models behind one small interface; subclasses set the data and the module names.

    The parts a family's package provides (imported when first used):
    `network`: build(spec, num_classes, ...) -> BuiltModel and read_weights(path);
    `train`: train(ctx, mode) -> the result dict of a run (the modes beyond the shared linear probe);
    `export`: probabilities_module(model, ckpt), build_recipe(ckpt) and TORCH_TEMPLATE (predict_torch.py's
    loader snippet in export_templates/).
    """

    name: str = ""
    module: str = ""  # the family's package, e.g. "engine.models.timm_family"
    specs: tuple[ModelSpec, ...] = ()
    aliases: dict[str, str] = {}  # read-only: other spellings people use -> registry names
    # The measured model compare scales time estimates from: (model name, parameters in millions, input size).
    rate_reference: tuple[str, float, int] = ("", 1.0, 224)
    # What the exported package's predict_torch.py needs besides torch, numpy and Pillow, and the library
    # whose version the package records.
    package_requirements: tuple[str, ...] = ()
    library: str = ""
    default_batch: int = 32
    default_workers: int = 0

    def part(self, name: str) -> ModuleType:
        """One of the family's own modules (network, train, export), imported when first asked."""
        return importlib.import_module(f"{self.module}.{name}")

    def offered_modes(self, spec: ModelSpec) -> tuple[str, ...]:
        """The training modes worth offering in compare beyond the defaults."""
        return ()

    def build(self, spec: ModelSpec, num_classes: int, *, pretrained: bool, weights: str | Path | None,
              image_size: int | None, cache_dir: str | Path | None) -> BuiltModel:
        """The model with `num_classes` outputs and its weights (offline first, never silently random)."""
        return self.part("network").build(spec, num_classes, pretrained=pretrained, weights=weights,
                                          image_size=image_size, cache_dir=cache_dir)

    def read_weights(self, path: str | Path) -> dict[str, torch.Tensor]:
        """The tensors of a weights file, read without running anything in it."""
        return self.part("network").read_weights(path)

    def head_keys(self, model: nn.Module) -> set[str]:
        """The state-dict keys of the classifier (what a new class count replaces)."""
        from engine.models.weights import classifier_keys

        return classifier_keys(model)

    def train(self, ctx: Any, mode: str) -> dict[str, Any]:
        """Train `ctx`'s run in `mode` (anything but the shared linear probe); the run's result dict."""
        return self.part("train").train(ctx, mode)

    def resume_files(self, run_dir: Path) -> tuple[Path, ...]:
        """Files of the family's own trainer whose presence means a run resumes (besides our checkpoints)."""
        return ()

    def probabilities_module(self, model: nn.Module, ckpt: dict[str, Any]) -> nn.Module:
        """A copy of `model` in eval mode whose output is the task's probabilities, ready to trace."""
        return self.part("export").probabilities_module(model, ckpt)

    def build_recipe(self, ckpt: dict[str, Any]) -> dict[str, Any]:
        """Plain data that says how to rebuild the network from model.pt's state dict (predict_torch.py)."""
        return self.part("export").build_recipe(ckpt)

    def torch_template(self) -> str:
        """The export_templates/ file with predict_torch.py's `build_model` for this family."""
        return self.part("export").TORCH_TEMPLATE
