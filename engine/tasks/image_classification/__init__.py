"""Image classification: one picture, one label.

Its parts, imported when the engine asks `TASK.part(name)`: `dataset` (the manifest item, the splits),
`heads` (linear and prototype heads, the loss), `metrics` (scores and the views they feed, predict's top-k,
the best-epoch rule), `export` (the network's signature, the softmax wrapper, the predict templates).
"""

from engine.tasks.base import Task, TaskUI

TASK = Task(
    name="image-classification",
    title="Image classification",
    description="Sort pictures into classes from a few labelled examples of each.",
    ui=TaskUI(
        example="image",
        data_sources=("folder", "zip", "csv", "bins"),
        metrics=("accuracy", "balanced_accuracy", "macro_f1"),
        views=("confusion_matrix", "per_class", "misclassified"),
        test_input="image",
        explain="gradcam",
        export_files=("model.onnx", "model.pt", "labels.json", "preprocess.json", "predict.py", "requirements.txt"),
    ),
    module=__name__,
)
