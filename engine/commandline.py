"""What the engine's command lines share: importing data into the workspace, and the extension point through
which another package (the cloud, composed in by launcher.py) adds sub-commands and training targets.

The engine alone trains on this computer (`--target local`); it never imports what extends it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

LOCAL = "local"
Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Target:
    """A place `train --target NAME` sends a run, besides this computer.

    `confirm(args)` runs before any folder is made (set up? cost accepted?), False when the person declined;
    `choose(run_dir, args)` names the target this run goes to instead (an `auto` target), or `train(run_dir,
    args, confirmed)` trains the prepared run folder there and returns the exit code.
    """

    help: str
    train: Callable[[Path, argparse.Namespace, bool], int] | None = None
    confirm: Callable[[argparse.Namespace], bool] | None = None
    choose: Callable[[Path, argparse.Namespace], str] | None = None


@dataclass(frozen=True)
class Extension:
    """What a package adds to the engine's command line.

    `commands(sub, common)` adds sub-parsers (with `common`'s --workspace as a parent) and returns their handlers
    by name; `train_arguments(parser)` adds flags to `train` (e.g. --yes); `targets` adds `--target` values.
    """

    commands: Callable[[argparse._SubParsersAction, argparse.ArgumentParser], dict[str, Handler]] | None = None
    train_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    targets: dict[str, Target] = field(default_factory=dict)


def setting_choices(name: str) -> tuple[str, ...]:
    """The values a RunConfig setting may take, read from its Literal type (for argparse's choices)."""
    from typing import get_args

    from engine.config import RunConfig

    return get_args(RunConfig.model_fields[name].annotation)


def import_data(source: str, *, task: str | None = None, seed: int = 0, val_fraction: float = 0.15,
                test_fraction: float = 0.15, quiet: bool = False):
    """Import `source` into the workspace (once per content); (dataset folder, manifest, report or None).

    The import report's summary goes to stderr unless `quiet`.
    """
    from engine.workspace import import_into_workspace

    dataset_dir, manifest, report = import_into_workspace(source, task=task, seed=seed, val_fraction=val_fraction,
                                                          test_fraction=test_fraction)
    if report is not None and not quiet:
        print(report.summary(), file=sys.stderr)
    return dataset_dir, manifest, report
