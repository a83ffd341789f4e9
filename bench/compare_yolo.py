"""Ultralytics' own trainer beside our YOLO11 path, for bench.compare: the reference run on the same split, and the
paired `--yolo-parity` benchmark (the same epochs on both sides, per-epoch time and accuracy).

Also the episode maker that both benchmarks of bench.compare share.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    BENCH_DIR,
    ROOT,
    log,
    machine,
    machine_line,
    md_table,
    mean_std,
    now_iso,
    snapshot_engine,
    update_section,
    write_json,
)
from bench.fewshot_data import ensure_dataset, link_tree, load_fashion_mnist, sample_episode, write_pngs

YOLO_TIMEOUT_S = 2 * 3600
SPEED_MARGIN = 0.10  # our YOLO path may be at most this much slower than Ultralytics' own trainer

# Runs in a child process with the benchmark's engine snapshot on its path: Ultralytics' own trainer with its
# defaults; only the data, epochs, image size, seed and CPU are set (offline: from the yaml, no weights).
ULTRALYTICS_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    args = json.loads(sys.argv[1])
    from engine.models.ultralytics_family import prepare_ultralytics
    prepare_ultralytics(args["config_dir"])  # offline settings, no hub, no auto-install
    from ultralytics import YOLO
    t0 = time.perf_counter()
    model = YOLO(args["model"] + ".yaml", task="classify")
    epoch_ends = []
    model.add_callback("on_fit_epoch_end", lambda trainer: epoch_ends.append(time.perf_counter()))
    model.train(data=args["data"], epochs=args["epochs"], imgsz=args["imgsz"], seed=args["seed"], device="cpu",
                project=args["project"], name="train", exist_ok=True, plots=False, verbose=False)
    train_s = time.perf_counter() - t0
    best = Path(args["project"]) / "train" / "weights" / "best.pt"
    t1 = time.perf_counter()
    tuned = YOLO(str(best), task="classify")
    names = tuned.names
    predicted = []
    files = args["test_files"]
    for i in range(0, len(files), 64):
        for r in tuned.predict(files[i:i + 64], imgsz=args["imgsz"], device="cpu", verbose=False):
            predicted.append(names[int(r.probs.top1)])
    eval_s = time.perf_counter() - t1
    print(json.dumps({"train_s": train_s, "eval_s": eval_s, "predicted": predicted, "epoch_ends": epoch_ends}))
""")


def parse_ints(text: str) -> list[int]:
    """'10, 20' -> [10, 20]: a comma-separated flag of whole numbers, sorted, each once."""
    return sorted({int(v) for v in text.split(",") if v.strip()})


def ultralytics_reference(row: dict[str, Any], compare_dir: Path, seed: int, scratch: Path, code: Path
                          ) -> dict[str, Any]:
    """Ultralytics' own trainer on the train/val folders our YOLO run used; accuracy on the same test files."""
    run_dir = compare_dir / row["run_dirs"][0]
    layout = run_dir / "ultralytics" / "data"
    config = _read_yaml(run_dir / "config.yaml")
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    if not (layout / "train").is_dir():
        return {"error": f"our YOLO run left no Ultralytics layout at {layout}"}
    data_dir = scratch / "ul-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    for split in ("train", "val"):  # links, so Ultralytics' .cache files don't land in our run folder
        if (layout / split).is_dir():
            link_tree(layout / split, data_dir / split)
    manifest = json.loads((Path(config["data"]) / "manifest.json").read_text(encoding="utf-8"))
    tests = [it for it in manifest["items"] if it["split"] == "test"]
    # The epochs our run was scheduled for (it may stop early; Ultralytics' own patience is 100 epochs). Without
    # pretrained weights our run takes the scratch schedule, so read what it passed to Ultralytics.
    from engine.config import MODE_DEFAULTS

    ours_args = run_dir / "artifacts" / "ultralytics_args.yaml"
    scheduled = (_read_yaml(ours_args).get("args") or {}).get("epochs") if ours_args.exists() else None
    epochs = int(scheduled or config.get("epochs") or MODE_DEFAULTS[row["mode"]]["epochs"])
    args = {"model": row["model"], "data": str(data_dir), "epochs": epochs,
            "imgsz": int(metrics.get("input_size") or 224), "seed": seed, "project": str(scratch / "ul-runs"),
            "config_dir": str(scratch / "ul-config"),
            "test_files": [str(Path(config["data"]) / it["file"]) for it in tests]}
    env = {**os.environ, "YOLO_OFFLINE": "true", "YOLO_AUTOINSTALL": "false", "PYTHONPATH": str(code)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", ULTRALYTICS_SCRIPT, json.dumps(args)], cwd=code, env=env,
                          capture_output=True, text=True, timeout=YOLO_TIMEOUT_S)
    wall = time.perf_counter() - t0
    (scratch / "ultralytics-stderr.txt").write_text(proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        return {"error": " | ".join([ln for ln in proc.stderr.strip().splitlines() if ln.strip()][-3:]),
                "wall_s": round(wall, 1)}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    truth = [it["label"] for it in tests]
    acc = float(np.mean([p == t for p, t in zip(out["predicted"], truth, strict=True)])) if truth else None
    return {"accuracy": acc, "n_test": len(truth), "train_s": round(out["train_s"], 1),
            "eval_s": round(out["eval_s"], 1), "wall_s": round(wall, 1), "epochs": args["epochs"],
            "epoch_s": epoch_seconds(out.get("epoch_ends") or []),
            "imgsz": args["imgsz"], "ours": {"accuracy": row["accuracy"], "train_seconds": row["train_seconds"],
                                             "wall_seconds": row["wall_seconds"],
                                             "epochs_run": metrics.get("epochs_run")}}


def epoch_seconds(ends: list[float]) -> float | None:
    """Steady per-epoch time (training + its validation) from the times epochs ended; setup excluded."""
    return (ends[-1] - ends[0]) / (len(ends) - 1) if len(ends) >= 2 else None


def _our_epoch_ends(run_dir: Path) -> list[float]:
    from datetime import datetime

    from engine.events import read_events

    events, _ = read_events(run_dir)
    return [datetime.fromisoformat(e["t"]).timestamp() for e in events
            if e["type"] == "metrics" and e.get("split") == "val"]


def yolo_parity(episode: Path, k: int, seed: int, epochs: int, scratch: Path, workspace: Path, code: Path,
                batch: int | None = None) -> dict[str, Any]:
    """Our `engine train --model yolo11n-cls --mode full` and Ultralytics' own trainer, the same epochs, both run
    to the end (our early stopping off); accuracy on the same test files, steady per-epoch time."""
    import yaml

    run_dir = scratch / "ours"
    cfg = scratch / "ours.yaml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(yaml.safe_dump({"early_stopping_patience": 0, **({"batch_size": batch} if batch else {})}),
                   encoding="utf-8")
    cmd = [sys.executable, "-m", "engine", "--workspace", str(workspace), "train", "--data", str(episode),
           "--model", "yolo11n-cls", "--mode", "full", "--epochs", str(epochs), "--seed", str(seed),
           "--config", str(cfg), "--out", str(run_dir), "--json", "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=code, capture_output=True, text=True, timeout=YOLO_TIMEOUT_S)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": " | ".join([ln for ln in proc.stderr.strip().splitlines() if ln.strip()][-3:])}
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    row = {"run_dirs": [run_dir.name], "model": "yolo11n-cls", "mode": "full",
           "accuracy": metrics["test"]["accuracy"], "train_seconds": metrics.get("train_seconds"),
           "wall_seconds": round(wall, 1)}
    ref = ultralytics_reference(row, scratch, seed, scratch / "ul", code)
    ref["ours"]["epoch_s"] = epoch_seconds(_our_epoch_ends(run_dir))
    return {"k": k, "seed": seed, **ref}


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


@contextmanager
def episode_maker(workspace_name: str, prefix: str, meta: dict[str, Any]):
    """Yields (make_episode(k, seed) -> folder, workspace, scratch folder, engine snapshot folder).

    Sets up what both benchmarks of this file share: a fresh workspace under .bench/, the engine snapshot
    (recorded in `meta`), and the fixed test set, linked into every episode beside its k-shot train folder.
    """
    data = load_fashion_mnist(ensure_dataset())
    workspace = BENCH_DIR / workspace_name
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp_name:
        tmp = Path(tmp_name)
        code = tmp / "code"
        meta["engine"] = snapshot_engine(code)
        test_dir = tmp / "test"
        write_pngs(test_dir, data.test_x, data.test_y, [f"test{i:05d}" for i in data.test_ids])

        def make_episode(k: int, seed: int) -> Path:
            episode = tmp / f"episode-k{k}-s{seed}"
            ids = sample_episode(data, k, seed)
            write_pngs(episode / "train", data.train_x[ids], data.train_y[ids], [f"train{i:05d}" for i in ids])
            link_tree(test_dir, episode / "test")
            return episode

        yield make_episode, workspace, tmp, code


PARITY_SECTION = "compare-yolo"
PARITY_RESULTS = BENCH_DIR / "compare-yolo.json"


def parity_main(args, command: str, out_doc: Path) -> int:
    """--yolo-parity: paired runs of our YOLO path and Ultralytics' trainer; writes its own docs section."""
    if args.report_only:
        update_section(PARITY_SECTION, render_parity(json.loads(PARITY_RESULTS.read_text(encoding="utf-8"))), out_doc)
        return 0
    sys.path.insert(0, str(ROOT))
    res: dict[str, Any] = {"meta": {"command": command, "started": now_iso(), "epochs": args.yolo_epochs,
                                    "batch": args.yolo_batch,
                                    "machine": machine(("torch", "ultralytics", "numpy"))}, "pairs": []}
    started = time.monotonic()
    with episode_maker("compare-yolo-ws", "konstruktor-yolo-", res["meta"]) as (make_episode, workspace, tmp, code):
        for k in parse_ints(args.shots):
            for seed in range(args.yolo_parity):
                episode = make_episode(k, seed)
                log(f"{k}-shot seed {seed}: ours, then Ultralytics' own trainer ...", started)
                pair = yolo_parity(episode, k, seed, args.yolo_epochs, tmp / f"pair-k{k}-s{seed}", workspace, code,
                                   batch=args.yolo_batch)
                pair["load_after"] = round(os.getloadavg()[0], 2)
                res["pairs"].append(pair)
                log(f"  {pair}", started)
                res["meta"]["wall_s"] = round(time.monotonic() - started, 1)
                write_json(PARITY_RESULTS, res)
                shutil.rmtree(episode, ignore_errors=True)
    res["meta"]["finished"] = now_iso()
    write_json(PARITY_RESULTS, res)
    update_section(PARITY_SECTION, render_parity(res), out_doc)
    return 0


def render_parity(res: dict[str, Any]) -> str:
    meta = res["meta"]
    lines = ["## YOLO11n-cls: our path against Ultralytics' own trainer", "",
             f"Measured {meta.get('finished', meta['started'])[:10]} with `{meta['command']}`.", "",
             f"Machine: {machine_line(meta['machine'])}", "",
             f"Each pair on one Fashion-MNIST episode (k images per class, seeded; the fixed 1000-image test set): "
             f"`python -m engine train --model yolo11n-cls --mode full --epochs {meta['epochs']}` with early stopping "
             "off, then `YOLO('yolo11n-cls.yaml').train(...)` with Ultralytics' defaults on the same train/val folders "
             "(set: data, epochs, imgsz, seed, device cpu). Both learn from scratch (no YOLO11 weights offline). "
             "Accuracy on the same test files. Time per epoch = (end of the last epoch − end of the first) / "
             "(epochs − 1), each epoch including its validation; setup and the final test scoring are excluded, "
             "and shown separately as total seconds.", ""]
    rows, ratios, gaps = [], [], []
    for p in res["pairs"]:
        if p.get("error"):
            rows.append([p["k"], p["seed"], "", "", "", "", "", "", f"failed: {p['error']}"])
            continue
        ours = p["ours"]
        ratio = ours["epoch_s"] / p["epoch_s"] if ours.get("epoch_s") and p.get("epoch_s") else None
        if ratio:
            ratios.append(ratio)
        gaps.append(ours["accuracy"] - p["accuracy"])
        rows.append([p["k"], p["seed"], _p(ours["accuracy"]), _p(p["accuracy"]),
                     f"{ours['epoch_s']:.2f}" if ours.get("epoch_s") else "", f"{p['epoch_s']:.2f}" if p.get("epoch_s") else "",
                     f"{ratio:.2f}×" if ratio else "", f"{ours['wall_seconds']:.0f}",
                     f"{p['wall_s']:.0f}"])
    lines.append(md_table(["k", "seed", "ours: accuracy", "Ultralytics: accuracy", "ours: s/epoch",
                           "Ultralytics: s/epoch", "time ratio", "ours: total s", "Ultralytics: total s"],
                          rows, "rrrrrrrrr"))
    if ratios and gaps:
        mean_ratio, _ = mean_std(ratios)
        mean_gap, std_gap = mean_std(gaps)
        lines += ["", f"Speed target (ours at most {SPEED_MARGIN:.0%} slower per epoch): mean ratio {mean_ratio:.2f}×, "
                      f"worst {max(ratios):.2f}× — {'met' if max(ratios) <= 1 + SPEED_MARGIN else '**not met**'}. "
                      f"Accuracy: ours minus Ultralytics {100 * mean_gap:+.1f} ± {100 * std_gap:.1f} points over "
                      f"{len(gaps)} pairs (chance is 10 %). The settings differ by design: both use batches of "
                      "16, but ours takes an optimizer step after every batch, while Ultralytics' defaults "
                      "accumulate gradients up to a nominal batch of 64 — one or two steps an epoch on a few "
                      "dozen images."]
    lines += [f"\n{note}" for note in meta.get("notes", [])]
    lines += ["", f"Raw results: `.bench/compare-yolo.json` (git-ignored); total {meta.get('wall_s', 0) / 60:.0f} min."]
    return "\n".join(lines)


def _p(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f} %"
