import json

import numpy as np
import pytest
from PIL import Image

from engine.evaluate import cross_validate
from engine.fsutil import read_json
from engine.tasks.image_classification.metrics import (
    compute_metrics,
    expected_calibration_error,
    format_report,
    misclassified,
    save_confusion_matrix,
)

LABELS = ["cat", "dog", "fox"]
# True classes and probabilities chosen so every number below can be worked out by hand.
Y_TRUE = [0, 0, 0, 1, 1, 2]
PROBS = np.array(
    [
        [0.7, 0.2, 0.1],  # cat -> cat
        [0.6, 0.1, 0.3],  # cat -> cat
        [0.1, 0.6, 0.3],  # cat -> dog, cat ranked last (a top-2 miss)
        [0.2, 0.7, 0.1],  # dog -> dog
        [0.1, 0.3, 0.6],  # dog -> fox, dog second
        [0.2, 0.1, 0.7],  # fox -> fox
    ]
)


def test_metrics_of_a_hand_worked_example():
    m = compute_metrics(Y_TRUE, PROBS, LABELS)
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    # recall: cat 2/3, dog 1/2, fox 1/1
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    # precision: cat 2/2, dog 1/2, fox 1/2; F1 = 2PR / (P + R)
    f1 = {"cat": 2 * 1 * (2 / 3) / (1 + 2 / 3), "dog": 0.5, "fox": 2 * 0.5 * 1 / 1.5}
    assert m["macro_f1"] == pytest.approx(sum(f1.values()) / 3)
    assert m["per_class"]["cat"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    assert m["per_class"]["fox"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
    )
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    # with 3 classes top-3 is always right, so top-2 is reported
    assert m["top_k_accuracy"] == pytest.approx({"k": 2, "value": 5 / 6})
    # confidence 0.7 bin: 3 right of 3; confidence 0.6 bin: 1 right of 3
    assert m["ece"] == pytest.approx((3 * abs(1 - 0.7) + 3 * abs(1 / 3 - 0.6)) / 6)
    assert m["labels"] == LABELS


def test_metrics_are_plain_json_values():
    m = compute_metrics(Y_TRUE, PROBS, LABELS)
    assert json.loads(json.dumps(m)) == m
    assert type(m["accuracy"]) is float and type(m["per_class"]["dog"]["support"]) is int


def test_a_class_absent_from_the_data_still_appears_but_does_not_lower_the_averages():
    probs = np.hstack([PROBS, np.zeros((6, 1))])
    m = compute_metrics(Y_TRUE, probs, [*LABELS, "owl"])
    base = compute_metrics(Y_TRUE, PROBS, LABELS)
    assert m["per_class"]["owl"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["confusion_matrix"][3] == [0, 0, 0, 0] and all(len(row) == 4 for row in m["confusion_matrix"])
    assert m["macro_f1"] == pytest.approx(base["macro_f1"])
    assert m["balanced_accuracy"] == pytest.approx(base["balanced_accuracy"])
    assert m["top_k_accuracy"]["k"] == 3


def test_predicting_a_class_absent_from_the_data_counts_against_macro_f1():
    probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1]])
    m = compute_metrics([0, 0, 1, 1], probs, LABELS)
    assert m["per_class"]["fox"]["support"] == 0
    assert m["confusion_matrix"] == [[1, 0, 1], [0, 2, 0], [0, 0, 0]]
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1) / 2)


def test_two_classes_have_no_top_k_and_mismatched_shapes_are_refused():
    m = compute_metrics([0, 1, 1], np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]), ["no", "yes"])
    assert "top_k_accuracy" not in m
    with pytest.raises(ValueError, match="do not match"):
        compute_metrics([0, 1], PROBS, LABELS)


def test_calibration_error_of_sure_predictions_is_zero_when_right_and_one_when_wrong():
    sure = np.eye(3)[[0, 1, 2, 1]]
    assert expected_calibration_error([0, 1, 2, 1], sure) == 0.0
    assert expected_calibration_error([1, 2, 0, 0], sure) == 1.0


def test_confusion_matrix_is_saved_as_a_png_and_a_json_that_round_trips(tmp_path):
    labels = ["кошка", "собака с очень-очень длинным названием породы", "fox"]
    m = compute_metrics(Y_TRUE, PROBS, labels)
    png, js = save_confusion_matrix(m, tmp_path / "artifacts")
    assert png.name == "confusion_matrix.png" and js.name == "confusion_matrix.json"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as img:
        img.verify()
        assert min(img.size) >= 300
    saved = read_json(js)
    assert saved["labels"] == labels
    assert saved["matrix"] == m["confusion_matrix"]
    assert sorted(p.name for p in png.parent.iterdir()) == ["confusion_matrix.json", "confusion_matrix.png"]


def test_confusion_matrix_of_thirty_classes_is_drawn(tmp_path):
    rng = np.random.default_rng(0)
    labels = [f"class {i} " + "x" * (i % 40) for i in range(30)]
    y = rng.integers(0, 30, 200)
    m = compute_metrics(y, rng.dirichlet(np.ones(30), 200), labels)
    png, _ = save_confusion_matrix(m, tmp_path, name="cm30")
    with Image.open(png) as img:
        assert img.format == "PNG" and min(img.size) > 1000


def test_misclassified_lists_only_the_wrong_predictions_most_confident_first():
    files = [f"img{i}.jpg" for i in range(6)]
    rows = misclassified(files, Y_TRUE, PROBS, LABELS)
    assert [r["file"] for r in rows] == ["img2.jpg", "img4.jpg"]
    first = rows[0]
    assert first["true"] == "cat" and first["predicted"] == "dog"
    assert first["confidence"] == pytest.approx(0.6) and first["true_prob"] == pytest.approx(0.1)
    assert [t["label"] for t in first["top"]] == ["dog", "fox", "cat"]
    probs = PROBS.copy()
    probs[4] = [0.05, 0.15, 0.8]
    assert [r["file"] for r in misclassified(files, Y_TRUE, probs, LABELS)] == ["img4.jpg", "img2.jpg"]
    assert len(misclassified(files, Y_TRUE, probs, LABELS, limit=1)) == 1


def _nearest_centroid(x_train, y_train, x_test):
    classes = np.unique(y_train)
    centroids = np.stack([x_train[y_train == c].mean(axis=0) for c in classes])
    distance = ((x_test[:, None, :] - centroids[None]) ** 2).sum(-1)
    scores = np.exp(-(distance - distance.min(axis=1, keepdims=True)))
    return scores / scores.sum(axis=1, keepdims=True)


def test_cross_validation_on_separable_data_is_perfect():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)
    x = rng.normal(size=(30, 4)) * 0.1 + np.eye(3, 4)[y] * 5
    result = cross_validate(x, y, _nearest_centroid, folds=5, repeats=3, seed=0)
    assert result["folds"] == 5 and result["repeats"] == 3 and len(result["scores"]) == 15
    assert result["accuracy"] == {"mean": 1.0, "std": 0.0}
    assert result["macro_f1"]["mean"] == 1.0 and result["balanced_accuracy"]["mean"] == 1.0


def test_cross_validation_on_random_labels_is_near_chance():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 5))
    y = rng.permutation(np.repeat([0, 1], 30))
    result = cross_validate(x, y, _nearest_centroid, folds=5, repeats=3, seed=0)
    assert 0.3 < result["accuracy"]["mean"] < 0.7
    assert result["accuracy"]["std"] > 0


def test_cross_validation_folds_shrink_to_the_smallest_class_and_lists_work():
    x = [[float(i)] for i in range(9)]
    y = [0, 0, 0, 0, 0, 0, 1, 1, 1]

    def majority(x_train, y_train, x_test):
        share = np.bincount(y_train, minlength=2) / len(y_train)
        return np.tile(share, (len(x_test), 1))

    result = cross_validate(x, y, majority, folds=5, repeats=2)
    assert result["folds"] == 3 and len(result["scores"]) == 6
    assert "3 folds" in result["note"]


def test_cross_validation_is_skipped_when_a_class_has_one_sample():
    result = cross_validate(np.zeros((5, 2)), [0, 0, 0, 0, 1], _nearest_centroid)
    assert set(result) == {"skipped"} and "class 1" in result["skipped"]


def test_report_shows_the_scores_and_every_class():
    text = format_report(compute_metrics(Y_TRUE, PROBS, LABELS))
    assert "accuracy: 0.667" in text and "macro-F1: 0.656" in text and "top-2: 0.833" in text
    lines = text.splitlines()
    cat = next(line for line in lines if line.startswith("cat "))
    assert cat.split()[1:] == ["1.000", "0.667", "0.800", "3"]
    assert all(any(line.startswith(label) for line in lines) for label in LABELS)
