"""The fly panel's two worker objects, each living in its own ``QThread``.

A *poller* (driven by a QTimer in its thread) reads immutable state snapshots and emits them as
a signal; a *commander* runs the blocking link commands one at a time and emits every result,
success or failure. Widgets only ever see these signals, on the GUI thread.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PyQt5.QtCore import QObject, QTimer, pyqtSignal, pyqtSlot

from gui.flysession import FlySession, OnBoard
from gui.workers import describe_error

log = logging.getLogger(__name__)


class StatePoller(QObject):
    """Reads vehicle snapshots a few times a second in its own thread and emits them."""

    vehicles = pyqtSignal(object)  # list[VehicleView]
    failed = pyqtSignal(str)

    def __init__(self, session: FlySession, period_ms: int = 250):
        super().__init__()
        self._session = session
        self._period_ms = period_ms
        self._timer: QTimer | None = None

    @pyqtSlot()
    def start(self) -> None:
        self._timer = QTimer()  # created in the poller's thread, so it fires there
        self._timer.timeout.connect(self.poll)
        self._timer.start(self._period_ms)

    @pyqtSlot()
    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    @pyqtSlot()
    def poll(self) -> None:
        try:
            self.vehicles.emit(self._session.snapshot())
        except Exception as exc:  # report, keep polling (the link may recover)
            self.failed.emit(describe_error(exc))


class Commander(QObject):
    """Runs link commands one at a time in its own thread; every outcome is emitted.

    The commands themselves run in one long-lived Python thread (a single-worker executor):
    a QThread gets a fresh Python thread state for every queued call, so thread-local state
    (pyproj's context used by the safety guard, the geo module's transformer cache) would not
    survive from one command to the next.

    Waiting for "ready to arm" (``wait_ready``, up to a minute) runs in a pool of its own, one
    thread per waiting vehicle, so that it never holds up an RTL or another vehicle's commands;
    the firmware's PreArm messages are emitted as ``prearm`` while it waits.
    """

    result = pyqtSignal(int, str, int, bool, str)  # request id, command, sysid, ok, message
    prearm = pyqtSignal(int, str)  # sysid, the firmware's pre-arm message (as it changes)
    #: request id, sysid, the mission items a download found on board (before its ``result``)
    onboard = pyqtSignal(int, int, object)
    onboardFence = pyqtSignal(int, int, object)  # the geofence on board, None when not read

    def __init__(self, session: FlySession):
        super().__init__()
        self._session = session
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gui-commands")
        self._waits = ThreadPoolExecutor(max_workers=16, thread_name_prefix="gui-ready")

    def close(self) -> None:
        """End the command threads (after the QThread delivering the calls has ended).

        The session is closed first, which ends every ready wait at once.
        """
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._waits.shutdown(wait=True, cancel_futures=True)

    def _wait_ready(self, req_id: int, sysid: int, kwargs: dict[str, Any]) -> None:
        """Runs in the ready pool; every outcome is emitted (queued to the GUI thread)."""
        try:
            message = self._session.run(
                "wait_ready", sysid, on_message=lambda t: self.prearm.emit(sysid, t), **kwargs
            )
        except Exception as exc:  # every failure reaches the pilot
            self.result.emit(req_id, "wait_ready", sysid, False, describe_error(exc))
            return
        self.result.emit(req_id, "wait_ready", sysid, True, message)

    @pyqtSlot(int, str, int, object)
    def execute(self, req_id: int, name: str, sysid: int, kwargs: Any) -> None:
        if name == "wait_ready":
            self._waits.submit(self._wait_ready, req_id, sysid, dict(kwargs or {}))
            return
        try:
            fut = self._pool.submit(self._session.run, name, sysid, **(kwargs or {}))
            message = fut.result()
        except Exception as exc:  # every failure reaches the pilot
            log.debug("command %s failed", name, exc_info=True)
            self.result.emit(req_id, name, sysid, False, describe_error(exc))
            return
        if isinstance(message, OnBoard):
            self.onboardFence.emit(req_id, sysid, message.fence)  # before the mission
            self.onboard.emit(req_id, sysid, message.items)
        self.result.emit(req_id, name, sysid, True, str(message))
