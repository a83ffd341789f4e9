import typing

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from engine import augment
from engine.config import AugmentPreset
from engine.errors import UserError
from engine.preprocess import preprocess, resize_and_crop

CFG = {
    "input_size": 64,
    "crop_pct": 0.875,
    "interpolation": "bilinear",
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
}
AUGMENTING = ["light", "medium", "strong"]


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A non-square picture with texture and colour, larger than the input size."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:150, 0:200]
    base = np.stack([x * 255 / 200, y * 255 / 150, (x + y) % 64 * 4], axis=-1)
    noise = rng.integers(0, 40, base.shape)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def left_white() -> Image.Image:
    """Left half white, right half black: a left-right mirror makes the right side brighter."""
    a = np.zeros((96, 128, 3), np.uint8)
    a[:, :64] = 255
    return Image.fromarray(a)


def left_minus_right(t: torch.Tensor) -> float:
    half = t.shape[-1] // 2
    return float(t[..., :half].mean() - t[..., half:].mean())


def test_presets_match_the_config_choices_and_each_has_a_description():
    assert tuple(augment.PRESETS) == typing.get_args(AugmentPreset)
    for name, lines in augment.PRESETS.items():
        assert lines and all(isinstance(line, str) and line for line in lines), name
        assert augment.describe(name) == lines


@pytest.mark.parametrize("preset", ["none", *AUGMENTING])
def test_every_preset_gives_a_float_tensor_of_the_input_size(preset, photo):
    transform = augment.build_train_transform(preset, CFG, seed=0)
    for img in (photo, photo.resize((40, 30)), photo.convert("L")):
        out = transform(img)
        assert out.shape == (3, 64, 64)
        assert out.dtype == torch.float32
        assert torch.isfinite(out).all()


def test_none_preset_equals_the_eval_transform_exactly(photo):
    train = augment.build_train_transform("none", CFG, seed=3)(photo)
    evaluated = augment.build_eval_transform(CFG)(photo)
    assert torch.equal(train, evaluated)
    assert torch.equal(evaluated, torch.from_numpy(preprocess(photo, CFG)))


def test_augmented_pixels_are_normalised_with_the_config_mean_and_std(photo):
    out = augment.build_train_transform("light", CFG, seed=0)(photo)
    lowest = (0 - np.array(CFG["mean"])) / np.array(CFG["std"])
    highest = (1 - np.array(CFG["mean"])) / np.array(CFG["std"])
    for c in range(3):
        assert lowest[c] - 1e-5 <= out[c].min() and out[c].max() <= highest[c] + 1e-5


@pytest.mark.parametrize("preset", ["light", "medium"])
def test_without_hflip_no_sample_is_mirrored(preset, left_white):
    for seed in range(5):
        transform = augment.build_train_transform(preset, CFG, hflip=False, seed=seed)
        margins = [left_minus_right(transform(left_white)) for _ in range(20)]
        assert min(margins) > 0, f"seed {seed}: a sample has its bright half on the right"


@pytest.mark.parametrize("preset", ["light", "medium"])
def test_with_hflip_some_samples_are_mirrored(preset, left_white):
    transform = augment.build_train_transform(preset, CFG, hflip=True, seed=0)
    margins = [left_minus_right(transform(left_white)) for _ in range(40)]
    mirrored = sum(m < 0 for m in margins)
    assert 5 <= mirrored <= 35


def test_describe_leaves_out_mirroring_when_hflip_is_off():
    assert any("Mirror" in line for line in augment.describe("medium"))
    assert not any("Mirror" in line for line in augment.describe("medium", hflip=False))


@pytest.mark.parametrize("preset", AUGMENTING)
def test_the_same_seed_gives_the_same_augmentations(preset, photo):
    first = augment.build_train_transform(preset, CFG, seed=7)
    second = augment.build_train_transform(preset, CFG, seed=7)
    other = augment.build_train_transform(preset, CFG, seed=8)
    a = [first(photo) for _ in range(4)]
    b = [second(photo) for _ in range(4)]
    c = [other(photo) for _ in range(4)]
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))
    assert not torch.equal(a[0], a[1]), "consecutive samples should differ"


class _Repeat(Dataset):
    def __init__(self, img: Image.Image, transform, n: int) -> None:
        self.img, self.transform, self.n = img, transform, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(self.img)


def test_dataloader_workers_and_epochs_do_not_replay_the_same_augmentations(photo):
    transform = augment.build_train_transform("strong", CFG, seed=0)
    loader = DataLoader(_Repeat(photo, transform, 4), batch_size=1, num_workers=2)
    torch.manual_seed(0)
    epoch1 = [batch[0] for batch in loader]
    epoch2 = [batch[0] for batch in loader]
    samples = epoch1 + epoch2
    for i in range(len(samples)):
        for j in range(i + 1, len(samples)):
            assert not torch.equal(samples[i], samples[j]), f"samples {i} and {j} are identical"


def test_preview_returns_n_uint8_rgb_pictures_from_an_image_or_a_path(photo, tmp_path):
    path = tmp_path / "photo.png"
    photo.save(path)
    for source in (photo, path, str(path)):
        pictures = augment.preview(source, "strong", CFG, n=5, seed=0)
        assert len(pictures) == 5
        assert all(p.mode == "RGB" and p.size == (64, 64) for p in pictures)
    again = augment.preview(photo, "strong", CFG, n=5, seed=0)
    assert [np.asarray(p).tobytes() for p in again] == [np.asarray(p).tobytes() for p in pictures]


def test_preview_of_none_is_the_eval_crop(photo):
    pictures = augment.preview(photo, "none", CFG, n=2)
    assert all(np.array_equal(np.asarray(p), np.asarray(resize_and_crop(photo, CFG))) for p in pictures)


def test_an_unknown_preset_is_refused_in_plain_words():
    with pytest.raises(UserError, match="light"):
        augment.build_train_transform("extreme", CFG)
