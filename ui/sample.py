"""The sample dataset: faces and non-faces from scikit-image's bundled LFW subset, so a first try needs no data."""

from __future__ import annotations

from pathlib import Path

SAMPLE_NAME = "faces-vs-non-faces"
SIDE = 96  # the bundled pictures are 25x25; enlarged so thumbnails and previews are legible


def write_sample(root: Path) -> Path:
    """Write the 200 images as PNGs into root/<SAMPLE_NAME>/{face,not_face}/ (once) and return that folder."""
    import numpy as np
    from PIL import Image
    from skimage.data import lfw_subset

    folder = Path(root) / SAMPLE_NAME
    done = folder / ".complete"
    if done.exists():
        return folder
    images = lfw_subset()  # (200, 25, 25) floats in [0, 1]: the first 100 are faces, the rest are not
    for i, array in enumerate(images):
        label = "face" if i < len(images) // 2 else "not_face"
        path = folder / label / f"{label}_{i % (len(images) // 2):03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        # Saved as RGB, like the photos people bring, so the import has nothing to convert.
        img = Image.fromarray(np.clip(array * 255, 0, 255).round().astype(np.uint8), "L").convert("RGB")
        img.resize((SIDE, SIDE), Image.Resampling.BICUBIC).save(path)
    done.touch()
    return folder
