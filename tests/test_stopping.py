"""SIGTERM (the UI's Stop) never tears a file or hides behind the error of the write it cut."""

from __future__ import annotations

import os
import signal

import pytest

from engine import stopping
from engine.events import EventWriter, read_events
from engine.fsutil import atomic_write


class Stop(BaseException):
    pass


def _term_self():
    os.kill(os.getpid(), signal.SIGTERM)


def test_a_stop_inside_a_write_waits_for_the_whole_file(tmp_path):
    target = tmp_path / "ckpt.bin"
    reached_end = []

    def write(f):
        f.write(b"a" * 1000)
        _term_self()  # the stop lands in the middle of the write
        f.write(b"b" * 1000)
        reached_end.append(True)

    with stopping.on_sigterm(lambda signum: Stop(signum)), pytest.raises(Stop):
        atomic_write(target, write)
    assert reached_end and target.read_bytes() == b"a" * 1000 + b"b" * 1000
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_stop_outside_a_write_is_at_once_and_the_handler_is_restored(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Stop), stopping.on_sigterm(lambda signum: Stop(signum)):
        _term_self()
        raise AssertionError("not reached")
    assert signal.getsignal(signal.SIGTERM) is before


def test_after_settle_a_stop_is_ignored_so_the_outcome_is_written(tmp_path):
    events = EventWriter(tmp_path)
    with stopping.on_sigterm(lambda signum: Stop(signum)):
        stopping.settle()
        _term_self()
        events.emit("done")
    assert [e["type"] for e in read_events(tmp_path)[0]] == ["done"]


def test_a_stop_is_found_behind_the_error_it_caused():
    try:
        try:
            raise Stop()
        except Stop:
            raise RuntimeError("unexpected pos 21403776 vs 21403668")  # noqa: B904 - implicit, as torch.save does
    except RuntimeError as e:
        assert stopping.is_stop(e, (Stop,))
    assert not stopping.is_stop(RuntimeError("plain"), (Stop,))


def test_training_cut_inside_a_save_reports_cancelled_not_an_internal_error(tmp_path, monkeypatch):
    from engine.training import orchestration as train  # where the run and its _train live

    def cut(run_dir, events, log):
        try:
            raise train.Cancelled("signal 15")
        except train.Cancelled:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos")  # noqa: B904

    monkeypatch.setattr(train, "_train", cut)
    (tmp_path / "run").mkdir()
    assert train.run(tmp_path / "run") == 130
    assert read_events(tmp_path / "run")[0][-1]["type"] == "cancelled"


def test_a_failure_after_a_stop_counts_as_the_stop(tmp_path, monkeypatch):
    """A data-loader worker killed by the group-wide SIGTERM can make its parent fail first."""
    from engine.training import orchestration as train  # where the run and its _train live

    def worker_died(run_dir, events, log):
        _term_self()
        stopping.settle()  # stands in for the moment the worker's death is noticed before the parent's own signal
        raise RuntimeError("DataLoader worker (pid 4242) is killed by signal: Terminated.")

    monkeypatch.setattr(train, "_train", worker_died)
    (tmp_path / "run").mkdir()
    assert train.run(tmp_path / "run") == 130
    assert read_events(tmp_path / "run")[0][-1]["type"] == "cancelled"
