"""Compare benchmark: Fashion-MNIST 10-way at 10 and 20 images per class, the default CPU candidate set through
`python -m engine compare`, and Ultralytics' own `yolo classify train` on the same split beside our YOLO row.

For each k and seed it writes an episode (k training images per class and bench.fewshot's fixed test set, PNG
class folders `train/` and `test/`), times one `python -m engine compare --data EPISODE --json` call and keeps
every leaderboard row (with its wall time). When the candidates include a YOLO11 classifier, Ultralytics' own
trainer then trains the same model from its yaml with its own defaults, the same epochs and image size, on the
very train/val folders our YOLO run used (its `ultralytics/data` layout), in a child process; its best weights
are scored on the same test files.

    python -m bench.compare                               # 10 and 20 shots, 1 episode each
    python -m bench.compare --shots 2 --episodes 1 --candidates 'lite0:linear-probe mobilenetv2:linear-probe'
    python -m bench.compare --report-only                 # rewrite the docs section from the results JSON

Raw results go to .bench/compare.json after every step; the summary to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
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
    DOC,
    ROOT,
    machine,
    machine_line,
    md_table,
    mean_std,
    now_iso,
    update_section,
    write_json,
)
from bench.fewshot import (
    CLASSES,
    TEST_PER_CLASS,
    ensure_dataset,
    link_tree,
    load_fashion_mnist,
    log,
    sample_episode,
    snapshot_engine,
    write_pngs,
)

SECTION = "compare"
CLI_TIMEOUT_S = 4 * 3600
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


def _parse_ints(text: str) -> list[int]:
    return sorted({int(v) for v in text.split(",") if v.strip()})


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("--shots", default="10,20", help="images per class, comma-separated (default 10,20)")
    p.add_argument("--episodes", type=int, default=1, help="seeded episodes per k (default 1)")
    p.add_argument("--candidates", help="as `engine compare --candidates` (default: the default CPU set)")
    p.add_argument("--budget-minutes", type=float, help="budget of each compare call (default: none)")
    p.add_argument("--no-ultralytics", action="store_true", help="skip Ultralytics' own trainer")
    p.add_argument("--yolo-parity", type=int, metavar="N",
                   help="instead: our yolo11n-cls path against Ultralytics' own trainer, N seeds per k, the same "
                        "epochs, both run to the end (results .bench/compare-yolo.json, section compare-yolo)")
    p.add_argument("--yolo-epochs", type=int, default=20, help="epochs of each --yolo-parity run (default 20)")
    p.add_argument("--yolo-batch", type=int, help="batch size of our --yolo-parity runs (default: RunConfig's)")
    p.add_argument("--report-only", action="store_true", help="only rewrite the docs section from the results JSON")
    p.add_argument("--results", default=str((BENCH_DIR / "compare.json").relative_to(ROOT)),
                   help="the results JSON (default %(default)s)")
    p.add_argument("--out", default=str(DOC.relative_to(ROOT)), help="markdown file to update (default %(default)s)")
    return p


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _abs(path: str) -> Path:
    return Path(path) if Path(path).is_absolute() else ROOT / path


def run_compare(episode: Path, candidates: str | None, seed: int, budget: float | None, out: Path, workspace: Path,
                code: Path) -> dict[str, Any]:
    """One timed `python -m engine compare`; its leaderboard and wall time."""
    cmd = [sys.executable, "-m", "engine", "--workspace", str(workspace), "compare", "--data", str(episode),
           "--seed", str(seed), "--out", str(out), "--json"]
    if candidates:
        cmd += ["--candidates", candidates]
    if budget:
        cmd += ["--budget-minutes", f"{budget:g}"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=code, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=CLI_TIMEOUT_S)
    except (KeyboardInterrupt, subprocess.TimeoutExpired):
        proc.send_signal(signal.SIGINT)  # compare stops its trainer and writes the partial leaderboard
        proc.communicate(timeout=60)
        raise
    rec: dict[str, Any] = {"rc": proc.returncode, "wall_s": round(time.perf_counter() - t0, 1),
                           "load_after": round(os.getloadavg()[0], 2), "command": shlex.join(cmd[1:])}
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / f"{out.name}-stderr.txt").write_text(stderr, encoding="utf-8")
    if proc.returncode != 0:
        rec["error"] = " | ".join([ln for ln in stderr.strip().splitlines() if ln.strip()][-3:])
        return rec
    board = json.loads(stdout)
    rec["rows"] = board["rows"]
    rec["recommendation"] = board.get("recommendation")
    rec["data"] = board.get("data")
    return rec


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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    command = shlex.join(["python", "-m", "bench.compare", *(sys.argv[1:] if argv is None else argv)])
    results_file = _abs(args.results)
    out_doc = _abs(args.out)
    if args.yolo_parity:
        return parity_main(args, command, out_doc)
    if args.report_only:
        res = json.loads(results_file.read_text(encoding="utf-8"))
        update_section(SECTION, render(res), out_doc)
        print(f"updated {out_doc}")
        return 0
    sys.path.insert(0, str(ROOT))
    from engine.compare import parse_candidates

    candidates = args.candidates
    if candidates:
        parse_candidates(candidates)  # a typo fails now, not after the data is written
    shots = _parse_ints(args.shots)
    res: dict[str, Any] = {"meta": {"command": command, "started": now_iso(), "shots": shots,
                                    "episodes": args.episodes, "candidates": candidates or "default CPU set",
                                    "budget_minutes": args.budget_minutes, "test_per_class": TEST_PER_CLASS,
                                    "results": str(results_file.relative_to(ROOT)) if results_file.is_relative_to(ROOT)
                                    else str(results_file),
                                    "machine": machine(("torch", "onnxruntime", "timm", "ultralytics", "numpy"))},
                           "episodes": []}
    started = time.monotonic()

    def save() -> None:
        res["meta"]["wall_s"] = round(time.monotonic() - started, 1)
        write_json(results_file, res)

    with episode_maker("compare-ws", "konstruktor-compare-", res["meta"]) as (make_episode, workspace, tmp, code):
        try:
            for k in shots:
                for seed in range(args.episodes):
                    episode = make_episode(k, seed)
                    log(f"{k}-shot seed {seed}: engine compare ...", started)
                    out = workspace / "compare" / f"k{k}-s{seed}"
                    rec = {"k": k, "seed": seed, **run_compare(episode, candidates, seed, args.budget_minutes, out,
                                                                workspace, code)}
                    res["episodes"].append(rec)
                    save()
                    for row in rec.get("rows", []):
                        what = (f"acc {row['accuracy']:.3f}, wall {row['wall_seconds']:.0f} s"
                                if row["status"] == "done" else f"{row['status']}: {row.get('message')}")
                        log(f"  {row['group']}: {what}", started)
                    yolo = next((r for r in rec.get("rows", []) if r["status"] == "done"
                                 and r["model"].startswith("yolo")), None)
                    if yolo is not None and not args.no_ultralytics:
                        log(f"{k}-shot seed {seed}: Ultralytics' own trainer on the same split ...", started)
                        rec["ultralytics"] = ultralytics_reference(yolo, out, seed, tmp / f"ul-k{k}-s{seed}", code)
                        save()
                        log(f"  Ultralytics: {rec['ultralytics']}", started)
                    shutil.rmtree(episode, ignore_errors=True)
        except KeyboardInterrupt:
            save()
            log(f"interrupted; results so far in {results_file}", started)
            return 130
    res["meta"]["finished"] = now_iso()
    save()
    update_section(SECTION, render(res), out_doc)
    log(f"done in {res['meta']['wall_s'] / 60:.1f} min; results in {results_file}, summary in {out_doc}", started)
    return 0


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
        for k in _parse_ints(args.shots):
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


# --- the report -------------------------------------------------------------------------------------

def _p(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f} %"


def render(res: dict[str, Any]) -> str:
    meta = res["meta"]
    lines = ["## Compare: the default candidate set on Fashion-MNIST 10-way", ""]
    lines.append(f"Measured {meta.get('finished', meta['started'])[:10]} with `{meta['command']}` "
                 f"(total {meta.get('wall_s', 0) / 60:.0f} min).")
    lines += ["", f"Machine: {machine_line(meta['machine'])}", ""]
    if meta.get("engine"):
        lines += [f"Engine code: a snapshot of `engine/` (content hash `{meta['engine']['sha256']}`).", ""]
    lines.append(f"Each episode: k training images per class (seeded draw from the 60k training set) and the fixed "
                 f"test set of `bench.fewshot` ({meta['test_per_class']} images per class), as `train/` and `test/` "
                 f"PNG folders; one `python -m engine compare --data EPISODE --seed S --json` call trains every "
                 f"candidate on that one split (candidates: {meta['candidates']}"
                 + (f", budget {meta['budget_minutes']:g} min" if meta.get("budget_minutes") else ", no budget")
                 + "). Accuracy and macro-F1 on the test set; wall time per candidate is its child process plus the "
                   "latency measurement; latency is batch 1, PyTorch eager on the CPU, median of 20.")
    lines.append("")
    rows = []
    for ep in res["episodes"]:
        if ep.get("rc") != 0:
            rows.append([ep["k"], ep["seed"], "compare failed", ep.get("error", ""), "", "", "", "", "", "", ""])
            continue
        rec = (ep.get("recommendation") or {}).get("row")
        for r in ep["rows"]:
            spread = r.get("spread") or {}
            sp = f"± {100 * spread['accuracy'][1]:.1f} pp" if spread else ""
            rows.append([ep["k"], ep["seed"], f"`{r['group']}`" + (" **→**" if r["id"] == rec else ""), r["status"],
                         _p(r.get("accuracy")), _p(r.get("macro_f1")), sp,
                         "" if r.get("train_seconds") is None else f"{r['train_seconds']:.0f}",
                         "" if r.get("wall_seconds") is None else f"{r['wall_seconds']:.0f}",
                         "" if r.get("latency_ms") is None else f"{r['latency_ms']:.1f}",
                         "" if not r.get("size_bytes") else f"{r['size_bytes'] / 1e6:.1f}"])
    lines.append(md_table(["k", "seed", "candidate", "status", "accuracy", "macro-F1", "CV spread", "train s",
                           "wall s", "latency ms", "fp32 MB"], rows, "rrllrrrrrrr"))
    lines.append("")
    recs = [(ep["k"], ep["seed"], ep["recommendation"]["reason"]) for ep in res["episodes"] if ep.get("recommendation")]
    if recs:
        lines.append("Recommendations: " + "; ".join(f"{k}-shot seed {s}: {why}" for k, s, why in recs))
        lines.append("")
    ul = [(ep["k"], ep["seed"], ep["ultralytics"]) for ep in res["episodes"] if ep.get("ultralytics")]
    if ul:
        lines.append("Ultralytics' own trainer (`YOLO('yolo11n-cls.yaml').train(...)` with its defaults; set: data = "
                     "the train/val folders our YOLO run used, epochs = ours, imgsz = ours, seed, device cpu) beside "
                     "our YOLO row; both scored on the same test files:")
        lines.append("")
        urows, ratios, gaps = [], [], []
        for k, s, u in ul:
            if u.get("error"):
                urows.append([k, s, "", "", "", "", "", f"failed: {u['error']}"])
                continue
            ours = u["ours"]
            # Both sides: training with its per-epoch validation, then scoring the test files.
            theirs = u["train_s"] + u["eval_s"]
            ratio = ours["train_seconds"] / theirs if theirs else None
            ratios.append(ratio)
            gaps.append(ours["accuracy"] - u["accuracy"])
            ran = ours.get("epochs_run")
            urows.append([k, s, f"{u['epochs']} (ours ran {ran})" if ran and ran != u["epochs"] else u["epochs"],
                          _p(ours["accuracy"]), _p(u["accuracy"]), f"{ours['train_seconds']:.1f}",
                          f"{theirs:.1f} ({u['train_s']:.1f} + {u['eval_s']:.1f})", f"{ratio:.2f}×" if ratio else ""])
        lines.append(md_table(["k", "seed", "epochs", "ours: accuracy", "Ultralytics: accuracy",
                               "ours: s (train + test scoring)", "Ultralytics: s (train + test scoring)",
                               "ours / Ultralytics time"], urows, "rrrrrrrr"))
        if ratios:
            worst = max(r for r in ratios if r)
            mean_gap, _ = mean_std(gaps)
            lines.append("")
            lines.append("Our run stops early when validation stops improving (a default patience of 5 epochs, 15 from scratch), "
                         "Ultralytics' patience is 100, so where ours ran fewer epochs this is not like-for-like; "
                         "the section below pairs both for the same number of epochs.")
            lines.append("")
            lines.append(f"As run here: ours / Ultralytics time worst ratio {worst:.2f}×; accuracy difference "
                         f"{100 * mean_gap:+.1f} points on average (ours minus Ultralytics; with "
                         f"{len(gaps)} episode(s) and {TEST_PER_CLASS * len(CLASSES)} test images, about ±3 points "
                         "is noise).")
        lines.append("")
    lines.append(f"Raw results: `{meta.get('results', '.bench/compare.json')}` (git-ignored); compare folders "
                 "under `.bench/compare-ws/`. Latency and wall times vary with other work on the machine "
                 f"(1-minute load average after the compare calls: "
                 f"{', '.join(str(ep.get('load_after')) for ep in res['episodes'])} on "
                 f"{meta['machine']['cores']} cores).")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
