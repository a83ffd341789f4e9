"""Planning a comparison: the trials of each candidate and how long each should take here."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.compare.candidates import Candidate

DEFAULT_TRIALS = 4


# Throughput, images per second, on 2 CPU cores (AMD EPYC, AVX-512) at the model's own input size, as data:
#   embed: frozen-backbone embeddings through ONNX Runtime, decoding included (linear-probe, the LP-FT start);
#   train: forward + backward while fine-tuning; eval: PyTorch eager prediction of val/test images.
# tf_efficientnet_lite0: docs/benchmarks.md (fewshot and export sections, measured 2026-11-30: embedding
# 59-67 img/s, 10-shot fine-tune 267 s for 100 images x 15 epochs + 1000 test images). mobilenetv2_100 is
# scaled from lite0 by DESIGN.md's side-by-side table (ONNX 116 vs 62 img/s, eager 29.9 vs 19.6 img/s).
# yolo11*-cls is not measured yet: assumed as fast as lite0 per image at 224 px (about as many FLOPs).
RATES_CPU: dict[str, dict[str, float]] = {
    "tf_efficientnet_lite0": {"embed": 60.0, "train": 7.0, "eval": 15.0},
    "mobilenetv2_100": {"embed": 110.0, "train": 10.0, "eval": 22.0},
    "yolo11n-cls": {"embed": 60.0, "train": 7.0, "eval": 15.0},
}
RATES_SOURCE = "docs/benchmarks.md (2026-11-30, 2 CPU cores) and DESIGN.md; yolo11-cls assumed like lite0"
START_S = 15.0  # process start, imports, data loading, the first ONNX export of a backbone
GPU_SPEEDUP = 15.0  # a rough factor for a mid-range CUDA GPU over these 2 cores; not measured here


@dataclass
class Trial:
    """One setting of a candidate (its own hyper-parameters), trained once per seed."""

    candidate: Candidate
    index: int
    settings: dict[str, Any]
    seeds: list[int]


def trials_of(cand: Candidate, seed: int) -> list[Trial]:
    """The trials of a candidate: its own settings, or a small seeded lr x epochs grid when it searches."""
    from engine.config import MODE_DEFAULTS

    base = {k: cand.options[k] for k in ("lr", "epochs", "batch_size", "image_size") if k in cand.options}
    first_seed = int(cand.options.get("seed", seed))
    seeds = [first_seed + i for i in range(int(cand.options.get("repeats", 1)))]
    if not cand.search or cand.mode == "linear-probe":
        return [Trial(cand, 1, base, seeds)]
    d = MODE_DEFAULTS[cand.mode]
    lr0 = float(base.get("lr", d["lr"]))
    ep0 = int(base.get("epochs", d["epochs"]))
    lrs = [lr0, lr0 * 0.3, lr0 * 3] if "lr" in cand.search else [lr0]
    eps = [ep0, max(1, round(ep0 / 2)), ep0 * 2] if "epochs" in cand.search else [ep0]
    eps = list(dict.fromkeys(eps))
    grid = list(itertools.product(lrs, eps))
    rest = grid[1:]
    random.Random(first_seed).shuffle(rest)  # a seeded random subset when the grid is larger than `trials`
    chosen = [grid[0], *rest][: int(cand.options.get("trials", DEFAULT_TRIALS))]
    return [Trial(cand, i + 1, {**base, "lr": float(f"{lr:.3g}"), "epochs": ep}, seeds)
            for i, (lr, ep) in enumerate(chosen)]


def estimate_seconds(model: str, mode: str, counts: dict[str, int], *, epochs: int | None = None,
                     image_size: int | None = None, device: str = "cpu") -> float:
    """Seconds one training run should take here, from the measured rates (RATES_CPU); a rough guide."""
    from engine.config import MODE_DEFAULTS
    from engine.models import get_spec

    spec = get_spec(model)
    faster = (spec.input_size / image_size) ** 2 if image_size else 1.0
    faster *= GPU_SPEEDUP if device == "cuda" else 1.0
    rates = {k: v * faster for k, v in _rates(spec).items()}
    n_train, n_val, n_test = counts.get("n_train", 0), counts.get("n_val", 0), counts.get("n_test", 0)
    if mode == "linear-probe":
        return START_S + (n_train + n_val + n_test) / rates["embed"]
    n_epochs = int(epochs or MODE_DEFAULTS[mode]["epochs"])
    warm_start = (n_train + n_val) / rates["embed"] if mode in ("fine-tune", "full") else 0.0
    per_epoch = n_train / rates["train"] + n_val / rates["eval"]
    return START_S + warm_start + n_epochs * per_epoch + (n_val + n_test) / rates["eval"]


def _rates(spec) -> dict[str, float]:
    if spec.name in RATES_CPU:
        return RATES_CPU[spec.name]
    from engine.models import get_family

    ref_name, ref_params, ref_size = get_family(spec.family).rate_reference
    # Unmeasured models: cost grows with parameters (a stand-in for FLOPs) and with pixels.
    slower = max(0.3, spec.params_m / ref_params) * (spec.input_size / ref_size) ** 2
    return {k: v / slower for k, v in RATES_CPU[ref_name].items()}



def guess_device() -> str:
    """'cuda' when this computer has an NVIDIA driver, else 'cpu': a guess for estimates, without torch."""
    return "cuda" if Path("/proc/driver/nvidia/version").exists() else "cpu"
