"""Export benchmark: speed of PyTorch eager, ONNX Runtime FP32 and INT8, package size, cold start.

For each model it trains a linear-probe run on a small Fashion-MNIST subset (k training images
per class, the fixed test set of bench.fewshot) with the real CLI, exports it with
`python -m engine export RUN --quantize int8`, and then measures on this machine, network only
(preprocessed inputs, so decoding is not counted):

- latency per image at batch 1 and throughput at batch 32 of PyTorch eager (the engine's model,
  contiguous and channels_last), ONNX Runtime FP32 (model.onnx) and INT8 (model.int8.onnx), run
  through the package's own Predictor; passes interleave the backends, the best pass is reported;
- test accuracy of FP32 and INT8 on the whole fixed test set;
- package size (folder, zip, each model file);
- cold start of predict.py in a venv holding only the package's requirements.txt: process start
  to the first prediction printed, one image.

    python -m bench.export                                  # tf_efficientnet_lite0 and lite2
    python -m bench.export --models tf_efficientnet_lite0 --passes 3

Raw results go to .bench/export.json; the summary to docs/benchmarks.md (section `export`).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
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
    now_iso,
    update_section,
    write_json,
)
from bench.fewshot_data import CLASSES, ensure_dataset, load_fashion_mnist, sample_episode, write_pngs

SECTION = "export"
MODELS = ("tf_efficientnet_lite0", "tf_efficientnet_lite2")
TARGETS = {"fp32_ratio": 0.5, "int8_ratio": 0.3, "int8_drop_points": 1.0, "cold_start_s": 2.0}
RUNTIMES = {"pytorch_eager": "PyTorch eager", "pytorch_eager_channels_last": "PyTorch eager, channels_last",
            "onnx_fp32": "ONNX Runtime FP32", "onnx_int8": "ONNX Runtime INT8"}
SCRATCH = BENCH_DIR / "export"
RESULTS = BENCH_DIR / "export.json"
BATCH = 32


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


def cli(*args: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"`python -m engine {shlex.join(args)}` failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc, round(time.perf_counter() - t0, 2)


# --- data ------------------------------------------------------------------------------------

def write_dataset(shots: int, seed: int) -> tuple[Path, list[str], np.ndarray]:
    """train/ (k per class) and test/ (the fixed 100 per class) PNG class folders; the test files and labels."""
    data = load_fashion_mnist(ensure_dataset())
    root = SCRATCH / f"fashion-k{shots}-s{seed}"
    if root.exists():
        shutil.rmtree(root)
    ids = sample_episode(data, shots, seed)
    write_pngs(root / "train", data.train_x[ids], data.train_y[ids], [f"train{i:05d}" for i in ids])
    test = write_pngs(root / "test", data.test_x, data.test_y, [f"test{i:05d}" for i in data.test_ids])
    return root, [str(p) for p in test], data.test_y


# --- timings ---------------------------------------------------------------------------------

def _time(run, repeats: int) -> float:
    """Median seconds of `run()` over `repeats` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def speed(backends: dict[str, Any], x: np.ndarray, passes: int, b1_repeats: int) -> dict[str, Any]:
    """Per backend: batch-1 latency (ms) and batch-32 throughput (images/s), best and median of the passes."""
    b1, b32 = x[:1], x[:BATCH]
    for run in backends.values():  # warm-up: first calls allocate and pick kernels
        run(b1)
        run(b32)
    lat: dict[str, list[float]] = {k: [] for k in backends}
    thr: dict[str, list[float]] = {k: [] for k in backends}
    for p in range(passes):
        for name, run in backends.items():  # interleaved, so load from other jobs spreads over all of them
            lat[name].append(1000 * _time(lambda run=run: run(b1), b1_repeats))
            thr[name].append(BATCH / _time(lambda run=run: run(b32), 2))
        log(f"  pass {p + 1}/{passes}: " + ", ".join(f"{k} {lat[k][-1]:.1f} ms / {thr[k][-1]:.1f} img/s"
                                                      for k in backends))
    return {name: {"batch1_ms": {"best": round(min(lat[name]), 2), "median": round(float(np.median(lat[name])), 2),
                                 "passes": [round(v, 2) for v in lat[name]]},
                   "batch32_img_s": {"best": round(max(thr[name]), 1), "median": round(float(np.median(thr[name])), 1),
                                     "passes": [round(v, 1) for v in thr[name]]}}
            for name in backends}


def torch_backends(run_dir: Path, threads: int) -> dict[str, Any]:
    """The engine's PyTorch model, eager, in both memory layouts, on `threads` threads."""
    import torch

    from engine.checkpoint import load_run_model

    model, _ = load_run_model(run_dir)
    contiguous = model.eval()
    channels_last = copy.deepcopy(model).to(memory_format=torch.channels_last)

    def eager(net, layout):
        def run(batch: np.ndarray) -> np.ndarray:
            torch.set_num_threads(threads)  # global in torch: set for every call, the backends interleave
            with torch.inference_mode():
                return torch.softmax(net(torch.from_numpy(batch).contiguous(memory_format=layout)), 1).numpy()
        return run

    return {"pytorch_eager": eager(contiguous, torch.contiguous_format),
            "pytorch_eager_channels_last": eager(channels_last, torch.channels_last)}


def cold_start(package: Path, image: str, passes: int) -> dict[str, Any]:
    """Seconds from starting `python predict.py IMAGE` to its exit (first prediction printed), in a clean venv."""
    venv = SCRATCH / "runtime-venv"
    py = venv / "bin" / "python"
    if not py.exists():
        log("building a venv with only the package's requirements.txt ...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(package / "requirements.txt")], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    has_torch = subprocess.run([str(py), "-c", "import torch"], capture_output=True, env=env).returncode == 0
    out: dict[str, Any] = {"torch_in_venv": has_torch}
    for model in ("model.onnx", "model.int8.onnx"):
        times = []
        for _ in range(passes):
            t0 = time.perf_counter()
            proc = subprocess.run([str(py), str(package / "predict.py"), image, "--model", model], capture_output=True,
                                  text=True, env=env, cwd=SCRATCH)
            times.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                raise SystemExit(f"predict.py failed: {proc.stderr[-1000:]}")
        out[model] = {"best": round(min(times), 3), "median": round(float(np.median(times)), 3),
                      "passes": [round(t, 3) for t in times]}
    return out


def bench_model(name: str, args, data_dir: Path, test_files: list[str], test_y: np.ndarray,
                env: dict[str, str]) -> dict[str, Any]:
    from engine.export.package import package_code

    run_dir = SCRATCH / "runs" / name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    rec: dict[str, Any] = {"model": name, "load_before": load_avg()}
    log(f"{name}: training a linear probe on {args.shots} images per class ...")
    proc, rec["train_wall_s"] = cli("train", "--data", str(data_dir), "--model", name, "--mode", "linear-probe",
                                    "--out", str(run_dir), "--json", env=env)
    rec["train_metrics"] = json.loads(proc.stdout)
    log(f"{name}: exporting with INT8 ...")
    proc, rec["export_wall_s"] = cli("export", str(run_dir), "--quantize", "int8", "--json", env=env)
    exported = json.loads(proc.stdout)
    package, report = Path(exported["folder"]), exported["report"]
    # The run numbers its classes in sorted name order; Fashion-MNIST's labels follow CLASSES.
    test_y = np.array([report["labels"].index(CLASSES[y]) for y in test_y])
    rec["report"] = report
    rec["zip_bytes"] = Path(exported["zip"]).stat().st_size
    rec["folder_bytes"] = sum(p.stat().st_size for p in package.iterdir() if p.is_file())
    with package_code(package) as predict:
        fp32 = predict.Predictor(package, "model.onnx", threads=max(args.threads))
        int8 = predict.Predictor(package, "model.int8.onnx", threads=max(args.threads))
        log(f"{name}: preprocessing {len(test_files)} test images ...")
        x = np.stack([fp32.preprocess(f) for f in test_files])
        p32 = np.concatenate([fp32.forward(x[i:i + BATCH]) for i in range(0, len(x), BATCH)])
        p8 = np.concatenate([int8.forward(x[i:i + BATCH]) for i in range(0, len(x), BATCH)])
        rec["accuracy"] = {"fp32": round(float((p32.argmax(1) == test_y).mean()), 4),
                           "int8": round(float((p8.argmax(1) == test_y).mean()), 4),
                           "int8_vs_fp32_top1": round(float((p32.argmax(1) == p8.argmax(1)).mean()), 4),
                           "n": len(test_y)}
        rec["speed"] = {}
        for threads in args.threads:
            backends = {**torch_backends(run_dir, threads),
                        "onnx_fp32": predict.Predictor(package, "model.onnx", threads=threads).forward,
                        "onnx_int8": predict.Predictor(package, "model.int8.onnx", threads=threads).forward}
            log(f"{name}: timing {', '.join(backends)} on {threads} thread(s), {args.passes} passes ...")
            rec["speed"][str(threads)] = speed(backends, x, args.passes, args.b1_repeats)
    log(f"{name}: cold start of predict.py ...")
    rec["cold_start_s"] = cold_start(package, test_files[0], args.passes)
    rec["load_after"] = load_avg()
    rec["input_size"] = report["input_size"]
    return rec


# --- report ----------------------------------------------------------------------------------

def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def render(res: dict[str, Any]) -> str:
    meta = res["meta"]
    lines = ["## Export: PyTorch eager vs ONNX Runtime FP32 and INT8", ""]
    lines.append(f"Measured {meta['finished'][:10]} with `{meta['command']}` (total {meta['wall_s'] / 60:.0f} min).")
    lines += ["", f"Machine: {machine_line(meta['machine'])}", ""]
    lines.append(f"Each model: a linear-probe run on Fashion-MNIST ({meta['shots']} training images per class, seed "
                 f"{meta['seed']}; the fixed test set of `bench.fewshot`, {meta['test_n']} images), trained with "
                 "`python -m engine train --mode linear-probe` and exported with "
                 "`python -m engine export RUN --quantize int8`. Timings are network only, on preprocessed "
                 f"inputs, with {' and with '.join(map(str, meta['threads']))} thread(s) (torch.set_num_threads, "
                 "ONNX Runtime intra-op threads); ONNX Runtime runs through the package's own `Predictor`. "
                 f"Every figure is the best of {meta['passes']} interleaved passes (median in brackets): batch 1 is "
                 f"the median of {meta['b1_repeats']} calls per pass, batch 32 the median of 2.")
    lines.append("")
    rows = []
    for r in res["models"]:
        for threads, s in r["speed"].items():
            for key, label in RUNTIMES.items():
                b1, b32 = s[key]["batch1_ms"], s[key]["batch32_img_s"]
                rows.append([f"`{r['model']}` ({r['input_size']} px)", threads, label,
                             f"{b1['best']:.1f} ({b1['median']:.1f})", f"{b32['best']:.1f} ({b32['median']:.1f})"])
    lines.append(md_table(["model", "threads", "runtime", "batch 1, ms per image", "batch 32, images/s"], rows,
                          "lrlrr"))
    lines.append("")
    rows = []
    for r in res["models"]:
        a, files = r["accuracy"], r["report"]["files"]
        rows.append([f"`{r['model']}`", f"{100 * r['train_metrics']['test']['accuracy']:.1f} %",
                     f"{100 * a['fp32']:.1f} %", f"{100 * a['int8']:.1f} %",
                     f"{100 * (a['int8'] - a['fp32']):+.1f}", f"{100 * a['int8_vs_fp32_top1']:.1f} %",
                     _mb(files["model.onnx"]), _mb(files["model.int8.onnx"]), _mb(r["folder_bytes"]),
                     _mb(r["zip_bytes"])])
    lines.append(f"Test accuracy ({meta['test_n']} images: the run's own figure, then the exported models) and "
                 "sizes. The package holds every format "
                 "(model.onnx, model.int8.onnx, model.pt, model.torchscript.pt) plus code and docs; "
                 "`--format onnx` leaves out the PyTorch files.")
    lines.append("")
    lines.append(md_table(["model", "engine (metrics.json)", "ONNX FP32", "ONNX INT8", "change, points",
                           "INT8 = FP32 top-1", "model.onnx", "model.int8.onnx", "package folder", "zip"], rows,
                          "lrrrrrrrrr"))
    lines.append("")
    rows = []
    for r in res["models"]:
        c = r["cold_start_s"]
        rows.append([f"`{r['model']}`", f"{c['model.onnx']['best']:.2f} ({c['model.onnx']['median']:.2f})",
                     f"{c['model.int8.onnx']['best']:.2f} ({c['model.int8.onnx']['median']:.2f})",
                     f"{r['train_wall_s']:.0f}", f"{r['export_wall_s']:.0f}"])
    lines.append("Cold start of `predict.py IMAGE` in a venv holding only the package's `requirements.txt` "
                 "(onnxruntime, numpy, Pillow; torch importable there: "
                 f"{'yes' if any(r['cold_start_s']['torch_in_venv'] for r in res['models']) else 'no'}): "
                 "seconds from process start to exit with one prediction printed. Beside it, the wall time of "
                 "the training and export CLI calls.")
    lines.append("")
    lines.append(md_table(["model", "cold start, model.onnx, s", "cold start, model.int8.onnx, s",
                           "train CLI, s", "export CLI, s"], rows, "lrrrr"))
    lines += ["", "Targets (from the issue), measured:", ""]
    rows = []
    for r in res["models"]:
        a, m = r["accuracy"], f"`{r['model']}`"
        for threads, s in r["speed"].items():
            eager = min(s["pytorch_eager"]["batch1_ms"]["best"], s["pytorch_eager_channels_last"]["batch1_ms"]["best"])
            f32 = s["onnx_fp32"]["batch1_ms"]["best"] / eager
            i8 = s["onnx_int8"]["batch1_ms"]["best"] / eager
            rows += [
                [m, f"ONNX FP32 batch-1 latency / PyTorch eager (faster layout), {threads} thread(s)",
                 f"≤ {TARGETS['fp32_ratio']}×", f"{f32:.2f}×", _met(f32 <= TARGETS["fp32_ratio"])],
                [m, f"ONNX INT8 batch-1 latency / PyTorch eager (faster layout), {threads} thread(s)",
                 f"≤ {TARGETS['int8_ratio']}×", f"{i8:.2f}×", _met(i8 <= TARGETS["int8_ratio"])],
            ]
        drop = round(100 * (a["fp32"] - a["int8"]), 2)  # whole images: 10 of 1000 is exactly 1.0 point
        cold = r["cold_start_s"]["model.onnx"]["best"]
        rows += [
            [m, f"INT8 accuracy drop ({a['n']} test images)", f"≤ {TARGETS['int8_drop_points']:g} point",
             f"{drop:.1f} points", _met(drop <= TARGETS["int8_drop_points"])],
            [m, "cold start of predict.py (model.onnx)", f"≤ {TARGETS['cold_start_s']:g} s", f"{cold:.2f} s",
             _met(cold <= TARGETS["cold_start_s"])],
        ]
    lines.append(md_table(["model", "target", "wanted", "measured", ""], rows, "llrrl"))
    lines += ["", "Notes:"]
    loads = [v for r in res["models"] for v in (r["load_before"], r["load_after"])]
    lines.append(f"- The machine was shared with other jobs: 1-minute load average {min(loads):.1f}–{max(loads):.1f} "
                 f"on {meta['machine']['cores']} cores around the measurements, so the best pass is the headline "
                 "figure, as with `timeit`; medians show the spread.")
    lines.append("- The exported graph has TF-style \"same\" padding resolved for the fixed input size (timm pads "
                 "these models from the input shape at run time); that is what lets ONNX Runtime fold the pads "
                 "into the convolutions and fuse the INT8 graph into integer kernels. INT8: static QDQ, per-channel "
                 "symmetric INT8 weights, UINT8 activations, MinMax calibration on the run's training images; "
                 "measured on a CPU with AVX-512 VNNI (ONNX Runtime's quantization guide warns that CPUs without VNNI gain less, and can lose accuracy to U8S8 saturation).")
    for r in res["models"]:
        rep = r["report"]
        lines.append(f"- `{r['model']}` export report: parity of model.onnx on {rep['parity']['onnx']['n']} "
                     f"{' and '.join(rep['evaluation_images']['splits'])} images, top-1 agreement "
                     f"{100 * rep['parity']['onnx']['top1_agreement']:.0f} %, largest probability difference "
                     f"{rep['parity']['onnx']['max_abs_diff']:.1e}; INT8 change there "
                     f"{rep['int8']['accuracy_change_points']:+.1f} points.")
    lines.append("- INT8 changes the top class of some test images in both directions (column \"INT8 = FP32 "
                 "top-1\"); the net accuracy change is the column before it.")
    lines.append("- Raw results: `.bench/export.json` (git-ignored); runs and packages under `.bench/export/`.")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated (default %(default)s)")
    p.add_argument("--shots", type=int, default=20, help="training images per class (default 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--passes", type=int, default=5, help="interleaved timing passes (default 5)")
    p.add_argument("--threads", default="1,2", help="thread counts to time every runtime with (default 1,2)")
    p.add_argument("--b1-repeats", type=int, default=20, help="batch-1 calls per pass (default 20)")
    p.add_argument("--report-only", action="store_true", help="only rewrite the docs section from the results JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.report_only:
        update_section(SECTION, render(json.loads(RESULTS.read_text(encoding="utf-8"))))
        return 0
    args.threads = sorted({int(t) for t in args.threads.split(",") if t.strip()})
    command = shlex.join(["python", "-m", "bench.export", *(sys.argv[1:] if argv is None else argv)])
    started, t0 = now_iso(), time.perf_counter()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KONSTRUKTOR_WORKSPACE": str(SCRATCH / "workspace"), "KONSTRUKTOR_OFFLINE": "1"}
    os.environ.update({k: env[k] for k in ("KONSTRUKTOR_WORKSPACE", "KONSTRUKTOR_OFFLINE")})
    data_dir, test_files, test_y = write_dataset(args.shots, args.seed)
    meta = {"command": command, "started": started, "machine": machine(("torch", "onnxruntime", "timm", "numpy",
                                                                         "pillow")),
            "shots": args.shots, "seed": args.seed, "passes": args.passes, "b1_repeats": args.b1_repeats,
            "test_n": len(test_files), "classes": CLASSES, "threads": args.threads}
    res: dict[str, Any] = {"meta": meta, "models": []}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        res["models"].append(bench_model(name, args, data_dir, test_files, test_y, env))
        meta.update(finished=now_iso(), wall_s=round(time.perf_counter() - t0, 1))
        write_json(RESULTS, res)
    update_section(SECTION, render(res), path=DOC)
    log(f"done in {(time.perf_counter() - t0) / 60:.1f} min; {DOC.relative_to(ROOT)} section '{SECTION}' updated.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
