"""The background-call runner of the GUI's panels (real QThreads, offscreen)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time
from typing import Any


def test_the_runner_lets_go_of_a_thread_only_once_it_has_ended(qtbot: Any) -> None:
    """``finished`` comes from the thread before it has ended; the runner then dropped its
    last reference, and Python's GC could delete the QThread while it still ran: Qt aborts the
    process ("QThread: Destroyed while thread is still running": a CI worker died with
    SIGABRT in test_czech_labels). Letting go now waits for the thread's end."""
    from gui.workers import ThreadRunner

    runner = ThreadRunner()
    got: list[Any] = []
    thread = runner.run(lambda: time.sleep(0.3) or 42, got.append, got.append)
    entry = runner._running[0]
    assert thread.isRunning()
    runner._forget(entry)  # as if ``finished`` had been handled while the thread still ran
    assert thread.isFinished() and not thread.isRunning() and not runner.busy
    qtbot.waitUntil(lambda: got == [42], timeout=5_000)
    for _ in range(50):  # the many quick calls of a panel, each let go as it ends
        runner.run(lambda: 1, got.append, got.append)
    qtbot.waitUntil(lambda: not runner.busy and len(got) == 51, timeout=10_000)
    runner.shutdown()
