"""The run: one run folder in, checkpoints, metrics and an event stream out.

`run(run_dir)` reads run_dir/config.yaml and does everything the config says; it is what
`python -m engine train RUN_DIR` calls (through engine.train), in a process of its own when the UI starts it.
A run that was killed is resumed by calling it again on the same folder. This module chooses the mode and the
family's trainer and reports the outcome as the run's last event; the training itself is elsewhere.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from pathlib import Path
from typing import Any

from engine import stopping
from engine.config import RunConfig
from engine.errors import UserError
from engine.events import PID_FILE, EventWriter, elapsed_before, read_events
from engine.fsutil import atomic_write_json
from engine.training.common import (
    Cancelled,
    Context,
    cache_root,
    resolve_device,
    resolve_run,
    seed_everything,
)


def _make_logger(run_dir: Path) -> logging.Logger:
    log = logging.getLogger(f"konstruktor.run.{run_dir.name}")
    log.setLevel(logging.INFO)
    log.propagate = False
    if not log.handlers:
        handler = logging.FileHandler(run_dir / "train.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
    return log


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
    """Prepare the run, choose its mode, hand it to the linear probe or the family's trainer; metrics.json."""
    from engine.models import available_offline, get_family, get_spec

    ctx = _context(run_dir, events, log)
    own = ctx.task.hook("train")
    if own is not None:  # a task with its own trainer (object detection): it resolves, starts and scores the run
        result = own(ctx)
        result["train_seconds"] = round(_train_seconds(ctx), 2)
        atomic_write_json(run_dir / "metrics.json", result)
        return ctx.task.hook("summary")(result)[0]
    cfg, labels, device = ctx.cfg, ctx.labels, ctx.device
    train_counts = ctx.task.part("dataset").class_counts(ctx.splits["train"], labels)
    if min(train_counts.values()) == 0:
        empty = [lab for lab, n in train_counts.items() if n == 0]
        raise UserError(f"Class(es) {', '.join(empty)} have no training images; add images or remove the class.")
    spec = get_spec(cfg.model)
    family = get_family(spec.family)
    pretrained_ok = bool(cfg.weights) or available_offline(cfg.model, cache_dir=ctx.cache_root / "weights")
    ctx.resolved = resolved = resolve_run(ctx, pretrained_available=pretrained_ok)
    resolved.save(run_dir)
    mode, why_code, why_params, why = (resolved.mode, resolved.mode_reason_code, resolved.mode_reason_params,
                                       resolved.mode_reason)
    ckpt_dir = run_dir / "checkpoints"
    resumed = any(p.exists() for p in (ckpt_dir / "last.pt", ckpt_dir / "last.pt.prev",
                                         *family.resume_files(run_dir)))
    events.emit("start", task=cfg.task, model=cfg.model, mode=mode, mode_reason=why, mode_reason_code=why_code,
                mode_reason_params=why_params, device=device, labels=labels,
                n_train=len(ctx.splits["train"].items), n_val=len(ctx.splits["val"].items),
                n_test=len(ctx.splits["test"].items), dataset=ctx.manifest["id"], resumed=resumed,
                resolved=resolved.as_dict())
    ctx.info(f"Mode: {mode} — {why}.")
    if mode == "linear-probe":
        from engine.training.linear_probe import linear_probe

        result = linear_probe(ctx)
    else:
        result = family.train(ctx, mode)
    result.update({"mode": mode, "mode_reason": why, "mode_reason_code": why_code, "mode_reason_params": why_params,
                   "model": cfg.model, "device": device,
                   "train_seconds": round(_train_seconds(ctx), 2)})
    atomic_write_json(run_dir / "metrics.json", result)
    return {k: result[k] for k in ("mode", "model", "train_seconds")} | {
        s: {m: result[s][m] for m in ("accuracy", "macro_f1")} for s in ("val", "test") if s in result
    }


def _context(run_dir: Path, events: EventWriter, log: logging.Logger) -> Context:
    """The run's config, data, labels (written to labels.json), device and seeds, as one Context."""
    import torch

    from engine.data import load_manifest
    from engine.tasks import get_task

    cfg = RunConfig.load(run_dir)
    dataset_dir = Path(cfg.data)
    manifest = load_manifest(dataset_dir)
    labels = list(manifest["classes"])
    atomic_write_json(run_dir / "labels.json", labels)
    device = resolve_device(cfg.device)
    if device == "cpu":
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    seed_everything(cfg.seed)
    splits = get_task(cfg.task).part("dataset").load_splits(dataset_dir, manifest, labels)
    return Context(run_dir, cfg, events, log, device, labels, dataset_dir, manifest, splits, cache_root())


def _train_seconds(ctx: Context) -> float:
    """Wall time of this attempt plus earlier attempts of a resumed run (from the event stream)."""
    events, _ = read_events(ctx.run_dir)
    return max(elapsed_before(events), time.monotonic() - ctx.started)
