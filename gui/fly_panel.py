"""The fly panel: connect, watch the fleet, upload+verify sorties, and command the vehicles.

Threads: the link layer has its own I/O thread; the poller and the commander
(:mod:`gui.fly_workers`) each live in a QThread. Widgets only ever see signals, on the GUI
thread. Safety interlocks live here: only cleared sorties are uploaded, one battery at a time;
"Arm and start all" asks with a pre-flight summary and never starts a vehicle that refused to
arm; arming waits for the firmware's "ready to arm" first (:mod:`gui.fly_arming`); alerts (link
loss, battery, failsafe) raise banners and a sound. Links may be MAVLink 2 signed
(:mod:`gui.fly_connect`).
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt5 import sip
from PyQt5.QtCore import (
    QMetaObject,
    Qt,
    QThread,
    QTimer,
    pyqtSignal,
    pyqtSlot,
)
from PyQt5.QtWidgets import (
    QApplication,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.i18n import _, ngettext
from dronekit_plzen.mission_items import CMD_NAV_TAKEOFF
from gui.clearance import SortieView
from gui.fly_alerts import CRITICAL, INFO, Alert, AlertMonitor, BannerStack, FoldingLog
from gui.fly_arming import ArmingMixin
from gui.fly_connect import DEFAULT_URL, KNOWN_URLS, ConnectBox, NoWheelSpinBox
from gui.fly_dialogs import PreflightDialog, QuitDialog
from gui.fly_interlocks import InterlocksMixin
from gui.fly_links import PRESETS
from gui.fly_onboard import OnBoardMixin
from gui.fly_sorties import SortieProgress
from gui.fly_table import FleetTable
from gui.fly_workers import Commander, StatePoller
from gui.flysession import READY_WAIT_S, FlySession
from gui.instruments import FlightClock
from gui.models import VehicleView
from gui.plan_widgets import OverrideDialog
from gui.workers import describe_error

#: reads of a vehicle's mission tried again after a failure
DOWNLOAD_RETRIES = 3
#: commands that do not take a vehicle over: a staggered start waiting for its time goes on
#: (any other, such as RTL, land, a take-off or a new upload, cancels it)
_START_STEPS = ("wait_ready", "arm", "start", "download", "send_key", "connect")
log = logging.getLogger(__name__)

RED = "#c62828"
__all__ = ["DEFAULT_URL", "KNOWN_URLS", "FlyPanel", "command_label"]
MISSION_TYPE_MISSION = 0


def N_(text: str) -> str:
    """Mark ``text`` for translation; it is translated where it is shown."""
    return text


#: command names as the log shows them (translated when shown: one language in the log)
COMMAND_LABELS = {
    "connect": N_("connect"),
    "upload": N_("upload"),
    "download": N_("mission on board"),
    "arm": N_("arm"),
    "disarm": N_("disarm"),
    "takeoff": N_("take off"),
    "start": N_("start mission"),
    "pause": N_("pause"),
    "continue": N_("continue"),
    "rtl": N_("return to launch"),
    "land": N_("land"),
    "goto": N_("guided go-to"),
    "send_key": N_("send key"),
    "wait_ready": N_("wait for ready to arm"),
    "start_all": N_("arm and start all"),
}


def command_label(name: str) -> str:
    """The command's name in the current language."""
    return _(COMMAND_LABELS[name]) if name in COMMAND_LABELS else name


class FlyPanel(OnBoardMixin, ArmingMixin, InterlocksMixin, QWidget):
    """Connection, alerts, fleet table, sortie upload and vehicle commands."""

    statusMessage = pyqtSignal(str)
    vehiclesUpdated = pyqtSignal(object)  # list[VehicleView]
    commandFinished = pyqtSignal(str, int, bool, str)  # command, sysid, ok, message
    alarm = pyqtSignal(int, str)  # sysid, text: an alert that also sounded
    #: sysid, the mission items read back from the vehicle (on connecting, after a restart)
    onboardMission = pyqtSignal(int, object)
    vehicleRestarted = pyqtSignal(int)
    sortieFinished = pyqtSignal(int, int, int)  # sysid, sortie, sorties
    _execute = pyqtSignal(int, str, int, object)

    #: in the order of the buttons' grid, three a row: the return to launch above "RTL all"
    COMMANDS = ("arm", "takeoff", "start", "pause", "land", "rtl")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: FlySession | None = None
        self._poller: StatePoller | None = None
        self._commander: Commander | None = None
        self._threads: list[QThread] = []
        self._ids = itertools.count(1)
        self._pending: set[int] = set()
        self._uploading: dict[int, SortieView] = {}  # request → sortie being uploaded
        #: request → take-off altitude the sortie being uploaded is cleared with; vehicle →
        #: the one its sortie on board was cleared with (ArduCopter: the take-off it starts from)
        self._uploading_takeoff: dict[int, float] = {}
        self.cleared_takeoff_m: dict[int, float] = {}
        self._arm_then_start: dict[int, int] = {}  # arm request → sysid to start after it
        self._waiting_ready: dict[int, tuple[int, bool]] = {}
        self._delayed_starts: dict[int, QTimer] = {}
        self._sending_key: set[int] = set()
        self.prearm_texts: dict[int, str] = {}
        self._open_preflight: PreflightDialog | None = None
        self.vehicles: dict[int, VehicleView] = {}
        self.wait_s = 15.0  # how long to wait for a first heartbeat when connecting
        self.record_db: Path | None = None  # record flights here while connected
        self.deployment_id: int | None = None  # attribute recorded flights to it
        self.missions: list[Any] = []  # from the planner, per drone (drone i → i-th vehicle)
        self.sorties: list[list[SortieView]] = []  # per drone, its cleared sorties
        self.progress: dict[int, SortieProgress] = {}
        self.clock = FlightClock()
        self._cameras: dict[str, Any] = {}
        #: the mission each vehicle holds, as read back from it (what it flies)
        self.on_board: dict[int, list[Any]] = {}
        self.fence_on_board: dict[int, list[Any] | None] = {}  # None: could not be read
        self._boots: dict[int, int] = {}
        self._restarted_ids: set[int] = set()
        self._downloads: dict[int, int] = {}  # request → sysid
        self._download_tries: dict[int, int] = {}  # sysid → reads of its mission that failed
        self.monitor = AlertMonitor()
        #: dialog classes (a test or an embedding application may put its own)
        self.preflight_dialog: type[PreflightDialog] = PreflightDialog
        self.quit_dialog: type[QuitDialog] = QuitDialog
        self.override_dialog: type[OverrideDialog] = OverrideDialog
        self.crew_open: Callable[[int], list[str]] | None = None
        self._build()

    @property
    def link_loss_s(self) -> float:
        """Seconds without a heartbeat before a vehicle is reported lost (banner and sound)."""
        return self.monitor.link_loss_s

    @link_loss_s.setter
    def link_loss_s(self, seconds: float) -> None:
        self.monitor.link_loss_s = float(seconds)

    @property
    def ready_wait_s(self) -> float:
        """How long arming waits for the vehicle to be ready to arm (seconds)."""
        return float(self.ready_wait.value())

    @ready_wait_s.setter
    def ready_wait_s(self, seconds: float) -> None:
        self.ready_wait.setValue(round(seconds))

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        self.connect_box = ConnectBox()
        self.url = self.connect_box.url
        self.connect_button = self.connect_box.connect_button
        self.connect_button.clicked.connect(self.toggle_connection)
        self.connect_box.sendKeyRequested.connect(self._send_key_requested)
        lay.addWidget(self.connect_box)
        self.banners = BannerStack()
        lay.addWidget(self.banners)

        self.table = FleetTable()
        lay.addWidget(self.table, 2)

        grid = QGridLayout()
        self.upload_button = QPushButton(_("Upload + verify"))
        self.upload_button.setToolTip(_("Uploads the vehicle's next sortie (one battery)"))
        self.upload_button.clicked.connect(self.upload_selected)
        grid.addWidget(self.upload_button, 0, 0, 1, 3)
        # the two settings in a form under the buttons: three columns of buttons fit a field
        # laptop's panel (1366 px screen); a fourth column and the settings' long labels in
        # the buttons' columns had pushed "Start mission" and the take-off altitude out of view
        self.takeoff_alt = QDoubleSpinBox()
        self.takeoff_alt.setRange(2.0, 120.0)
        self.takeoff_alt.setValue(20.0)
        self.takeoff_alt.setSuffix(" m")
        settings = QFormLayout()  # its own columns: a long label does not widen the buttons'
        settings.addRow(_("Takeoff altitude"), self.takeoff_alt)
        self.ready_wait = NoWheelSpinBox()
        self.ready_wait.setRange(1, 600)
        self.ready_wait.setValue(int(READY_WAIT_S))
        self.ready_wait.setSuffix(" s")
        self.ready_wait.setToolTip(
            _('Arming waits this long for the vehicle\'s own "ready to arm" (its PreArm checks)')
        )
        settings.addRow(_("Wait for ready to arm"), self.ready_wait)
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
        lay.addLayout(settings)
        lay.addWidget(QLabel(_("Command log")))
        self.log = FoldingLog()
        lay.addWidget(self.log, 1)
        self._set_connected(False)

    # ------------------------------------------------------------------ connection
    def _set_connected(self, connected: bool) -> None:
        self.connect_button.setText(_("Disconnect") if connected else _("Connect"))
        self.connect_box.set_connected(connected)
        for b in [self.upload_button, *self.buttons.values()]:
            b.setEnabled(connected)

    def toggle_connection(self) -> None:
        if self.session is None:
            self.connect_to(" ".join(self.connect_box.urls()))
        elif self.confirm_leaving(disconnect=True):
            self.disconnect_link()

    def connect_to(self, url: str) -> None:
        """Open the link in the commander's thread; polling starts once it is up.

        A signing key file the link would refuse (or one far too large to be a key) is
        refused here, before a link opens: its message shows under the key field."""
        if self.connect_box.key_path() is not None and not self.connect_box.check_key_file():
            self._refuse("connect", 0, self.connect_box.status.text())
            return
        self.url.setCurrentText(url)
        edit = self.url.lineEdit()
        if edit is not None:
            edit.setCursorPosition(0)  # the first link in view, not the tail of a fleet
        self.url.setToolTip(url)
        box = self.connect_box
        self.session = FlySession(
            url,
            wait_s=self.wait_s,
            record_db=self.record_db,
            deployment_id=self.deployment_id,
            signing_key_file=box.key_path(),
            secure=box.secure.isChecked(),
        )
        self._commander = Commander(self.session)
        cthread = QThread()
        self._commander.moveToThread(cthread)
        self._execute.connect(self._commander.execute)
        self._commander.result.connect(self._on_result)
        self._commander.prearm.connect(self._on_prearm)
        self._commander.onboardFence.connect(self._on_onboard_fence)
        self._commander.onboard.connect(self._on_onboard)
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
        self.cancel_delayed_start(0, _("disconnected"))
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
            self._commander.close()
        self._threads = []
        self._poller = None
        self._commander = None
        self._pending.clear()
        self._uploading.clear()
        self._uploading_takeoff.clear()
        self.cleared_takeoff_m.clear()
        self._arm_then_start.clear()
        self._waiting_ready.clear()
        self._sending_key.clear()
        self.prearm_texts.clear()
        self.vehicles.clear()
        self.progress.clear()
        self.on_board.clear()
        self.fence_on_board.clear()
        self._boots.clear()
        self._restarted_ids.clear()
        self._downloads.clear()
        self._download_tries.clear()
        self.clock = FlightClock()
        self.monitor = AlertMonitor(link_loss_s=self.monitor.link_loss_s)
        self.banners.clear_all()
        self.table.setRowCount(0)
        self._set_connected(False)
        self.connect_box.show_signing(None)
        self.connect_button.setEnabled(True)
        self.statusMessage.emit(_("Disconnected."))

    # ------------------------------------------------------------------ commands
    def _send(self, name: str, sysid: int, kwargs: dict[str, Any]) -> int:
        if name not in _START_STEPS and self._delayed_starts:
            # the pilot has taken the vehicle over before its staggered start: no start after
            self.cancel_delayed_start(
                sysid, _("{command} sent").format(command=command_label(name))
            )
        req = next(self._ids)
        self._pending.add(req)
        if name in ("rtl", "land"):
            self.monitor.commanded_return(sysid)
        self._execute.emit(req, name, sysid, kwargs)
        return req

    def selected_sysid(self) -> int | None:
        sysid = self.table.selected_sysid()
        if sysid is None and len(self.vehicles) == 1:
            return next(iter(self.vehicles))
        return sysid

    def command_selected(self, name: str) -> None:
        sysid = self.selected_sysid()
        if sysid is None:
            self._refuse(name, 0, _("select a vehicle first"))
            return
        kwargs: dict[str, Any] = {}
        why = None
        if name == "takeoff":
            kwargs["alt_m"] = self.takeoff_alt.value()
            if (on_board := self.on_board.get(sysid)) is not None:
                kwargs["items"] = list(on_board)
            why = self.takeoff_refusal(sysid, float(kwargs["alt_m"]))
        elif name == "start":
            why = self.start_refusal(sysid)
        if why is not None:
            self._refuse(name, sysid, why)
            return
        if name == "arm":
            self.arm_vehicle(sysid)
            return
        self._send(name, sysid, kwargs)

    def takeoff_refusal(self, sysid: int, alt_m: float) -> str | None:
        """Why a take-off is refused: an ArduCopter starts its mission where the take-off left
        it, and the sortie on board without a take-off item was cleared from the take-off
        altitude set at its upload (a mission's own take-off item sets the altitude itself)."""
        cleared = self.cleared_takeoff_m.get(sysid)
        v = self.vehicles.get(sysid)
        items = self.on_board.get(sysid)
        if cleared is None or v is None or v.autopilot != "ardupilot" or items is None:
            return None
        if any(it.command == CMD_NAV_TAKEOFF for it in items) or abs(alt_m - cleared) < 0.05:
            return None
        return _(
            "the sortie on board was cleared for a take-off to {c:.0f} m: take off to {c:.0f} m, "
            "or upload it again to clear a take-off to {v:.0f} m"
        ).format(c=cleared, v=alt_m)

    def start_refusal(self, sysid: int) -> str | None:
        """Why a mission start is refused: only a validated sortie uploaded here is flown."""
        prog = self.progress.get(sysid)
        if prog is None or prog.on_board is None:
            return _("no validated sortie was uploaded to this vehicle: upload one first")
        if prog.finished and prog.next_sortie() is None:
            return _all_flown(prog.count)
        if prog.finished:
            return _("sortie {label} has been flown: upload the next one first").format(
                label=prog.on_board.label
            )
        return None

    def fleet_command(self, name: str) -> None:
        """Every vehicle at once: uploads drone i's next sortie to the i-th vehicle, etc."""
        sysids = sorted(self.vehicles)
        if not sysids:
            self._refuse(name, 0, _("no vehicles on the link"))
            return
        if name == "upload_all":
            if not self.sorties:
                self._refuse("upload", 0, _("plan a mission first"))
                return
            if len(self.sorties) > len(sysids):
                self._refuse(
                    "upload",
                    0,
                    ngettext(
                        "the plan has {n} drones but only {m} vehicle is connected",
                        "the plan has {n} drones but only {m} vehicles are connected",
                        len(sysids),
                    ).format(n=len(self.sorties), m=len(sysids)),
                )
                return
            for sysid in sysids[: len(self.sorties)]:
                self.upload_next(sysid)
        elif name == "start_all":
            self.start_all(sysids)
        elif name == "rtl_all":
            for sysid in sysids:
                self._send("rtl", sysid, {})

    def set_plan(self, missions: list[Any], sorties: list[list[SortieView]]) -> None:
        """The planned drones (drone i → i-th vehicle by sysid) and their cleared sorties."""
        self.missions = list(missions)
        self.sorties = [list(row) for row in sorties]
        self.progress.clear()

    def drone_index(self, sysid: int) -> int | None:
        if not self.sorties:
            return None
        order = sorted(self.vehicles)
        idx = order.index(sysid) if sysid in order else 0
        return idx if idx < len(self.sorties) else None

    def upload_selected(self) -> None:
        sysid = self.selected_sysid()
        if sysid is None:
            self._refuse("upload", 0, _("select a vehicle first"))
            return
        self.upload_next(sysid)

    def upload_next(self, sysid: int) -> None:
        """Upload the vehicle's next sortie: the first, the same again, or the one after landing."""
        idx = self.drone_index(sysid)
        if idx is None:
            self._refuse("upload", sysid, _("plan a mission first"))
            return
        prog = self.progress.get(sysid)
        if prog is None or prog.sorties is not self.sorties[idx]:
            prog = self.progress[sysid] = SortieProgress(self.sorties[idx])
        if prog.flying:
            self._refuse("upload", sysid, _("the vehicle is flying its sortie; land first"))
            return
        sortie = prog.next_sortie()
        if sortie is None:
            self._refuse("upload", sysid, _all_flown(prog.count))
            return
        self.banners.clear(f"sortie-{sysid}")
        alt = float(self.takeoff_alt.value())
        req = self._send("upload", sysid, {"sortie": sortie, "takeoff_alt_m": alt})
        self._uploading[req] = sortie
        self._uploading_takeoff[req] = alt

    # ------------------------------------------------------------------ signals in
    def read_on_board(self, sysid: int) -> int:
        """Read the mission vehicle ``sysid`` holds (what it flies), in the command thread."""
        req = self._send("download", sysid, {})
        self._downloads[req] = sysid
        return req

    def _read_again(self, sysid: int) -> None:
        """A failed read of a vehicle's mission (a busy or lossy link) is tried again, after 1,
        2 and 4 s: the map and the sortie progress depend on it."""
        tries = self._download_tries.get(sysid, 0) + 1
        self._download_tries[sysid] = tries
        if tries > DOWNLOAD_RETRIES:
            return
        session = self.session

        def again() -> None:
            if sip.isdeleted(self):  # the window closed and deleted meanwhile
                return
            if self.session is session and session is not None and sysid not in self.on_board:
                self.read_on_board(sysid)

        QTimer.singleShot(1000 * 2 ** (tries - 1), again)

    def connect_fleet(self, kind: str, n: int, port_offset: int = 0) -> None:
        """Connect to a whole fleet by a preset's port convention (see ``fly_links.PRESETS``)."""
        if kind not in PRESETS:
            self._refuse("connect", 0, _("unknown fleet preset {kind!r}").format(kind=kind))
            return
        self.connect_to(" ".join(self.connect_box.choose_preset(kind, n, port_offset)))

    @pyqtSlot(int, int, object)
    def _on_onboard_fence(self, req_id: int, sysid: int, fence: list[Any] | None) -> None:
        """The vehicle's own geofence (read with its mission, just before it)."""
        self.fence_on_board[sysid] = None if fence is None else list(fence)

    @pyqtSlot(int, int, object)
    def _on_onboard(self, req_id: int, sysid: int, items: list[Any]) -> None:
        """The vehicle's own mission: shown on the map; a planned sortie's progress restored."""
        self.on_board[sysid] = list(items)
        self._download_tries.pop(sysid, None)
        restored = self._restore_progress(sysid, list(items))
        if restored is not None:
            self._log_line(
                lambda: _("[{sysid}] on board: sortie {label} of the plan").format(
                    sysid=sysid, label=restored
                )
            )
        self.onboardMission.emit(sysid, list(items))

    def goto(self, sysid: int, lat: float, lon: float, alt_m: float) -> int:
        """Guided go-to (confirmed by the pilot and checked by the guard before this)."""
        return self._send("goto", sysid, {"lat_deg": lat, "lon_deg": lon, "alt_m": alt_m})

    @pyqtSlot(int, str, int, bool, str)
    def _on_result(self, req_id: int, name: str, sysid: int, ok: bool, message: str) -> None:
        self._pending.discard(req_id)
        if name == "download":
            self._downloads.pop(req_id, None)
            if not ok:
                self._log(name, sysid, ok, message)
                self._read_again(sysid)
            return
        if name == "wait_ready":
            self._on_ready_result(req_id, sysid, ok, message)
            return
        if name == "connect":
            self.connect_button.setEnabled(True)
            if ok:
                self._set_connected(True)
                if self.session is not None:
                    self.connect_box.show_signing(self.session.signed())
                if self._threads:
                    self._threads[1].start()

            else:
                self.disconnect_link()
                self.connect_box.show_status(message, error=True)
        if name == "send_key":
            self._on_key_result(ok, message)
        sortie = self._uploading.pop(req_id, None)
        takeoff = self._uploading_takeoff.pop(req_id, None)
        if sortie is not None and ok and takeoff is not None:
            self.cleared_takeoff_m[sysid] = takeoff
        if sortie is not None and ok and sysid in self.progress:
            seen = self.vehicles.get(sysid)
            self.progress[sysid].uploaded_sortie(
                sortie, seen.last_item_reached if seen is not None else None
            )
            self.on_board[sysid] = sortie.items
        self._log(name, sysid, ok, message)
        if sortie is not None and not ok:
            self.offer_override(sysid, sortie, message)
        self.commandFinished.emit(name, sysid, ok, message)
        start_after = self._arm_then_start.pop(req_id, None)
        if start_after is not None:
            if ok:
                self._send("start", start_after, {})
            else:
                self._refuse("start", start_after, _("not sent: {why}").format(why=message))
                self._raise(
                    Alert(f"arm-{start_after}", start_after, CRITICAL, f"[{sysid}] {message}")
                )

    def _refuse(self, name: str, sysid: int, message: str) -> None:
        """A command refused before it reached the link: shown like any failure."""
        self._log(name, sysid, False, message)
        self.commandFinished.emit(name, sysid, False, message)

    def _log(self, name: str, sysid: int, ok: bool, message: str) -> None:
        who = f"[{sysid}] " if sysid else ""

        def text() -> str:
            verdict = _("OK") if ok else _("FAILED")
            head = f"{who}{command_label(name)}: {verdict}"
            return f"{head} — {message}" if message else head

        item = self.log.add(text, None if ok else RED)
        self.statusMessage.emit(item.text())

    def _log_line(
        self, text: str | Callable[[], str], color: str | None = None, fold: bool = False
    ) -> None:
        self.log.add(text, color, fold=fold)
        self.statusMessage.emit(text() if callable(text) else text)

    def log_override(self, override: Any) -> None:
        """A safety override from the planning panel goes into the flight log too."""
        self._log_line(
            _("SAFETY OVERRIDE by {by} at {at}: {reason}").format(
                by=override.by, at=override.at, reason=override.reason
            ),
            RED,
        )

    def retranslate(self) -> None:
        """The fleet table's cells (yes/no, ready, the link) in the language now chosen: they
        had kept the old one until the next telemetry, for ever on a link that went quiet."""
        self._fill_table(list(self.vehicles.values()))

    def _fill_table(self, views: list[VehicleView]) -> None:
        self.table.fill(views, self.progress, self._link_ok, self._link_text)

    @pyqtSlot(object)
    def _on_vehicles(self, views: list[VehicleView]) -> None:
        if self.session is None:
            return
        for v in views:
            seen = self._boots.get(v.sysid)
            self._boots[v.sysid] = v.boots
            if seen is None:  # a vehicle heard for the first time: what does it hold?
                self.read_on_board(v.sysid)
            elif v.boots > seen:
                self._restarted(v.sysid)
        views = [self.with_on_board(v) for v in views]
        self.clock.update(views)
        self.vehicles = {v.sysid: v for v in views}
        for alert in self.monitor.update(views):
            self._raise(alert)
        for v in views:
            self._track_sortie(v)
        self._fill_table(views)
        if self._open_preflight is not None:
            self._open_preflight.update_rows([self.preflight_row(v.sysid) for v in views])
        self.vehiclesUpdated.emit(views)

    def _raise(self, alert: Alert) -> None:
        """An alert: a banner (or its removal), a log line (folded), maybe a sound."""
        if alert.clear:
            self.banners.clear(alert.key)
            return
        if alert.log:
            color = None if alert.level == INFO else RED
            self._log_line(f"[{alert.sysid}] {alert.log_text or alert.text}", color, fold=True)
        if alert.banner:
            text = alert.render or alert.text
            self.banners.raise_alert(alert.key, alert.level, text, ttl_s=alert.ttl_s)
        if alert.sound:
            QApplication.beep()
            self.alarm.emit(alert.sysid, alert.text)

    def _track_sortie(self, v: VehicleView) -> None:
        """After a flown sortie lands (disarmed, on the ground) offer the next one."""
        prog = self.progress.get(v.sysid)
        if prog is None or not prog.landed_after_flying(v, self._link_ok(v)):
            return
        k, n = prog.uploaded, prog.count
        self.sortieFinished.emit(v.sysid, k, n)
        nxt = prog.next_sortie()
        if nxt is None:
            self._log_line(
                _("[{sysid}] sortie {k}/{n} landed: all sorties flown").format(
                    sysid=v.sysid, k=k, n=n
                )
            )
            return
        sysid, label = v.sysid, nxt.label
        if prog.stopped_at is not None and prog.done is not None:
            # worded as fly words it: the mode it left the mission in, the last item reached
            mode, done = prog.done.left_in or v.mode or "?", prog.done.progress

            def text() -> str:
                return _(
                    "vehicle {sysid} landed before the end of sortie {k}/{n}: it left the "
                    "mission in mode {mode} {progress}; swap the battery, then resume the "
                    "sortie where it stopped"
                ).format(sysid=sysid, k=k, n=n, mode=mode, progress=done())

            def button() -> str:
                return _("Resume sortie {label}").format(label=label)
        else:

            def text() -> str:
                return _(
                    "vehicle {sysid} landed after sortie {k}/{n}: swap the battery, then upload "
                    "sortie {next} (it resumes where this one stopped)"
                ).format(sysid=sysid, k=k, n=n, next=label)

            def button() -> str:
                return _("Upload sortie {next}").format(next=label)

        self._log_line(lambda: f"[{sysid}] {text()}")
        action = (button, functools.partial(self.upload_next, sysid))
        self.banners.raise_alert(f"sortie-{sysid}", INFO, text, action=action)

    def _link_ok(self, v: VehicleView) -> bool:
        age = v.heartbeat_age_s
        return age is not None and age <= min(self.monitor.link_warn_s, self.monitor.link_loss_s)

    def _link_text(self, v: VehicleView) -> str:
        if not self._link_ok(v):
            return _("lost")
        if v.packet_loss_pct is None:
            return _("ok")
        return f"{100.0 - v.packet_loss_pct:.0f} %"

    @pyqtSlot(str)
    def _on_poll_failed(self, message: str) -> None:
        self.statusMessage.emit(_("Telemetry error: {message}").format(message=message))

    def shutdown(self) -> None:
        self.disconnect_link()


def _all_flown(n: int) -> str:
    """Every sortie of the vehicle's plan flown ("all 1 sorties" read oddly)."""
    if n == 1:
        return _("the only sortie has been flown")
    return _("all {n} sorties have been flown").format(n=n)
