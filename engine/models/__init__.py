"""Model families and the registry: `build(name, num_classes)` is the one front door; weights are found offline first.

`FAMILIES` maps a family's name to its package (imported when asked); `get_family(name)` returns its Family.
"""

from engine.models.base import BuiltModel, Family, ModelSpec
from engine.models.families import FAMILIES, get_family
from engine.models.registry import available_offline, build, family_of, get_spec, list_models

__all__ = ["FAMILIES", "BuiltModel", "Family", "ModelSpec", "available_offline", "build", "family_of", "get_family", "get_spec",
           "list_models"]
