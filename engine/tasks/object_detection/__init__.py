"""Object detection: find the objects of a few classes in a picture, each with a box, a label and a confidence.

Its parts, imported when the engine asks `TASK.part(name)`: `dataset` (the manifest item with its boxes, the
importers of YOLO, COCO and Pascal VOC labels, the checks and the split), `boxes` (letterbox and the numpy
post-processing shared by the engine and the exported predict.py), `metrics` (mAP through torchmetrics, the
gallery), `pipeline` (this task's train / predict / evaluate / export steps), `export` (ONNX and the package).
"""

from engine.tasks.base import Task, TaskUI

TASK = Task(
    name="object-detection",
    title="Object detection",
    description="Find objects in pictures and draw a box around each, from a few dozen labelled pictures.",
    ui=TaskUI(
        example="boxes",
        data_sources=("folder", "zip", "annotate"),
        metrics=("map50_95", "map50", "precision", "recall"),
        views=("per_class_ap", "gallery"),
        test_input="image",
        explain=None,  # the boxes are the explanation
        export_files=("model.onnx", "model.pt", "labels.json", "preprocess.json", "boxes.py", "predict.py",
                      "requirements.txt"),
        ranking=("map50_95", "map50"),
    ),
    module=__name__,
    compare_cpu=("fcos-mobilenetv2:fine-tune", "fcos-mobilenetv2:linear-probe", "yolo11n:full"),
    compare_gpu=("fcos-mobilenetv2:fine-tune", "fcos-mobilenetv2:full", "yolo11n:full", "yolo11s:full"),
)
