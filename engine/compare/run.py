"""Running a comparison: each trial an ordinary run folder under `<compare>/runs/`, trained by the engine in a
child process the runner starts, the leaderboard rewritten after every change."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import stopping
from engine.compare.candidates import Candidate
from engine.compare.leaderboard import FORMAT, LEADERBOARD_FILE, LEADERBOARD_MD, markdown, recommendation
from engine.compare.plan import RATES_SOURCE, START_S, Trial, estimate_seconds, guess_device, trials_of
from engine.config import RunConfig
from engine.errors import UserError
from engine.events import PID_FILE, EventWriter
from engine.fsutil import atomic_write_json, atomic_write_text, read_json

LATENCY_REPEATS = 20


class Cancelled(BaseException):
    """Compare was asked to stop (Ctrl+C, or SIGTERM from the UI's Stop); no `except Exception` swallows it."""


@dataclass
class Compare:
    """One comparison in a compare folder: its plan, its rows, and the child process training now."""

    out: Path
    dataset_dir: Path
    manifest: dict[str, Any]
    candidates: list[Candidate]
    budget_minutes: float | None = None
    seed: int = 0
    device: str = "auto"
    register: bool = True
    echo: Any = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    board: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    _child: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.events = EventWriter(self.out)
        items = self.manifest["items"]
        self.counts = {f"n_{s}": sum(1 for it in items if it["split"] == s) for s in ("train", "val", "test")}
        self.where = self._where()
        from engine.tasks import get_task

        self.task = get_task(self.manifest.get("task"))

    def _where(self) -> str:
        # The trainer decides for real; the estimate only needs a guess without importing torch.
        return self.device if self.device != "auto" else guess_device()

    # --- bookkeeping ----------------------------------------------------------------------
    def remaining_s(self) -> float | None:
        if self.budget_minutes is None:
            return None
        return self.budget_minutes * 60 - (time.monotonic() - self.started)

    def save(self, status: str = "running") -> None:
        rec = recommendation(self.rows)
        self.board.update(status=status, updated=_now(), elapsed_s=round(time.monotonic() - self.started, 1),
                          rows=self.rows, recommendation=rec if rec["row"] else None,
                          note=None if rec["row"] else rec["reason"])
        atomic_write_json(self.out / LEADERBOARD_FILE, self.board)
        atomic_write_text(self.out / LEADERBOARD_MD, markdown(self.board))

    def say(self, message: str) -> None:
        self.events.emit("log", level="info", message=message)
        if self.echo is not None:
            self.echo(message)

    # --- the loop -------------------------------------------------------------------------
    def run(self) -> int:
        plan = [(c, t) for c in self.candidates for t in trials_of(c, self.seed)]
        self.board = {"format": FORMAT, "created": _now(), "budget_minutes": self.budget_minutes, "seed": self.seed,
                      "device": self.where, "candidates": [c.label for c in self.candidates],
                      "data": {"dataset_dir": str(self.dataset_dir), "id": self.manifest["id"],
                               "fingerprint": self.manifest["fingerprint"], "classes": self.manifest["classes"],
                               **self.counts},
                      "latency_how": (f"batch 1 at the model's input size, PyTorch eager (the engine's own "
                                      f"prediction path for a few images), CPU, median of {LATENCY_REPEATS} calls "
                                      f"after 3 warm-up calls; network only, preprocessing excluded"),
                      "estimates_from": RATES_SOURCE}
        for cand, trial in plan:
            self.rows.append(self._row(cand, trial, len([t for c, t in plan if c is cand])))
        self.events.emit("start", candidates=[c.label for c in self.candidates], trials=len(plan),
                         budget_minutes=self.budget_minutes, data=self.board["data"])
        self.save()
        status, code = "done", 0
        try:
            for i, ((_, trial), row) in enumerate(zip(plan, self.rows, strict=True)):
                self.events.emit("progress", phase="compare", step=i, total=len(plan), candidate=row["group"],
                                 trial=row["trial"], eta_s=None)
                self._run_trial(trial, row)
                self._mark_best(row["group"])
                self.save()
                self.events.emit("row", row=row)
            self.events.emit("progress", phase="compare", step=len(plan), total=len(plan), eta_s=0)
        except BaseException as e:
            if not (stopping.requested() or stopping.is_stop(e, (Cancelled, KeyboardInterrupt))):
                raise
            stopping.settle()  # a second Stop must not cut the clean-up short
            status, code = "cancelled", 130
            self._stop_child()
            for row in self.rows:
                if row["status"] in ("pending", "running"):
                    row["status"] = "cancelled"
                    row["message_code"] = "stopped" if row["run_dirs"] else "not_run"
                    row["message"] = ("stopped before it finished" if row["run_dirs"]
                                      else "not run: the comparison was stopped")
        stopping.settle()
        self.save(status)
        rec = self.board.get("recommendation")
        if status == "done":
            self.events.emit("done", recommendation=rec)
        else:
            self.events.emit("cancelled", message="The comparison was stopped; the leaderboard holds what finished.")
        return code

    def _row(self, cand: Candidate, trial: Trial, trials: int) -> dict[str, Any]:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{cand.model}-{cand.mode}")[:48]
        idx = len(self.rows) + 1
        return {"id": f"{idx:02d}-{slug}" + (f"-t{trial.index}" if trials > 1 else ""), "group": cand.label,
                "model": cand.model, "mode": cand.mode, "settings": dict(trial.settings), "trial": trial.index,
                "trials": trials, "best_trial": trials == 1, "seeds": list(trial.seeds), "status": "pending",
                "message": None, "run_dirs": [], "estimate_s": None, "accuracy": None, "macro_f1": None,
                "val_macro_f1": None, "n_eval": None, "n_eval_min_class": None, "eval_split": None, "spread": None,
                "cv": None, "pretrained": None, "train_seconds": None,
                "wall_seconds": None, "latency_ms": None, "params": None, "size_bytes": None,
                "note": ("no search: a linear probe picks its regularisation by cross-validation itself"
                         if cand.search and cand.mode == "linear-probe" else None)}

    def _run_trial(self, trial: Trial, row: dict[str, Any]) -> None:
        est = estimate_seconds(trial.candidate.model, trial.candidate.mode, self.counts,
                               epochs=trial.settings.get("epochs"), image_size=trial.settings.get("image_size"),
                               device=self.where)
        row["estimate_s"] = round(est, 1)
        results: list[dict[str, Any]] = []
        t0 = time.monotonic()
        for n, seed in enumerate(trial.seeds):
            left = self.remaining_s()
            if left is not None and est > left:
                need, have = _minutes(est), _minutes(max(0.0, left))
                why = f"skipped: needs about {need} by the estimate, {have} of the budget left"
                if not results:
                    row.update(status="skipped", message=why, message_code="skipped_budget",
                               message_params={"need_s": round(est), "left_s": round(max(0.0, left))})
                    self.say(f"{row['group']}: {why}.")
                    return
                row["message"] = f"{len(results)} of {len(trial.seeds)} seeds ({why})"
                break
            row["status"] = "running"
            self.save()
            self.say(f"{row['group']}" + (f" trial {row['trial']}/{row['trials']}" if row["trials"] > 1 else "")
                     + (f" seed {seed}" if len(trial.seeds) > 1 else "") + f": training (about {_minutes(est)}) ...")
            # The compare folder's name keeps run ids unique in the workspace index.
            run_dir = self.out / "runs" / (f"{self.out.name}-{row['id']}" + (f"-s{seed}" if len(trial.seeds) > 1 else ""))
            row["run_dirs"].append(str(run_dir.relative_to(self.out)))
            outcome = self._train(trial, seed, run_dir, left)
            if outcome.get("error"):
                if not results:
                    row.update(status="failed", message=outcome["error"])
                    self.say(f"{row['group']}: failed: {outcome['error']}")
                    return
                row["message"] = f"seed {seed} failed: {outcome['error']}"
                break
            results.append(outcome)
            if n == 0:
                row.update(self._measure(run_dir))
        row["wall_seconds"] = round(time.monotonic() - t0, 1)
        self._fill(row, results)
        if row["accuracy"] is not None:
            self.say(f"{row['group']}: accuracy {row['accuracy']:.3f}, macro-F1 {row['macro_f1']:.3f} "
                     f"in {row['train_seconds']:.0f} s.")

    def _train(self, trial: Trial, seed: int, run_dir: Path, left: float | None) -> dict[str, Any]:
        """Train one run in a child process; its metrics, or {'error': sentence}."""
        from engine.runner import start_engine
        from engine.workspace import default_root

        raw: dict[str, Any] = {"task": self.task.name, "data": str(self.dataset_dir), "model": trial.candidate.model,
                               "mode": trial.candidate.mode, "seed": seed, "device": self.device, **trial.settings}
        if left is not None:
            # The trainer checks its budget after each epoch; leave room for its start and final evaluation.
            raw["budget_minutes"] = round(max(0.1, (left - START_S) / 60), 2)
        try:
            cfg = RunConfig.from_dict(raw, source=f"candidate {trial.candidate.label}")
        except UserError as e:  # e.g. image_size=8: this candidate's row says so, the others still run
            return {"error": str(e)}
        run_dir.mkdir(parents=True, exist_ok=False)
        cfg.save(run_dir)
        if self.register:
            from engine.workspace import Workspace

            Workspace().register_run(run_dir, dataset_id=self.manifest["id"], model=cfg.model, mode=cfg.mode)
        # Same process group as this one: Ctrl+C and the UI's Stop reach the trainer too.
        self._child = start_engine("train", str(run_dir), "--quiet", cwd=run_dir, workspace_root=default_root(),
                                   own_group=False)
        deadline = None if left is None else time.monotonic() + left + max(60.0, 0.25 * left)
        try:
            while self._child.poll() is None:
                if deadline is not None and time.monotonic() > deadline:
                    self._stop_child()
                    return {"error": "stopped: it ran past the time budget"}
                time.sleep(0.2)
        finally:
            code = self._child.returncode
            if code is not None:
                self._child = None
        if self.register:
            _refresh(run_dir)
        metrics_file = run_dir / "metrics.json"
        if code != 0 or not metrics_file.exists():
            return {"error": _failure(run_dir, code)}
        return read_json(metrics_file)

    def _stop_child(self) -> None:
        from engine.runner import stop_process

        child, self._child = self._child, None
        if child is None or child.poll() is not None:
            return
        try:
            child.wait(timeout=3)  # a group-wide signal reached it too: let it write its own 'cancelled'
            return
        except subprocess.TimeoutExpired:
            pass
        stop_process(child, group=False)  # it shares our group: signal it alone

    def _measure(self, run_dir: Path) -> dict[str, Any]:
        """Latency, parameters and fp32 weight bytes of a finished run's best checkpoint."""
        try:
            return measure_run(run_dir)
        except Exception as e:  # a number missing from the table is no reason to lose the row
            return {"latency_ms": None, "latency_error": f"{type(e).__name__}: {e}"}

    def _fill(self, row: dict[str, Any], results: list[dict[str, Any]]) -> None:
        import statistics

        split = next((s for s in ("test", "val") if all(s in m for m in results)), None)
        row["status"] = "done"
        row["eval_split"] = split
        # The row's "accuracy" and "macro_f1" hold the task's two ranking scores (score_names says which).
        task = getattr(self, "task", None)
        first, second = task.ui.ranking if task is not None else ("accuracy", "macro_f1")
        row["score_names"] = [first, second]
        if split:
            accs = [m[split][first] for m in results]
            f1s = [m[split][second] for m in results]
            supports = [c["support"] for c in (results[0][split].get("per_class") or {}).values() if "support" in c]
            row.update(accuracy=statistics.fmean(accs), macro_f1=statistics.fmean(f1s), n_eval=results[0][split]["n"],
                       n_eval_min_class=min(supports) if supports else None)
            if len(results) > 1:
                row["spread"] = {"accuracy": [statistics.fmean(accs), statistics.stdev(accs)],
                                 "macro_f1": [statistics.fmean(f1s), statistics.stdev(f1s)], "kind": "seeds",
                                 "n": row["n_eval"],
                                 "what": f"{split} over {len(results)} training seeds on the same split"}
        vals = [m["val"][second] for m in results if "val" in m]
        row["val_macro_f1"] = statistics.fmean(vals) if vals else None
        cv = results[0].get("cv") or {}
        if "accuracy" in cv:
            n_cv = sum(s["n"] for s in cv.get("scores") or [] if s.get("repeat") == 0) or None
            # Only a linear probe's CV measures the model itself; a fine-tune's is of its frozen starting point.
            row["cv"] = {"accuracy": [cv["accuracy"]["mean"], cv["accuracy"]["std"]],
                         "macro_f1": [cv["macro_f1"]["mean"], cv["macro_f1"]["std"]], "n": n_cv,
                         "folds": cv["folds"], "repeats": cv["repeats"],
                         "itself": results[0].get("mode", row["mode"]) == "linear-probe"}
            if row["spread"] is None:
                row["spread"] = {**{k: row["cv"][k] for k in ("accuracy", "macro_f1", "n")}, "kind": "cv",
                                 "what": f"{cv['folds']}-fold × {cv['repeats']} cross-validation of a "
                                         f"{cv.get('what') or 'linear head'}"}
        row["pretrained"] = results[0].get("pretrained")
        row["train_seconds"] = statistics.fmean(float(m.get("train_seconds") or 0) for m in results)
        row["mode_used"] = results[0].get("mode")
        row["stopped"] = results[0].get("stopped")
        if results[0].get("params") and not row.get("params"):
            row["params"] = results[0]["params"]

    def _mark_best(self, group: str) -> None:
        """In a searched candidate, the best trial by validation macro-F1 (never by test), else by CV."""
        trials = [r for r in self.rows if r["group"] == group]
        if len(trials) < 2:
            return
        done = [r for r in trials if r["status"] == "done"]
        for r in trials:
            r["best_trial"] = False
        if not done:
            return

        def key(r):
            cv = (r.get("spread") or {}).get("macro_f1") or [0.0]
            return (r["val_macro_f1"] if r["val_macro_f1"] is not None else cv[0], -(r["train_seconds"] or 0))

        max(done, key=key)["best_trial"] = True


def measure_run(run_dir: str | Path, repeats: int = LATENCY_REPEATS) -> dict[str, Any]:
    """Batch-1 CPU latency (PyTorch eager, median), parameter count and fp32 weight bytes of a finished run."""
    import torch

    from engine.checkpoint import load_run_model
    from engine.config import task_of_run
    from engine.export.parity import latency_ms

    if task_of_run(run_dir).hook("train") is not None:  # a detector: its graph, as predict and the export run it
        from engine.tasks.object_detection.detector import load_run_detector

        detector = load_run_detector(run_dir, device="cpu")
        model, size = detector.graph, detector.image_size
    else:
        model, ckpt = load_run_model(run_dir)
        size = int(ckpt["preprocess"]["input_size"])
    params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(t.numel() * 4 for t in model.state_dict().values() if t.is_floating_point())
    model = model.to(memory_format=torch.channels_last)
    x = torch.rand(1, 3, size, size).contiguous(memory_format=torch.channels_last)

    def once():
        with torch.inference_mode():
            model(x)

    return {"latency_ms": latency_ms(once, repeats=repeats, warmup=3), "params": int(params),
            "size_bytes": int(weight_bytes), "input_size": size}


def _failure(run_dir: Path, code: int | None) -> str:
    from engine.events import read_events

    events, _ = read_events(run_dir)
    last = next((e for e in reversed(events) if e["type"] in ("failed", "cancelled")), None)
    if last is not None and last.get("message"):
        return str(last["message"])
    return f"the training process ended with exit code {code}; see {run_dir / 'console.log'}"


def _refresh(run_dir: Path) -> None:
    try:
        from engine.workspace import Workspace

        Workspace().refresh_run(run_dir.name)
    except Exception:  # the index is a convenience; never fail a comparison over it
        pass


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_compare_dir(root: Path) -> Path:
    """A fresh folder under <workspace>/compare/."""
    import secrets

    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / "compare" / f"{stamp}-{secrets.token_hex(2)}"
    path.mkdir(parents=True)
    return path


def run_compare(dataset_dir: str | Path, manifest: dict[str, Any], candidates: list[Candidate], out: str | Path, *,
                budget_minutes: float | None = None, seed: int = 0, device: str = "auto", register: bool = True,
                echo=None) -> tuple[int, dict[str, Any]]:
    """Train every candidate into `out` (a new or empty folder); (exit code, leaderboard)."""
    out = Path(out)
    if (out / LEADERBOARD_FILE).exists() or (out / "runs").exists() or (out / "config.yaml").exists():
        raise UserError(f"{out} already holds a comparison or a run; choose a new --out folder.")
    out.mkdir(parents=True, exist_ok=True)
    cmp = Compare(out.resolve(), Path(dataset_dir), manifest, candidates, budget_minutes, seed, device, register, echo)

    with stopping.on_sigterm(lambda signum: Cancelled(f"signal {signum}")):
        (out / PID_FILE).write_text(f"{os.getpid()}\n")
        try:
            code = cmp.run()
        except Exception as e:
            stopping.settle()
            cmp.events.emit("failed", message=f"The comparison stopped because of an internal error "
                                              f"({type(e).__name__}: {e}).")
            if cmp.board:
                cmp.save("failed")
            raise
        finally:
            (out / PID_FILE).unlink(missing_ok=True)
    return code, cmp.board

