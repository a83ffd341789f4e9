"""The engine's command line and its extension point: what an extension adds (a command, a flag, a target) is
there and reached; choices come from the config's Literal types."""

from __future__ import annotations

from typing import get_args

import pytest

from engine.__main__ import _parser
from engine.__main__ import main as engine_main
from engine.commandline import Extension, Target
from engine.config import AugmentPreset, Mode, RunConfig


def _choices(parser, command: str, flag: str) -> tuple:
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return tuple(next(a for a in sub._actions if flag in a.option_strings).choices)


def test_choices_are_the_config_s_literal_types():
    parser, _ = _parser("python -m engine", ())
    assert _choices(parser, "train", "--mode") == get_args(Mode)
    assert _choices(parser, "train", "--augment") == get_args(AugmentPreset)
    assert _choices(parser, "train", "--device") == get_args(RunConfig.model_fields["device"].annotation)
    assert _choices(parser, "compare", "--device") == _choices(parser, "train", "--device")


def test_an_extension_adds_a_command_a_train_flag_and_targets_that_train_the_prepared_run(
        workspace, pattern_data, capsys):
    seen: dict = {}

    def commands(sub, common):
        sub.add_parser("hello", parents=[common])
        return {"hello": lambda args: 7}

    def train_far(run_dir, args, confirmed):
        seen.update(run_dir=run_dir, confirmed=confirmed, polite=args.polite)
        return 3

    ext = Extension(commands=commands, train_arguments=lambda t: t.add_argument("--polite", action="store_true"),
                    targets={"far": Target("somewhere else", train=train_far, confirm=lambda args: True),
                             "pick": Target("chooses", choose=lambda run_dir, args: "far")})
    assert engine_main(["hello"], extensions=[ext]) == 7
    assert engine_main(["train", "--data", str(pattern_data), "--target", "far", "--polite", "--quiet"],
                       extensions=[ext]) == 3
    assert seen["confirmed"] is True and seen["polite"] is True and (seen["run_dir"] / "config.yaml").is_file()
    assert engine_main(["train", "--data", str(pattern_data), "--target", "pick", "--quiet"], extensions=[ext]) == 3
    assert seen["confirmed"] is False  # `pick` itself asked nothing; `far` trains it and asks if it must
    declined = Extension(targets={"far": Target("costs money", train=train_far, confirm=lambda args: False)})
    runs = sorted((workspace / "runs").iterdir())
    assert engine_main(["train", "--data", str(pattern_data), "--target", "far"], extensions=[declined]) == 130
    assert sorted((workspace / "runs").iterdir()) == runs  # declined before any folder was made
    capsys.readouterr()
    assert engine_main(["train", "--data", str(pattern_data), "--target", "far"]) == 2
    assert "python launcher.py engine train ... --target far" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        engine_main(["train", "--polite"])  # the flag is the extension's, not the engine's
