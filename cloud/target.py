"""Where to train (`--target auto`): a local GPU, else the CPU for small jobs, else Yandex Cloud, else the CPU."""

from __future__ import annotations

import json
from pathlib import Path

from engine.config import RunConfig

SMALL_JOB_IMAGES = 300
CPU_TRAIN_IMG_PER_S = 6.0  # fine-tuning at 224 px on 2 cores, measured order of magnitude (see DESIGN.md)
DEFAULT_EPOCHS = 15


def _n_images(cfg: RunConfig) -> int:
    try:
        manifest = json.loads((Path(cfg.data) / "manifest.json").read_text(encoding="utf-8"))
        return len(manifest["items"])
    except (OSError, ValueError, KeyError):
        return 0


def cpu_minutes(cfg: RunConfig, n_images: int) -> float:
    """A rough CPU time for the job, for an honest message rather than a promise."""
    if cfg.mode == "linear-probe":
        return max(0.5, n_images / 60 / 60)
    return n_images * (cfg.epochs or DEFAULT_EPOCHS) / CPU_TRAIN_IMG_PER_S / 60


def choose_target(target: str, run_dir: str | Path, workspace_root: str | Path | None = None) -> tuple[str, str]:
    """('local' | 'yandex', a sentence saying why)."""
    if target in ("local", "yandex"):
        return target, "Training on Yandex Cloud." if target == "yandex" else "Training on this computer."
    cfg = RunConfig.load(run_dir)
    import torch

    if torch.cuda.is_available():
        return "local", "Training on this computer's GPU."
    n = _n_images(cfg)
    minutes = cpu_minutes(cfg, n)
    if cfg.mode == "linear-probe" or (n <= SMALL_JOB_IMAGES and cfg.mode in ("auto", "linear-probe")):
        return "local", f"A small job ({n} images, {cfg.mode}): training on this computer's CPU."
    from cloud.auth import secrets_path
    from cloud.settings import load_settings
    from engine.workspace import default_root

    root = Path(workspace_root or default_root())
    if load_settings(root).configured and secrets_path(root).exists():
        return "yandex", f"No GPU here and the job is big ({n} images, {cfg.mode}): training on Yandex Cloud."
    return "local", (f"No GPU here and Yandex Cloud is not set up: training on this CPU, which may take about "
                     f"{minutes:.0f} minutes.")
