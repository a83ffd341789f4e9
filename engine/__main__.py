"""Command line: python -m engine {train,evaluate,predict,export,open,models,import,compare}.

It trains on this computer. `main(argv, extensions=...)` lets another package add sub-commands and
training targets (engine.commandline.Extension): launcher.py composes the engine with the cloud that way
(`python launcher.py engine ...`, in the desktop app `Konstruktor engine ...`).

Exit codes: 0 success; 2 bad input (one sentence on stderr, no traceback); 1 internal error;
130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

from engine.commandline import LOCAL, Extension, Handler, Target, import_data, setting_choices
from engine.errors import UserError
from engine.tasks import DEFAULT_TASK, task_names

# Offline hygiene for the libraries we drive, set before any of them is imported.
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("ULTRALYTICS_SAFE_LOAD", "true")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


FULL_CLI = "python launcher.py engine"  # the engine with every extension (the desktop app: `Konstruktor engine`)


def _parser(prog: str, extensions: Sequence[Extension]) -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    from engine.compare.cli import add_parser as add_compare_parser
    from engine.config import AugmentPreset, Mode

    more = None if extensions else f"Training in the cloud, and its commands: `{FULL_CLI} ...` (these commands and more)."
    p = argparse.ArgumentParser(prog=prog, description="Konstruktor engine: train, evaluate, "
                                "predict with small-data image classifiers and object detectors, offline.", epilog=more)
    ws_help = "workspace folder (default: $KONSTRUKTOR_WORKSPACE or the user data folder)"
    p.add_argument("--workspace", help=ws_help)
    # Accepted after the sub-command too (`train ... --workspace WS`), as people naturally type it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", default=argparse.SUPPRESS, help=ws_help)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", parents=[common], help="train a model (or resume a run folder)")
    t.add_argument("run_dir", nargs="?", help="an existing run folder to run or resume")
    t.add_argument("--data", help="a folder of class folders, a folder with train/val/test, a .zip, a .csv, "
                                  "or an imported dataset folder")
    t.add_argument("--task", choices=task_names(), help=f"what to train for (default {DEFAULT_TASK})")
    t.add_argument("--model", help="model name (see `python -m engine models`)")
    t.add_argument("--mode", choices=get_args(Mode))
    t.add_argument("--epochs", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--augment", choices=get_args(AugmentPreset))
    t.add_argument("--no-hflip", action="store_true", help="never mirror images (mirror-sensitive classes)")
    t.add_argument("--device", choices=setting_choices("device"))
    t.add_argument("--weights", help="a weights file to start from instead of the defaults")
    t.add_argument("--budget-minutes", type=float)
    t.add_argument("--out", help="the run folder to create (default: a new folder in the workspace)")
    t.add_argument("--config", help="a YAML RunConfig; flags given here override it")
    t.add_argument("--json", action="store_true", help="print the final metrics as JSON on stdout")
    t.add_argument("--quiet", action="store_true", help="no progress output")
    targets = _targets(extensions)
    # No argparse choices: a target only the full command line has gets a sentence saying where it is.
    t.add_argument("--target", default=LOCAL, metavar="{" + ",".join([LOCAL, *targets]) + "}",
                   help="where to train: local (this computer)" + "".join(f", {n} ({x.help})" for n, x in targets.items()))
    for ext in extensions:
        if ext.train_arguments:
            ext.train_arguments(t)

    e = sub.add_parser("evaluate", parents=[common], help="metrics of a finished run, on its own test split or on other data")
    e.add_argument("run_dir")
    e.add_argument("--data", help="evaluate on this data instead (same class names)")
    e.add_argument("--json", action="store_true")

    pr = sub.add_parser("predict", parents=[common], help="classify image files with a finished run")
    pr.add_argument("run_dir")
    pr.add_argument("files", nargs="*", help="image files; for a text classifier .txt files (a text per line) or "
                    ".csv files (a text column)")
    pr.add_argument("--text", action="append", help="text classification: a text to classify (repeatable)")
    pr.add_argument("--top-k", type=int, default=3)
    pr.add_argument("--conf", type=float, help="object detection: the lowest confidence of a box shown "
                    "(default: the run's, 0.25)")
    pr.add_argument("--iou", type=float, help="object detection: the overlap above which a less confident box "
                    "of the same class is dropped (default: the run's, 0.5)")
    pr.add_argument("--json", action="store_true")

    x = sub.add_parser("export", parents=[common], help="export a finished run: ONNX / PyTorch models and a ready-to-run package")
    x.add_argument("run_dir")
    x.add_argument("--format", default="onnx,torch,torchscript",
                   help="comma-separated: onnx, torch, torchscript (default: all three)")
    x.add_argument("--quantize", choices=["int8"], help="also write model.int8.onnx (static INT8 quantization)")
    x.add_argument("--out", help="the package folder to create (default: RUN_DIR/exports/<time>); a .zip of it "
                                 "is written beside it")
    x.add_argument("--json", action="store_true", help="print the export report as JSON on stdout")

    o = sub.add_parser("open", parents=[common], help="open a model made elsewhere (an exported package or a zipped "
                       "run folder, .zip or folder) as a run of this workspace, to test, evaluate and export it")
    o.add_argument("path")
    o.add_argument("--project", help="add it to this project (its data, when the classes match, scores it)")
    o.add_argument("--json", action="store_true")

    m = sub.add_parser("models", parents=[common], help="list the models and whether they work offline")
    m.add_argument("--json", action="store_true")

    add_compare_parser(sub, common)

    i = sub.add_parser("import", parents=[common], help="import and check a dataset without training")
    i.add_argument("source")
    i.add_argument("--task", choices=task_names(), help=f"what the data is for (default {DEFAULT_TASK})")
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--json", action="store_true")
    handlers: dict[str, Handler] = {"train": lambda args: cmd_train(args, targets), "evaluate": cmd_evaluate,
                                    "predict": cmd_predict, "export": cmd_export, "open": cmd_open,
                                    "models": cmd_models, "import": cmd_import, "compare": cmd_compare}
    for ext in extensions:
        if ext.commands:
            handlers.update(ext.commands(sub, common))
    return p, handlers


def _targets(extensions: Sequence[Extension]) -> dict[str, Target]:
    return {name: target for ext in extensions for name, target in ext.targets.items()}


def main(argv: list[str] | None = None, *, extensions: Sequence[Extension] = (), prog: str = "python -m engine") -> int:
    """Run one command; `extensions` add sub-commands and training targets (see engine.commandline)."""
    parser, handlers = _parser(prog, extensions)
    args = parser.parse_args(argv)
    if args.workspace:
        os.environ["KONSTRUKTOR_WORKSPACE"] = str(Path(args.workspace).expanduser().resolve())
    try:
        return handlers[args.command](args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


# --- import --------------------------------------------------------------------------------

def cmd_import(args) -> int:
    from engine.tasks import recognise_task

    task = args.task or recognise_task(args.source)
    dataset_dir, manifest, report = import_data(args.source, task=task, seed=args.seed, quiet=args.json)
    if args.json:
        print(json.dumps({"dataset_dir": str(dataset_dir), "id": manifest["id"], "fingerprint": manifest["fingerprint"],
                          "classes": manifest["classes"], "n_images": len(manifest["items"]),
                          "problems": report.problems if report else []}, ensure_ascii=False, indent=2))
    else:
        print(dataset_dir)
    return 0


# --- train ---------------------------------------------------------------------------------

def _config_from_args(args):
    from engine.config import RunConfig

    raw: dict = {}
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise UserError(f"The config file {path} does not exist.")
        import yaml

        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise UserError(f"{path} is not valid YAML: {e}") from None
        if not isinstance(raw, dict):
            raise UserError(f"{path} must be a mapping of settings (key: value lines).")
    overrides = {"task": args.task, "data": args.data, "model": args.model, "mode": args.mode, "epochs": args.epochs, "seed": args.seed,
                 "lr": args.lr, "batch_size": args.batch_size, "device": args.device, "weights": args.weights,
                 "budget_minutes": args.budget_minutes}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    if not raw.get("task"):  # a layout only one task has (YOLO labels, COCO JSON, VOC XML) says the task
        from engine.tasks import recognise_task

        found = recognise_task(raw.get("data"))
        if found:
            raw["task"] = found
    if args.augment or args.no_hflip:
        aug = dict(raw.get("augment") or {})
        if args.augment:
            aug["preset"] = args.augment
        if args.no_hflip:
            aug["hflip"] = False
        raw["augment"] = aug
    if not raw.get("data"):
        raise UserError("Say which data to train on: --data PATH (a folder of class folders, a .zip or a .csv).")
    if raw.get("weights"):
        if not Path(raw["weights"]).is_file():
            raise UserError(f"The weights file {raw['weights']} does not exist.")
        raw["weights"] = str(Path(raw["weights"]).resolve())
    return RunConfig.from_dict(raw, source="arguments")


def cmd_train(args, targets: dict[str, Target]) -> int:
    from engine.config import CONFIG_FILE, RunConfig
    from engine.models import get_spec
    from engine.workspace import Workspace

    target = _target(args.target, targets)
    confirmed = False
    if target is not None and target.confirm:  # set up and cost accepted before any folder is made
        if not target.confirm(args):
            return 130
        confirmed = True
    if args.run_dir:
        run_dir = Path(args.run_dir)
        if not (run_dir / CONFIG_FILE).exists():
            raise UserError(f"{run_dir} is not a run folder (no {CONFIG_FILE}). To start a new run use --data PATH.")
        RunConfig.load(run_dir)
    else:
        cfg = _config_from_args(args)
        get_spec(cfg.model)  # an unknown model name fails before any import work
        dataset_dir, manifest, _ = import_data(cfg.data, task=cfg.task, seed=cfg.seed, val_fraction=cfg.val_fraction,
                                               test_fraction=cfg.test_fraction, quiet=args.quiet or args.json)
        cfg = cfg.model_copy(update={"data": str(dataset_dir)})
        ws = Workspace()
        if args.out:
            run_dir = Path(args.out)
            if run_dir.exists() and any(run_dir.iterdir()):
                hint = (f" To resume it: python -m engine train {run_dir}" if (run_dir / CONFIG_FILE).exists() else "")
                raise UserError(f"{run_dir} already exists and is not empty; choose a new --out folder.{hint}")
            run_dir.mkdir(parents=True, exist_ok=True)
        else:
            run_dir = ws.new_run_dir(cfg.model)
        cfg.save(run_dir)
        ws.register_run(run_dir, dataset_id=manifest["id"], model=cfg.model, mode=cfg.mode)
    from engine import train
    from engine.progress import ProgressPrinter

    printer = None if (args.quiet or args.json) else ProgressPrinter(sys.stderr)
    where = target.choose(Path(run_dir), args) if target is not None and target.choose else args.target
    if where == LOCAL:
        code = train.run(run_dir, echo=printer)
    else:
        code = _target(where, targets).train(Path(run_dir), args, confirmed)
    if printer:
        printer.close()
    if not args.run_dir:
        # Only a run this command registered; a run started by the UI is the UI's to index
        # (a training child writes nothing outside its run folder).
        _refresh_index(run_dir)
    if code == 0:
        from engine.config import task_of_run

        metrics = json.loads((Path(run_dir) / "metrics.json").read_text(encoding="utf-8"))
        own = task_of_run(run_dir).hook("summary")
        brief, line = own(metrics) if own is not None else (_brief(metrics), _metrics_line(metrics))
        if args.json:
            print(json.dumps({"run_dir": str(Path(run_dir).resolve()), **brief}, indent=2))
        else:
            print(line, file=sys.stderr)
            print(Path(run_dir).resolve())
        return 0
    from engine.events import read_events

    events, _ = read_events(run_dir)
    last = next((e for e in reversed(events) if e["type"] in ("failed", "cancelled")), None)
    if last is not None:
        print(f"error: {last.get('message')}", file=sys.stderr)
    return code


def _target(name: str, targets: dict[str, Target]) -> Target | None:
    """The extension's target called `name`; None for this computer. Refuses a name nothing here trains on."""
    if name == LOCAL:
        return None
    if name in targets:
        return targets[name]
    if not targets:
        raise UserError(f"This command line trains on this computer only (--target {LOCAL}); to train on "
                        f"'{name}' run `{FULL_CLI} train ... --target {name}` (in the desktop app: "
                        f"`Konstruktor engine train ...`).")
    raise UserError(f"--target {name} is not a place to train; use one of {', '.join([LOCAL, *targets])}.")


def _refresh_index(run_dir: Path) -> None:
    from engine.workspace import Workspace

    try:
        ws = Workspace()
        ws.refresh_run(Path(run_dir).resolve().name)
    except Exception:  # the index is a convenience; never fail a finished run over it
        pass


def _brief(metrics: dict) -> dict:
    out = {k: metrics.get(k) for k in ("model", "mode", "mode_reason", "train_seconds")}
    for s in ("val", "test"):
        if s in metrics:
            out[s] = {k: metrics[s][k] for k in ("accuracy", "balanced_accuracy", "macro_f1", "n")}
    if "cv" in metrics and "accuracy" in metrics["cv"]:
        out["cv"] = {k: metrics["cv"][k] for k in ("accuracy", "macro_f1", "folds", "repeats")}
    return out


def _metrics_line(metrics: dict) -> str:
    parts = [f"{metrics['model']} ({metrics['mode']}) trained in {metrics['train_seconds']:.1f} s"]
    for s in ("val", "test"):
        if s in metrics:
            parts.append(f"{s}: accuracy {metrics[s]['accuracy']:.3f}, macro-F1 {metrics[s]['macro_f1']:.3f} "
                         f"(n={metrics[s]['n']})")
    if "cv" in metrics and "accuracy" in metrics["cv"]:
        cv = metrics["cv"]["accuracy"]
        parts.append(f"cross-validated accuracy {cv['mean']:.3f} ± {cv['std']:.3f}")
    return "; ".join(parts)


# --- evaluate / predict --------------------------------------------------------------------

def cmd_evaluate(args) -> int:
    from engine.inference import evaluate_run

    result = evaluate_run(args.run_dir, data=args.data)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        from engine.config import task_of_run
        from engine.evaluate import format_report

        format_report = task_of_run(args.run_dir).hook("format_report") or format_report
        for split in ("val", "test", "data"):
            if split in result:
                print(f"== {split} ==")
                print(format_report(result[split]))
        if "cv" in result and "accuracy" in result["cv"]:
            cv = result["cv"]
            print(f"cross-validation ({cv['folds']}-fold x {cv['repeats']}): accuracy {cv['accuracy']['mean']:.3f} ± "
                  f"{cv['accuracy']['std']:.3f}, macro-F1 {cv['macro_f1']['mean']:.3f} ± {cv['macro_f1']['std']:.3f}")
    return 0


def cmd_predict(args) -> int:
    from engine.inference import predict_files

    options = {k: v for k, v in (("conf", args.conf), ("iou", args.iou)) if v is not None}
    for name, value in options.items():
        if not 0 < value < 1:
            raise UserError(f"--{name} must be between 0 and 1 (exclusive); got {value}.")
    if args.text:
        options["text"] = args.text
    elif not args.files:
        raise UserError("Say what to predict: one or more files, or --text \"...\" for a text classifier.")
    results = predict_files(args.run_dir, args.files, top_k=args.top_k, **options)
    if isinstance(results, dict):  # boxes per file (object detection)
        return _print_boxes(results, args.json)
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        for r in results:
            if "error" in r:
                print(f"{r['file']}\terror: {r['error']}")
            else:
                top = ", ".join(f"{t['label']} {t['prob']:.3f}" for t in r["top"])
                print(f"{r['file']}\t{r['label']}\t{r['prob']:.3f}\t[{top}]")
    ok = sum("error" not in r for r in results)
    if ok == 0:
        print("error: none of the files could be classified (see the messages above).", file=sys.stderr)
        return 2
    return 0


def _print_boxes(results: dict, as_json: bool) -> int:
    if as_json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        for f, found in results.items():
            if isinstance(found, dict):
                print(f"{f}\terror: {found['error']}")
                continue
            boxes = "; ".join(f"{d['label']} {d['confidence']:.2f} [{', '.join(f'{v:.0f}' for v in d['box'])}]"
                              for d in found)
            print(f"{f}\t{len(found)} object(s)\t{boxes}")
    if all(isinstance(v, dict) for v in results.values()):
        print("error: none of the files could be read (see the messages above).", file=sys.stderr)
        return 2
    return 0


def cmd_export(args) -> int:
    from engine.export import export_run

    result = export_run(args.run_dir, formats=args.format, quantize=args.quantize, out=args.out,
                        log=lambda msg: print(msg, file=sys.stderr))
    if args.json:
        print(json.dumps({"folder": str(result.folder.resolve()), "zip": str(result.zip_path.resolve()),
                          "report": result.report}, indent=2, ensure_ascii=False))
    else:
        print(result.folder.resolve())
    return 0


def cmd_open(args) -> int:
    from engine.open_model import describe, dumps, open_model

    opened = open_model(args.path, project_id=args.project)
    print(dumps(opened) if args.json else describe(opened))
    return 0


def cmd_compare(args) -> int:
    from engine.compare.cli import cli

    return cli(args)


def cmd_models(args) -> int:
    from engine.models import list_models

    specs = list_models()
    if args.json:
        print(json.dumps([s.__dict__ for s in specs], indent=2))
        return 0
    print(f"{'name':28} {'family':12} {'params':>8} {'input':>6}  offline  description")
    for s in specs:
        print(f"{s.name:28} {s.family:12} {s.params_m:7.1f}M {s.input_size:6d}  "
              f"{'yes' if s.pretrained_offline else 'no ':7}  {s.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
