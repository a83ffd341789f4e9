"""Training-time augmentation presets (albumentations) and the eval transform they must match.

Each preset is a short table of steps: the plain-language line a UI shows and the albumentations
transform that does it, side by side, so the description cannot drift from the code.
albumentations takes seconds to import, so it is imported only when a transform is built.
"""

from __future__ import annotations

import math
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from engine.errors import UserError
from engine.preprocess import MAX_SIDE, load_image, normalize, preprocess, resize_and_crop

if TYPE_CHECKING:
    import torch

# (line for people, albumentations transform, its arguments). The crop size, interpolation and
# fill colour depend on the model and are added when the pipeline is built.
_Step = tuple[str, str, dict[str, Any]]

_FLIP: _Step = ("Mirror left-right half of the time", "HorizontalFlip", {"p": 0.5})
_STEPS: dict[str, list[_Step]] = {
    "none": [],
    "light": [
        (
            "Crop a random 75–100 % of the picture and resize it to the input size",
            "RandomResizedCrop",
            {"scale": (0.75, 1.0)},
        ),
        _FLIP,
        (
            "Slightly change brightness and contrast (±10 %) half of the time",
            "RandomBrightnessContrast",
            {"brightness_limit": 0.1, "contrast_limit": 0.1, "p": 0.5},
        ),
    ],
    "medium": [
        (
            "Crop a random 50–100 % of the picture and resize it to the input size",
            "RandomResizedCrop",
            {"scale": (0.5, 1.0)},
        ),
        _FLIP,
        (
            "Rotate up to 15°, shift up to 6 % and zoom ±10 % half of the time",
            "Affine",
            {"rotate": (-15, 15), "translate_percent": (-0.06, 0.06), "scale": (0.9, 1.1), "p": 0.5},
        ),
        (
            "Change brightness, contrast and saturation (±20 %) and hue a little, most of the time",
            "ColorJitter",
            {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.02, "p": 0.8},
        ),
    ],
    "strong": [
        (
            "Crop a random 35–100 % of the picture and resize it to the input size",
            "RandomResizedCrop",
            {"scale": (0.35, 1.0)},
        ),
        _FLIP,
        (
            "Rotate up to 25°, shift up to 10 %, zoom ±15 % and shear up to 8° most of the time",
            "Affine",
            {
                "rotate": (-25, 25),
                "translate_percent": (-0.1, 0.1),
                "scale": (0.85, 1.15),
                "shear": (-8, 8),
                "p": 0.7,
            },
        ),
        (
            "Tilt the viewpoint a little (perspective) one time in five",
            "Perspective",
            {"scale": (0.02, 0.06), "p": 0.2},
        ),
        (
            "Change brightness, contrast and saturation (±30 %) and hue a little, most of the time",
            "ColorJitter",
            {"brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": 0.04, "p": 0.8},
        ),
        ("Turn the picture grey one time in ten", "ToGray", {"p": 0.1}),
        ("Blur slightly one time in five", "GaussianBlur", {"sigma_limit": (0.1, 1.5), "p": 0.2}),
        (
            "Cover 1–3 random patches (8–20 % of the side) with the average colour a third of the time",
            "CoarseDropout",
            {
                "num_holes_range": (1, 3),
                "hole_height_range": (0.08, 0.2),
                "hole_width_range": (0.08, 0.2),
                "p": 0.3,
            },
        ),
    ],
}

_EVAL_LINE = "Resize and centre-crop exactly as at prediction time (no randomness)"
PRESETS: dict[str, list[str]] = {
    name: [line for line, _, _ in steps] or [_EVAL_LINE] for name, steps in _STEPS.items()
}

# Large photos are shrunk before augmenting (speed); twice the input size keeps crops down to a
# quarter of the area at full detail.
_PRESHRINK = 2.0


def describe(preset: str, hflip: bool = True) -> list[str]:
    """The preset's steps in plain language, in the order they are applied."""
    steps = _steps(preset)
    if not steps:
        return [_EVAL_LINE]
    return [line for line, name, _ in steps if hflip or name != "HorizontalFlip"]


class EvalTransform:
    """Decoded RGB image → normalised float tensor (3, S, S), exactly engine.preprocess.preprocess."""

    def __init__(self, preprocess_cfg: dict[str, Any]) -> None:
        self.cfg = dict(preprocess_cfg)

    def __call__(self, img: Image.Image) -> torch.Tensor:
        import torch

        return torch.from_numpy(preprocess(img, self.cfg))


class TrainTransform:
    """Decoded RGB image → augmented, normalised float tensor (3, S, S). Picklable for DataLoader workers."""

    def __init__(
        self, preset: str, preprocess_cfg: dict[str, Any], hflip: bool = True, seed: int | None = None
    ):
        self.cfg = dict(preprocess_cfg)
        self.augment = _Augmenter(preset, self.cfg, hflip, seed)

    def __call__(self, img: Image.Image) -> torch.Tensor:
        import torch

        return torch.from_numpy(normalize(self.augment(img), self.cfg))


def build_eval_transform(preprocess_cfg: dict[str, Any]) -> Callable[[Image.Image], torch.Tensor]:
    """The prediction-time transform; no albumentations, so exported code reproduces it bit for bit."""
    return EvalTransform(preprocess_cfg)


def build_train_transform(
    preset: str, preprocess_cfg: dict[str, Any], hflip: bool = True, seed: int | None = None
) -> Callable[[Image.Image], torch.Tensor]:
    """The training transform of a preset; the same seed gives the same sequence of augmentations."""
    return TrainTransform(preset, preprocess_cfg, hflip=hflip, seed=seed)


def preview(
    image: Image.Image | str | Path,
    preset: str,
    preprocess_cfg: dict[str, Any],
    hflip: bool = True,
    n: int = 8,
    seed: int = 0,
) -> list[Image.Image]:
    """N augmented versions of one image as uint8 RGB pictures (not normalised), for a UI grid."""
    if not isinstance(image, Image.Image):
        image = load_image(str(image), int(preprocess_cfg.get("max_side", MAX_SIDE)))
    augment = _Augmenter(preset, preprocess_cfg, hflip, seed)
    return [Image.fromarray(augment(image)) for _ in range(n)]


class _Augmenter:
    """RGB PIL image → augmented uint8 HWC array of the model's input size."""

    def __init__(self, preset: str, cfg: dict[str, Any], hflip: bool, seed: int | None) -> None:
        steps = [s for s in _steps(preset) if hflip or s[1] != "HorizontalFlip"]
        self.cfg = dict(cfg)
        self.size = int(cfg["input_size"])
        self.compose = _compose(steps, self.cfg, hflip) if steps else None
        self._worker_seed: int | None = None
        if self.compose is not None:
            _reseed(self.compose, seed)

    def __call__(self, img: Image.Image) -> np.ndarray:
        if img.mode != "RGB":
            img = img.convert("RGB")
        if self.compose is None:
            return np.asarray(resize_and_crop(img, self.cfg))
        self._reseed_in_worker()
        img = _shrink(img, math.ceil(_PRESHRINK * self.size))
        return self.compose(image=np.array(img))["image"]

    def _reseed_in_worker(self) -> None:
        # Every DataLoader worker gets a copy of this object, RNG state included: without a reseed
        # all workers, and every epoch, would replay the same augmentations. torch gives each
        # worker a distinct seed per epoch, derived from the (seeded) main process. A worker has
        # torch loaded already; a preview in the UI process must not pay for importing it.
        data = sys.modules.get("torch.utils.data")
        info = data.get_worker_info() if data is not None else None
        if info is not None and info.seed != self._worker_seed:
            self._worker_seed = info.seed
            _reseed(self.compose, info.seed)


def _steps(preset: str) -> list[_Step]:
    try:
        return _STEPS[preset]
    except KeyError:
        raise UserError(
            f"Unknown augmentation preset '{preset}'; choose one of: {', '.join(_STEPS)}."
        ) from None


def _compose(steps: list[_Step], cfg: dict[str, Any], hflip: bool) -> Any:
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # it would otherwise check online for updates
    import albumentations as A
    import cv2

    size = int(cfg["input_size"])
    interpolation = {
        "nearest": cv2.INTER_NEAREST,
        "bilinear": cv2.INTER_LINEAR,
        "bicubic": cv2.INTER_CUBIC,
        "lanczos": cv2.INTER_LANCZOS4,
    }[cfg.get("interpolation", "bilinear")]
    # Dropped patches take the model's normalisation mean colour, which normalises to zero.
    mean_colour = tuple(round(255 * float(m)) for m in cfg["mean"])
    # Borders exposed by a rotation or shift are filled by reflection rather than with black corners,
    # which a small dataset could learn as a cue; reflection mirrors, so without hflip they are
    # filled by repeating the edge pixels instead.
    border = cv2.BORDER_REFLECT_101 if hflip else cv2.BORDER_REPLICATE
    extra: dict[str, dict[str, Any]] = {
        "RandomResizedCrop": {
            "size": (size, size),
            "interpolation": interpolation,
            "area_for_downscale": "image",
        },
        "Affine": {"interpolation": interpolation, "border_mode": border},
        "Perspective": {"interpolation": interpolation, "border_mode": border},
        "CoarseDropout": {"fill": mean_colour},
    }
    return A.Compose([getattr(A, name)(**args, **extra.get(name, {})) for _, name, args in steps])


def _reseed(compose: Any, seed: int | None) -> None:
    # One shared generator for all steps. Compose(seed=...) in albumentations 2.0 seeds every step
    # with the same seed, so steps with equal probabilities would fire together.
    compose.set_random_state(np.random.default_rng(seed), random.Random(seed))


def _shrink(img: Image.Image, shorter_side: int) -> Image.Image:
    w, h = img.size
    if min(w, h) <= shorter_side:
        return img
    ratio = shorter_side / min(w, h)
    return img.resize(
        (max(1, round(w * ratio)), max(1, round(h * ratio))), Image.Resampling.BILINEAR, reducing_gap=3.0
    )
