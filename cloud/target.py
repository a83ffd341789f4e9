"""Where to train (`--target auto`): a local GPU, else the CPU for small jobs, else Yandex Cloud, else the CPU.

`decide` is the one decision, with a reason code and its numbers so the app can say it in any language;
`choose_target` is the CLI's wrapper, with the English sentence.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.config import MODE_DEFAULTS, RunConfig

SMALL_JOB_IMAGES = 300
CPU_TRAIN_IMG_PER_S = 6.0  # fine-tuning at 224 px on 2 cores, measured order of magnitude (see DESIGN.md)
SMALL_JOB_MINUTES = 10.0  # a job this CPU ends sooner is not worth a VM's start-up (minutes) and its bill
# reason code -> the English sentence (the app has these in every language under `target.<code>`).
TARGET_REASONS = {
    "gpu": "Training on this computer's GPU.",
    "small_job": "A small job ({n} images, {mode}): training on this computer's CPU.",
    "big_job": "No GPU here and the job is big ({n} images, {mode}): training on Yandex Cloud.",
    "no_cloud": ("No GPU here and Yandex Cloud is not set up: training on this CPU, which may take about "
                 "{minutes} minutes."),
}


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
    return n_images * (cfg.epochs or MODE_DEFAULTS["fine-tune"]["epochs"]) / CPU_TRAIN_IMG_PER_S / 60


def cloud_ready(workspace_root: str | Path) -> bool:
    """Yandex Cloud has a folder, a bucket and a saved key in this workspace."""
    from cloud.auth import secrets_path
    from cloud.settings import load_settings

    return load_settings(workspace_root).configured and secrets_path(workspace_root).exists()


def decide(cfg: RunConfig, *, gpu: bool, cloud: bool) -> tuple[str, str, dict]:
    """('local' | 'yandex', reason code, its numbers) for a job, given a local GPU and a set-up cloud."""
    if gpu:
        return "local", "gpu", {}
    n = _n_images(cfg)
    minutes = cpu_minutes(cfg, n)
    if cfg.mode == "linear-probe" or (cfg.mode == "auto" and n <= SMALL_JOB_IMAGES) or minutes <= SMALL_JOB_MINUTES:
        return "local", "small_job", {"n": n, "mode": cfg.mode}
    if cloud:
        return "yandex", "big_job", {"n": n, "mode": cfg.mode}
    return "local", "no_cloud", {"minutes": f"{minutes:.0f}"}


def choose_target(target: str, run_dir: str | Path, workspace_root: str | Path | None = None) -> tuple[str, str]:
    """('local' | 'yandex', a sentence saying why)."""
    if target in ("local", "yandex"):
        return target, "Training on Yandex Cloud." if target == "yandex" else "Training on this computer."
    cfg = RunConfig.load(run_dir)
    import torch

    from engine.workspace import default_root

    root = Path(workspace_root or default_root())
    where, code, params = decide(cfg, gpu=torch.cuda.is_available(), cloud=cloud_ready(root))
    return where, TARGET_REASONS[code].format(**params)
