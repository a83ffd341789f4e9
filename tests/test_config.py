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
