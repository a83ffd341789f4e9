"""Checkpoints we write and read: crash-safe saves, a fallback when the newest file is damaged.

A checkpoint is a plain dict of tensors, numbers and strings, so it always loads with
torch.load(weights_only=True): nothing in it can run code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from engine import __version__
from engine.errors import UserError
from engine.fsutil import atomic_write

FORMAT = "konstruktor-checkpoint/1"


def save_checkpoint(path: str | Path, payload: dict[str, Any], keep_previous: bool = True) -> Path:
    """Atomically write `payload`; the file it replaces is kept as `<name>.prev` to fall back on."""
    path = Path(path)
    payload = _plain({"format": FORMAT, "engine_version": __version__, **payload})
    if keep_previous and path.exists():
        os.replace(path, path.with_suffix(path.suffix + ".prev"))
    return atomic_write(path, lambda f: torch.save(payload, f))


def _plain(value: Any) -> Any:
    """numpy scalars to python ones, so the file loads with weights_only=True."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if hasattr(value, "item") and hasattr(value, "dtype"):
        return value.item()
    return value


def load_checkpoint(path: str | Path, *, fallback: bool = True, warn=None) -> dict[str, Any]:
    """Load one of our checkpoints; a damaged file falls back to `<name>.prev` with a warning."""
    path = Path(path)
    candidates = [path, path.with_suffix(path.suffix + ".prev")] if fallback else [path]
    errors = []
    for candidate in candidates:
        if not candidate.exists():
            continue
        try:
            ckpt = torch.load(candidate, map_location="cpu", weights_only=True)
        except Exception as e:  # a torn or foreign file: try the previous good one
            errors.append(f"{candidate.name}: {type(e).__name__}")
            continue
        if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
            errors.append(f"{candidate.name}: not a Konstruktor checkpoint")
            continue
        if candidate != path and warn is not None:
            warn(f"{path.name} is damaged ({'; '.join(errors)}); using the previous good checkpoint {candidate.name}.")
        return ckpt
    if errors:
        raise UserError(f"The checkpoint {path} is damaged and no earlier good copy exists ({'; '.join(errors)}).")
    raise UserError(f"No checkpoint at {path}. Has this run finished training?")


def load_run_model(run_dir: str | Path, which: str = "best"):
    """(model in eval mode, checkpoint dict) for a finished run's best or last checkpoint."""
    from engine.models import build

    ckpt = load_checkpoint(Path(run_dir) / "checkpoints" / f"{which}.pt")
    built = build(ckpt["model"], len(ckpt["labels"]), pretrained=False, image_size=ckpt["preprocess"]["input_size"])
    built.model.load_state_dict(ckpt["state_dict"])
    built.model.eval()
    return built.model, ckpt
