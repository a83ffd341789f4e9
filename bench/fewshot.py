"""Few-shot benchmark: Fashion-MNIST, 10-way k-shot, through the real CLI, beside a frozen-feature floor.

For each k and seed it samples k training images per class, writes them with a fixed test set
(the first 100 unique images per class of the 10k test set) as PNG class folders, and times
`python -m engine train --data DIR --mode MODE ...` exactly as a user would run it. Beside that:
a nearest-class-mean floor on the same frozen tf_efficientnet_lite0 features and episodes, and
the embedding throughput of that backbone at 224 px on this machine.

    python -m bench.fewshot                       # the full benchmark (an hour or more on 2 cores)
    python -m bench.fewshot --quick               # smoke check: 10-shot, 2 episodes
    python -m bench.fewshot --resume              # carry on after an interruption

Raw results go to .bench/fewshot.json after every step; the summary to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    BENCH_DIR,
    DOC,
    ROOT,
    log,
    machine,
    mean_std,
    now_iso,
    snapshot_engine,
    update_section,
    write_json,
)
from bench.fewshot_data import (
    CLASSES,
    TEST_PER_CLASS,
    ensure_dataset,
    link_tree,
    load_fashion_mnist,
    sample_episode,
    write_pngs,
)
from bench.fewshot_features import MODEL, nearest_class_mean, throughput
from bench.fewshot_report import render

# bench.compare and bench.export take the episode writing and the engine snapshot from here too.
__all__ = ["CLASSES", "TEST_PER_CLASS", "ensure_dataset", "link_tree", "load_fashion_mnist", "log", "main",
           "sample_episode", "snapshot_engine", "write_pngs"]

SECTION = "fewshot"
CLI_TIMEOUT_S = 45 * 60


# --- the CLI as a user runs it ------------------------------------------------------------------

def cli_command(data_dir: Path, mode: str, seed: int, run_dir: Path, workspace: Path) -> list[str]:
    return [sys.executable, "-m", "engine", "--workspace", str(workspace), "train", "--data", str(data_dir),
            "--mode", mode, "--seed", str(seed), "--out", str(run_dir), "--json"]


def _timed_log(text: str) -> list[list[Any]]:
    """train.log as [seconds since its first line, message]: where a run spends its time."""
    from datetime import datetime

    out: list[list[Any]] = []
    first = None
    for line in text.splitlines():
        m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ (.*)", line)
        if not m:
            continue
        t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        first = t if first is None else first
        out.append([round(t - first, 2), m.group(2)[:200]])
    return out


def run_cli(data_dir: Path, mode: str, seed: int, run_dir: Path, workspace: Path, code: Path) -> dict[str, Any]:
    """One timed `python -m engine train`; its test accuracy and what it says about itself."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    # The images of a new episode were never seen; drop cached embeddings so the fixed test set is
    # embedded again, as for a user who brings new data. The exported ONNX backbone stays cached.
    shutil.rmtree(workspace / "cache" / "embeddings", ignore_errors=True)
    cmd = cli_command(data_dir, mode, seed, run_dir, workspace)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=code, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"rc": None, "wall_s": time.perf_counter() - t0, "error": f"timed out after {CLI_TIMEOUT_S} s"}
    wall = time.perf_counter() - t0
    rec: dict[str, Any] = {"rc": proc.returncode, "wall_s": round(wall, 2), "load_after": round(os.getloadavg()[0], 2)}
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "cli-stderr.txt").write_text(proc.stderr, encoding="utf-8")
    metrics_file = run_dir / "metrics.json"
    if proc.returncode != 0 or not metrics_file.exists():
        tail = [line for line in proc.stderr.strip().splitlines() if line.strip()][-3:]
        rec["error"] = " | ".join(tail) or f"exit code {proc.returncode}, no metrics.json"
        return rec
    m = json.loads(metrics_file.read_text(encoding="utf-8"))
    rec.update(accuracy=m["test"]["accuracy"], macro_f1=m["test"].get("macro_f1"), n_test=m["test"].get("n"),
               n_train=m.get("dataset", {}).get("n_train"), chosen_mode=m.get("mode"),
               mode_reason=m.get("mode_reason"), train_seconds=m.get("train_seconds"),
               epochs_run=m.get("epochs_run"), best_epoch=m.get("best_epoch"), weights=m.get("weights_source"))
    if "cv" in m and "accuracy" in m["cv"]:
        rec["cv_accuracy"] = m["cv"]["accuracy"].get("mean")
    log_file = run_dir / "train.log"
    if log_file.exists():
        text = log_file.read_text(encoding="utf-8", errors="replace")
        rec["embed_rates"] = [[int(n), float(r)] for n, r in re.findall(r"embedded (\d+) images at ([\d.]+) images/s",
                                                                          text)]
        rec["onnx_fallback"] = "using PyTorch" in text
        rec["log"] = _timed_log(text)
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # ~40 MB a run; nothing here reads them
    return rec


# --- the benchmark ------------------------------------------------------------------------------

def _parse_ints(text: str) -> list[int]:
    return sorted({int(v) for v in text.split(",") if v.strip()})


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.fewshot", description=__doc__.split("\n\n")[0])
    p.add_argument("--shots", default="1,5,10,20", help="images per class, comma-separated (default 1,5,10,20)")
    p.add_argument("--slow-shots", help="shots for fine-tune and auto when fewer are affordable (default: --shots)")
    p.add_argument("--episodes", type=int, default=5, help="seeded episodes per k (default 5)")
    p.add_argument("--modes", default="linear-probe,fine-tune,auto", help="training modes, comma-separated")
    p.add_argument("--quick", action="store_true", help="smoke check: 10-shot, 2 episodes")
    p.add_argument("--resume", action="store_true", help="keep the finished runs in the results JSON, do the rest")
    p.add_argument("--report-only", action="store_true", help="only rewrite the docs section from the results JSON")
    p.add_argument("--out", default=str(DOC.relative_to(ROOT)), help="markdown file to update (default %(default)s)")
    return p


def plan(args) -> list[tuple[str, int, int]]:
    shots = _parse_ints(args.shots)
    slow = _parse_ints(args.slow_shots) if args.slow_shots else shots
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    todo = [(mode, k, s) for mode in modes for k in (shots if mode == "linear-probe" else slow)
            for s in range(args.episodes)]
    # Fast linear-probe runs first, then the slow modes with 10-shot (where the targets are) first,
    # so an interrupted run has the most useful results.
    return sorted(todo, key=lambda t: (t[0] != "linear-probe", t[1] != 10, t[1], modes.index(t[0]), t[2]))


def _eta(runs: list[dict[str, Any]], todo: list[tuple[str, int, int]]) -> float:
    """Seconds the remaining runs should take, from the mean wall time of finished ones like them."""
    def mean_wall(mode: str | None = None, k: int | None = None) -> float | None:
        walls = [r["wall_s"] for r in runs if mode in (None, r["mode"]) and k in (None, r["k"])]
        return sum(walls) / len(walls) if walls else None

    return sum(mean_wall(mode, k) or mean_wall(mode) or mean_wall() or 0.0 for mode, k, _ in todo)


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Stop cleanly on Ctrl+C and on kill (TERM), also when started in the background with SIGINT ignored:
    # the running CLI child is killed and the results so far are saved.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    command = shlex.join(["python", "-m", "bench.fewshot", *(sys.argv[1:] if argv is None else argv)])
    if args.quick:
        args.shots, args.slow_shots, args.episodes = "10", None, 2
    results_file = BENCH_DIR / ("fewshot-quick.json" if args.quick else "fewshot.json")
    out_doc = (ROOT / args.out) if not Path(args.out).is_absolute() else Path(args.out)
    if args.report_only:
        res = json.loads(results_file.read_text(encoding="utf-8"))
        update_section(SECTION, render(res), out_doc)
        print(f"updated {out_doc}")
        return 0
    todo = plan(args)
    known_modes = {"linear-probe", "fine-tune", "auto", "full", "scratch"}
    if any(m not in known_modes for m, _, _ in todo):
        print(f"--modes takes {', '.join(sorted(known_modes))}", file=sys.stderr)
        return 2

    res: dict[str, Any] = {}
    if args.resume and results_file.exists():
        res = json.loads(results_file.read_text(encoding="utf-8"))
        res["meta"].setdefault("resumed", []).append({"at": now_iso(), "command": command})
    if not res:
        res = {"meta": {"command": command, "started": now_iso(), "wall_s": 0.0}, "runs": []}
    meta = res["meta"]
    meta.update(results=str(results_file.relative_to(ROOT)), shots=_parse_ints(args.shots),
                slow_shots=_parse_ints(args.slow_shots or args.shots), episodes=args.episodes,
                modes=[m.strip() for m in args.modes.split(",") if m.strip()], quick=args.quick, model=MODEL,
                test_per_class=TEST_PER_CLASS, machine=machine())
    started = time.monotonic()
    wall_before = float(meta.get("wall_s", 0.0))

    def save() -> None:
        meta["wall_s"] = round(wall_before + time.monotonic() - started, 1)
        write_json(results_file, res)

    files = ensure_dataset()
    data = load_fashion_mnist(files)
    meta["data"] = {"files": {k: str(v) for k, v in files.items()}, "train_pool": int(sum(len(p) for p in data.pools)),
                    "train_excluded_duplicates": data.excluded, "test": len(data.test_y)}
    log(f"Fashion-MNIST: fixed test set of {len(data.test_y)} images, {meta['data']['train_pool']} training "
        f"images to sample from ({data.excluded} duplicates left out); {len(todo)} CLI runs planned", started)

    workspace = BENCH_DIR / ("fewshot-quick-ws" if args.quick else "fewshot-ws")
    shutil.rmtree(workspace, ignore_errors=True)  # one fresh workspace per invocation
    workspace.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="konstruktor-fewshot-") as tmp_name:
        tmp = Path(tmp_name)
        onnx_dir = tmp / "onnx"
        code = tmp / "code"
        engine = snapshot_engine(code)
        meta.setdefault("engine", []).append(engine)
        sys.path.insert(0, str(code))  # the in-process measurements import the same copy
        where = subprocess.run([sys.executable, "-c", "import engine; print(engine.__file__)"], cwd=code,
                               capture_output=True, text=True).stdout.strip()
        if not where.startswith(str(code)):
            print(f"`python -m engine` from {code} imports {where or 'nothing'}, not the snapshot; "
                  "is the project installed non-editable into the venv?", file=sys.stderr)
            return 1
        log(f"engine code snapshot {engine['sha256']} ({engine['files']} files)", started)
        try:
            if "throughput" not in res:
                log("embedding throughput of tf_efficientnet_lite0 at 224 px ...", started)
                res["throughput"] = throughput(data, tmp / "throughput", onnx_dir)
                t = res["throughput"]
                log(f"  end to end {t['end_to_end']['median']} img/s, ONNX network only "
                    f"{t['onnx_network_only']['median']} img/s, naive per-image PyTorch "
                    f"{t['naive_per_image_torch']['rate']} img/s", started)
                save()
            seeds = list(range(args.episodes))
            shots_all = sorted({k for _, k, _ in todo})
            floor = res.get("floor", {}).get("accuracy", {})
            if any(str(s) not in floor.get(str(k), {}) for k in shots_all for s in seeds):
                log("nearest-class-mean floor on frozen features ...", started)
                res["floor"] = nearest_class_mean(data, shots_all, seeds, tmp / "floor", onnx_dir)
                for k in shots_all:
                    mean, std = mean_std(res["floor"]["accuracy"][str(k)].values())
                    log(f"  {k:2d}-shot: {100 * mean:.1f} ± {100 * std:.1f} %", started)
                save()

            test_dir = tmp / "test"
            write_pngs(test_dir, data.test_x, data.test_y, [f"test{i:05d}" for i in data.test_ids])
            warm = tmp / "warmup"
            ids = sample_episode(data, 2, 10_000)
            write_pngs(warm / "train", data.train_x[ids], data.train_y[ids], [f"train{i:05d}" for i in ids])
            few = np.concatenate([np.flatnonzero(data.test_y == c)[:5] for c in range(len(CLASSES))])
            write_pngs(warm / "test", data.test_x[few], data.test_y[few], [f"test{i:05d}" for i in data.test_ids[few]])
            log("warm-up CLI run (exports the ONNX backbone into the workspace cache) ...", started)
            res["warmup"] = run_cli(warm, "linear-probe", 0, workspace / "bench-runs" / "warmup", workspace, code)
            log(f"  warm-up: {res['warmup'].get('error') or 'ok'}, wall {res['warmup']['wall_s']:.1f} s", started)
            save()

            done = {(r["mode"], r["k"], r["seed"]) for r in res["runs"] if r.get("rc") == 0}
            res["runs"] = [r for r in res["runs"] if r.get("rc") == 0]
            remaining = [t for t in todo if t not in done]
            log(f"{len(todo) - len(remaining)} of {len(todo)} runs already done; {len(remaining)} to go", started)
            for n, (mode, k, seed) in enumerate(remaining, 1):
                episode = tmp / f"episode-k{k}-s{seed}"
                ids = sample_episode(data, k, seed)
                write_pngs(episode / "train", data.train_x[ids], data.train_y[ids], [f"train{i:05d}" for i in ids])
                link_tree(test_dir, episode / "test")
                rec = run_cli(episode, mode, seed, workspace / "bench-runs" / f"{mode}-k{k}-s{seed}", workspace, code)
                rec["engine"] = engine["sha256"]
                shutil.rmtree(episode, ignore_errors=True)
                res["runs"].append({"mode": mode, "k": k, "seed": seed, **rec})
                save()
                what = (f"acc {100 * rec['accuracy']:.1f} % (n={rec['n_test']})"
                        + (f", chose {rec['chosen_mode']}" if mode == "auto" else "")
                        if rec.get("rc") == 0 else f"FAILED: {rec.get('error')}")
                eta = _eta(res["runs"], remaining[n:])
                log(f"[{n}/{len(remaining)}] {mode} {k}-shot seed {seed}: {what}, wall {rec['wall_s']:.1f} s"
                    + (f"; about {eta / 60:.0f} min to go" if eta else ""), started)
        except KeyboardInterrupt:
            save()
            log(f"interrupted; results so far are in {results_file} (carry on with --resume)", started)
            return 130
    meta["finished"] = now_iso()
    save()
    update_section(SECTION, render(res), out_doc)
    log(f"done in {meta['wall_s'] / 60:.1f} min; results in {results_file}, summary in {out_doc}", started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
