"""The timm family's key mappings: other trainers' names for the same tensors, renamed to timm's.

The weights we ship come from efficientnet_pytorch and torchvision; a user's file may come from either, or
from timm itself behind DataParallel, torch.compile or Lightning. `candidates` yields every naming we know,
and engine.models.weights.load_matching keeps the one that fits best.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from engine.models.weights import strip_prefixes

if TYPE_CHECKING:
    from torch import nn

# The wrappers DataParallel, torch.compile and Lightning put in front of every key.
PREFIXES = ("module.", "_orig_mod.", "model.")


def _block_index(stage_lengths: list[int]) -> list[tuple[int, int]]:
    """Flat block number -> (stage, index in stage), as timm nests EfficientNet blocks."""
    return [(stage, i) for stage, n in enumerate(stage_lengths) for i in range(n)]


_EP_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_EP_DS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_EP_IR = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}


def efficientnet_pytorch_to_timm(sd: dict[str, Any], stage_lengths: list[int]) -> dict[str, Any]:
    """Rename efficientnet_pytorch keys (`_conv_stem`, `_blocks.N.*`, `_fc`) to timm's EfficientNet keys."""
    where = _block_index(stage_lengths)
    expanding = {int(k.split(".")[1]) for k in sd if k.startswith("_blocks.") and "._expand_conv." in k}
    out = {}
    for key, value in sd.items():
        m = re.match(r"_blocks\.(\d+)\.(\w+)\.(.+)$", key)
        if m:
            n, layer, rest = int(m.group(1)), m.group(2), m.group(3)
            if n >= len(where):
                out[key] = value
                continue
            names = _EP_IR if n in expanding else _EP_DS
            stage, i = where[n]
            out[f"blocks.{stage}.{i}.{names.get(layer, layer)}.{rest}"] = value
        else:
            head, _, rest = key.partition(".")
            out[f"{_EP_TOP.get(head, head)}.{rest}"] = value
    return out


_TV_DS = {"conv.0.0": "conv_dw", "conv.0.1": "bn1", "conv.1": "conv_pw", "conv.2": "bn2"}
_TV_IR = {
    "conv.0.0": "conv_pw",
    "conv.0.1": "bn1",
    "conv.1.0": "conv_dw",
    "conv.1.1": "bn2",
    "conv.2": "conv_pwl",
    "conv.3": "bn3",
}


def torchvision_mobilenetv2_to_timm(sd: dict[str, Any], stage_lengths: list[int]) -> dict[str, Any]:
    """Rename torchvision `mobilenet_v2` keys (`features.K.conv.*`, `classifier.1`) to timm's mobilenetv2_* keys."""
    where = _block_index(stage_lengths)
    head = len(where) + 1  # features.0 is the stem, then one entry per block, then the head conv
    expanding = {int(k.split(".")[1]) for k in sd if re.match(r"features\.\d+\.conv\.3\.", k)}
    out = {}
    for key, value in sd.items():
        m = re.match(r"features\.(\d+)\.(.+)$", key)
        k = int(m.group(1)) if m else -1
        if key.startswith("classifier.1."):
            out["classifier." + key[len("classifier.1.") :]] = value
        elif k in (0, head):
            layer, _, rest = m.group(2).partition(".")
            names = {"0": "conv_stem", "1": "bn1"} if k == 0 else {"0": "conv_head", "1": "bn2"}
            out[f"{names.get(layer, layer)}.{rest}"] = value
        elif 0 < k < head:
            rest = m.group(2)
            for tv, timm_name in (_TV_IR if k in expanding else _TV_DS).items():
                if rest.startswith(tv + "."):
                    rest = timm_name + rest[len(tv) :]
                    break
            stage, i = where[k - 1]
            out[f"blocks.{stage}.{i}.{rest}"] = value
        else:
            out[key] = value
    return out


def _stage_lengths(model: nn.Module) -> list[int] | None:
    blocks = getattr(model, "blocks", None)
    try:
        return [len(stage) for stage in blocks] if blocks is not None else None
    except TypeError:  # a ViT's blocks are single modules, not stages
        return None


def candidate_mappings(sd: dict[str, Any], model: nn.Module) -> Iterator[dict[str, Any]]:
    """The state dict under each key naming we know: as is (timm), efficientnet_pytorch, torchvision."""
    sd = strip_prefixes(sd, PREFIXES)
    yield sd
    lengths = _stage_lengths(model)
    if lengths is None:
        return
    if any(k.startswith("_blocks.") for k in sd):
        yield efficientnet_pytorch_to_timm(sd, lengths)
    if any(k.startswith("features.") for k in sd):
        yield torchvision_mobilenetv2_to_timm(sd, lengths)


def adapt_position_embedding(sd: dict[str, Any], target: dict[str, Any], model: nn.Module) -> None:
    """A ViT built for another image size gets the checkpoint's position grid resampled to fit."""
    if "pos_embed" in sd and "pos_embed" in target and sd["pos_embed"].shape != target["pos_embed"].shape:
        from timm.layers import resample_abs_pos_embed

        prefix = 0 if getattr(model, "no_embed_class", False) else int(getattr(model, "num_prefix_tokens", 1))
        sd["pos_embed"] = resample_abs_pos_embed(
            sd["pos_embed"], new_size=list(model.patch_embed.grid_size), num_prefix_tokens=prefix
        )


def candidates(sd: dict[str, Any], model: nn.Module) -> Iterator[dict[str, Any]]:
    """Each naming of `sd` we know, with a ViT's position grid fitted to the model (copies; `sd` is kept)."""
    target = model.state_dict()
    for mapped in candidate_mappings(sd, model):
        mapped = dict(mapped)
        adapt_position_embedding(mapped, target, model)
        yield mapped
