"""A comparison as the UI handles it: start `engine compare` in a process of its own, read its status, stop it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from engine.compare.leaderboard import read_leaderboard
from engine.compare.run import new_compare_dir
from engine.events import PID_FILE, owner_alive, read_pid
from engine.fsutil import atomic_write_text
from engine.runner import start_engine, stop_process


def compare_args(dataset_dir: str | Path, candidates: list[str], out: str | Path, *,
                 budget_minutes: float | None = None, seed: int = 0, search: bool = False) -> list[str]:
    """The arguments of `engine compare ...` for a child process started by the UI (which indexes the runs itself)."""
    args = ["compare", "--data", str(dataset_dir), "--candidates", " ".join(candidates), "--out", str(out),
            "--seed", str(seed), "--no-index", "--quiet"]
    if budget_minutes:
        args += ["--budget-minutes", f"{budget_minutes:g}"]
    if search:
        args += ["--search", "lr,epochs"]
    return args


def start_compare(workspace_root: str | Path, dataset_dir: str | Path, candidates: list[str], *,
                  budget_minutes: float | None = None, seed: int = 0, search: bool = False
                  ) -> tuple[Path, subprocess.Popen]:
    """Start `engine compare` in a child process of its own group (the UI's Start); (compare folder, process)."""
    out = new_compare_dir(Path(workspace_root))
    args = compare_args(dataset_dir, candidates, out, budget_minutes=budget_minutes, seed=seed, search=search)
    proc = start_engine(*args, cwd=out, workspace_root=workspace_root)
    # The compare process writes its pid itself once started; this covers its imports before that.
    atomic_write_text(out / PID_FILE, f"{proc.pid}\n")
    return out, proc


def compare_status(compare_dir: str | Path) -> str:
    """'starting', 'running', 'done', 'cancelled', 'failed' or 'interrupted' (its process died)."""
    board = read_leaderboard(compare_dir)
    alive = owner_alive(compare_dir)
    if board is None:
        return "starting" if alive else "failed"
    if board.get("status") == "running" and not alive:
        return "interrupted"
    return str(board.get("status"))


def stop_compare(compare_dir: str | Path, proc: subprocess.Popen | None = None, grace_s: float = 20.0) -> bool:
    """Stop a comparison and the run it is training (SIGTERM to the group, SIGKILL after `grace_s`)."""
    pid = proc.pid if proc is not None else read_pid(compare_dir)

    def alive() -> bool:
        return proc.poll() is None if proc is not None else owner_alive(compare_dir)

    if pid is None or not alive():
        return False
    stop_process(proc or pid, group=True, grace_s=grace_s, alive=alive)
    return True
