"""The settings only image classification has; the rest is engine.config.RunConfig's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from engine.config import DEFAULT_IMAGE_SIZE, AugmentConfig, Imbalance, RunConfig

if TYPE_CHECKING:
    from engine.resolve import DataFacts, ModelFacts

# A class counts as outnumbered (imbalance "auto" weighs the classes) when the largest has this many times more.
IMBALANCE_RATIO = 1.5


class ImageClassificationConfig(RunConfig):
    """A run that sorts pictures into classes."""

    task: Literal["image-classification"] = "image-classification"
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    imbalance: Imbalance = "auto"
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    image_size: int | None = Field(None, ge=32, le=1024, description="None: the model's own input size.")

    def resolve_task_settings(self, model: ModelFacts, data: DataFacts) -> dict[str, Any]:
        """This task's settings made concrete: the input size, the augmentation, how imbalance is handled."""
        counts = list(data.train_counts.values()) or [0]
        outnumbered = max(counts) > IMBALANCE_RATIO * max(1, min(counts))
        imbalance = self.imbalance
        if imbalance == "auto":
            imbalance = "class-weights" if outnumbered else "none"
        return {"image_size": int(self.image_size or model.input_size or DEFAULT_IMAGE_SIZE),
                "augment": self.augment.preset, "hflip": self.augment.hflip,
                "label_smoothing": self.label_smoothing, "imbalance": imbalance,
                "balanced": imbalance != "none"}


CONFIG = ImageClassificationConfig
