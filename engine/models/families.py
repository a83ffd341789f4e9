"""The family table: a family's name -> the package that defines it. Adding a family is one line here."""

from __future__ import annotations

import importlib

from engine.errors import UserError
from engine.models.base import Family

# Imported only when asked: each package's __init__ is light (no torch, timm or Ultralytics).
FAMILIES: dict[str, str] = {
    "timm": "engine.models.timm_family",
    "ultralytics": "engine.models.ultralytics_family",
    "torchvision-det": "engine.models.tvdet_family",
    "yolo-det": "engine.models.yolo_det_family",
    "text": "engine.models.text_family",
}


def get_family(name: str) -> Family:
    """The family called `name`; an unknown one is a UserError naming the known ones."""
    if name not in FAMILIES:
        raise UserError(f"The model family '{name}' is not available in this version; "
                        f"known families: {', '.join(FAMILIES)}.")
    return importlib.import_module(FAMILIES[name]).FAMILY


def all_families() -> list[Family]:
    """Every family, in the table's order."""
    return [get_family(name) for name in FAMILIES]

