"""Ultralytics kept offline and quiet: its environment, its settings file in the workspace, PIL left alone.

Light on purpose (Ultralytics is imported inside the function): benchmarks and the trainer call it first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Environment that keeps Ultralytics offline and quiet; set before its first import.
OFFLINE_ENV = {"YOLO_AUTOINSTALL": "false", "YOLO_OFFLINE": "true", "ULTRALYTICS_SAFE_LOAD": "true",
               "YOLO_VERBOSE": "false"}


def prepare_ultralytics(config_dir: str | Path | None = None) -> None:
    """Point Ultralytics' settings at `config_dir` (before its first import) and switch off sync and integrations."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.pop("ULTRALYTICS_API_KEY", None)  # no Platform streaming from a training child
    if "ultralytics" not in sys.modules and not os.environ.get("YOLO_CONFIG_DIR"):
        if config_dir is None:
            from engine.workspace import default_root

            config_dir = default_root() / "cache" / "ultralytics"
        # Its settings file (and font cache) live in the workspace, not in the user's home.
        Path(config_dir).mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    from ultralytics.utils import SETTINGS

    _undo_pil_patch()
    wanted = {"sync": False, "hub": False, "api_key": "", "clearml": False, "comet": False, "dvc": False,
              "mlflow": False, "raytune": False, "tensorboard": False, "wandb": False}
    wanted = {k: v for k, v in wanted.items() if k in SETTINGS and SETTINGS[k] != v}
    if wanted:
        SETTINGS.update(wanted)


def _undo_pil_patch() -> None:
    """Give PIL.Image.open back. Importing Ultralytics replaces it, process-wide, with a wrapper that on any file
    PIL cannot identify tries to pip-install a HEIF plugin: the importer would then report a PDF named .jpg as
    something else than "not a picture", and an online machine would get a package installed behind its back."""
    from PIL import Image
    from ultralytics.utils import patches

    original = getattr(patches, "_image_open", None)
    if original is not None and Image.open is getattr(patches, "image_open", None):
        Image.open = original
