"""resolve(): every concrete value of a run decided in one pure function, from the one defaults file."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.config import DEFAULT_BATCH, MODE_DEFAULTS, ULTRALYTICS_BATCH, ULTRALYTICS_WORKERS, RunConfig
from engine.resolve import DataFacts, ModelFacts, read_resolved, resolve

LITE0 = ModelFacts("tf_efficientnet_lite0", "timm", 4.652, 224, True, DEFAULT_BATCH, 0)
YOLO = ModelFacts("yolo11n-cls", "ultralytics", 2.8, 224, False, ULTRALYTICS_BATCH, ULTRALYTICS_WORKERS)


def data(per_class=(10, 10), n_val=4, n_test=4) -> DataFacts:
    return DataFacts({f"c{i}": n for i, n in enumerate(per_class)}, n_val, n_test)


def test_auto_with_few_images_is_a_linear_probe_without_a_schedule():
    r = resolve(RunConfig(data="/d"), LITE0, "cpu", data((3, 10)))
    assert (r.mode, r.mode_reason_code, r.mode_reason_params) == ("linear-probe", "few_images", {"smallest": 3})
    assert r.schedule is None and r.epochs is None and r.lr is None and r.patience is None
    assert "only 3 training image(s)" in r.mode_reason


def test_auto_on_a_cpu_with_a_small_job_fine_tunes_on_the_fine_tune_schedule():
    r = resolve(RunConfig(data="/d"), LITE0, "cpu", data((10, 10)))
    ft = MODE_DEFAULTS["fine-tune"]
    assert (r.mode, r.mode_reason_code, r.schedule) == ("fine-tune", "cpu_ok", "fine-tune")
    assert (r.epochs, r.lr, r.patience, r.layer_decay) == (ft["epochs"], ft["lr"], ft["patience"], ft["layer_decay"])
    assert (r.batch_size, r.num_workers, r.amp) == (DEFAULT_BATCH, 0, False)


def test_auto_on_a_cpu_with_a_big_job_falls_back_to_the_linear_probe():
    r = resolve(RunConfig(data="/d"), LITE0, "cpu", data((2000, 2000)))
    assert (r.mode, r.mode_reason_code) == ("linear-probe", "cpu_slow")


def test_auto_on_a_gpu_fine_tunes_with_mixed_precision():
    r = resolve(RunConfig(data="/d"), LITE0, "cuda", data((2000, 2000)))
    assert (r.mode, r.mode_reason_code, r.amp) == ("fine-tune", "gpu", True)


def test_without_pretrained_weights_auto_learns_from_scratch_on_the_scratch_schedule():
    r = resolve(RunConfig(data="/d", model="yolo11n-cls"), YOLO, "cpu", data())
    sc = MODE_DEFAULTS["scratch"]
    assert (r.mode, r.mode_reason_code, r.pretrained, r.schedule) == ("scratch", "no_pretrained", False, "scratch")
    assert (r.epochs, r.lr, r.patience) == (sc["epochs"], sc["lr"], sc["patience"])
    assert (r.batch_size, r.num_workers) == (ULTRALYTICS_BATCH, ULTRALYTICS_WORKERS)


def test_fine_tune_asked_without_pretrained_weights_trains_every_layer_on_the_scratch_schedule():
    r = resolve(RunConfig(data="/d", model="yolo11n-cls", mode="fine-tune"), YOLO, "cpu", data())
    assert (r.mode, r.mode_reason_code, r.schedule) == ("full", "settings", "scratch")


def test_the_users_values_win_over_every_default():
    cfg = RunConfig(data="/d", mode="full", epochs=3, lr=0.01, batch_size=8, num_workers=2,
                    early_stopping_patience=0, image_size=160, imbalance="balanced-sampler", seed=7)
    r = resolve(cfg, LITE0, "cpu", data())
    assert (r.epochs, r.lr, r.batch_size, r.num_workers, r.patience) == (3, 0.01, 8, 2, 0)
    assert (r.image_size, r.imbalance, r.balanced, r.seed) == (160, "balanced-sampler", True, 7)


@pytest.mark.parametrize("cv, n_val, expected", [("auto", 29, True), ("auto", 30, False), ("off", 2, False),
                                                 ("on", 500, True)])
def test_cross_validation_runs_when_asked_or_when_validation_is_tiny(cv, n_val, expected):
    cfg = RunConfig(data="/d", mode="linear-probe", eval={"cv": cv})
    assert resolve(cfg, LITE0, "cpu", data(n_val=n_val)).cv is expected


def test_image_settings_come_from_the_model_and_the_data():
    balanced = resolve(RunConfig(data="/d"), LITE0, "cpu", data((10, 12)))
    skewed = resolve(RunConfig(data="/d"), LITE0, "cpu", data((10, 40)))
    assert balanced.image_size == 224 and balanced.augment == "light" and balanced.hflip is True
    assert (balanced.imbalance, skewed.imbalance) == ("none", "class-weights")


def test_the_resolved_run_is_written_down_and_read_back(tmp_path):
    r = resolve(RunConfig(data="/d"), LITE0, "cpu", data())
    r.save(tmp_path)
    assert read_resolved(tmp_path) == r.as_dict()
    assert read_resolved(tmp_path / "missing") is None


def test_data_facts_count_the_manifest_splits():
    manifest = {"classes": ["a", "b"], "items": [{"split": "train", "label": "a"}, {"split": "train", "label": "a"},
                                                  {"split": "val", "label": "b"}, {"split": "test", "label": "b"}]}
    assert DataFacts.from_manifest(manifest) == DataFacts({"a": 2, "b": 0}, 1, 1)


def test_resolving_imports_no_torch():
    code = ("import sys; from engine.config import RunConfig; from engine.resolve import resolve, ModelFacts, DataFacts;"
            "resolve(RunConfig(data='/d'), ModelFacts('m', 'timm', 4.0, 224, True, 32, 0), 'cpu',"
            " DataFacts({'a': 9, 'b': 9}, 1, 1)); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
