"""The YOLO11 detectors Konstruktor offers: plain data (no torch, no Ultralytics)."""

from __future__ import annotations

from engine.models.base import ModelSpec

HINT = ("No YOLO11 weights ship with Konstruktor: offline it trains from scratch unless you give a .pt "
        "(--weights FILE) or put yolo11?.pt in the weight cache.")


def _yolo(size: str, params_m: float, what: str) -> ModelSpec:
    return ModelSpec(f"yolo11{size}", "yolo-det", params_m, 320, False,
                     f"YOLO11{size} detector ({params_m:.1f} M parameters): {what}; no pretrained weights offline — "
                     "learns from scratch unless you give a .pt.", HINT, ("object-detection",))


# Parameter counts of Ultralytics' YOLO11 detection models at 80 classes.
SPECS: tuple[ModelSpec, ...] = (
    _yolo("n", 2.6, "very fast on a CPU"),
    _yolo("s", 9.4, "fast on a CPU"),
    _yolo("m", 20.1, "slow on a CPU, fine on a GPU"),
    _yolo("l", 25.3, "best with a GPU"),
    _yolo("x", 56.9, "needs a GPU"),
)
