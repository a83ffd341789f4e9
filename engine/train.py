"""The trainer's public front: `run(run_dir)` is what `python -m engine train RUN_DIR` calls.

The work is in engine.training (orchestration, the linear probe, the timm loop, the shared pieces) and in each
model family's own trainer; the names below are the ones the CLI and the UI use.
"""

from engine.resolve import MODE_REASONS, choose_mode, choose_mode_reason, mode_reason_text
from engine.tasks.image_classification.metrics import selection_score
from engine.training.orchestration import FAILURE_CODES, run

__all__ = ["FAILURE_CODES", "MODE_REASONS", "choose_mode", "choose_mode_reason", "mode_reason_text", "run",
           "selection_score"]
