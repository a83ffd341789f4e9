"""The model registry: one front door, `build(name, num_classes)`, and plain data about every model.

Every family in engine.models.families lists its models; listing them imports neither torch nor timm, so the
UI can fill its menus at once. The family's builder (and torch) is imported only when a model is built.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from engine.errors import UserError
from engine.models.base import BuiltModel, ModelSpec
from engine.models.families import all_families, get_family
from engine.models.weights import cached_file, package_file


def _specs() -> tuple[ModelSpec, ...]:
    return tuple(spec for family in all_families() for spec in family.specs)


def _aliases() -> dict[str, str]:
    return {alias: name for family in all_families() for alias, name in family.aliases.items()}


def list_models(task: str | None = None) -> list[ModelSpec]:
    """Every model Konstruktor can build (for `task`, when given), those with offline weights first."""
    specs = [s for s in _specs() if task is None or task in s.tasks]
    return sorted(specs, key=lambda s: not s.pretrained_offline)


def get_spec(name: str) -> ModelSpec:
    """The registry entry for a name or alias; an unknown name raises UserError with close matches."""
    by_name = {spec.name: spec for spec in _specs()}
    aliases = _aliases()
    key = str(name).strip().lower()
    key = aliases.get(key, key)
    if key in by_name:
        return by_name[key]
    known = list(by_name) + list(aliases)
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
    suggestions = (
        list(dict.fromkeys(aliases.get(c, c) for c in close))
        or [s.name for s in _specs() if s.pretrained_offline][:3]
    )
    raise UserError(
        f"Unknown model '{name}'. Did you mean {' or '.join(suggestions)}? "
        "`python -m engine models` lists them all."
    )


def available_offline(name: str, cache_dir: str | Path | None = None) -> bool:
    """True when pretrained weights for this model are on this computer (cache or installed package)."""
    canonical = get_spec(name).name
    return cached_file(canonical, cache_dir) is not None or package_file(canonical) is not None


def build(
    name: str,
    num_classes: int,
    *,
    pretrained: bool = True,
    weights: str | Path | None = None,
    image_size: int | None = None,
    cache_dir: str | Path | None = None,
) -> BuiltModel:
    """Build a model with `num_classes` outputs and load pretrained weights (offline first, never silently random).

    `weights` (a file) beats every other source and is loaded even when pretrained=False.
    Raises WeightsUnavailable when pretrained weights are wanted and none can be had.
    """
    spec = get_spec(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise UserError(f"A model needs at least one class to predict; got num_classes={num_classes!r}.")
    if image_size is not None and (not isinstance(image_size, int) or not 32 <= image_size <= 2048):
        raise UserError(
            f"The image size must be a whole number of pixels from 32 to 2048; got {image_size!r}."
        )
    return get_family(spec.family).build(spec, num_classes, pretrained=pretrained, weights=weights,
                                         image_size=image_size, cache_dir=cache_dir)


def family_of(record: dict) -> str:
    """The family of a checkpoint's (or an export report's) model: the one it names, else the registry's."""
    return record.get("family") or get_spec(record["model"]).family
