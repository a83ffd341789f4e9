"""`python -m engine compare`: its arguments, and the command itself."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.commandline import import_data, setting_choices
from engine.compare.candidates import default_candidates, parse_candidates
from engine.compare.leaderboard import markdown
from engine.compare.plan import guess_device
from engine.compare.run import new_compare_dir, run_compare
from engine.errors import UserError


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    """Register `compare` on the engine's command line."""
    c = sub.add_parser("compare", parents=[common], help="train several candidates (model:mode) on one split within "
                       "a time budget and rank them")
    c.add_argument("--data", required=True, help="the data, as for train (imported once: one split for every candidate)")
    c.add_argument("--candidates", help="model:mode[:key=value,...] items separated by spaces or semicolons, e.g. "
                                        "'tf_efficientnet_lite0:linear-probe mobilenetv2:fine-tune:search=lr,epochs' "
                                        "(default: a set for this computer's CPU or GPU)")
    c.add_argument("--budget-minutes", type=float, help="total time; candidates that won't fit are skipped with a reason")
    c.add_argument("--search", help="search these settings in every fine-tune/full/scratch candidate: lr, epochs or "
                                    "lr,epochs")
    c.add_argument("--repeats", type=int, help="train each candidate with this many seeds and report the spread")
    c.add_argument("--task", help="what the candidates are trained for (default: recognised from the data, else "
                                  "image-classification)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--device", choices=setting_choices("device"))
    c.add_argument("--out", help="the compare folder to create (default: a new folder in the workspace)")
    c.add_argument("--json", action="store_true", help="print the leaderboard as JSON on stdout")
    c.add_argument("--quiet", action="store_true", help="no progress output")
    c.add_argument("--no-index", action="store_true", help=argparse.SUPPRESS)  # the UI indexes the runs itself


def cli(args) -> int:
    """`python -m engine compare`: parse, import the data once, run, print the leaderboard."""
    if args.budget_minutes is not None and not args.budget_minutes > 0:
        raise UserError("--budget-minutes must be a positive number of minutes.")
    if args.repeats is not None and not 1 <= args.repeats <= 10:
        raise UserError("--repeats must be a whole number from 1 to 10.")
    from engine.tasks import get_task, recognise_task

    task = get_task(args.task or recognise_task(args.data)).name
    device = args.device or "auto"
    text = args.candidates
    if not text:
        text = " ".join(default_candidates("cuda" if device == "cuda" else guess_device(), task))
    candidates = parse_candidates(text, search=args.search, repeats=args.repeats)
    quiet = args.quiet or args.json
    dataset_dir, manifest, _ = import_data(args.data, task=task, seed=args.seed, quiet=quiet)
    if args.out:
        out = Path(args.out)
    else:
        from engine.workspace import Workspace

        out = new_compare_dir(Workspace().root)

    def echo(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    code, board = run_compare(dataset_dir, manifest, candidates, out, budget_minutes=args.budget_minutes,
                              seed=args.seed, device=device, register=not args.no_index,
                              echo=None if quiet else echo)
    if args.json:
        import json

        print(json.dumps({"compare_dir": str(Path(out).resolve()), **board}, indent=2, ensure_ascii=False))
    else:
        if not args.quiet:
            print(markdown(board), file=sys.stderr)
        print(Path(out).resolve())
    if code == 130:
        print("stopped; the leaderboard holds what finished.", file=sys.stderr)
    return code

