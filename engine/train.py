"""The trainer: one run folder in, checkpoints, metrics and an event stream out.

`run(run_dir)` reads run_dir/config.yaml and does everything the config says. It is what
`python -m engine train RUN_DIR` calls, in a process of its own when the UI starts it. A run
that was killed is resumed by calling it again on the same folder.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine import stopping
from engine.config import DEFAULT_BATCH, MODE_DEFAULTS, RunConfig
from engine.errors import UserError
from engine.events import PID_FILE, EventWriter, read_events
from engine.fsutil import atomic_write_json


def patience(cfg: RunConfig, defaults: dict[str, float]) -> int:
    """Epochs without validation gain before stopping (0: never): the config's, else the schedule's."""
    return int(defaults["patience"] if cfg.early_stopping_patience is None else cfg.early_stopping_patience)
# Rough CPU training speed (images/s) of a 5-million-parameter network at 224 px, forward and
# backward, on 2 cores; used only to estimate time for `auto`.
CPU_TRAIN_RATE_5M = 8.0
AUTO_CPU_FINETUNE_LIMIT_S = 15 * 60
# Per-feature standard deviations are floored at this fraction of their mean (see fit_linear_head).
SIGMA_FLOOR = 0.5
# Below this many images in the smallest class, the head is a nearest-class-mean (prototype) one.
PROTOTYPE_BELOW = 3
PROTOTYPE_TEMPERATURE = 10.0


class Cancelled(BaseException):
    """The run was asked to stop (SIGTERM from the UI's Stop, or Ctrl+C); like KeyboardInterrupt, no
    `except Exception` on the way swallows it."""


@dataclass
class Split:
    name: str
    items: list[dict]
    targets: np.ndarray
    files: list[str]


@dataclass
class Context:
    run_dir: Path
    cfg: RunConfig
    events: EventWriter
    log: logging.Logger
    device: str
    labels: list[str]
    dataset_dir: Path
    manifest: dict
    splits: dict[str, Split]
    cache_root: Path
    started: float = field(default_factory=time.monotonic)
    _last_progress: float = 0.0

    def info(self, message: str) -> None:
        self.log.info(message)
        self.events.emit("log", level="info", message=message)

    def warn(self, message: str) -> None:
        self.log.warning(message)
        self.events.emit("log", level="warning", message=message)

    def progress(self, phase: str, step: int, total: int, epoch: int | None = None, force: bool = False,
                 phase_started: float | None = None, step_offset: int = 0) -> None:
        """A progress event, at most two a second; the ETA comes from this attempt's own pace."""
        now = time.monotonic()
        if not force and step < total and now - self._last_progress < 0.5:
            return
        self._last_progress = now
        t0 = phase_started if phase_started is not None else self.started
        done_here = step - step_offset
        eta = (now - t0) / done_here * (total - step) if done_here > 0 else None
        self.events.emit("progress", phase=phase, epoch=epoch, step=step, total=total,
                         eta_s=None if eta is None else round(eta, 1))


# --- helpers -------------------------------------------------------------------------------

def cache_root() -> Path:
    from engine.workspace import default_root

    root = default_root() / "cache"
    for sub in ("weights", "embeddings", "onnx"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def resolve_device(requested: str) -> str:
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("The run asks for a CUDA GPU but none is available here; choose device 'cpu' or 'auto'.")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# Why `auto` (or the settings) chose a mode: a stable code per reason, its English sentence filled with params.
# The UI says the same reason in other languages by code (ui/i18n); the English sentence is the fallback.
MODE_REASONS = {
    "settings": "chosen in the settings",
    "no_pretrained": "no pretrained weights for {model} are on this computer, so it learns from scratch; expect "
                     "much lower accuracy with little data",
    "few_images": "the smallest class has only {smallest} training image(s): a linear head on frozen pretrained "
                  "features is the most reliable choice with so little data",
    "gpu": "{smallest}+ images per class and a GPU: fine-tuning the upper layers after a linear-probe warm start "
           "usually beats a frozen backbone",
    "cpu_slow": "fine-tuning {total} images would take about {minutes} minutes on this CPU; a linear probe takes "
                "seconds (pick fine-tune, or train on a GPU, for more accuracy)",
    "cpu_ok": "{smallest}+ images per class and about {minutes} minute(s) on this CPU: fine-tuning the upper layers "
              "after a linear-probe warm start usually beats a frozen backbone",
}


def mode_reason_text(code: str, params: dict[str, Any]) -> str:
    """The English sentence of a mode reason code."""
    return MODE_REASONS[code].format(**params)


def choose_mode_reason(cfg: RunConfig, train_counts: dict[str, int], device: str, pretrained_ok: bool,
                       params_m: float) -> tuple[str, str, dict[str, Any]]:
    """The training mode, the code of the reason (a key of MODE_REASONS) and the reason's parameters."""
    if cfg.mode != "auto":
        return cfg.mode, "settings", {}
    if not pretrained_ok:
        return "scratch", "no_pretrained", {"model": cfg.model}
    smallest = min(train_counts.values())
    total = sum(train_counts.values())
    if smallest < 5:
        return "linear-probe", "few_images", {"smallest": smallest}
    if device == "cuda":
        return "fine-tune", "gpu", {"smallest": smallest}
    epochs = cfg.epochs or MODE_DEFAULTS["fine-tune"]["epochs"]
    est = total * epochs / (CPU_TRAIN_RATE_5M * 5.0 / max(params_m, 0.5))
    if est > AUTO_CPU_FINETUNE_LIMIT_S:
        return "linear-probe", "cpu_slow", {"total": total, "minutes": round(est / 60)}
    return "fine-tune", "cpu_ok", {"smallest": smallest, "minutes": max(1, round(est / 60))}


def choose_mode(cfg: RunConfig, train_counts: dict[str, int], device: str, pretrained_ok: bool,
                params_m: float) -> tuple[str, str]:
    """The training mode and one plain sentence saying why."""
    mode, code, params = choose_mode_reason(cfg, train_counts, device, pretrained_ok, params_m)
    return mode, mode_reason_text(code, params)


def _make_logger(run_dir: Path) -> logging.Logger:
    log = logging.getLogger(f"konstruktor.run.{run_dir.name}")
    log.setLevel(logging.INFO)
    log.propagate = False
    if not log.handlers:
        handler = logging.FileHandler(run_dir / "train.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
    return log


def _load_splits(dataset_dir: Path, manifest: dict, labels: list[str]) -> dict[str, Split]:
    index = {name: i for i, name in enumerate(labels)}
    splits = {}
    for name in ("train", "val", "test"):
        items = [it for it in manifest["items"] if it["split"] == name]
        splits[name] = Split(name, items, np.array([index[it["label"]] for it in items], dtype=np.int64),
                             [str(dataset_dir / it["file"]) for it in items])
    return splits


# --- linear head on embeddings ---------------------------------------------------------------

def fit_linear_head(X: np.ndarray, y: np.ndarray, n_classes: int, *, balanced: bool, seed: int,
                    C: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Multinomial logistic regression on embeddings, standardisation folded into (W, b).

    Returns W (n_classes, D), b (n_classes,) and the C used; logits = X @ W.T + b, so the
    head drops into the network's own Linear layer unchanged.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    mu = X.mean(axis=0)
    std = X.std(axis=0)
    # Features that hardly vary in a handful of images must not get huge weights: they would
    # blow up on new images (and wreck fine-tuning that starts from this head).
    sigma = np.maximum(std, SIGMA_FLOOR * float(std.mean()) + 1e-8)
    Z = (X - mu) / sigma
    # With an L2 penalty the solution lies in the span of the (centred) training samples, so fitting
    # in that subspace is exact, and with few images far faster than in all D dimensions.
    _, S, Vt = np.linalg.svd(Z, full_matrices=False)
    Vt = Vt[S > S[0] * 1e-6] if S.size and S[0] > 0 else Vt[:1]
    P = Z @ Vt.T
    class_weight = "balanced" if balanced else None

    def make(c: float) -> LogisticRegression:
        return LogisticRegression(C=c, max_iter=1000, class_weight=class_weight, random_state=seed)

    if C is None:
        counts = np.bincount(y, minlength=n_classes)
        present = counts[counts > 0]
        folds = int(min(5, present.min())) if present.size else 0
        grid = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
        if folds >= 2:
            skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            scores = []
            for c in grid:
                acc = [float((make(c).fit(P[a], y[a]).predict(P[b]) == y[b]).mean()) for a, b in skf.split(P, y)]
                scores.append(np.mean(acc))
            C = grid[int(np.argmax(scores))]
        else:
            C = 0.1
    clf = make(C).fit(P, y)
    W = np.zeros((n_classes, X.shape[1]), dtype=np.float64)
    b = np.full(n_classes, -1e4, dtype=np.float64)  # a class absent from training is never predicted
    coef, intercept = clf.coef_ @ Vt, clf.intercept_
    if len(clf.classes_) == 2:  # sklearn's binary form: one row for the positive class
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    for row, cls in enumerate(clf.classes_):
        W[cls] = coef[row] / sigma
        b[cls] = intercept[row] - float(np.dot(coef[row], mu / sigma))
    return W.astype(np.float32), b.astype(np.float32), float(C)


def fit_prototype_head(X: np.ndarray, y: np.ndarray, n_classes: int,
                       temperature: float = PROTOTYPE_TEMPERATURE) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-class-mean head (cosine to L2-normalised class means) as a plain linear layer.

    With one or two images per class there is nothing to fit a regression on; prototypes are the
    reliable choice. logits = t * x . m_c / mean|x|: the same ranking as cosine similarity (|x| is
    common to all classes), scaled so probabilities are neither flat nor saturated.
    """
    norms = np.linalg.norm(X, axis=1, keepdims=True) + 1e-12
    unit = X / norms
    W = np.zeros((n_classes, X.shape[1]), dtype=np.float64)
    b = np.full(n_classes, -1e4, dtype=np.float64)
    for c in range(n_classes):
        if (y == c).any():
            m = unit[y == c].mean(axis=0)
            W[c] = m / (np.linalg.norm(m) + 1e-12)
            b[c] = 0.0
    W *= temperature / float(norms.mean())
    return W.astype(np.float32), b.astype(np.float32)


def head_probs(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    logits = X @ W.T + b
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def _set_head(model, W: np.ndarray, b: np.ndarray) -> None:
    import torch

    head = model.get_classifier()
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(W))
        head.bias.copy_(torch.from_numpy(b))


# --- the run ---------------------------------------------------------------------------------

def run(run_dir: str | Path, echo=None) -> int:
    """Train the run in `run_dir`; returns 0 done, 2 bad input, 130 cancelled, 1 internal error."""
    run_dir = Path(run_dir).resolve()
    events = EventWriter(run_dir, echo=echo)
    log = _make_logger(run_dir)
    pid_file = run_dir / PID_FILE
    with stopping.on_sigterm(lambda signum: Cancelled(f"signal {signum}")):
        pid_file.write_text(f"{os.getpid()}\n")
        try:
            return _run_reporting(run_dir, events, log)
        finally:
            pid_file.unlink(missing_ok=True)


def _run_reporting(run_dir: Path, events: EventWriter, log: logging.Logger) -> int:
    """`_train`, with its outcome written as the run's last event."""
    try:
        summary = _train(run_dir, events, log)
        stopping.settle()
        events.emit("done", metrics=summary)
        return 0
    except BaseException as e:
        stopping.settle()
        if not (stopping.requested() or stopping.is_stop(e, (Cancelled, KeyboardInterrupt))):
            return _report_failure(e, run_dir, events, log)
        log.info("cancelled")
        events.emit("cancelled", message="Training was stopped. The last checkpoint is kept; start the run "
                                         "again to resume it.", code="cancelled", params={})
        return 130


def _report_failure(e: BaseException, run_dir: Path, events: EventWriter, log: logging.Logger) -> int:
    if isinstance(e, UserError):
        log.error("failed: %s", e)
        events.emit("failed", message=str(e), **_failure_code(e))
        return 2
    if isinstance(e, MemoryError):
        log.error("out of memory\n%s", traceback.format_exc())
        events.emit("failed", message="The computer ran out of memory. Use a smaller model, a smaller batch size, "
                                      "or a smaller image size.", code="out_of_memory", params={})
        return 1
    if not isinstance(e, Exception):  # SystemExit and the like: not ours to report
        raise e
    log.error("internal error\n%s", traceback.format_exc())
    oom = _oom_message(e)
    error, log_path = f"{type(e).__name__}: {e}", str(run_dir / "train.log")
    message = oom or (f"Training stopped because of an internal error ({error}). "
                      f"The details are in {log_path}.")
    code = {"code": "gpu_out_of_memory", "params": {}} if oom else {
        "code": "internal_error", "params": {"error": error, "log": log_path}}
    events.emit("failed", message=message, **code)
    return 1


# Codes of `failed`/`cancelled` events the UI says in every language; any other failure has code "user_error"
# and is shown with its English message.
FAILURE_CODES = ("cancelled", "out_of_memory", "gpu_out_of_memory", "internal_error", "weights_unavailable")


def _failure_code(e: UserError) -> dict[str, Any]:
    from engine.errors import WeightsUnavailable

    code = getattr(e, "code", None)
    if isinstance(code, str):
        return {"code": code, "params": dict(getattr(e, "params", None) or {})}
    return {"code": "weights_unavailable" if isinstance(e, WeightsUnavailable) else "user_error", "params": {}}


def _oom_message(e: Exception) -> str | None:
    if "out of memory" in str(e).lower():
        return ("The GPU ran out of memory. Use a smaller batch size, a smaller model, or a smaller image size.")
    return None


def _train(run_dir: Path, events: EventWriter, log: logging.Logger) -> dict[str, Any]:
    import torch

    from engine.data import load_manifest
    from engine.models import available_offline, get_spec

    cfg = RunConfig.load(run_dir)
    dataset_dir = Path(cfg.data)
    manifest = load_manifest(dataset_dir)
    labels = list(manifest["classes"])
    atomic_write_json(run_dir / "labels.json", labels)
    device = resolve_device(cfg.device)
    if device == "cpu":
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    seed_everything(cfg.seed)
    ctx = Context(run_dir, cfg, events, log, device, labels, dataset_dir, manifest,
                  _load_splits(dataset_dir, manifest, labels), cache_root())
    train_counts = {lab: int((ctx.splits["train"].targets == i).sum()) for i, lab in enumerate(labels)}
    if min(train_counts.values()) == 0:
        empty = [lab for lab, n in train_counts.items() if n == 0]
        raise UserError(f"Class(es) {', '.join(empty)} have no training images; add images or remove the class.")
    spec = get_spec(cfg.model)
    pretrained_ok = bool(cfg.weights) or available_offline(cfg.model, cache_dir=ctx.cache_root / "weights")
    mode, why_code, why_params = choose_mode_reason(cfg, train_counts, device, pretrained_ok, spec.params_m)
    why = mode_reason_text(why_code, why_params)
    resumed = any(p.exists() for p in (run_dir / "checkpoints" / "last.pt", run_dir / "checkpoints" / "last.pt.prev",
                                         run_dir / "ultralytics" / "train" / "weights" / "last.pt"))
    events.emit("start", model=cfg.model, mode=mode, mode_reason=why, mode_reason_code=why_code,
                mode_reason_params=why_params, device=device, labels=labels,
                n_train=len(ctx.splits["train"].items), n_val=len(ctx.splits["val"].items),
                n_test=len(ctx.splits["test"].items), dataset=manifest["id"], resumed=resumed)
    ctx.info(f"Mode: {mode} — {why}.")
    if mode == "linear-probe":
        result = _linear_probe(ctx)
    elif spec.family == "ultralytics":
        from engine.ultralytics_train import train_ultralytics

        result = train_ultralytics(ctx, mode)
    else:
        result = _finetune(ctx, mode)
    result.update({"mode": mode, "mode_reason": why, "mode_reason_code": why_code, "mode_reason_params": why_params,
                   "model": cfg.model, "device": device,
                   "train_seconds": round(_train_seconds(run_dir, ctx), 2)})
    atomic_write_json(run_dir / "metrics.json", result)
    return {k: result[k] for k in ("mode", "model", "train_seconds")} | {
        s: {m: result[s][m] for m in ("accuracy", "macro_f1")} for s in ("val", "test") if s in result
    }


def _train_seconds(run_dir: Path, ctx: Context) -> float:
    """Wall time of this attempt plus earlier attempts of a resumed run (from the event stream)."""
    events, _ = read_events(run_dir)
    earlier = 0.0
    for e in events:
        if e["type"] == "log" and e.get("elapsed_s") is not None:
            earlier = max(earlier, float(e["elapsed_s"]))
    return max(earlier, time.monotonic() - ctx.started)


def _build(ctx: Context, pretrained: bool):
    from engine.models import build

    built = build(ctx.cfg.model, len(ctx.labels), pretrained=pretrained, weights=ctx.cfg.weights,
                  image_size=ctx.cfg.image_size, cache_dir=ctx.cache_root / "weights")
    ctx.info(f"Model {built.name}: {built.weights_source}.")
    return built


def _embeddings(ctx: Context, built, split_names: tuple[str, ...], cache: bool = True) -> dict[str, np.ndarray]:
    """Embeddings per split; `cache=False` for a network trained in this run (nobody will reuse them)."""
    from engine.embed import cached_embeddings

    items = [it for s in split_names for it in ctx.splits[s].items]
    t0 = time.monotonic()

    def progress(done: int, total: int) -> None:
        ctx.progress("embedding", done, total, force=done == total, phase_started=t0)

    X = cached_embeddings(built, items, ctx.dataset_dir, ctx.cache_root / "embeddings" if cache else None,
                          device=ctx.device, onnx_dir=ctx.cache_root / "onnx" if cache else None,
                          progress=progress, log=ctx.info)
    rate = len(items) / max(1e-6, time.monotonic() - t0)
    ctx.log.info("embedded %d images at %.1f images/s", len(items), rate)
    out, start = {}, 0
    for s in split_names:
        n = len(ctx.splits[s].items)
        out[s] = X[start:start + n]
        start += n
    return out


def _balanced(ctx: Context) -> bool:
    counts = np.bincount(ctx.splits["train"].targets, minlength=len(ctx.labels))
    if ctx.cfg.imbalance == "auto":
        return bool(counts.max() > 1.5 * max(1, counts.min()))
    return ctx.cfg.imbalance in ("class-weights", "balanced-sampler")


def _checkpoint_payload(ctx: Context, built, **extra) -> dict[str, Any]:
    return {"model": built.name, "family": built.family, "labels": ctx.labels, "preprocess": built.preprocess,
            "state_dict": {k: v.detach().cpu() for k, v in built.model.state_dict().items()},
            "pretrained": built.pretrained, "weights_source": built.weights_source,
            "dataset": ctx.manifest["id"], "fingerprint": ctx.manifest["fingerprint"], **extra}


def _linear_probe(ctx: Context) -> dict[str, Any]:
    from engine.checkpoint import save_checkpoint

    built = _build(ctx, pretrained=True)
    present = tuple(s for s in ("train", "val", "test") if ctx.splits[s].items)
    X = _embeddings(ctx, built, present)
    y = ctx.splits["train"].targets
    balanced = _balanced(ctx)
    smallest = int(np.bincount(y, minlength=len(ctx.labels)).min())
    if smallest < PROTOTYPE_BELOW:
        W, b = fit_prototype_head(X["train"], y, len(ctx.labels))
        C = None
        ctx.info(f"Only {smallest} image(s) in the smallest class: the head is the mean of each class's "
                 "features (nearest class mean), which is more reliable than fitting a regression.")
    else:
        W, b, C = fit_linear_head(X["train"], y, len(ctx.labels), balanced=balanced, seed=ctx.cfg.seed)
        ctx.info(f"Linear head fitted on {len(y)} images (C={C}{', balanced class weights' if balanced else ''}).")
    _set_head(built.model, W, b)
    ckpt_dir = ctx.run_dir / "checkpoints"
    payload = _checkpoint_payload(ctx, built, mode="linear-probe", epoch=1, head={"C": C, "balanced": balanced})
    save_checkpoint(ckpt_dir / "best.pt", payload, keep_previous=False)
    save_checkpoint(ckpt_dir / "last.pt", payload, keep_previous=False)
    probs = {s: head_probs(X[s], W, b) for s in present if s != "train"}
    result = _final_metrics(ctx, probs, params=sum(p.numel() for p in built.model.parameters()),
                            built=built, epochs_run=1, best_epoch=1)
    cv = _maybe_cv(ctx, X, C=C if C is not None else 0.01, balanced=balanced)
    if cv is not None:
        result["cv"] = cv
    return result


def _maybe_cv(ctx: Context, X: dict[str, np.ndarray], *, C: float, balanced: bool) -> dict | None:
    """Repeated stratified CV of the linear head over train+val, when validation is too small to trust."""
    from engine.evaluate import cross_validate

    ev = ctx.cfg.eval
    n_val = len(ctx.splits["val"].items)
    if ev.cv == "off" or (ev.cv == "auto" and n_val >= ev.tiny_val_threshold):
        return None
    parts = [s for s in ("train", "val") if s in X and len(X[s])]
    Xs = np.concatenate([X[s] for s in parts])
    ys = np.concatenate([ctx.splits[s].targets for s in parts])
    n_classes = len(ctx.labels)

    def fit_predict(Xa, ya, Xb):
        W, b, _ = fit_linear_head(Xa, ya, n_classes, balanced=balanced, seed=ctx.cfg.seed, C=C)
        return head_probs(Xb, W, b)

    cv = cross_validate(Xs, ys, fit_predict, folds=ev.cv_folds, repeats=ev.cv_repeats, seed=ctx.cfg.seed)
    cv["what"] = "linear head on frozen features, train+val pooled"
    if "accuracy" in cv:
        ctx.info(f"Cross-validation ({cv['folds']}-fold x {cv['repeats']}): accuracy "
                 f"{cv['accuracy']['mean']:.3f} ± {cv['accuracy']['std']:.3f}.")
    return cv


def _final_metrics(ctx: Context, probs: dict[str, np.ndarray], *, params: int, built, epochs_run: int,
                   best_epoch: int) -> dict[str, Any]:
    from engine.evaluate import compute_metrics, misclassified, save_confusion_matrix

    art = ctx.run_dir / "artifacts"
    art.mkdir(exist_ok=True)
    result: dict[str, Any] = {}
    for split, p in probs.items():
        sp = ctx.splits[split]
        m = compute_metrics(sp.targets, p, ctx.labels, top_k=ctx.cfg.eval.top_k)
        result[split] = m
        ctx.events.emit("metrics", epoch=None, split=split, final=True,
                        values={k: m[k] for k in ("accuracy", "balanced_accuracy", "macro_f1")})
        png, js = save_confusion_matrix(m, art, name=f"confusion_matrix_{split}")
        ctx.events.emit("artifact", kind="confusion_matrix", split=split, path=str(png.relative_to(ctx.run_dir)))
        wrong = misclassified(sp.files, sp.targets, p, ctx.labels)
        originals = {f: it["original"] for f, it in zip(sp.files, sp.items, strict=True)}
        for w in wrong:
            w["original"] = originals.get(w["file"])
        atomic_write_json(art / f"misclassified_{split}.json", wrong)
        ctx.events.emit("artifact", kind="misclassified", split=split, path=f"artifacts/misclassified_{split}.json",
                        count=len(wrong))
    result["dataset"] = {"id": ctx.manifest["id"], "fingerprint": ctx.manifest["fingerprint"],
                         **{f"n_{s}": len(ctx.splits[s].items) for s in ("train", "val", "test")}}
    result.update({"params": params, "pretrained": built.pretrained, "weights_source": built.weights_source,
                   "input_size": built.preprocess["input_size"], "epochs_run": epochs_run, "best_epoch": best_epoch})
    return result


# --- fine-tune / full / scratch -------------------------------------------------------------

def _lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def selection_score(val_values: dict[str, float]) -> float:
    """How a validation result ranks when the best epoch is kept: macro-F1, the loss breaking the frequent ties
    of a tiny set. The UI marks the best epoch on its plots with the same rule."""
    return val_values["macro_f1"] - 0.01 * val_values["loss"]


def _finetune(ctx: Context, mode: str) -> dict[str, Any]:
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, WeightedRandomSampler

    from engine.augment import build_train_transform
    from engine.checkpoint import load_checkpoint, save_checkpoint
    from engine.data import ImageDataset
    from engine.embed import predict_probs

    cfg = ctx.cfg
    d = MODE_DEFAULTS[mode]
    epochs = int(cfg.epochs or d["epochs"])
    peak_lr = float(cfg.lr or d["lr"])
    built = _build(ctx, pretrained=mode != "scratch")
    model = built.model
    ckpt_dir = ctx.run_dir / "checkpoints"
    last_path = ckpt_dir / "last.pt"
    state: dict[str, Any] = {"epoch": 0, "best_score": -math.inf, "best_epoch": 0, "bad_epochs": 0, "elapsed": 0.0}
    resume = None
    if last_path.exists() or last_path.with_suffix(".pt.prev").exists():
        resume = load_checkpoint(last_path, warn=ctx.warn)
        model.load_state_dict(resume["state_dict"])
        state.update(resume["train_state"])
        ctx.info(f"Resuming from the end of epoch {state['epoch']} of {epochs}.")
        ctx.events.emit("log", level="info", message="resumed", elapsed_s=state["elapsed"])
    elif mode in ("fine-tune", "full") and built.pretrained:
        # LP-FT: start from a head fitted on frozen features, so fine-tuning doesn't wreck them.
        X = _embeddings(ctx, built, tuple(s for s in ("train", "val") if ctx.splits[s].items))
        W, b, C = fit_linear_head(X["train"], ctx.splits["train"].targets, len(ctx.labels),
                                  balanced=_balanced(ctx), seed=cfg.seed)
        _set_head(model, W, b)
        ctx.info(f"Head initialised by a linear probe (C={C}); now fine-tuning.")
        # Re-training the whole network k x r times is too slow on a CPU. Features the network was
        # fine-tuned on would flatter any CV, so the spread is measured on the frozen features.
        frozen_cv = _maybe_cv(ctx, X, C=C, balanced=_balanced(ctx))
        if frozen_cv is not None:
            frozen_cv["what"] = ("linear probe on the frozen pretrained features (the fine-tuned network itself "
                                 "is not cross-validated)")
            atomic_write_json(ctx.run_dir / "artifacts" / "cv_frozen.json", frozen_cv)

    # Which layer groups train, and at what learning rate (layer-wise decay from the head down).
    groups = built.layer_groups
    n_train_groups = max(1, math.ceil(len(groups) * d["trainable_fraction"]))
    trainable = groups[-n_train_groups:]
    for p in model.parameters():
        p.requires_grad = False
    param_groups = []
    for depth, params in enumerate(reversed(trainable)):
        for p in params:
            p.requires_grad = True
        decay = d["layer_decay"] ** depth
        param_groups.append({"params": params, "lr": peak_lr * decay, "scale": decay})
    # Batch statistics of a few dozen images are noise: when fine-tuning a pretrained network, every
    # BatchNorm keeps its ImageNet statistics (its scale and shift still train where unfrozen).
    frozen_bn = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                 and (mode == "fine-tune" or not any(p.requires_grad for p in m.parameters()))]
    opt = torch.optim.AdamW(param_groups, lr=peak_lr, weight_decay=cfg.weight_decay)
    if resume is not None and resume.get("optimizer"):
        opt.load_state_dict(resume["optimizer"])

    device = ctx.device
    model.to(device)
    if device == "cpu":
        model.to(memory_format=torch.channels_last)
    train_set = ImageDataset(ctx.dataset_dir, "train",
                             build_train_transform(cfg.augment.preset, built.preprocess, hflip=cfg.augment.hflip,
                                                   seed=cfg.seed))
    targets = ctx.splits["train"].targets
    counts = np.bincount(targets, minlength=len(ctx.labels)).astype(np.float64)
    weight = None
    sampler = None
    imbalanced = _balanced(ctx)
    if imbalanced and cfg.imbalance == "balanced-sampler":
        w = 1.0 / counts[targets]
        sampler = WeightedRandomSampler(torch.as_tensor(w), num_samples=len(targets), replacement=True,
                                        generator=torch.Generator().manual_seed(cfg.seed))
    elif imbalanced:
        weight = torch.as_tensor(counts.sum() / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32).to(device)
    batch_size = min(cfg.batch_size or DEFAULT_BATCH, len(train_set))
    drop_last = len(train_set) > batch_size and len(train_set) % batch_size == 1
    shuffle_gen = torch.Generator()
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=sampler is None, sampler=sampler,
                        num_workers=cfg.num_workers or 0, drop_last=drop_last, generator=shuffle_gen,
                        persistent_workers=bool(cfg.num_workers))
    loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * epochs
    warmup = int(round(cfg.warmup_epochs * steps_per_epoch)) if mode != "fine-tune" or resume else 0
    warmup = min(warmup, max(0, total_steps - 1))
    use_amp = device == "cuda" and cfg.amp
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    val = ctx.splits["val"]
    attempt_start = time.monotonic()
    budget_s = cfg.budget_minutes * 60 if cfg.budget_minutes else None
    stop_reason = None
    first_step = state["epoch"] * steps_per_epoch

    def val_score(epoch: int) -> float:
        """Macro-F1 on validation (loss breaks the frequent ties of a tiny set); events carry the numbers."""
        from engine.evaluate import compute_metrics

        p = predict_probs(model, val.files, built.preprocess, len(ctx.labels), device=device, use_onnx=False)
        vm = compute_metrics(val.targets, p, ctx.labels, top_k=cfg.eval.top_k)
        val_loss = float(-np.log(np.clip(p[np.arange(len(val.targets)), val.targets], 1e-7, 1)).mean())
        values = {"loss": round(val_loss, 5), "accuracy": vm["accuracy"], "macro_f1": vm["macro_f1"]}
        ctx.events.emit("metrics", epoch=epoch, split="val", values=values)
        return selection_score({**values, "loss": val_loss})  # the unrounded loss, as always

    if resume is None and val.items and mode == "fine-tune" and built.pretrained:
        # The linear-probe start is a candidate too: fine-tuning is kept only where it beats it.
        state.update(best_score=val_score(0), best_epoch=0)
        save_checkpoint(ckpt_dir / "best.pt", _checkpoint_payload(ctx, built, mode=mode, epoch=0), keep_previous=False)

    for epoch in range(state["epoch"] + 1, epochs + 1):
        model.train()
        for m in frozen_bn:
            m.eval()
        # Seeded per epoch, so a resumed run sees the same batches as an uninterrupted one.
        shuffle_gen.manual_seed(cfg.seed + epoch)
        seed_everything(cfg.seed + epoch)
        running, seen = 0.0, 0
        epoch_start = time.monotonic()
        for i, (x, y) in enumerate(loader):
            step = (epoch - 1) * steps_per_epoch + i
            lr = _lr_at(step, total_steps, warmup, peak_lr)
            for g in opt.param_groups:
                g["lr"] = lr * g.get("scale", 1.0)
            x = x.to(device, non_blocking=True)
            if device == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)
            y = y.to(device, non_blocking=True)
            with torch.autocast(device_type="cuda", dtype=amp_dtype, enabled=use_amp):
                loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            running += float(loss.detach()) * len(y)
            seen += len(y)
            ctx.progress("train", step + 1, total_steps, epoch=epoch, phase_started=attempt_start,
                         step_offset=first_step)
        train_loss = running / max(1, seen)
        values: dict[str, float] = {"loss": round(train_loss, 5), "lr": lr}
        ctx.events.emit("metrics", epoch=epoch, split="train", values=values)
        # Without validation images the last epoch (end of the cosine schedule) is the one kept.
        score = float(epoch)
        if val.items:
            score = val_score(epoch)
        state["epoch"] = epoch
        state["elapsed"] = state["elapsed"] + (time.monotonic() - epoch_start)
        improved = score > state["best_score"] + 1e-9
        if improved:
            state.update(best_score=score, best_epoch=epoch, bad_epochs=0)
            save_checkpoint(ckpt_dir / "best.pt", _checkpoint_payload(ctx, built, mode=mode, epoch=epoch),
                            keep_previous=False)
        else:
            state["bad_epochs"] += 1
        save_checkpoint(last_path, _checkpoint_payload(ctx, built, mode=mode, epoch=epoch,
                                                       optimizer=opt.state_dict(), train_state=dict(state)))
        ctx.events.emit("log", level="info", message=f"epoch {epoch}/{epochs} done", elapsed_s=state["elapsed"])
        if patience(cfg, d) and val.items and state["bad_epochs"] >= patience(cfg, d):
            stop_reason = f"no validation gain for {state['bad_epochs']} epochs; stopped early at epoch {epoch}"
            break
        if budget_s is not None and time.monotonic() - attempt_start > budget_s:
            stop_reason = f"the time budget of {cfg.budget_minutes:g} minutes is used up; stopped at epoch {epoch}"
            break
    if stop_reason:
        ctx.info(stop_reason[0].upper() + stop_reason[1:] + ".")

    best = load_checkpoint(ckpt_dir / "best.pt", warn=ctx.warn)
    model.load_state_dict(best["state_dict"])
    model.eval()
    t0 = time.monotonic()
    probs = {}
    for s in ("val", "test"):
        sp = ctx.splits[s]
        if sp.items:
            probs[s] = predict_probs(model, sp.files, built.preprocess, len(ctx.labels), device=device,
                                     progress=lambda a, b, s=s: ctx.progress(f"evaluate-{s}", a, b, phase_started=t0),
                                     log=ctx.info)
    result = _final_metrics(ctx, probs, params=sum(p.numel() for p in model.parameters()), built=built,
                            epochs_run=state["epoch"], best_epoch=state["best_epoch"])
    if stop_reason:
        result["stopped"] = stop_reason
    cv_file = ctx.run_dir / "artifacts" / "cv_frozen.json"
    if cv_file.exists():
        from engine.fsutil import read_json

        result["cv"] = read_json(cv_file)
    return result
