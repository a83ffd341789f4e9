"""The settings only text classification has; the rest is engine.config.RunConfig's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.config import RunConfig


class TextClassificationConfig(RunConfig):
    """A run that sorts texts into classes: a frozen encoder (or TF-IDF) and a logistic-regression head."""

    task: Literal["text-classification"] = "text-classification"
    model: str = "text-auto"
    head_c: float = Field(10.0, gt=0, description="Inverse regularisation strength of the logistic-regression "
                          "head (larger: fits the training texts more closely).")


CONFIG = TextClassificationConfig
