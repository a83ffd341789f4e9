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
import time
from pathlib import Path
from typing import Any

from bench.common import (
    BENCH_DIR,
    DOC,
    ROOT,
    log,
    machine,
    machine_line,
    md_table,
    mean_std,
    now_iso,
    update_section,
    write_json,
)
from bench.compare_yolo import _p, episode_maker, parity_main, parse_ints, ultralytics_reference
from bench.fewshot_data import CLASSES, TEST_PER_CLASS

SECTION = "compare"
CLI_TIMEOUT_S = 4 * 3600

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
    shots = parse_ints(args.shots)
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


# --- the report -------------------------------------------------------------------------------------

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
