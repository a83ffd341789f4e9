"""Image decoding and eval-time preprocessing, with Pillow and numpy only.

This file is copied verbatim into every exported inference package, so the package and the
engine run the very same code: what the model saw in training is what it sees in production.
Keep it free of torch and of any other import from the engine.
"""

from __future__ import annotations

import math
import warnings
from typing import IO, Any

import numpy as np
from PIL import Image, ImageFile, ImageOps

# Formats we decode; anything else (a PDF or PSD renamed .jpg, say) is refused. Camera MPO files
# open through the JPEG plugin (Pillow 12 has no separate "MPO" opener and raises KeyError for it).
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
# Larger images are shrunk on load by an integer factor so memory stays bounded.
MAX_SIDE = 4096
# Pillow's decompression-bomb limit (about 89 megapixels) is enforced as an error, not a warning.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485

ImageFile.LOAD_TRUNCATED_IMAGES = False

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


class ImageLoadError(ValueError):
    """The file is not an image we can use; the message says why in plain words."""


def load_image(source: str | IO[bytes], max_side: int = MAX_SIDE) -> Image.Image:
    """Decode an image to 8-bit RGB: EXIF orientation applied, transparency on white, huge ones shrunk."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(source, formats=ALLOWED_FORMATS)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageLoadError(f"is too large ({w}x{h} pixels); the limit is {MAX_PIXELS:,} pixels")
            if img.format in ("JPEG", "MPO") and max(w, h) > max_side:
                img.draft("RGB", (max_side, max_side))
            img.load()
    except ImageLoadError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageLoadError(
            "is not an image in a supported format (JPEG, PNG, WEBP, BMP, TIFF, GIF)"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError(f"is too large; the limit is {MAX_PIXELS:,} pixels") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageLoadError(f"is damaged or truncated ({e})") from None
    if img.width < 1 or img.height < 1:
        raise ImageLoadError("has no pixels")
    img = ImageOps.exif_transpose(img) or img
    img = to_rgb(img)
    longest = max(img.size)
    if longest > max_side:
        img = img.reduce(math.ceil(longest / max_side))
    return img


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB: 16-bit and float scaled to 8 bits, CMYK converted, alpha composited on white."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = (0.0, 65535.0) if mode.startswith("I;16") else (float(arr.min()), float(arr.max()))
        if mode == "I" and arr.max() <= 255 and arr.min() >= 0:
            lo, hi = 0.0, 255.0
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        img = Image.fromarray(np.clip((arr - lo) * scale, 0, 255).round().astype(np.uint8), "L")
        mode = "L"
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode != "RGB":
        return img.convert("RGB")
    return img


def resize_and_crop(img: Image.Image, cfg: dict[str, Any]) -> Image.Image:
    """timm's eval transform: shorter side to input_size / crop_pct, then a centre crop of input_size."""
    size = int(cfg["input_size"])
    scale = math.floor(size / float(cfg.get("crop_pct", 1.0)))
    resample = _RESAMPLE[cfg.get("interpolation", "bilinear")]
    w, h = img.size
    if w <= h:
        new_w, new_h = scale, max(1, int(scale * h / w))
    else:
        new_w, new_h = max(1, int(scale * w / h)), scale
    img = img.resize((new_w, new_h), resample)
    left = int(round((new_w - size) / 2.0))
    top = int(round((new_h - size) / 2.0))
    if left < 0 or top < 0:  # an image narrower than the crop: pad with black as torchvision does
        canvas = Image.new("RGB", (max(size, new_w), max(size, new_h)))
        canvas.paste(img, (max(0, -left), max(0, -top)))
        img, left, top = canvas, max(0, left), max(0, top)
    return img.crop((left, top, left + size, top + size))


def normalize(img: Image.Image, cfg: dict[str, Any]) -> np.ndarray:
    """RGB uint8 image to a float32 CHW array: /255, minus mean, over std."""
    arr = np.asarray(img, dtype=np.float32) / 255.0
    mean = np.asarray(cfg["mean"], dtype=np.float32)
    std = np.asarray(cfg["std"], dtype=np.float32)
    arr = (arr - mean) / std
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def preprocess(img: Image.Image, cfg: dict[str, Any]) -> np.ndarray:
    """The whole eval-time pipeline for one decoded RGB image: a float32 array of shape (3, S, S)."""
    return normalize(resize_and_crop(img, cfg), cfg)


def preprocess_file(source: str | IO[bytes], cfg: dict[str, Any]) -> np.ndarray:
    return preprocess(load_image(source, int(cfg.get("max_side", MAX_SIDE))), cfg)
