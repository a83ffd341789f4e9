"""YOLO11 detection (`yolo11{n,s,m,l,x}`), trained by Ultralytics' own trainer, the way YOLO11-cls is.

No YOLO11 weights ship offline: it learns from scratch unless the user gives a `.pt` (read safely). Plain data
and thin methods here; network.py and train.py import torch and Ultralytics.
"""

from __future__ import annotations

from pathlib import Path

from engine.config import ULTRALYTICS_WORKERS
from engine.models.base import Family, ModelSpec
from engine.models.yolo_det_family.specs import SPECS

ULTRA_DIR = "ultralytics"  # a run's Ultralytics files (its YOLO data layout and its trainer's output)

__all__ = ["FAMILY", "ULTRA_DIR", "YoloDetectionFamily"]


class YoloDetectionFamily(Family):
    """YOLO11 detectors: `full` (every layer, from scratch offline) is the mode worth comparing."""

    name = "yolo-det"
    module = __name__
    specs = SPECS
    rate_reference = ("yolo11n", 2.6, 320)
    package_requirements = ("ultralytics>=8.3",)
    library = "ultralytics"
    default_batch = 8
    default_workers = ULTRALYTICS_WORKERS

    def offered_modes(self, spec: ModelSpec) -> tuple[str, ...]:
        return ("full",)

    def resume_files(self, run_dir: Path) -> tuple[Path, ...]:
        return (run_dir / ULTRA_DIR / "train" / "weights" / "last.pt",)


FAMILY = YoloDetectionFamily()
