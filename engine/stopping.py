"""Stopping a run or a comparison on SIGTERM without tearing what it is writing.

The UI's Stop sends SIGTERM to a whole process group. The handler installed by `on_sigterm` raises
the caller's exception at once, except inside `held()` (a file or an event being written): there
the signal waits until the block ends, so a checkpoint save is never cut in half and its own
error cannot hide the stop. After `settle()` (the outcome is known and being written) SIGTERM is
ignored. `is_stop(e)` also finds a stop in an exception's chain, and `requested()` says whether one came at all.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_depth = 0
_requested = False
_pending: int | None = None
_raise: Callable[[int], BaseException] | None = None


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def on_sigterm(make_exception: Callable[[int], BaseException]) -> Iterator[None]:
    """While inside, SIGTERM raises `make_exception(signum)` (deferred inside `held()`); main thread only."""
    global _raise, _pending, _requested
    if not _main_thread():
        yield
        return

    def handler(signum, _frame):
        global _pending, _requested
        _requested = True
        if _raise is None:  # settled: the outcome is being written, let it finish
            return
        if _depth:
            _pending = signum
            return
        raise _raise(signum)

    previous_raise, _raise, _pending, _requested = _raise, make_exception, None, False
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _raise, _pending = previous_raise, None


def requested() -> bool:
    """Whether SIGTERM came since `on_sigterm` began. The Stop reaches a whole process group, so a helper
    process (a data-loader worker) may die of it first and its parent fail with another error: still a stop."""
    return _requested


def settle() -> None:
    """From now on SIGTERM is ignored (until `on_sigterm` ends): the outcome is known and being written."""
    global _raise, _pending
    if _main_thread():
        _raise, _pending = None, None


@contextmanager
def held() -> Iterator[None]:
    """A block SIGTERM does not interrupt; a stop asked for meanwhile is raised when it ends."""
    global _depth, _pending
    if not _main_thread():
        yield
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth and _pending is not None and _raise is not None:
            signum, _pending = _pending, None
            raise _raise(signum)


def is_stop(e: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether `e`, or an exception it was raised while handling, is one of `kinds`."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, kinds):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False
