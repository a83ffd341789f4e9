"""The YOLO11 classification models Konstruktor offers: plain data (no torch, no Ultralytics)."""

from __future__ import annotations

from engine.models.base import ModelSpec


def _yolo(size: str, params_m: float, description: str) -> ModelSpec:
    return ModelSpec(
        name=f"yolo11{size}-cls",
        family="ultralytics",
        params_m=params_m,
        input_size=224,
        pretrained_offline=False,
        description=description,
        weights_hint=(
            "No YOLO11 weights ship with Konstruktor: offline it trains from scratch unless you give a .pt "
            "(--weights FILE) or put yolo11?-cls.pt in the weight cache."
        ),
    )


# Ultralytics YOLO11 classification; parameter counts measured with Ultralytics 8.4 at 1000 classes.
SPECS: tuple[ModelSpec, ...] = (
    _yolo("n", 2.812, "YOLO11 nano (2.8 M parameters): very fast on a CPU; no pretrained weights offline — trains "
          "from scratch unless you give a .pt."),
    _yolo("s", 6.724, "YOLO11 small (6.7 M parameters): fast on a CPU; no pretrained weights offline — trains from "
          "scratch unless you give a .pt."),
    _yolo("m", 11.634, "YOLO11 medium (11.6 M parameters): slow on a CPU, fine on a GPU; no pretrained weights "
          "offline — trains from scratch unless you give a .pt."),
    _yolo("l", 14.116, "YOLO11 large (14.1 M parameters): best with a GPU; no pretrained weights offline — trains "
          "from scratch unless you give a .pt."),
    _yolo("x", 29.637, "YOLO11 extra-large (29.6 M parameters): needs a GPU; no pretrained weights offline — trains "
          "from scratch unless you give a .pt."),
)
