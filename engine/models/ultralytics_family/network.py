"""The Ultralytics family: YOLO11 classification networks (`yolo11{n,s,m,l,x}-cls`) behind the timm-like interface.

The network is Ultralytics' own `ClassificationModel` built from its yaml; `YoloClassifier` keeps its layers
under the same state-dict keys (`model.N.*`), so Ultralytics' checkpoints load into it unchanged and ours into a
plain `ClassificationModel`. Pretrained weights come only from files (the weight cache or `--weights`); nothing
here downloads anything. Ultralytics is imported lazily: it takes seconds.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.errors import UserError
from engine.models.base import BuiltModel, ModelSpec
from engine.models.ultralytics_family import FAMILY
from engine.models.ultralytics_family.env import prepare_ultralytics
from engine.models.weights import (
    cache_dir_for,
    load_matching,
    load_planned,
    plan_weights,
    read_state_dict,
    strip_prefixes,
)

# Where an Ultralytics checkpoint keeps its network: the EMA weights first, as Ultralytics itself loads them.
WRAPPER_KEYS = ("ema", "model", "state_dict")
MISMATCH_HINT = "Check that the file is for the same YOLO11 size (n, s, m, l or x) and the -cls task."
# Ultralytics' classification eval transform (classify_transforms): shorter side to imgsz, centre crop,
# pixels / 255 with mean 0 and std 1.
PREPROCESS = {"crop_pct": 1.0, "interpolation": "bilinear", "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}


def yaml_name(spec_name: str) -> str:
    """`yolo11n-cls` -> `yolo11n-cls.yaml` (Ultralytics reads the scale letter from the file name)."""
    return f"{spec_name}.yaml"


def build_classification_model(spec_name: str, num_classes: int) -> nn.Module:
    """Ultralytics' `ClassificationModel` for `yolo11?-cls` with `num_classes` outputs, randomly initialised."""
    prepare_ultralytics()
    from ultralytics.nn.tasks import ClassificationModel

    # Its constructor prints a model summary; that belongs in no log of ours.
    with contextlib.redirect_stdout(io.StringIO()):
        return ClassificationModel(yaml_name(spec_name), nc=num_classes, verbose=False)


class YoloClassifier(nn.Module):
    """A YOLO11 classification network with timm's interface (`forward_features`, `forward_head`, ...)."""

    def __init__(self, net: nn.Module, yaml: dict[str, Any]):
        super().__init__()
        self.model = net.model  # same keys as Ultralytics' ClassificationModel: model.0.conv.weight, ...
        self.yaml = dict(yaml)

    @property
    def head(self) -> nn.Module:
        return self.model[-1]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map (the head's 1x1 conv to 1280 channels), before pooling: Grad-CAM's target."""
        for layer in self.model[:-1]:
            x = layer(x)
        return self.head.conv(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head.drop(self.head.pool(x).flatten(1))
        return x if pre_logits else self.head.linear(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (Ultralytics' head returns probabilities in eval mode; ours returns logits always)."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Linear:
        return self.head.linear

    def reset_classifier(self, num_classes: int) -> None:
        old = self.head.linear
        self.head.linear = nn.Linear(old.in_features, num_classes).to(old.weight.device)

    def to_ultralytics(self) -> nn.Module:
        """A plain Ultralytics `ClassificationModel` holding these weights (for its trainer)."""
        prepare_ultralytics()
        from ultralytics.nn.tasks import ClassificationModel

        with contextlib.redirect_stdout(io.StringIO()):
            net = ClassificationModel(dict(self.yaml), nc=self.get_classifier().out_features, verbose=False)
        net.load_state_dict(self.state_dict())
        return net


def layer_groups(model: YoloClassifier) -> list[list[nn.Parameter]]:
    """One group per backbone layer, the head's conv, then the classifier alone (input to output)."""
    groups = [[p for p in layer.parameters() if p.requires_grad] for layer in model.model[:-1]]
    groups.append([p for p in model.head.conv.parameters() if p.requires_grad])
    groups.append([p for p in model.get_classifier().parameters() if p.requires_grad])
    return [g for g in groups if g]


def _restricted_load(path: Path) -> Any:
    """Ultralytics' restricted loader (weights only, with an allow-list of its model classes) for its .pt files."""
    if path.suffix != ".pt":
        raise UserError(f"The weights file {path} cannot be read as PyTorch weights; give a YOLO11 .pt file.")
    prepare_ultralytics()
    from ultralytics.nn.tasks import torch_safe_load

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            obj, _ = torch_safe_load(str(path), safe_only=True)
    except Exception as e:
        raise UserError(f"The weights file {path} is not a YOLO checkpoint we can read safely "
                        f"({type(e).__name__}); give an Ultralytics .pt or a state dict.") from None
    return obj


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a user's or the cache's .pt: a plain state dict, or an Ultralytics checkpoint loaded safely.

    A .pt is untrusted input, so nothing in it may run code: torch's weights_only loader first, then
    Ultralytics' restricted loader.
    """
    # "model." starts every key of a YOLO network, so only the wrappers' prefixes are stripped.
    return strip_prefixes(read_state_dict(path, wrapper_keys=WRAPPER_KEYS, fallback=_restricted_load),
                          ("module.", "_orig_mod."))


def no_weights_message(name: str, cache_dir: str | Path | None) -> str:
    """Why a YOLO11 model has no pretrained weights here, and the ways out."""
    return (f"No pretrained weights for {name} on this computer: no YOLO11 weights ship with Konstruktor. "
            f"Put {name}.pt in {cache_dir_for(cache_dir)} or pass --weights FILE, or train from scratch "
            "(--mode scratch).")


def build(
    spec: ModelSpec,
    num_classes: int,
    *,
    pretrained: bool,
    weights: str | Path | None,
    image_size: int | None,
    cache_dir: str | Path | None,
) -> BuiltModel:
    """Build a YOLO11 classifier; weights from `weights` or the weight cache, never from the network."""
    plan = plan_weights(spec.name, pretrained=pretrained, weights=weights, cache_dir=cache_dir,
                        has_hub_weights=False, no_weights_message=no_weights_message(spec.name, cache_dir))
    net = build_classification_model(spec.name, num_classes)
    model = YoloClassifier(net, net.yaml)
    # Files from the cache are Ultralytics' own checkpoints, often of another class count: 90 % must fit.
    loaded = load_planned(
        model, spec.name, plan, read=read_weights, strict_own=False,
        load=lambda sd, what, strict: load_matching(model, [sd], head_keys=FAMILY.head_keys(model), what=what,
                                                    strict=strict, hint=MISMATCH_HINT),
    )
    size = int(image_size or spec.input_size)
    return BuiltModel(
        model=model,
        preprocess=preprocess_config(size),
        name=spec.name,
        family=spec.family,
        pretrained=loaded.pretrained,
        weights_source=loaded.source,
        embed_dim=int(model.get_classifier().in_features),
        layer_groups=layer_groups(model),
    )


def preprocess_config(image_size: int) -> dict[str, Any]:
    """Ultralytics' eval transform as our plain-data preprocessing config."""
    from engine.preprocess import MAX_SIDE

    return {"input_size": int(image_size), **{k: (list(v) if isinstance(v, list) else v) for k, v in
                                                PREPROCESS.items()}, "max_side": int(MAX_SIDE)}
