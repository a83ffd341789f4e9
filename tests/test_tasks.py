"""The task registry: a run finds its task, and the task finds its own parts (dataset, heads, metrics, export)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import task_of_run
from engine.errors import UserError
from engine.tasks import DEFAULT_TASK, get_task


def test_a_run_folder_names_its_task_and_an_old_one_gets_the_default(tmp_path):
    (tmp_path / "old").mkdir()
    assert task_of_run(tmp_path / "old").name == DEFAULT_TASK
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "config.yaml").write_text("task: image-classification\ndata: d\n")
    assert task_of_run(tmp_path / "new").name == "image-classification"
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.yaml").write_text("task: protein-folding\n")
    with pytest.raises(UserError, match="Unknown task 'protein-folding'"):
        task_of_run(tmp_path / "odd")


def test_image_classification_owns_its_heads_metrics_dataset_and_export_signature():
    task = get_task("image-classification")
    heads, metrics, dataset = task.part("heads"), task.part("metrics"), task.part("dataset")
    X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    y = np.array([0, 0, 1, 1])
    W, b = heads.fit_prototype_head(X, y, 2)
    probs = heads.head_probs(X, W, b)
    assert (probs.argmax(axis=1) == y).all()
    assert metrics.compute_metrics(y, probs, ["a", "b"])["accuracy"] == 1.0
    answer = metrics.top_predictions(["a", "b"], probs[2], top_k=5)
    assert answer["label"] == "b" and [t["label"] for t in answer["top"]] == ["b", "a"]
    assert "label" in dataset.ITEM_FIELDS and "split" in dataset.ITEM_FIELDS
    signature = task.part("export")
    assert signature.signature_metadata() == {"input": "input", "output": "probabilities"}
    assert "N x 3 x 64 x 64" in signature.onnx_doc("m", ["a", "b"], 64)
