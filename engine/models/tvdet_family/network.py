"""The torchvision detectors' networks: a pretrained body, torchvision's FCOS or SSDlite parts, and the graph of
the contract in engine.tasks.object_detection.boxes.

`DetectionNet` is both what trains (`losses`, torchvision's own loss code) and the graph (`forward`): the
picture is normalised inside the network and torchvision's resizing transform is replaced by a pass-through, so
training sees exactly the letterboxed S×S pictures inference does. Anchors (FCOS: one point per location;
SSD: default boxes) depend only on S, so they are computed once and kept as a buffer: the graph has no
data-dependent control flow and exports to ONNX with a dynamic batch. Choices kept CPU-friendly: a 128-channel
feature pyramid and two convolutions per FCOS head tower.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models import mobilenet_v2
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from torchvision.models.detection.fcos import FCOS, FCOSHead
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.ssd import SSD
from torchvision.models.detection.ssdlite import SSDLiteHead
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
from torchvision.ops.misc import Conv2dNormActivation

from engine.errors import UserError
from engine.models.weights import (
    PACKAGE_WEIGHTS,
    load_matching,
    load_planned,
    plan_weights,
    read_state_dict,
    unavailable_message,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FPN_CHANNELS = 128
FCOS_HEAD_CONVS = 2
# SSD's box coder weights and the clamp on its log-size deltas, as torchvision's SSD uses them.
SSD_CODER_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
SSD_EXTRAS = (512, 256, 256, 128)

# spec name -> (detector kind, body); the body's ImageNet weights are those of PACKAGE_WEIGHTS[spec name].
ARCHITECTURES: dict[str, tuple[str, str]] = {
    "fcos-mobilenetv2": ("fcos", "mobilenetv2"),
    "ssdlite-mobilenetv2": ("ssdlite", "mobilenetv2"),
    "fcos-lite0": ("fcos", "lite0"),
}
LITE0 = "tf_efficientnet_lite0"


class Stages(nn.Module):
    """A pretrained body cut into consecutive stages; the output of each stage is one feature map."""

    def __init__(self, stages: list[nn.Module], channels: list[int]):
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.channels = channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out


class PyramidBackbone(nn.Module):
    """Body stages (strides 8, 16, 32) into a feature pyramid, plus P6 by max-pooling (FCOS's levels)."""

    def __init__(self, body: Stages, out_channels: int):
        super().__init__()
        self.body = body
        self.fpn = FeaturePyramidNetwork(body.channels, out_channels, extra_blocks=LastLevelMaxPool())
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(self.body(x))))


def _extra_block(cin: int, cout: int) -> nn.Sequential:
    """SSDlite's extra layer: 1×1 squeeze, 3×3 depthwise at stride 2, 1×1 expand."""
    norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
    mid = cout // 2
    return nn.Sequential(
        Conv2dNormActivation(cin, mid, 1, norm_layer=norm, activation_layer=nn.ReLU6),
        Conv2dNormActivation(mid, mid, 3, stride=2, groups=mid, norm_layer=norm, activation_layer=nn.ReLU6),
        Conv2dNormActivation(mid, cout, 1, norm_layer=norm, activation_layer=nn.ReLU6),
    )


class SSDLiteBackbone(nn.Module):
    """Body stages (strides 16, 32) and extra stride-2 layers: six maps for SSDlite's default boxes."""

    def __init__(self, body: Stages):
        super().__init__()
        self.body = body
        chans = [body.channels[-1], *SSD_EXTRAS]
        self.extras = nn.ModuleList(_extra_block(a, b) for a, b in zip(chans[:-1], chans[1:], strict=True))
        self.channels = [*body.channels, *SSD_EXTRAS]

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        maps = self.body(x)
        y = maps[-1]
        for block in self.extras:
            y = block(y)
            maps.append(y)
        return OrderedDict((str(i), f) for i, f in enumerate(maps))


class Normalise(nn.Module):
    """Stands in for torchvision's GeneralizedRCNNTransform: no resizing (the pictures are letterboxed to S
    already), only the backbone's normalisation, so training and the graph preprocess alike."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def forward(self, images, targets=None):
        x = torch.stack(list(images)) if isinstance(images, list | tuple) else images
        return ImageList(self.normalise(x), [tuple(x.shape[-2:])] * x.shape[0]), targets

    def postprocess(self, result, image_sizes, original_sizes):
        """torchvision's own eval path: the boxes are already in the picture's (the letterbox's) pixels."""
        return result


class DetectionNet(nn.Module):
    """A torchvision single-stage detector that trains through `losses` and runs as the contract's graph."""

    def __init__(self, det: nn.Module, kind: str, image_size: int, num_classes: int):
        super().__init__()
        self.det = det
        self.kind = kind
        self.image_size = image_size
        self.num_classes = num_classes
        with torch.no_grad():
            was = det.training
            det.eval()
            x = torch.zeros(1, 3, image_size, image_size)
            feats = list(det.backbone(det.transform.normalise(x)).values())
            anchors = det.anchor_generator(ImageList(x, [(image_size, image_size)]), feats)[0]
            det.train(was)
        self.register_buffer("anchors", anchors.float(), persistent=False)
        self.register_buffer("coder_weights", torch.tensor(SSD_CODER_WEIGHTS), persistent=False)

    def losses(self, images: torch.Tensor, targets: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """torchvision's training losses for letterboxed pictures [B, 3, S, S] in [0, 1] and their targets
        ({"boxes": [K, 4] letterbox pixels, "labels": [K] class indices from 0})."""
        shift = 1 if self.kind == "ssdlite" else 0  # SSD keeps class 0 for the background
        targets = [{"boxes": t["boxes"], "labels": t["labels"] + shift} for t in targets]
        return self.det(images, targets)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(boxes [B, N, 4] xyxy in letterbox pixels, scores [B, N, C] in [0, 1]): the graph's contract."""
        det = self.det
        feats = list(det.backbone(det.transform.normalise(images)).values())
        out = det.head(feats)
        a = self.anchors
        wh = a[:, 2:] - a[:, :2]
        ctr = a[:, :2] + 0.5 * wh
        reg = out["bbox_regression"]
        if self.kind == "fcos":
            # torchvision's BoxLinearCoder(normalize_by_size=True), and FCOS's ranking score.
            size = torch.cat([wh, wh], dim=1)
            d = reg * size
            boxes = torch.cat([ctr - d[..., :2], ctr + d[..., 2:]], dim=-1)
            scores = torch.sqrt(torch.sigmoid(out["cls_logits"]) * torch.sigmoid(out["bbox_ctrness"]))
        else:
            # torchvision's BoxCoder(weights=(10, 10, 5, 5)); softmax with the background column dropped.
            d = reg / self.coder_weights
            dxy = d[..., :2]
            dwh = torch.clamp(d[..., 2:], max=det.box_coder.bbox_xform_clip)
            pctr = dxy * wh + ctr
            pwh = torch.exp(dwh) * wh
            boxes = torch.cat([pctr - 0.5 * pwh, pctr + 0.5 * pwh], dim=-1)
            scores = torch.softmax(out["cls_logits"], dim=-1)[..., 1:]
        return boxes.clamp(0, float(self.image_size)), scores

    def body(self) -> nn.Module:
        """The pretrained part (what head-only training freezes)."""
        return self.det.backbone.body


# ------------------------------------------------------------------ bodies with their ImageNet weights


def _mobilenet_stages(kind: str, source: nn.Module) -> Stages:
    f = source.features
    if kind == "fcos":  # strides 8, 16, 32 (the 320-channel block; the 1280-channel conv is left out)
        return Stages([f[:7], f[7:14], f[14:18]], [32, 96, 320])
    return Stages([f[:14], f[14:]], [96, 1280])  # SSDlite: strides 16 and 32 with the last 1×1 conv


def _lite0_stages(model: nn.Module) -> Stages:
    """timm's EfficientNet-Lite0 cut after its stride-8, stride-16 and stride-32 stages (40, 112, 320 channels)."""
    b = model.blocks
    return Stages([nn.Sequential(model.conv_stem, model.bn1, *b[:3]), b[3:5], b[5:7]], [40, 112, 320])


def _mobilenet_body(spec_name: str, kind: str, pretrained: bool, weights, cache_dir) -> tuple[Stages, str]:
    model = mobilenet_v2(weights=None)
    model.get_classifier = lambda: model.classifier[1]  # what load_planned names in its sentence
    plan = plan_weights(spec_name, pretrained=pretrained, weights=weights, cache_dir=cache_dir,
                        has_hub_weights=False,
                        no_weights_message=unavailable_message(
                            spec_name, cache_dir,
                            f"the package {PACKAGE_WEIGHTS[spec_name].distribution} with its MobileNetV2 backbone "
                            "is not installed"))
    head = {f"classifier.1.{k}" for k in ("weight", "bias")}
    loaded = load_planned(
        model, spec_name, plan, read=read_weights,
        load=lambda sd, what, strict: load_matching(model, [sd, _strip_body(sd)], head_keys=head, what=what,
                                                    strict=strict, hint="Use torchvision's mobilenet_v2 weights."),
    )
    source = loaded.source.split("; new classifier")[0]
    return _mobilenet_stages(kind, model), source


def _strip_body(sd: dict[str, Any]) -> dict[str, Any]:
    """A user's torchvision-style file saved from `model.features` alone."""
    return {f"features.{k}": v for k, v in sd.items()}


def _lite0_body(pretrained: bool, weights, cache_dir) -> tuple[Stages, str, tuple, tuple]:
    """EfficientNet-Lite0 through the timm family's own builder (its weight resolution and key mapping)."""
    from engine.models import get_family, get_spec

    spec = get_spec(LITE0)
    built = get_family(spec.family).build(spec, 1, pretrained=pretrained, weights=weights, image_size=None,
                                          cache_dir=cache_dir)
    source = built.weights_source.split("; new classifier")[0]
    pre = built.preprocess
    return _lite0_stages(built.model), source, tuple(pre["mean"]), tuple(pre["std"])


def _detector(kind: str, body: Stages, num_classes: int, image_size: int, mean, std) -> nn.Module:
    if kind == "fcos":
        backbone = PyramidBackbone(body, FPN_CHANNELS)
        n_levels = len(body.channels) + 1
        anchors = AnchorGenerator(tuple((8 * 2 ** i,) for i in range(n_levels)), ((1.0,),) * n_levels)
        head = FCOSHead(FPN_CHANNELS, 1, num_classes, num_convs=FCOS_HEAD_CONVS)
        det = FCOS(backbone, num_classes, min_size=image_size, max_size=image_size, image_mean=list(mean),
                   image_std=list(std), anchor_generator=anchors, head=head)
    else:
        backbone = SSDLiteBackbone(body)
        anchors = DefaultBoxGenerator([[2, 3]] * len(backbone.channels), min_ratio=0.2, max_ratio=0.95)
        norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
        head = SSDLiteHead(backbone.channels, anchors.num_anchors_per_location(), num_classes + 1, norm)
        det = SSD(backbone, anchors, (image_size, image_size), num_classes + 1, image_mean=list(mean),
                  image_std=list(std), head=head)
    det.transform = Normalise(tuple(mean), tuple(std))
    return det


def build_detector(spec_name: str, num_classes: int, image_size: int, *, pretrained: bool,
                   weights: str | Path | None = None,
                   cache_dir: str | Path | None = None) -> tuple[DetectionNet, dict[str, Any], str]:
    """(the network, the recipe that rebuilds it, where its backbone's weights came from).

    Raises WeightsUnavailable when pretrained weights are wanted and the backbone's are not installed.
    """
    if spec_name not in ARCHITECTURES:
        raise UserError(f"{spec_name} is not a torchvision detector; choose one of {', '.join(ARCHITECTURES)}.")
    if image_size % 32:
        raise UserError(f"The detector's image size must be a multiple of 32 pixels; got {image_size}.")
    kind, body_name = ARCHITECTURES[spec_name]
    if body_name == "mobilenetv2":
        body, source = _mobilenet_body(spec_name, kind, pretrained, weights, cache_dir)
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    else:
        body, source, mean, std = _lite0_body(pretrained, weights, cache_dir)
    det = _detector(kind, body, num_classes, image_size, mean, std)
    recipe = {"model": spec_name, "kind": kind, "body": body_name, "num_classes": int(num_classes),
              "image_size": int(image_size), "mean": [float(v) for v in mean], "std": [float(v) for v in std],
              "fpn_channels": FPN_CHANNELS if kind == "fcos" else None,
              "head_convs": FCOS_HEAD_CONVS if kind == "fcos" else None}
    return DetectionNet(det, kind, image_size, num_classes), recipe, source


def graph_from_checkpoint(ckpt: dict[str, Any]) -> DetectionNet:
    """The trained graph a detection checkpoint describes (eval mode), rebuilt without any download."""
    r = ckpt["recipe"]
    kind, body_name = ARCHITECTURES[r["model"]]
    if body_name == "mobilenetv2":
        body = _mobilenet_stages(kind, mobilenet_v2(weights=None))
    else:
        import timm

        body = _lite0_stages(timm.create_model(LITE0, pretrained=False, num_classes=1))
    det = _detector(kind, body, int(r["num_classes"]), int(r["image_size"]), r["mean"], r["std"])
    net = DetectionNet(det, kind, int(r["image_size"]), int(r["num_classes"]))
    net.load_state_dict(ckpt["state_dict"])
    return net.eval()


def read_weights(path: str | Path) -> dict[str, Any]:
    """The tensors of a user's .safetensors or torch weights file (weights only: nothing in it runs)."""
    return read_state_dict(path)
