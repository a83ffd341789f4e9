"""Grad-CAM: which parts of a picture made the model choose a class, as a heat map over the picture.

For the timm family the feature map that `forward_features` returns (the last convolutional
stage, or the patch tokens of a vision transformer) is weighted by the gradient of the class
score, as in Selvaraju et al. 2017. YOLO11 classifiers expose the map of their head's last
convolution the same way. The overlay is drawn on the very crop the model saw.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.errors import UserError
from engine.preprocess import ImageLoadError, load_image, normalize, resize_and_crop

_CACHE_SIZE = 2
_models: OrderedDict[tuple[str, int], tuple[Any, dict]] = OrderedDict()
_models_lock = threading.Lock()


def gradcam(model, image: Image.Image, preprocess_cfg: dict[str, Any], target: int | None = None
            ) -> tuple[np.ndarray, np.ndarray, Image.Image]:
    """(heat map HxW in [0, 1], class probabilities, the model's input crop) for one RGB image.

    `target` is the class to explain; None explains the predicted class.
    """
    import torch

    crop = resize_and_crop(image, preprocess_cfg)
    # The input carries the gradient too, so a frozen model (no trainable weights) still gets a map.
    x = torch.from_numpy(normalize(crop, preprocess_cfg))[None].requires_grad_(True)
    model.eval()
    with torch.enable_grad():
        features = model.forward_features(x)
        features.retain_grad()
        logits = model.forward_head(features)
        probs = torch.softmax(logits.float(), dim=1)[0]
        cls = int(probs.argmax()) if target is None else int(target)
        if not 0 <= cls < logits.shape[1]:
            raise UserError(f"There is no class number {cls}; the model has {logits.shape[1]} classes.")
        model.zero_grad(set_to_none=True)
        logits[0, cls].backward()
    model.zero_grad(set_to_none=True)  # a cached model should not hold on to gradients between pictures
    acts, grads = _as_grid(model, features.detach()[0]), _as_grid(model, features.grad[0])
    weights = grads.mean(dim=(1, 2), keepdim=True)
    cam = torch.relu((weights * acts).sum(dim=0)).numpy()
    cam = cam / cam.max() if cam.max() > 0 else np.zeros_like(cam)
    return cam.astype(np.float32), probs.detach().numpy(), crop


def _as_grid(model, feats):
    """A (C, H, W) map from a conv feature map, or from a transformer's (tokens, C) output."""
    if feats.ndim == 3:
        return feats
    prefix = int(getattr(model, "num_prefix_tokens", 1))
    tokens = feats[prefix:]
    side = int(round(tokens.shape[0] ** 0.5))
    return tokens[: side * side].T.reshape(-1, side, side)


def overlay(crop: Image.Image, cam: np.ndarray, alpha: float = 0.45) -> Image.Image:
    """The heat map in colour (blue = ignored, red = decisive) blended over the crop."""
    from matplotlib import colormaps

    heat = Image.fromarray((cam * 255).astype(np.uint8)).resize(crop.size, Image.Resampling.BILINEAR)
    coloured = colormaps["jet"](np.asarray(heat, dtype=np.float32) / 255.0)[..., :3]
    blended = (1 - alpha) * np.asarray(crop, dtype=np.float32) / 255.0 + alpha * coloured
    return Image.fromarray(np.clip(blended * 255, 0, 255).round().astype(np.uint8), "RGB")


def explain_file(run_dir: str | Path, file: str | Path, target: int | None = None) -> dict[str, Any]:
    """Grad-CAM of a finished run's best model for one image file: overlay, label, probability, probs."""
    from engine.open_model import check_gradcam

    check_gradcam(run_dir)
    model, ckpt = _run_model(Path(run_dir))
    try:
        image = load_image(str(file), int(ckpt["preprocess"].get("max_side", 4096)))
    except ImageLoadError as e:
        raise UserError(f"{Path(file).name} {e}.") from None
    cam, probs, crop = gradcam(model, image, ckpt["preprocess"], target)
    labels = ckpt["labels"]
    cls = int(probs.argmax()) if target is None else int(target)
    return {"overlay": overlay(crop, cam), "label": labels[cls], "prob": float(probs[cls]),
            "probs": {labels[i]: float(p) for i, p in enumerate(probs)}}


def _run_model(run_dir: Path):
    """The run's best model, kept loaded for the next image (a few runs at most)."""
    from engine.checkpoint import load_run_model

    best = run_dir / "checkpoints" / "best.pt"
    key = (str(run_dir.resolve()), best.stat().st_mtime_ns if best.exists() else 0)
    with _models_lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
        loaded = load_run_model(run_dir)
        _models[key] = loaded
        while len(_models) > _CACHE_SIZE:
            _models.popitem(last=False)
        return loaded
