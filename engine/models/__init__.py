"""Model registry: `build(name, num_classes)` is the one front door; weights are found offline first."""

from engine.models.registry import BuiltModel, ModelSpec, build, get_spec, list_models
from engine.models.weights import available_offline

__all__ = ["BuiltModel", "ModelSpec", "available_offline", "build", "get_spec", "list_models"]
