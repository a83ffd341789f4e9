"""The Ultralytics family: YOLO11 classification (`yolo11{n,s,m,l,x}-cls`), trained by Ultralytics' own trainer.

Plain data and thin methods only; network.py, train.py, layout.py and export.py hold the code that imports
torch and Ultralytics.
"""

from __future__ import annotations

from pathlib import Path

from engine.config import ULTRALYTICS_BATCH, ULTRALYTICS_WORKERS
from engine.models.base import Family, ModelSpec
from engine.models.ultralytics_family.env import prepare_ultralytics
from engine.models.ultralytics_family.specs import SPECS

# Where a run keeps Ultralytics' own files (its data layout and its trainer's output).
ULTRA_DIR = "ultralytics"

__all__ = ["FAMILY", "ULTRA_DIR", "UltralyticsFamily", "prepare_ultralytics"]


class UltralyticsFamily(Family):
    """YOLO11 classifiers: no weights ship, so `full` (every layer) is the mode worth comparing."""

    name = "ultralytics"
    module = __name__
    specs = SPECS
    rate_reference = ("yolo11n-cls", 2.8, 224)
    package_requirements = ("ultralytics>=8.3",)
    library = "ultralytics"
    default_batch = ULTRALYTICS_BATCH
    default_workers = ULTRALYTICS_WORKERS

    def offered_modes(self, spec: ModelSpec) -> tuple[str, ...]:
        return ("full",)

    def resume_files(self, run_dir: Path) -> tuple[Path, ...]:
        return (run_dir / ULTRA_DIR / "train" / "weights" / "last.pt",)


FAMILY = UltralyticsFamily()
