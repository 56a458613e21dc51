"""Workers: long calls run off the GUI thread and report back through Qt signals only.

:func:`run_in_thread` runs one callable (planning, validation, export, a DB query) in its own
``QThread``; the result or the error message comes back as a signal, queued onto the GUI thread.
No worker ever touches a widget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PyQt5 import sip
from PyQt5.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from dronekit_plzen.errors import DronekitPlzenError
from dronekit_plzen.i18n import _

log = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> str:
    """One line naming the problem, as the CLI prints it (no traceback)."""
    if isinstance(exc, DronekitPlzenError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class CallWorker(QObject):
    """Runs ``fn()`` once in the thread it was moved to; emits ``done`` or ``failed``."""

    done = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(self, fn: Callable[[], Any]):
        super().__init__()
        self._fn = fn

    @pyqtSlot()
    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # a worker boundary: report every failure to the user
            log.debug("worker failed", exc_info=True)
            self.failed.emit(describe_error(exc))
            return
        self.done.emit(result)


class _Relay(QObject):
    """Lives in the GUI thread, so signals reaching its slots are queued onto that thread."""

    def __init__(self, on_done: Callable[[Any], None], on_failed: Callable[[str], None]):
        super().__init__()
        self._on_done = on_done
        self._on_failed = on_failed
        self.on_finished: Callable[[], None] = lambda: None

    @pyqtSlot()
    def finished(self) -> None:
        self.on_finished()

    @pyqtSlot(object)
    def done(self, result: Any) -> None:
        self._on_done(result)

    @pyqtSlot(str)
    def failed(self, message: str) -> None:
        self._on_failed(message)


class ThreadRunner(QObject):
    """Owns the threads of one widget's background calls and ends them cleanly."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._running: list[tuple[QThread, CallWorker, _Relay]] = []

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_failed: Callable[[str], None],
    ) -> QThread:
        thread = QThread()
        worker = CallWorker(fn)
        worker.moveToThread(thread)
        relay = _Relay(on_done, on_failed)  # created here, in the GUI thread
        thread.started.connect(worker.run)
        worker.done.connect(relay.done)
        worker.failed.connect(relay.failed)
        worker.done.connect(thread.quit)
        worker.failed.connect(thread.quit)
        entry = (thread, worker, relay)
        self._running.append(entry)
        relay.on_finished = lambda: self._forget(entry)
        thread.finished.connect(relay.finished)
        thread.start()
        return thread

    def _forget(self, entry: tuple[QThread, CallWorker, _Relay]) -> None:
        if entry in self._running:
            self._running.remove(entry)
            thread, _worker, relay = entry
            # ``finished`` is emitted from the thread before it has ended: the entry, held only
            # by the relay's closure once out of the list, could be collected by Python's GC
            # while the thread still ran, and Qt aborts the process then ("QThread: Destroyed
            # while thread is still running", SIGABRT: a CI worker died in test_czech_labels)
            thread.quit()  # (already asked: ``finished`` is its answer)
            thread.wait()
            relay.on_finished = lambda: None  # no cycle through the closure
            for obj in entry:
                sip.transferto(obj, None)  # type: ignore[arg-type]  # Qt deletes them, not GC
                obj.deleteLater()

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Wait for running calls (they cannot be interrupted safely) before the window closes."""
        for thread, _worker, _relay in list(self._running):
            thread.quit()
            if not thread.wait(timeout_ms):
                log.warning(_("a background task did not finish in time"))
