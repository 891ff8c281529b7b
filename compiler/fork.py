"""Two halves of one job on two cores: one in this process, the other in a forked child.

`charter compile` of a large tree renders and writes about a thousand files, all of it Python
(the YAML writer, the hashing) that one interpreter runs on one core. Rendering is a pure
function of the IR, so two processes that each render some of the targets produce the very
bytes one process would. `both` runs the second half in a child forked from this process (it
inherits the IR, nothing is sent to it) and takes its result back through a pipe, pickled.

Only where it is safe and useful: Linux (fork without an exec is what macOS and Windows advise
against), a single thread in this process (a fork copies only the calling thread, and a lock
held by another one would stay locked in the child), at least two cores this process may run
on, and `CHARTER_JOBS` not set to 1. Otherwise the halves run one after the other, here.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

A = TypeVar("A")
B = TypeVar("B")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What one half returned, or the exception it raised (`value` is then None)."""

    value: T | None = None
    error: BaseException | None = None

    def get(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


def available() -> bool:
    """Whether `both` would run its halves at the same time."""
    if os.environ.get("CHARTER_JOBS", "").strip() == "1" or not sys.platform.startswith("linux"):
        return False
    if threading.active_count() != 1:
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return cores >= 2


def _run(half: Callable[[], T]) -> Outcome[T]:
    try:
        return Outcome(value=half())
    except Exception as exc:  # noqa: BLE001 - handed to the caller, which decides what to undo and raise
        return Outcome(error=exc)


class Pending(Generic[T]):
    """A half started by `start`: `join()` waits for it and gives its outcome (once)."""

    def __init__(self, half: Callable[[], T]) -> None:
        self._half: Callable[[], T] | None = None
        self._pid = 0
        self._read = -1
        self._outcome: Outcome[T] | None = None
        if not available():
            self._half = half  # run in `join`, here
            return
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            read, write = os.pipe()
        except OSError:  # out of file descriptors: here, in `join`
            self._half = half
            return
        try:
            pid = os.fork()
        except OSError:  # no process to be had (EAGAIN, ENOMEM): here, in `join`
            os.close(read)
            os.close(write)
            self._half = half
            return
        if pid == 0:  # the child: run the half, send its outcome, leave without cleanup handlers
            status = 0
            try:
                os.close(read)
                outcome = _run(half)
                try:
                    payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception as exc:  # noqa: BLE001 - what does not pickle comes back in words
                    error = outcome.error if outcome.error is not None else exc
                    payload = pickle.dumps(Outcome(error=RuntimeError(f"{type(error).__name__}: {error}")))
                with os.fdopen(write, "wb") as fh:
                    fh.write(payload)
            except BaseException:  # noqa: BLE001 - the parent sees the missing result
                status = 1
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._read = pid, read
        _PENDING.add(self)

    @property
    def forked(self) -> bool:
        """Whether a child runs the half (else `join` runs it here)."""
        return self._half is None and self._pid != 0

    def join(self) -> Outcome[T]:
        if self._outcome is not None:
            return self._outcome
        if self._half is not None:
            self._outcome = _run(self._half)
            return self._outcome
        with os.fdopen(self._read, "rb") as fh:
            payload = fh.read()
        os.waitpid(self._pid, 0)
        _PENDING.discard(self)
        try:
            there = pickle.loads(payload)
        except Exception:  # noqa: BLE001 - the child died before it could answer (killed, out of memory)
            there = None
        if not isinstance(there, Outcome):
            there = Outcome(error=RuntimeError("a worker process of this command ended without a result"))
        self._outcome = there
        return there

    def cancel(self) -> None:
        """Stop and reap the child when its result is no longer wanted (or the command ends first)."""
        if self._outcome is not None or self._half is not None:
            return
        try:
            os.kill(self._pid, signal.SIGTERM)
        except OSError:
            pass
        os.close(self._read)
        os.waitpid(self._pid, 0)
        _PENDING.discard(self)
        self._outcome = Outcome(error=RuntimeError("cancelled"))


_PENDING: set[Pending] = set()


@atexit.register
def _reap() -> None:  # a command that ended before it joined a half: no child outlives it
    for pending in list(_PENDING):
        pending.cancel()


def start(half: Callable[[], T]) -> Pending[T]:
    """Start `half` in a forked child when `available()` (else it runs in `join`)."""
    return Pending(half)


def both(first: Callable[[], A], second: Callable[[], B]) -> tuple[Outcome[A], Outcome[B]]:
    """Run `first` here and `second` in a forked child when `available()`; both outcomes.

    The child's result (or exception) must pickle. Neither half may print: the child's output
    would be lost. An exception is returned, not raised, so that the caller can undo what the
    other half did (files written aside) before raising it.
    """
    pending = start(second)
    if not pending.forked:  # in order, here
        return _run(first), pending.join()
    try:
        here = _run(first)
    finally:  # also on KeyboardInterrupt: the child is reaped, never left behind
        there = pending.join()
    return here, there


__all__ = ["Outcome", "Pending", "available", "both", "start"]
