"""RunConfig: one description of a run, YAML in and out, clear errors."""

from __future__ import annotations

import pytest

from engine.config import RunConfig
from engine.errors import UserError


def test_yaml_round_trip_keeps_every_setting(tmp_path):
    cfg = RunConfig(data="/d", model="mobilenetv2_100", mode="fine-tune", epochs=3, augment={"preset": "strong",
                                                                                              "hflip": False})
    cfg.save(tmp_path)
    again = RunConfig.load(tmp_path)
    assert again == cfg and again.augment.hflip is False


@pytest.mark.parametrize("text, needle", [
    ("data: /d\nepochs: -1\n", "epochs"),
    ("data: /d\nmode: magic\n", "mode"),
    ("data: /d\nlearning_rate: 1\n", "learning_rate"),
    ("- just\n- a list\n", "mapping"),
    ("data: [unclosed\n", "YAML"),
])
def test_bad_config_names_the_setting(text, needle):
    with pytest.raises(UserError, match=needle):
        RunConfig.from_yaml(text)


def test_a_config_without_a_task_is_image_classification_with_its_own_settings():
    cfg = RunConfig.from_yaml("data: /d\nimage_size: 160\n")
    assert cfg.task == "image-classification" and cfg.image_size == 160
    assert type(cfg).__name__ == "ImageClassificationConfig" and isinstance(cfg, RunConfig)
    assert type(RunConfig(data="/d")) is type(cfg)


def test_an_unknown_task_is_one_sentence_naming_the_known_ones():
    with pytest.raises(UserError, match=r"setting 'task' is invalid: Konstruktor knows the tasks image-classification"):
        RunConfig.from_yaml("data: /d\ntask: dance-classification\n")
