"""Grad-CAM points at the part of the picture that drives the class score, for conv nets and transformers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from engine.explain import gradcam, overlay

CFG = {"input_size": 64, "crop_pct": 1.0, "interpolation": "bilinear", "mean": [0.5, 0.5, 0.5],
       "std": [0.5, 0.5, 0.5]}


class RedDetector(nn.Module):
    """A timm-like model whose class 0 score is the amount of red in the picture, seen on an 8x8 grid."""

    def forward_features(self, x):
        red = torch.relu(x[:, :1] - x[:, 1:2])  # red minus green: positive only where the picture is red
        return nn.functional.avg_pool2d(torch.cat([red, 1 - red], dim=1), 8)  # (B, 2, 8, 8)

    def forward_head(self, features):
        pooled = features.mean(dim=(2, 3))
        return torch.stack([5 * pooled[:, 0], 5 * pooled[:, 1] - 2.5], dim=1)


def test_the_heat_map_lies_on_the_red_patch_that_makes_the_class():
    img = np.full((64, 64, 3), 128, dtype=np.uint8)
    img[40:64, 0:24] = (230, 20, 20)  # red in the bottom-left corner
    cam, probs, crop = gradcam(RedDetector(), Image.fromarray(img), CFG, target=0)
    assert cam.shape == (8, 8) and cam.max() == pytest.approx(1.0)
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert crop.size == (64, 64)
    peak = np.unravel_index(cam.argmax(), cam.shape)
    assert peak[0] >= 5 and peak[1] <= 2  # bottom-left on the 8x8 grid
    assert cam[:4, 4:].max() < 0.1  # nothing where the picture is plain grey


def test_overlay_is_the_crop_tinted_by_the_heat_map():
    crop = Image.new("RGB", (64, 64), (128, 128, 128))
    cam = np.zeros((8, 8), dtype=np.float32)
    cam[0, 0] = 1.0
    out = np.asarray(overlay(crop, cam))
    assert out.shape == (64, 64, 3)
    assert out[0, 0, 0] > out[0, 0, 2]  # hot: red
    assert out[63, 63, 2] > out[63, 63, 0]  # cold: blue


@pytest.mark.parametrize("name", ["mobilenetv2_100", "vit_tiny_patch16_224"])
def test_timm_models_give_a_map_over_their_feature_grid(name):
    from engine.models import build

    built = build(name, 3, pretrained=False)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 100, 3), dtype=np.uint8))
    cam, probs, crop = gradcam(built.model, img, built.preprocess)
    assert cam.shape == ((7, 7) if name.startswith("mobilenet") else (14, 14))
    assert np.isfinite(cam).all() and 0 <= cam.min() and cam.max() <= 1
    assert probs.shape == (3,) and crop.size == (224, 224)
