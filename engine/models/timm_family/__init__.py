"""The timm family: EfficientNet(-Lite), MobileNetV2, ResNet, ViT, ConvNeXt through `timm.create_model`.

Plain data and thin methods only; the network code (timm, torch) is in network.py, keys.py and export.py.
"""

from __future__ import annotations

from engine.config import DEFAULT_BATCH
from engine.models.base import Family, ModelSpec
from engine.models.timm_family.specs import ALIASES, SPECS


class TimmFamily(Family):
    """timm networks: offline weights for a few, layer-wise fine-tuning by our own loop."""

    name = "timm"
    module = __name__
    specs = SPECS
    aliases = ALIASES
    rate_reference = ("tf_efficientnet_lite0", 4.652, 224)
    package_requirements = ("timm>=1.0",)
    library = "timm"
    default_batch = DEFAULT_BATCH
    default_workers = 0  # a few dozen images decode faster in the training process than through workers

    def offered_modes(self, spec: ModelSpec) -> tuple[str, ...]:
        return ("linear-probe", "fine-tune") if spec.pretrained_offline else ()

    def train(self, ctx, mode: str) -> dict:
        from engine.training.finetune import finetune

        return finetune(ctx, mode)


FAMILY = TimmFamily()
