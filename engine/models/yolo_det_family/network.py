"""YOLO11 detection networks: Ultralytics' own `DetectionModel`, and the graph of the detector contract.

The checkpoint's `recipe` is the model's yaml dict (plain data) and its class count, so `DetectionModel(recipe)`
rebuilds the network and loads the state dict under Ultralytics' own keys (`model.N.*`). `DetectorGraph` wraps
it to the contract in engine/tasks/object_detection/boxes.py: decoded xyxy boxes in letterbox pixels and the
sigmoid class scores, no NMS in the graph. Pretrained weights come only from files (the user's `.pt` or the
weight cache), read safely by the classification family's reader; nothing here downloads anything.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.models.ultralytics_family.env import prepare_ultralytics
from engine.models.ultralytics_family.network import read_weights
from engine.models.weights import cache_dir_for, cached_file, load_matching, plan_weights

__all__ = ["DetectorGraph", "build_detection_model", "graph_from_checkpoint", "load_weights", "read_weights",
           "recipe_of"]

MISMATCH_HINT = "Check that the file is a YOLO11 detection model (not -cls, -seg or -pose) of the same size."


def build_detection_model(cfg: str | dict[str, Any], num_classes: int) -> nn.Module:
    """Ultralytics' `DetectionModel` from a yaml name (`yolo11n.yaml`) or a yaml dict, randomly initialised."""
    prepare_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    # Its constructor prints a model summary; that belongs in no log of ours.
    with contextlib.redirect_stdout(io.StringIO()):
        return DetectionModel(dict(cfg) if isinstance(cfg, dict) else cfg, nc=num_classes, verbose=False)


def recipe_of(model: nn.Module) -> dict[str, Any]:
    """What rebuilds `model`: its yaml as plain data (safe for torch.load(weights_only=True)) and its class count."""
    return {"yaml": _plain(model.yaml), "nc": int(model.model[-1].nc)}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)  # e.g. a Path in yaml_file


def class_head_keys(model: nn.Module) -> set[str]:
    """The state-dict keys of the Detect head's class branch: their shapes follow the class count."""
    prefix = f"model.{len(model.model) - 1}.cv3."
    return {k for k in model.state_dict() if k.startswith(prefix)}


def no_weights_message(name: str, cache_dir: str | Path | None) -> str:
    return (f"No weights for {name} on this computer: no YOLO11 weights ship with Konstruktor. Put {name}.pt in "
            f"{cache_dir_for(cache_dir)} or pass --weights FILE, or train from scratch (--mode scratch).")


def load_weights(model: nn.Module, name: str, *, weights: str | Path | None, use_cache: bool,
                 cache_dir: str | Path | None) -> tuple[bool, str]:
    """Load the user's `.pt` (or, when `use_cache`, `<cache>/<name>.pt`) into `model`; (pretrained, source).

    Without either file the model keeps its random weights. A file of another class count keeps the backbone and
    the box branch and gets a new class branch.
    """
    if weights is None and (not use_cache or cached_file(name, cache_dir) is None):
        return False, "none (trained from scratch)"
    plan = plan_weights(name, pretrained=True, weights=weights, cache_dir=cache_dir, has_hub_weights=False,
                        no_weights_message=no_weights_message(name, cache_dir))
    assert plan.path is not None
    what = f"The weights file {plan.path}"
    sd = {k: v.float() if v.is_floating_point() else v for k, v in read_weights(plan.path).items()}
    hits, total, head = load_matching(model, [sd], head_keys=class_head_keys(model), what=what,
                                      strict=False, hint=MISMATCH_HINT)
    source = f"your weights file {plan.path}" if plan.kind == "user" else f"weights from the cache file {plan.path}"
    if hits != total:
        source += f", {hits} of {total} weight tensors matched"
    if not head:
        source += f"; new class branch for {int(model.model[-1].nc)} classes"
    return True, source


class DetectorGraph(nn.Module):
    """A DetectionModel behind the detector contract: images [B, 3, S, S] in [0, 1] -> (boxes [B, N, 4] xyxy in
    letterbox pixels, scores [B, N, C] in [0, 1]), N = the anchors of all strides ((S/8)² + (S/16)² + (S/32)²)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        head = model.model[-1]
        # As Ultralytics' exporter sets them: the head returns its decoded tensor alone, boxes as xyxy.
        head.export, head.format, head.xyxy, head.dynamic, head.shape = True, "onnx", True, False, None

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.model(images)  # [B, 4 + C, N]
        return y[:, :4].transpose(1, 2), y[:, 4:].transpose(1, 2)


def graph_from_checkpoint(ckpt: dict[str, Any], fuse: bool = True) -> nn.Module:
    """The detector graph of a yolo-det checkpoint, in eval mode (Conv and BatchNorm fused unless `fuse=False`)."""
    recipe = ckpt["recipe"]
    model = build_detection_model(recipe["yaml"], int(recipe["nc"]))
    model.load_state_dict(ckpt["state_dict"])
    model.float().eval()
    if fuse:
        with contextlib.redirect_stdout(io.StringIO()):
            model = model.fuse(verbose=False)
    for p in model.parameters():
        p.requires_grad_(False)
    return DetectorGraph(model).eval()
