"""LocalRunner: trains in a child process group, stops it whole, refuses a busy project, survives a UI restart.

The child is tests/fake_trainer.py (same run-folder files and events as the engine, no torch), so
these tests take seconds; the browser test trains for real through the same runner.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from engine import runner as runner_mod
from engine.config import RunConfig
from engine.errors import UserError
from engine.events import EventWriter, read_events
from engine.runner import Capabilities, Dispatcher, LocalRunner, RunnerBusy, RunSnapshot, engine_command
from engine.workspace import Workspace

FAKE = Path(__file__).with_name("fake_trainer.py")


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setattr(runner_mod, "engine_command", lambda *args: [sys.executable, str(FAKE), *args])
    return Workspace(tmp_path / "ws")


def _cfg() -> RunConfig:
    return RunConfig(data="unused-by-the-fake-trainer")


def _wait(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie has ended; it only waits to be reaped
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _running(runner: LocalRunner, run_dir: Path) -> bool:
    return runner.snapshot(run_dir).status == "running" and (run_dir / "helper.pid").exists()


def test_engine_command_runs_the_module_from_source_and_the_subcommand_when_frozen(monkeypatch):
    assert engine_command("train", "RUN") == [sys.executable, "-m", "engine", "train", "RUN"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert engine_command("train", "RUN") == [sys.executable, "engine", "train", "RUN"]


def test_a_finished_run_reads_as_done_with_its_metrics(ws, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER", "done")
    runner = LocalRunner(ws)
    run_dir = runner.submit(_cfg(), project_id="p1")
    snap = _wait(lambda: (s := runner.snapshot(run_dir)).status == "done" and s)
    assert snap.start["model"] == "fake"
    assert snap.metrics[0]["values"]["accuracy"] == 0.9
    assert runner.active_run("p1") is None
    assert ws.list_runs("p1")[0]["status"] == "done"


def test_stop_ends_the_trainer_and_the_processes_it_started(ws):
    runner = LocalRunner(ws)
    run_dir = runner.submit(_cfg(), project_id="p1")
    _wait(lambda: _running(runner, run_dir))
    helper = int((run_dir / "helper.pid").read_text())
    trainer = int((run_dir / ".pid").read_text())
    assert runner.stop(run_dir, grace_s=10) is True
    _wait(lambda: not _alive(helper) and not _alive(trainer), timeout=10)
    assert runner.snapshot(run_dir).status == "cancelled"
    assert runner.active_run("p1") is None


def test_a_trainer_that_ignores_sigterm_is_killed_after_the_grace_period(ws, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER", "stubborn")
    runner = LocalRunner(ws)
    run_dir = runner.submit(_cfg(), project_id="p1")
    _wait(lambda: _running(runner, run_dir))
    trainer = int((run_dir / ".pid").read_text())
    started = time.monotonic()
    runner.stop(run_dir, grace_s=1.0)
    assert time.monotonic() - started < 8
    _wait(lambda: not _alive(trainer), timeout=5)
    events, _ = read_events(run_dir)
    assert events[-1]["type"] == "cancelled"  # written for it, so the run reads as stopped, not crashed
    assert runner.snapshot(run_dir).status == "cancelled"


def test_a_second_training_in_the_same_project_is_refused_but_another_project_may_train(ws):
    runner = LocalRunner(ws)
    first = runner.submit(_cfg(), project_id="p1")
    n_runs = len(list(ws.runs_dir.iterdir()))
    with pytest.raises(RunnerBusy, match="already going in this project"):
        runner.submit(_cfg(), project_id="p1")
    assert len(list(ws.runs_dir.iterdir())) == n_runs  # no half-made run folder left behind
    other = runner.submit(_cfg(), project_id="p2")
    assert {runner.active_run("p1"), runner.active_run("p2")} == {first, other}
    runner.shutdown(grace_s=5)
    assert runner.active_runs() == []


def test_a_restarted_ui_finds_the_run_still_training_and_can_stop_it(ws):
    before_restart = LocalRunner(ws)
    run_dir = before_restart.submit(_cfg(), project_id="p1")
    _wait(lambda: _running(before_restart, run_dir))
    after_restart = LocalRunner(ws)  # what a new UI process does on start
    assert after_restart.active_run("p1") == run_dir
    assert after_restart.snapshot(run_dir).status == "running"
    with pytest.raises(RunnerBusy):
        after_restart.submit(_cfg(), project_id="p1")
    assert after_restart.stop(run_dir, grace_s=10)
    trainer = before_restart._runs[run_dir].proc
    assert trainer.wait(timeout=10) is not None
    assert after_restart.snapshot(run_dir).status == "cancelled"


def test_a_trainer_that_dies_before_starting_reads_as_failed_with_where_to_look(ws, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER", "crash")
    runner = LocalRunner(ws)
    run_dir = runner.submit(_cfg(), project_id="p1")
    snap = _wait(lambda: (s := runner.snapshot(run_dir)).status == "failed" and s)
    assert "console.log" in snap.message and "exit code 1" in snap.message
    assert "boom" in (run_dir / "console.log").read_text()


def test_a_run_whose_trainer_was_killed_reads_as_interrupted_and_resumes(ws):
    runner = LocalRunner(ws)
    run_dir = runner.submit(_cfg(), project_id="p1")
    _wait(lambda: _running(runner, run_dir))
    os.killpg(runner._runs[run_dir].proc.pid, 9)
    _wait(lambda: runner.snapshot(run_dir).status == "interrupted")
    runner.start(run_dir, project_id="p1")
    _wait(lambda: sum(e["type"] == "start" for e in read_events(run_dir)[0]) == 2)
    assert runner.snapshot(run_dir).status == "running"
    runner.shutdown(grace_s=5)
    assert runner.snapshot(run_dir).status == "cancelled"


# --- the dispatcher: runners by target --------------------------------------------------------------

class Elsewhere:
    """A second place to train, as an extension adds one: it owns the run folders it marked."""

    def __init__(self, ws):
        self.ws = ws
        self.going: dict[Path, str | None] = {}
        self.released: list[Path] = []

    def capabilities(self):
        return Capabilities(targets=("far",), abilities=("tea",))

    def owns(self, run_dir):
        return (Path(run_dir) / "far.txt").exists()

    def submit(self, cfg, *, project_id=None, dataset_id=None, target="far"):
        run_dir = self.ws.new_run_dir(cfg.model)
        cfg.save(run_dir)
        self.start(run_dir, project_id=project_id)
        return run_dir

    def start(self, run_dir, *, project_id=None):
        (Path(run_dir) / "far.txt").write_text("mine")
        self.going[Path(run_dir).resolve()] = project_id

    def release(self, run_dir):
        self.released.append(Path(run_dir).resolve())
        (Path(run_dir) / "far.txt").unlink()

    def snapshot(self, run_dir):
        return RunSnapshot(Path(run_dir), status="running" if Path(run_dir).resolve() in self.going else "cancelled")

    def stop(self, run_dir, grace_s=10.0):
        return self.going.pop(Path(run_dir).resolve(), None) is not None

    def active_run(self, project_id):
        return next((d for d, p in self.going.items() if p == project_id), None)

    def active_runs(self):
        return list(self.going)

    def shutdown(self, grace_s=5.0):
        self.going.clear()


def test_the_dispatcher_sends_a_run_to_its_target_and_every_later_call_to_the_runner_that_owns_it(ws):
    local, far = LocalRunner(ws), Elsewhere(ws)
    runner = Dispatcher(local, far)
    assert runner.capabilities() == Capabilities(targets=("local", "far"), abilities=("tea",))
    assert runner.capabilities().serves("far") and not runner.capabilities().can("coffee")
    assert runner.with_ability("tea") is far and runner.with_ability("coffee") is None
    with pytest.raises(UserError, match="choices are local, far"):
        runner.submit(_cfg(), project_id="p1", target="moon")
    away = runner.submit(_cfg(), project_id="p1", target="far")
    assert runner.active_run("p1") == away.resolve() and runner.snapshot(away).status == "running"
    with pytest.raises(RunnerBusy):  # one run at a time per project, wherever it trains
        runner.submit(_cfg(), project_id="p1")
    assert local.active_runs() == []
    assert runner.stop(away) and runner.active_run("p1") is None
    # Resuming it here: the runner that had it lets it go, this computer trains it.
    runner.start(away, project_id="p1")
    assert far.released == [away.resolve()] and runner.owner(away) is local
    _wait(lambda: _running(local, away.resolve()))
    assert runner.active_runs() == [away.resolve()] and runner.snapshot(away).status == "running"
    runner.shutdown(grace_s=5)
    assert runner.snapshot(away).status == "cancelled"


def test_the_snapshot_keeps_the_final_code_and_reads_epochs_and_resumes_of_new_and_old_runs(ws, tmp_path):
    new, old = tmp_path / "new", tmp_path / "old"
    events = EventWriter(new)
    events.emit("start", model="m", mode="fine-tune", device="cpu")
    events.emit("resumed", epoch=2, elapsed_s=5.0)
    events.emit("epoch_end", epoch=3, epochs=6, elapsed_s=9.0)
    events.emit("log", level="info", message="lr lowered")
    events.emit("failed", message="Out of memory.", code="oom", params={"gb": 2})
    snap = LocalRunner(ws).snapshot(new)
    assert (snap.status, snap.message, snap.code, snap.params) == ("failed", "Out of memory.", "oom", {"gb": 2})
    assert (snap.resumed["epoch"], snap.epoch_end["epoch"], snap.epoch_end["epochs"]) == (2, 3, 6)
    assert snap.logs == ["lr lowered"]
    events = EventWriter(old)  # written before `resumed` and `epoch_end` were event types
    events.emit("start", model="m", mode="fine-tune", device="cpu")
    events.emit("log", level="info", message="resumed", elapsed_s=5.0)
    events.emit("log", level="info", message="epoch 4/6 done", elapsed_s=12.0)
    events.emit("cancelled", message="Training was stopped.")
    snap = LocalRunner(ws).snapshot(old)
    assert snap.status == "cancelled" and snap.code is None and snap.logs == ["epoch 4/6 done"]
    assert snap.resumed["elapsed_s"] == 5.0 and (snap.epoch_end["epoch"], snap.epoch_end["elapsed_s"]) == (4, 12.0)


def test_the_terminal_progress_shows_people_s_lines_but_not_epoch_ends_or_resumes(tmp_path):
    import io

    from engine.progress import ProgressPrinter

    out = io.StringIO()
    printer = ProgressPrinter(out)
    for event in ({"type": "resumed", "epoch": 2, "elapsed_s": 1.0}, {"type": "epoch_end", "epoch": 3, "epochs": 6},
                  {"type": "log", "message": "resumed"}, {"type": "log", "message": "epoch 3/6 done"},
                  {"type": "log", "message": "epoch 3 looks odd", "level": "warning"}):
        printer(event)
    assert out.getvalue() == "warning: epoch 3 looks odd\n"
