"""The fly panel: connect, watch the fleet, upload+verify, and command the vehicles.

Threads: the link layer has its own I/O thread. Here a *poller* (a QObject in its own QThread,
driven by a QTimer in that thread) reads immutable state snapshots and emits them as a signal;
a *commander* (another QObject in another QThread) runs the blocking commands one at a time and
emits every result, success or failure. Widgets only ever see signals, on the GUI thread.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Any

from PyQt5.QtCore import QMetaObject, QObject, Qt, QThread, QTimer, pyqtSignal, pyqtSlot
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.i18n import _
from gui.flysession import FlySession
from gui.models import VehicleView
from gui.qtutil import must
from gui.workers import describe_error

log = logging.getLogger(__name__)

DEFAULT_URL = "udpin://127.0.0.1:14540"
LOW_BATTERY_PCT = 30.0
#: MAV_SEVERITY names as a ground station shows them
SEVERITY_NAMES = {
    0: "EMERGENCY",
    1: "ALERT",
    2: "CRITICAL",
    3: "ERROR",
    4: "WARNING",
    5: "NOTICE",
    6: "INFO",
    7: "DEBUG",
}
KNOWN_URLS = (DEFAULT_URL, "udpin://127.0.0.1:14550", "tcp://127.0.0.1:5760")


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
    """Runs link commands one at a time in its own thread; every outcome is emitted."""

    result = pyqtSignal(int, str, int, bool, str)  # request id, command, sysid, ok, message

    def __init__(self, session: FlySession):
        super().__init__()
        self._session = session

    @pyqtSlot(int, str, int, object)
    def execute(self, req_id: int, name: str, sysid: int, kwargs: Any) -> None:
        try:
            message = self._session.run(name, sysid, **(kwargs or {}))
        except Exception as exc:  # every failure reaches the pilot
            log.debug("command %s failed", name, exc_info=True)
            self.result.emit(req_id, name, sysid, False, describe_error(exc))
            return
        self.result.emit(req_id, name, sysid, True, message)


class FlyPanel(QWidget):
    """Connection, fleet table, mission upload and vehicle commands."""

    statusMessage = pyqtSignal(str)
    vehiclesUpdated = pyqtSignal(object)  # list[VehicleView]
    commandFinished = pyqtSignal(str, int, bool, str)  # command, sysid, ok, message
    _execute = pyqtSignal(int, str, int, object)

    COMMANDS = ("arm", "takeoff", "start", "pause", "rtl", "land")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: FlySession | None = None
        self._poller: StatePoller | None = None
        self._commander: Commander | None = None
        self._threads: list[QThread] = []
        self._ids = itertools.count(1)
        self._pending: set[int] = set()
        self.vehicles: dict[int, VehicleView] = {}
        self.wait_s = 15.0  # how long to wait for a first heartbeat when connecting
        self.record_db: Path | None = None  # record flights here while connected
        self.deployment_id: int | None = None  # attribute recorded flights to it
        self.missions: list[Any] = []  # from the planner: drone i → i-th vehicle
        self._statustext_seen: dict[int, float] = {}
        self._build()

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.url = QComboBox()
        self.url.setEditable(True)
        for url in KNOWN_URLS:
            self.url.addItem(url)
        self.url.setCurrentText(DEFAULT_URL)
        self.url.setToolTip(
            _(
                "udpin://…:14540 — one PX4 vehicle's API link; udpin://…:14550 — every "
                "vehicle's ground-station link (a fleet); tcp://…:5760 — ArduPilot SITL"
            )
        )
        self.connect_button = QPushButton(_("Connect"))
        self.connect_button.clicked.connect(self.toggle_connection)
        row.addWidget(QLabel(_("Link")))
        row.addWidget(self.url, 1)
        row.addWidget(self.connect_button)
        lay.addLayout(row)

        self.table = QTableWidget(0, 7)
        self.table.setHorizontalHeaderLabels(
            [_("Vehicle"), _("Mode"), _("Armed"), _("Battery"), _("GPS"), _("Link"), _("Mission")]
        )
        must(self.table.verticalHeader()).setVisible(False)
        must(self.table.horizontalHeader()).setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.setSelectionMode(QTableWidget.SingleSelection)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        lay.addWidget(self.table, 2)

        grid = QGridLayout()
        self.upload_button = QPushButton(_("Upload + verify"))
        self.upload_button.clicked.connect(self.upload_selected)
        grid.addWidget(self.upload_button, 0, 0, 1, 2)
        self.takeoff_alt = QDoubleSpinBox()
        self.takeoff_alt.setRange(2.0, 120.0)
        self.takeoff_alt.setValue(20.0)
        self.takeoff_alt.setSuffix(" m")
        grid.addWidget(QLabel(_("Takeoff altitude")), 0, 2)
        grid.addWidget(self.takeoff_alt, 0, 3)
        labels = {
            "arm": _("Arm"),
            "takeoff": _("Take off"),
            "start": _("Start mission"),
            "pause": _("Pause"),
            "rtl": _("Return to launch"),
            "land": _("Land"),
        }
        self.buttons: dict[str, QPushButton] = {}
        for i, name in enumerate(self.COMMANDS):
            b = QPushButton(labels[name])
            b.clicked.connect(lambda _checked=False, n=name: self.command_selected(n))
            self.buttons[name] = b
            grid.addWidget(b, 1 + i // 3, i % 3)
        fleet = {
            "upload_all": _("Upload all"),
            "start_all": _("Arm and start all"),
            "rtl_all": _("RTL all"),
        }
        for i, (name, label) in enumerate(fleet.items()):
            b = QPushButton(label)
            b.setToolTip(_("Drone i of the plan goes to the i-th vehicle by system id"))
            b.clicked.connect(lambda _checked=False, n=name: self.fleet_command(n))
            self.buttons[name] = b
            grid.addWidget(b, 3, i)
        lay.addLayout(grid)
        lay.addWidget(QLabel(_("Command log")))
        self.log = QListWidget()
        lay.addWidget(self.log, 1)
        self._set_connected(False)

    # ------------------------------------------------------------------ connection
    def _set_connected(self, connected: bool) -> None:
        self.connect_button.setText(_("Disconnect") if connected else _("Connect"))
        self.url.setEnabled(not connected)
        for b in [self.upload_button, *self.buttons.values()]:
            b.setEnabled(connected)

    def toggle_connection(self) -> None:
        if self.session is None:
            self.connect_to(self.url.currentText().strip())
        else:
            self.disconnect_link()

    def connect_to(self, url: str) -> None:
        """Open the link in the commander's thread; polling starts once it is up."""
        self.url.setCurrentText(url)
        self.session = FlySession(
            url, wait_s=self.wait_s, record_db=self.record_db, deployment_id=self.deployment_id
        )
        self._commander = Commander(self.session)
        cthread = QThread()
        self._commander.moveToThread(cthread)
        self._execute.connect(self._commander.execute)
        self._commander.result.connect(self._on_result)
        self._poller = StatePoller(self.session)
        pthread = QThread()
        self._poller.moveToThread(pthread)
        self._poller.vehicles.connect(self._on_vehicles)
        self._poller.failed.connect(self._on_poll_failed)
        pthread.started.connect(self._poller.start)
        self._threads = [cthread, pthread]
        cthread.start()
        self.connect_button.setEnabled(False)
        self.statusMessage.emit(_("Connecting to {url}…").format(url=url))
        self._send("connect", 0, {})

    def disconnect_link(self) -> None:
        """Stop polling, close the link (in the commander's thread) and end both threads."""
        if self.session is None:
            return
        session = self.session
        self.session = None
        cthread, pthread = self._threads
        if self._poller is not None and pthread.isRunning():
            # stop the timer in its own thread, and wait until it has
            QMetaObject.invokeMethod(
                self._poller, "stop", Qt.ConnectionType.BlockingQueuedConnection
            )
        pthread.quit()
        pthread.wait(5000)
        try:
            session.close()  # a command still running fails fast once the link is closed
        except Exception as exc:  # closing must never crash the window
            self.statusMessage.emit(_("Error: {message}").format(message=describe_error(exc)))
        cthread.quit()
        if not cthread.wait(15000):
            log.warning("the command thread did not end in time")
        if self._commander is not None:
            self._execute.disconnect(self._commander.execute)
        self._threads = []
        self._poller = None
        self._commander = None
        self._pending.clear()
        self.vehicles.clear()
        self.table.setRowCount(0)
        self._set_connected(False)
        self.connect_button.setEnabled(True)
        self.statusMessage.emit(_("Disconnected."))

    # ------------------------------------------------------------------ commands
    def _send(self, name: str, sysid: int, kwargs: dict[str, Any]) -> int:
        req = next(self._ids)
        self._pending.add(req)
        self._execute.emit(req, name, sysid, kwargs)
        return req

    def selected_sysid(self) -> int | None:
        model = self.table.selectionModel()
        rows = model.selectedRows() if model is not None else []
        if rows:
            item = self.table.item(rows[0].row(), 0)
            if item is not None:
                return int(item.data(Qt.ItemDataRole.UserRole))
        if len(self.vehicles) == 1:
            return next(iter(self.vehicles))
        return None

    def command_selected(self, name: str) -> None:
        sysid = self.selected_sysid()
        if sysid is None:
            self._refuse(name, 0, _("select a vehicle first"))
            return
        kwargs: dict[str, Any] = {}
        if name == "takeoff":
            kwargs["alt_m"] = self.takeoff_alt.value()
        self._send(name, sysid, kwargs)

    def fleet_command(self, name: str) -> None:
        """Every vehicle at once: uploads drone i's mission to the i-th vehicle, etc."""
        sysids = sorted(self.vehicles)
        if not sysids:
            self._refuse(name, 0, _("no vehicles on the link"))
            return
        if name == "upload_all":
            if not self.missions:
                self._refuse("upload", 0, _("plan a mission first"))
                return
            if len(self.missions) > len(sysids):
                self._refuse(
                    "upload",
                    0,
                    _("the plan has {n} drones but only {m} vehicles are connected").format(
                        n=len(self.missions), m=len(sysids)
                    ),
                )
                return
            for sysid, mission in zip(sysids, self.missions):
                self._send("upload", sysid, {"mission": mission})
        elif name == "start_all":
            for sysid in sysids:
                self._send("arm", sysid, {})
                self._send("start", sysid, {})
        elif name == "rtl_all":
            for sysid in sysids:
                self._send("rtl", sysid, {})

    def set_missions(self, missions: list[Any]) -> None:
        """The planned missions, one per drone, to upload (drone i → i-th vehicle by sysid)."""
        self.missions = list(missions)

    def mission_for(self, sysid: int) -> Any:
        if not self.missions:
            return None
        order = sorted(self.vehicles)
        idx = order.index(sysid) if sysid in order else 0
        return self.missions[idx % len(self.missions)]

    def upload_selected(self) -> None:
        sysid = self.selected_sysid()
        if sysid is None:
            self._refuse("upload", 0, _("select a vehicle first"))
            return
        mission = self.mission_for(sysid)
        if mission is None:
            self._refuse("upload", sysid, _("plan a mission first"))
            return
        self._send("upload", sysid, {"mission": mission})

    # ------------------------------------------------------------------ signals in
    @pyqtSlot(int, str, int, bool, str)
    def _on_result(self, req_id: int, name: str, sysid: int, ok: bool, message: str) -> None:
        self._pending.discard(req_id)
        if name == "connect":
            self.connect_button.setEnabled(True)
            if ok:
                self._set_connected(True)
                if self._threads:
                    self._threads[1].start()
            else:
                self.disconnect_link()
        self._log(name, sysid, ok, message)
        self.commandFinished.emit(name, sysid, ok, message)

    def _refuse(self, name: str, sysid: int, message: str) -> None:
        """A command refused before it reached the link: shown like any failure."""
        self._log(name, sysid, False, message)
        self.commandFinished.emit(name, sysid, False, message)

    def _log(self, name: str, sysid: int, ok: bool, message: str) -> None:
        who = f"[{sysid}] " if sysid else ""
        verdict = _("OK") if ok else _("FAILED")
        text = f"{who}{name}: {verdict} — {message}" if message else f"{who}{name}: {verdict}"
        item = QListWidgetItem(text)
        if not ok:
            item.setForeground(QColor("#c62828"))
        self.log.addItem(item)
        self.log.scrollToBottom()
        self.statusMessage.emit(text)

    @pyqtSlot(object)
    def _on_vehicles(self, views: list[VehicleView]) -> None:
        if self.session is None:
            return
        for v in views:
            self._show_new_statustexts(v)
        self.vehicles = {v.sysid: v for v in views}
        selected = self.selected_sysid()
        self.table.setRowCount(len(views))
        for row, v in enumerate(sorted(views, key=lambda v: v.sysid)):
            cells = [
                str(v.sysid),
                v.mode,
                _("yes") if v.armed else _("no"),
                "—" if v.battery_pct is None else f"{v.battery_pct:.0f} %",
                _gps_text(v),
                _link_text(v),
                "—"
                if v.mission_seq is None
                else f"{v.mission_seq}/{v.mission_count if v.mission_count is not None else '?'}",
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 3 and v.battery_pct is not None and v.battery_pct < LOW_BATTERY_PCT:
                    item.setForeground(QColor("#c62828"))
                if col == 0:
                    item.setData(Qt.ItemDataRole.UserRole, v.sysid)
                if col == 5 and not v.link_ok:
                    item.setForeground(QColor("#c62828"))
                self.table.setItem(row, col, item)
            if v.sysid == selected:
                self.table.selectRow(row)
        self.vehiclesUpdated.emit(views)

    def _show_new_statustexts(self, v: VehicleView) -> None:
        """Autopilot messages (STATUSTEXT) go into the log once each; warnings in red."""
        last = self._statustext_seen.get(v.sysid, -1.0)
        for t, severity, text in v.statustexts:
            if t <= last:
                continue
            item = QListWidgetItem(f"[{v.sysid}] {SEVERITY_NAMES.get(severity, '?')}: {text}")
            if severity <= 4:  # EMERGENCY … WARNING
                item.setForeground(QColor("#c62828"))
            self.log.addItem(item)
            self.log.scrollToBottom()
            last = t
        self._statustext_seen[v.sysid] = last

    @pyqtSlot(str)
    def _on_poll_failed(self, message: str) -> None:
        self.statusMessage.emit(_("Telemetry error: {message}").format(message=message))

    def shutdown(self) -> None:
        self.disconnect_link()


def _gps_text(v: VehicleView) -> str:
    names = {0: _("no GPS"), 1: _("no fix"), 2: "2D", 3: "3D", 4: "DGPS", 5: "RTK float", 6: "RTK"}
    fix = "—" if v.gps_fix is None else names.get(v.gps_fix, str(v.gps_fix))
    return fix if v.satellites is None else f"{fix} ({v.satellites})"


def _link_text(v: VehicleView) -> str:
    if not v.link_ok:
        return _("lost")
    if v.packet_loss_pct is None:
        return _("ok")
    return f"{100.0 - v.packet_loss_pct:.0f} %"
