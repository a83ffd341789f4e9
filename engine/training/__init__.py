"""Training, shared by every model family: the run's orchestration, the linear probe, the timm loop, and the
pieces every trainer imports (engine.training.common).

`engine.train.run(run_dir)` is the front door; a family's trainer imports only the public names below.
"""

from engine.training.common import (
    Cancelled,
    Context,
    Split,
    balanced,
    build_model,
    cache_root,
    checkpoint_payload,
    embeddings,
    final_metrics,
    loader_settings,
    resolve_device,
    resolve_run,
    schedule,
    score_final,
    seed_everything,
)

__all__ = ["Cancelled", "Context", "Split", "balanced", "build_model", "cache_root", "checkpoint_payload",
           "embeddings", "final_metrics", "loader_settings", "resolve_device", "resolve_run", "schedule",
           "score_final", "seed_everything"]
