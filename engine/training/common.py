"""What every trainer shares: the run's context, its splits, the checkpoint payload and the final scoring.

Both the timm loop (engine.training.finetune) and the Ultralytics family's trainer import these public names;
neither reaches into the other. torch is imported inside the functions that need it.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import RunConfig
from engine.errors import UserError
from engine.events import EventWriter
from engine.resolve import DataFacts, ModelFacts, ResolvedConfig, resolve


class Cancelled(BaseException):
    """The run was asked to stop (SIGTERM from the UI's Stop, or Ctrl+C); like KeyboardInterrupt, no
    `except Exception` on the way swallows it."""


@dataclass
class Split:
    """One split of the dataset: its manifest items, their class indices and their image files."""

    name: str
    items: list[dict]
    targets: np.ndarray
    files: list[str]


@dataclass
class Context:
    """Everything a trainer needs about its run: config, events, device, labels, data and caches."""

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
    resolved: ResolvedConfig | None = None  # every concrete value of the run (engine.resolve)
    started: float = field(default_factory=time.monotonic)
    _last_progress: float = 0.0

    def info(self, message: str) -> None:
        """A line for the run's log and its event stream."""
        self.log.info(message)
        self.events.emit("log", level="info", message=message)

    def warn(self, message: str) -> None:
        """A warning for the run's log and its event stream."""
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

    @property
    def task(self):
        """The run's task (engine.tasks.Task): its heads, metrics and export signature."""
        from engine.tasks import get_task

        return get_task(self.cfg.task)


# --- the machine -----------------------------------------------------------------------------

def cache_root() -> Path:
    """The workspace's caches (weights, embeddings, ONNX graphs), created when missing."""
    from engine.workspace import default_root

    root = default_root() / "cache"
    for sub in ("weights", "embeddings", "onnx"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def resolve_device(requested: str) -> str:
    """'cpu' or 'cuda' for the config's device; asking for a missing GPU is a UserError."""
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("The run asks for a CUDA GPU but none is available here; choose device 'cpu' or 'auto'.")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch alike."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --- settings every trainer reads the same way -------------------------------------------------

def resolve_run(ctx: Context, *, pretrained_available: bool, mode: str | None = None) -> ResolvedConfig:
    """engine.resolve for this run: its config (with `mode` instead of the config's, when given), its model's
    facts, its device and its training split's counts."""
    from engine.models import get_family, get_spec

    spec = get_spec(ctx.cfg.model)
    family = get_family(spec.family)
    facts = ModelFacts(spec.name, spec.family, spec.params_m, spec.input_size, pretrained_available,
                       family.default_batch, family.default_workers)
    counts = {label: int((ctx.splits["train"].targets == i).sum()) for i, label in enumerate(ctx.labels)}
    data = DataFacts(counts, len(ctx.splits["val"].items), len(ctx.splits["test"].items))
    cfg = ctx.cfg if mode is None else ctx.cfg.model_copy(update={"mode": mode})
    return resolve(cfg, facts, ctx.device, data)


def schedule(ctx: Context) -> dict[str, Any]:
    """Epochs, peak learning rate, patience, layer decay and the trainable share: the resolved run's."""
    r = ctx.resolved
    return {"epochs": r.epochs, "lr": r.lr, "patience": r.patience, "layer_decay": r.layer_decay,
            "trainable_fraction": r.trainable_fraction}


def loader_settings(ctx: Context) -> tuple[int, int]:
    """(batch size, data-loading workers): the resolved run's (the config's, else the family's defaults)."""
    return ctx.resolved.batch_size, ctx.resolved.num_workers


def balanced(ctx: Context) -> bool:
    """Whether the classes are weighted (or sampled) to make up for an imbalanced training split."""
    return bool(ctx.resolved.balanced)


# --- the model, its embeddings and its checkpoints -----------------------------------------------

def build_model(ctx: Context, pretrained: bool):
    """The run's model (engine.models.build) with the config's weights and image size; says where weights came from."""
    from engine.models import build

    built = build(ctx.cfg.model, len(ctx.labels), pretrained=pretrained, weights=ctx.cfg.weights,
                  image_size=ctx.cfg.image_size, cache_dir=ctx.cache_root / "weights")
    ctx.info(f"Model {built.name}: {built.weights_source}.")
    return built


def embeddings(ctx: Context, built, split_names: tuple[str, ...], cache: bool = True) -> dict[str, np.ndarray]:
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


def checkpoint_payload(ctx: Context, built, **extra) -> dict[str, Any]:
    """What checkpoints/{best,last}.pt hold: the model, its labels and preprocessing, the data it was trained on."""
    return {"model": built.name, "family": built.family, "task": ctx.cfg.task, "labels": ctx.labels,
            "preprocess": built.preprocess,
            "state_dict": {k: v.detach().cpu() for k, v in built.model.state_dict().items()},
            "pretrained": built.pretrained, "weights_source": built.weights_source,
            "dataset": ctx.manifest["id"], "fingerprint": ctx.manifest["fingerprint"], **extra}


# --- the final evaluation ----------------------------------------------------------------------

def final_metrics(ctx: Context, probs: dict[str, np.ndarray], *, params: int, built, epochs_run: int,
                  best_epoch: int) -> dict[str, Any]:
    """metrics.json's body: the task's scores and views per split, the dataset and the model's facts."""
    views = ctx.task.part("metrics")
    art = ctx.run_dir / "artifacts"
    art.mkdir(exist_ok=True)
    result: dict[str, Any] = {split: views.report_split(ctx, split, p) for split, p in probs.items()}
    result["dataset"] = {"id": ctx.manifest["id"], "fingerprint": ctx.manifest["fingerprint"],
                         **{f"n_{s}": len(ctx.splits[s].items) for s in ("train", "val", "test")}}
    result.update({"params": params, "pretrained": built.pretrained, "weights_source": built.weights_source,
                   "input_size": built.preprocess["input_size"], "epochs_run": epochs_run, "best_epoch": best_epoch})
    return result


def score_final(ctx: Context, built, *, epochs_run: int, best_epoch: int) -> dict[str, Any]:
    """The final scoring of the model now in `built` (the best checkpoint): val and test through the same code
    for every family, then `final_metrics`."""
    from engine.embed import predict_probs

    model = built.model.eval()
    t0 = time.monotonic()
    probs = {}
    for s in ("val", "test"):
        sp = ctx.splits[s]
        if sp.items:
            probs[s] = predict_probs(model, sp.files, built.preprocess, len(ctx.labels), device=ctx.device,
                                     progress=lambda a, b, s=s: ctx.progress(f"evaluate-{s}", a, b, phase_started=t0),
                                     log=ctx.info)
    return final_metrics(ctx, probs, params=sum(p.numel() for p in model.parameters()), built=built,
                         epochs_run=epochs_run, best_epoch=best_epoch)
