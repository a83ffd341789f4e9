"""Does an exported model compute what the engine's PyTorch model computes? Numbers, a gate, timings."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.errors import UserError

# FP32 exports must agree with the engine on every image's top class and on every probability to this.
MIN_TOP1_AGREEMENT = 1.0
MAX_ABS_DIFF = 1e-4


def compare(reference: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Top-1 agreement and the largest |difference| of probabilities between two (N, C) arrays."""
    if reference.shape != probs.shape:
        raise UserError(f"The exported model returns {probs.shape[1:]} values per image where the trained model "
                        f"returns {reference.shape[1:]}; the export is broken.")
    n = len(reference)
    if n == 0:
        return {"n": 0, "top1_agreement": 1.0, "max_abs_diff": 0.0}
    agree = float((reference.argmax(axis=1) == probs.argmax(axis=1)).mean())
    return {"n": n, "top1_agreement": agree, "max_abs_diff": float(np.abs(reference - probs).max())}


def passes(result: dict[str, Any]) -> bool:
    return result["top1_agreement"] >= MIN_TOP1_AGREEMENT and result["max_abs_diff"] <= MAX_ABS_DIFF


def gate(what: str, result: dict[str, Any], images: str) -> None:
    """Raise UserError (one sentence) when an FP32 export differs from the engine's model."""
    if passes(result):
        return
    raise UserError(
        f"The exported {what} does not match the trained model on {result['n']} {images}: top-1 agreement "
        f"{100 * result['top1_agreement']:.1f} % and largest probability difference {result['max_abs_diff']:.2g} "
        f"(required: 100 % and at most {MAX_ABS_DIFF:g}), so nothing was exported; please report this as a bug."
    )


def accuracy(probs: np.ndarray, targets: np.ndarray) -> float:
    return float((probs.argmax(axis=1) == targets).mean()) if len(targets) else float("nan")


def latency_ms(run: Callable[[], object], repeats: int = 10, warmup: int = 2) -> float:
    """Median wall time of `run()` in milliseconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return round(1000 * float(np.median(times)), 2)
