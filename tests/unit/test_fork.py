"""`compiler.fork`: two halves on two cores give what they give one after the other, failures included."""

from __future__ import annotations

import errno
import os
import threading

import pytest

from compiler import fork


def _forking() -> None:
    assert fork.available(), f"fork not available here: threads {[t.name for t in threading.enumerate()]}"


def test_both_returns_each_half_and_the_child_ran_elsewhere() -> None:
    _forking()
    here, there = fork.both(os.getpid, os.getpid)
    assert here.get() == os.getpid()
    assert there.get() != os.getpid()


def test_an_exception_of_either_half_comes_back_as_raised() -> None:
    _forking()

    def full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "generated/x.yaml")

    here, there = fork.both(lambda: 1, full)
    assert here.get() == 1 and there.value is None
    with pytest.raises(OSError) as caught:
        there.get()
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == "generated/x.yaml"
    here, there = fork.both(full, lambda: 2)
    assert there.get() == 2 and isinstance(here.error, OSError)


def test_an_exception_that_does_not_pickle_keeps_its_words() -> None:
    _forking()

    class Local(Exception):  # a local class: pickle cannot name it
        pass

    def bad() -> None:
        raise Local("the reason")

    _, there = fork.both(lambda: None, bad)
    assert isinstance(there.error, RuntimeError) and "Local: the reason" in str(there.error)


def test_a_child_that_dies_is_an_error_not_a_hang() -> None:
    _forking()
    _, there = fork.both(lambda: None, lambda: os._exit(3))
    assert isinstance(there.error, RuntimeError) and "without a result" in str(there.error)


def test_jobs_1_runs_both_halves_here(monkeypatch) -> None:
    monkeypatch.setenv("CHARTER_JOBS", "1")
    assert not fork.available()
    here, there = fork.both(os.getpid, os.getpid)
    assert here.get() == there.get() == os.getpid()


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        assert not fork.available()
        assert fork.both(os.getpid, os.getpid)[1].get() == os.getpid()
    finally:
        stop.set()
        worker.join()


def test_a_started_half_is_joined_once_and_a_cancelled_one_is_reaped() -> None:
    _forking()
    pending = fork.start(lambda: sum(range(10)))
    assert pending.join().get() == 45 and pending.join().get() == 45
    slow = fork.start(lambda: threading.Event().wait(30))
    pid = slow._pid
    slow.cancel()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)  # reaped already
    assert slow not in fork._PENDING


def test_a_refused_fork_runs_the_half_here(monkeypatch) -> None:
    def refuse():
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refuse)
    here, there = fork.both(os.getpid, os.getpid)
    assert here.get() == there.get() == os.getpid()
