"""The timm family's networks: `timm.create_model` without downloads, our weight resolution, preprocessing
and layer groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import get_pretrained_cfg
from torch import nn

from engine.errors import WeightsUnavailable
from engine.models.base import BuiltModel, ModelSpec
from engine.models.timm_family import FAMILY
from engine.models.timm_family.keys import candidates
from engine.models.weights import (
    cache_dir_for,
    load_matching,
    load_planned,
    plan_weights,
    read_state_dict,
    unavailable_message,
)
from engine.preprocess import MAX_SIDE

# Preprocessing that belongs to the offline weights rather than to timm's default tag.
_PREPROCESS_OVERRIDES: dict[str, dict[str, Any]] = {
    # torchvision's IMAGENET1K_V1 recipe: resize 256, crop 224, bilinear, ImageNet statistics.
    "mobilenetv2_100": {
        "crop_pct": 0.875,
        "interpolation": "bilinear",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
    },
}

MISMATCH_HINT = "Check that the file is for the same architecture."
# The MATCH_PREV_GROUP marker of timm's group matchers, which folds the head conv into the last stage.
_MATCH_PREV_GROUP = (99999,)
_OWN_GROUP = (100000,)


def build(
    spec: ModelSpec,
    num_classes: int,
    *,
    pretrained: bool,
    weights: str | Path | None,
    image_size: int | None,
    cache_dir: str | Path | None,
) -> BuiltModel:
    """A timm network with `num_classes` outputs; weights planned first (offline first), then loaded."""
    hub_cfg = get_pretrained_cfg(spec.name)
    plan = plan_weights(
        spec.name,
        pretrained=pretrained,
        weights=weights,
        cache_dir=cache_dir,
        has_hub_weights=bool(hub_cfg and (hub_cfg.hf_hub_id or hub_cfg.url)),
        no_weights_message=unavailable_message(spec.name, cache_dir, "timm publishes no ImageNet weights for it"),
    )
    kwargs: dict[str, Any] = {}
    if image_size is not None and has_fixed_grid(spec.name):
        kwargs["img_size"] = image_size
    # pretrained=False: timm never touches the network; weights come from load_planned only.
    model = timm.create_model(spec.name, pretrained=False, num_classes=num_classes, **kwargs)
    loaded = load_planned(
        model, spec.name, plan, read=read_weights, download=lambda: download_to_cache(spec.name, cache_dir),
        load=lambda sd, what, strict: load_matching(model, candidates(sd, model), head_keys=FAMILY.head_keys(model),
                                                    what=what, strict=strict, hint=MISMATCH_HINT),
    )
    cfg = model.pretrained_cfg
    return BuiltModel(
        model=model,
        preprocess=preprocess_config(spec, cfg, image_size),
        name=spec.name,
        family=spec.family,
        pretrained=loaded.pretrained,
        weights_source=loaded.source,
        embed_dim=int(model.get_classifier().in_features),
        layer_groups=layer_groups(model),
    )


def read_weights(path: str | Path) -> dict[str, Any]:
    """The tensors of a .safetensors or torch weights file (weights only: nothing in it runs)."""
    return read_state_dict(path)


def download_to_cache(name: str, cache_dir: str | Path | None) -> Path:
    """Fetch timm's default ImageNet weights for `name` from the Hugging Face hub and keep a copy in the cache."""
    import torch

    from engine.fsutil import atomic_write

    try:
        # timm looked up at call time: tests stand a local model in for the download.
        model = timm.create_model(name, pretrained=True)
    except Exception as e:
        raise WeightsUnavailable(
            unavailable_message(name, cache_dir, f"the download failed ({type(e).__name__}: {e})")
        ) from None
    path = cache_dir_for(cache_dir) / f"{name}.pth"
    state = model.state_dict()
    atomic_write(path, lambda f: torch.save(state, f))
    return path


def has_fixed_grid(name: str) -> bool:
    """Vision transformers size their position embedding for one input size, so they are built for it."""
    return name.startswith("vit_")


def preprocess_config(spec: ModelSpec, cfg: dict[str, Any], image_size: int | None) -> dict[str, Any]:
    """The eval transform as plain data (ints, floats, strings) for checkpoints, ONNX packages and predict.py."""
    merged = {**cfg, **_PREPROCESS_OVERRIDES.get(spec.name, {})}
    return {
        "input_size": int(image_size or spec.input_size),
        "crop_pct": float(merged.get("crop_pct", 0.875)),
        "interpolation": str(merged.get("interpolation", "bilinear")),
        "mean": [float(v) for v in merged.get("mean", IMAGENET_DEFAULT_MEAN)],
        "std": [float(v) for v in merged.get("std", IMAGENET_DEFAULT_STD)],
        "max_side": int(MAX_SIDE),
    }


def layer_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """Trainable parameters from input to output: stem, each stage, head layers, and last the classifier alone."""
    from timm.models import group_parameters

    matcher = model.group_matcher(coarse=True)
    # timm merges the head conv / final norm into the last stage; for layer-wise decay they stand alone.
    matcher = {
        group: [
            (rx, _OWN_GROUP if tuple(suffix or ()) == _MATCH_PREV_GROUP else suffix) for rx, suffix in spec
        ]
        if isinstance(spec, (list, tuple))
        else spec
        for group, spec in matcher.items()
    }
    named = dict(model.named_parameters())
    head = {id(p) for p in model.get_classifier().parameters()}
    groups = [
        [named[n] for n in names if id(named[n]) not in head and named[n].requires_grad]
        for _, names in sorted(group_parameters(model, matcher).items())
    ]
    classifier = [p for p in model.get_classifier().parameters() if p.requires_grad]
    return [g for g in groups if g] + [classifier]
