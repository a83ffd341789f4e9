"""The torch Dataset over an imported dataset folder; the only module of engine.data that imports torch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image
from torch.utils.data import Dataset

from engine.data.manifest import load_manifest, split_items
from engine.errors import DataError
from engine.preprocess import ImageLoadError, load_image


class ImageDataset(Dataset):
    """Images of one or more splits of an imported dataset: item i is `(transform(image), label_index)`.

    Images are decoded on access, one at a time, so memory does not grow with the dataset.
    """

    def __init__(
        self,
        dataset_dir: str | Path,
        split: str | Sequence[str],
        transform: Callable[[Image.Image], Any] | None = None,
    ) -> None:
        self.dataset_dir = Path(dataset_dir).resolve()
        manifest = load_manifest(self.dataset_dir)
        self.labels: list[str] = list(manifest["classes"])
        index = {label: i for i, label in enumerate(self.labels)}
        items = split_items(manifest, split)
        self.files: list[Path] = [self.dataset_dir / item["file"] for item in items]
        self.targets: list[int] = [index[item["label"]] for item in items]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        path = self.files[i]
        try:
            img = load_image(str(path))
        except (ImageLoadError, OSError) as e:
            reason = "is missing" if not path.exists() else str(e)
            raise DataError(
                f"The dataset image '{path}' {reason}; the dataset folder was changed after import — import the images again."
            ) from None
        return (self.transform(img) if self.transform is not None else img), self.targets[i]
