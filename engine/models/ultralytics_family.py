"""The Ultralytics family: YOLO11 classification networks (`yolo11{n,s,m,l,x}-cls`) behind the timm-like interface.

The network is Ultralytics' own `ClassificationModel` built from its yaml; `YoloClassifier` keeps its layers
under the same state-dict keys (`model.N.*`), so Ultralytics' checkpoints load into it unchanged and ours into a
plain `ClassificationModel`. Pretrained weights come only from files (the weight cache or `--weights`); nothing
here downloads anything. Ultralytics is imported lazily: it takes seconds.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.errors import UserError, WeightsUnavailable
from engine.models.registry import BuiltModel, ModelSpec
from engine.models.weights import MIN_USER_MATCH, cache_dir_for, cached_file

# Ultralytics' classification eval transform (classify_transforms): shorter side to imgsz, centre crop,
# pixels / 255 with mean 0 and std 1.
PREPROCESS = {"crop_pct": 1.0, "interpolation": "bilinear", "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
# Environment that keeps Ultralytics offline and quiet; set before its first import.
OFFLINE_ENV = {"YOLO_AUTOINSTALL": "false", "YOLO_OFFLINE": "true", "ULTRALYTICS_SAFE_LOAD": "true",
               "YOLO_VERBOSE": "false"}


def prepare_ultralytics(config_dir: str | Path | None = None) -> None:
    """Point Ultralytics' settings at `config_dir` (before its first import) and switch off sync and integrations."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.pop("ULTRALYTICS_API_KEY", None)  # no Platform streaming from a training child
    if "ultralytics" not in sys.modules and not os.environ.get("YOLO_CONFIG_DIR"):
        if config_dir is None:
            from engine.workspace import default_root

            config_dir = default_root() / "cache" / "ultralytics"
        # Its settings file (and font cache) live in the workspace, not in the user's home.
        Path(config_dir).mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    from ultralytics.utils import SETTINGS

    _undo_pil_patch()
    wanted = {"sync": False, "hub": False, "api_key": "", "clearml": False, "comet": False, "dvc": False,
              "mlflow": False, "raytune": False, "tensorboard": False, "wandb": False}
    wanted = {k: v for k, v in wanted.items() if k in SETTINGS and SETTINGS[k] != v}
    if wanted:
        SETTINGS.update(wanted)


def _undo_pil_patch() -> None:
    """Give PIL.Image.open back. Importing Ultralytics replaces it, process-wide, with a wrapper that on any file
    PIL cannot identify tries to pip-install a HEIF plugin: the importer would then report a PDF named .jpg as
    something else than "not a picture", and an online machine would get a package installed behind its back."""
    from PIL import Image
    from ultralytics.utils import patches

    original = getattr(patches, "_image_open", None)
    if original is not None and Image.open is getattr(patches, "image_open", None):
        Image.open = original


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


def read_yolo_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a user's or the cache's .pt: a plain state dict, or an Ultralytics checkpoint loaded safely.

    A .pt is untrusted input, so nothing in it may run code: torch's weights_only loader first, then
    Ultralytics' restricted loader (weights_only with an allow-list of its model classes).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"The weights file {path} does not exist.")
    try:
        obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        obj = None
    if obj is None:
        if path.suffix != ".pt":
            raise UserError(f"The weights file {path} cannot be read as PyTorch weights; give a YOLO11 .pt file.")
        prepare_ultralytics()
        from ultralytics.nn.tasks import torch_safe_load

        try:
            with contextlib.redirect_stdout(io.StringIO()):
                obj, _ = torch_safe_load(str(path), safe_only=True)
        except Exception as e:
            raise UserError(f"The weights file {path} is not a YOLO classification checkpoint we can read safely "
                            f"({type(e).__name__}); give an Ultralytics .pt or a state dict.") from None
    if isinstance(obj, dict):
        for key in ("ema", "model", "state_dict"):
            if isinstance(obj.get(key), dict | nn.Module):
                obj = obj[key]
                break
    if isinstance(obj, nn.Module):
        obj = obj.float().state_dict()
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"The weights file {path} holds no tensors named by layer (no state dict found).")
    sd = {str(k): v for k, v in obj.items()}
    for prefix in ("module.", "_orig_mod."):
        if all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items()}
    return sd


def load_matching(model: YoloClassifier, sd: dict[str, torch.Tensor], *, what: str) -> tuple[int, int, bool]:
    """Copy the tensors whose name and shape fit; returns (backbone matched, backbone total, classifier loaded).

    A file that fits less than 90 % of the backbone is refused: it is for another architecture or size.
    """
    target = model.state_dict()
    head = {f"model.{len(model.model) - 1}.linear.{k}" for k in ("weight", "bias")}
    backbone = [k for k in target if k not in head]

    def fits(key: str) -> bool:
        return key in sd and tuple(sd[key].shape) == tuple(target[key].shape)

    hits = sum(fits(k) for k in backbone)
    if hits < MIN_USER_MATCH * len(backbone):
        raise UserError(f"{what} does not fit this model: only {hits} of {len(backbone)} weight tensors match. "
                        "Check that the file is for the same YOLO11 size (n, s, m, l or x) and the -cls task.")
    head_loaded = all(fits(k) for k in head)
    wanted = [k for k in backbone if fits(k)] + (sorted(head) if head_loaded else [])
    model.load_state_dict({k: sd[k].float() for k in wanted}, strict=False)
    return hits, len(backbone), head_loaded


def no_weights_message(name: str, cache_dir: str | Path | None) -> str:
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
    path: Path | None = None
    user = weights is not None
    if user:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UserError(f"The weights file {path} does not exist.")
    elif pretrained:
        path = cached_file(spec.name, cache_dir)
        if path is None:
            raise WeightsUnavailable(no_weights_message(spec.name, cache_dir))
    net = build_classification_model(spec.name, num_classes)
    model = YoloClassifier(net, net.yaml)
    source = "none (trained from scratch)"
    if path is not None:
        hits, total, head = load_matching(model, read_yolo_state_dict(path), what=f"The weights file {path}")
        source = (f"your weights file {path}" if user else f"weights from the cache file {path}") + (
            "" if hits == total else f", {hits} of {total} weight tensors matched")
        if not head:
            source += f"; new classifier for {num_classes} classes"
    size = int(image_size or spec.input_size)
    return BuiltModel(
        model=model,
        preprocess=preprocess_config(size),
        name=spec.name,
        family=spec.family,
        pretrained=path is not None,
        weights_source=source,
        embed_dim=int(model.get_classifier().in_features),
        layer_groups=layer_groups(model),
    )


def preprocess_config(image_size: int) -> dict[str, Any]:
    """Ultralytics' eval transform as our plain-data preprocessing config."""
    from engine.preprocess import MAX_SIDE

    return {"input_size": int(image_size), **{k: (list(v) if isinstance(v, list) else v) for k, v in
                                                PREPROCESS.items()}, "max_side": int(MAX_SIDE)}
