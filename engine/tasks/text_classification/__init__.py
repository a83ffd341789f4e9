"""Text classification: sort short texts (messages, titles, reviews) into classes from a few examples each.

Its parts, imported when the engine asks `TASK.part(name)`: `dataset` (the manifest item, the importer's front
door, the split), `importer` / `textio` / `checks` / `lang` (reading and checking texts), `textmodel` (encoder +
linear head at prediction time, copied into the export), `training` (embeddings cached, the head fitted),
`pipeline` (this task's train / predict / evaluate / export steps), `export` (the package).
"""

from engine.tasks.base import Task, TaskUI

TASK = Task(
    name="text-classification",
    title="Text classification",
    description="Sort short texts into topics from a few examples each, in Russian, English and more.",
    ui=TaskUI(
        example="text",
        data_sources=("csv", "folder", "zip", "bins"),
        metrics=("accuracy", "balanced_accuracy", "macro_f1"),
        views=("confusion_matrix", "per_class", "misclassified"),
        test_input="text",
        explain="tokens",
        export_files=("text_model.json", "head.npz", "textmodel.py", "predict.py", "requirements.txt"),
    ),
    module=__name__,
    in_app=False,  # the engine and the CLI today; the app's text tabs come next
    compare_cpu=("text-auto:linear-probe", "use-multilingual:linear-probe", "tfidf-char:linear-probe"),
    compare_gpu=("text-auto:linear-probe", "use-multilingual:linear-probe", "tfidf-char:linear-probe"),
)
