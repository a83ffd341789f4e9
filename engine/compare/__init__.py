"""Compare: train a set of candidates (model × mode, optionally a small learning-rate / epochs search) on one
split, within a time budget, and write a leaderboard with a recommendation.

By job: `candidates` parses the candidate specs, `plan` turns them into trials with time estimates,
`leaderboard` ranks and renders the rows, `run` trains the trials (each an ordinary run folder under
`<compare>/runs/`, in a child process the runner starts), `control` is the UI's handle on a compare process,
`cli` is `python -m engine compare`. `leaderboard.json` (atomic, rewritten after every change) and
`events.jsonl` in the compare folder let a UI follow it. Nothing here imports torch until a finished run's
latency is measured. The names below are the package's interface.
"""

from engine.compare.candidates import (
    DEFAULT_CPU,
    DEFAULT_GPU,
    MODES,
    Candidate,
    default_candidates,
    parse_candidates,
)
from engine.compare.control import compare_args, compare_status, start_compare, stop_compare
from engine.compare.leaderboard import (
    FORMAT,
    LEADERBOARD_FILE,
    LEADERBOARD_MD,
    PARTS,
    REASONS,
    markdown,
    read_leaderboard,
    recommend,
    recommendation,
    render_reason,
)
from engine.compare.plan import RATES_CPU, Trial, estimate_seconds, trials_of
from engine.compare.run import Cancelled, Compare, measure_run, new_compare_dir, run_compare

__all__ = [
    "DEFAULT_CPU", "DEFAULT_GPU", "FORMAT", "LEADERBOARD_FILE", "LEADERBOARD_MD", "MODES", "PARTS", "RATES_CPU",
    "REASONS", "Cancelled", "Candidate", "Compare", "Trial", "compare_args", "compare_status", "default_candidates",
    "estimate_seconds", "markdown", "measure_run", "new_compare_dir", "parse_candidates", "read_leaderboard",
    "recommend", "recommendation", "render_reason", "run_compare", "start_compare", "stop_compare", "trials_of",
]
