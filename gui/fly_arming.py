"""Arming on the fly panel: wait for the firmware's "ready to arm", then arm; send signing keys.

A mixin of :class:`gui.fly_panel.FlyPanel`. Arming (one vehicle, or each vehicle of "Arm and
start all") first asks the commander to wait for the vehicle's own verdict
(``Vehicle.wait_ready_to_arm``, in a worker thread, never the GUI thread), showing the
firmware's PreArm messages in the log and in the open pre-flight dialog as they change. Only
a vehicle that became ready is sent the arm command; when the time is up the arming fails
with the last PreArm message and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt5.QtCore import QTimer, pyqtSlot
from PyQt5.QtWidgets import QDialog, QWidget

from dronekit_plzen.i18n import _
from gui.fly_alerts import CRITICAL, Alert
from gui.fly_connect import ConnectBox
from gui.fly_dialogs import PreflightDialog
from gui.fly_sorties import PreflightRow, SortieProgress, preflight_row
from gui.models import VehicleView

RED = "#c62828"


class ArmingMixin:
    """State and slots only; the widgets, the session and the command queue are the panel's."""

    session: Any
    vehicles: dict[int, VehicleView]
    connect_box: ConnectBox
    commandFinished: Any
    _arm_then_start: dict[int, int]
    #: "wait_ready" request → (sysid, start the mission after arming?)
    _waiting_ready: dict[int, tuple[int, bool]]
    #: sysid → the firmware's latest PreArm message seen while waiting
    prearm_texts: dict[int, str]
    _open_preflight: PreflightDialog | None
    preflight_dialog: type[PreflightDialog]
    progress: dict[int, SortieProgress]
    #: sysid → the crew's checklist items not ticked (the main window wires the cockpit's)
    crew_open: Callable[[int], list[str]] | None
    #: sysid → the timer of its planned, staggered start ("Arm and start all")
    _delayed_starts: dict[int, QTimer]

    def _send(self, name: str, sysid: int, kwargs: dict[str, Any]) -> int:
        raise NotImplementedError

    def _log(self, name: str, sysid: int, ok: bool, message: str) -> None:
        raise NotImplementedError

    def _log_line(self, text: str, color: str | None = None, fold: bool = False) -> None:
        raise NotImplementedError

    def _refuse(self, name: str, sysid: int, message: str) -> None:
        raise NotImplementedError

    def _raise(self, alert: Alert) -> None:
        raise NotImplementedError

    def start_refusal(self, sysid: int) -> str | None:
        raise NotImplementedError

    def _link_ok(self, v: VehicleView) -> bool:
        raise NotImplementedError

    def _link_text(self, v: VehicleView) -> str:
        raise NotImplementedError

    @property
    def ready_wait_s(self) -> float:
        raise NotImplementedError

    # ------------------------------------------------------------------ arming
    def start_all(self, sysids: list[int]) -> bool:
        """Ask with a pre-flight summary; then arm each vehicle and start only those that armed."""
        crew = {s: self.crew_open(s) for s in sysids} if self.crew_open is not None else {}
        dlg = self.preflight_dialog(
            [self.preflight_row(s) for s in sysids],
            self if isinstance(self, QWidget) else None,
            crew_open=crew,
            delays_s={s: self.start_delay_s(s) for s in sysids},
        )
        self._open_preflight = dlg
        try:
            accepted = dlg.exec_() == QDialog.Accepted
        finally:
            self._open_preflight = None
        if not accepted:
            self._log_line(_("Arm and start all: cancelled, nothing sent"))
            return False
        self._log_line(_("Arm and start all: confirmed by the pilot"))
        if getattr(dlg, "crew_override", False):
            for sysid, items in sorted(crew.items()):
                if items:
                    self._log_line(
                        _("[{sysid}] started with the crew checklist open: {items}").format(
                            sysid=sysid, items="; ".join(items)
                        ),
                        RED,
                    )
        for sysid in sysids:
            why = self.start_refusal(sysid)
            if why is not None:  # not even armed
                self._refuse("start", sysid, why)
                continue
            delay = self.start_delay_s(sysid)
            if delay > 0:
                self._start_later(sysid, delay)
                continue
            self.arm_vehicle(sysid, then_start=True)
        return True

    def start_delay_s(self, sysid: int) -> float:
        """The delay the plan gives the vehicle's first sortie (a probability search staggers
        its drones so that no two are over one cell at once, take-off included); 0 for a
        later or resumed sortie, or a plan without one."""
        prog = self.progress.get(sysid)
        sortie = None if prog is None else prog.on_board
        if sortie is None or sortie.index != 1 or sortie.resumed_from is not None:
            return 0.0
        value = (getattr(sortie.mission, "metadata", None) or {}).get("start_delay_s")
        return float(value) if isinstance(value, int | float) and value > 0 else 0.0

    def _start_later(self, sysid: int, delay_s: float) -> None:
        """Arm and start ``sysid`` in ``delay_s`` seconds; any other command to it (or a
        disconnection) before then cancels the start."""
        self.cancel_delayed_start(sysid)
        timer = QTimer(self if isinstance(self, QWidget) else None)
        timer.setSingleShot(True)
        timer.timeout.connect(lambda: self._delayed_start_due(sysid))
        self._delayed_starts[sysid] = timer
        timer.start(round(1000.0 * delay_s))
        self._log_line(
            _(
                "[{sysid}] arms and starts in {t:g} s, as planned: the drones are staggered so "
                "that no two are over one place at once"
            ).format(sysid=sysid, t=delay_s)
        )

    def _delayed_start_due(self, sysid: int) -> None:
        timer = self._delayed_starts.pop(sysid, None)
        if timer is not None:
            timer.deleteLater()
        if self.session is None:
            return  # disconnected meanwhile (the start was cancelled then)
        self.arm_vehicle(sysid, then_start=True)

    def cancel_delayed_start(self, sysid: int, why: str | None = None) -> None:
        """Forget ``sysid``'s staggered start (0: every vehicle's), saying ``why`` in the log."""
        for s in [k for k in self._delayed_starts if sysid in (0, k)]:
            timer = self._delayed_starts.pop(s)
            timer.stop()
            timer.deleteLater()
            if why:
                self._log_line(
                    _("[{sysid}] planned start cancelled: {why}").format(sysid=s, why=why)
                )

    def preflight_row(self, sysid: int) -> PreflightRow:
        v = self.vehicles.get(sysid, VehicleView(sysid=sysid))
        return preflight_row(v, self.progress.get(sysid), self._link_ok(v), self._link_text(v))

    def arm_vehicle(self, sysid: int, then_start: bool = False) -> int:
        """Wait (in a worker) until ``sysid`` is ready to arm, then arm it (and maybe start).

        Arming one vehicle with crew checklist items open is not blocked (QGroundControl's
        default; a pilot may have to arm at once), but the open items go into the log in red."""
        wait_s = self.ready_wait_s
        items = self.crew_open(sysid) if self.crew_open is not None and not then_start else []
        if items:
            self._log_line(
                _("[{sysid}] arming with the crew checklist open: {items}").format(
                    sysid=sysid, items="; ".join(items)
                ),
                RED,
            )
        self._log_line(
            _("[{sysid}] waiting up to {t:g} s for the vehicle to be ready to arm…").format(
                sysid=sysid, t=wait_s
            )
        )
        req = self._send("wait_ready", sysid, {"timeout_s": wait_s})
        self._waiting_ready[req] = (sysid, then_start)
        return req

    def _on_ready_result(self, req_id: int, sysid: int, ok: bool, message: str) -> None:
        """The ready wait ended: arm (queued to the commander), or fail the arming with why."""
        sysid, then_start = self._waiting_ready.pop(req_id, (sysid, False))
        if self.session is None:
            return  # disconnected meanwhile: nothing is sent
        if ok:
            self._log_line(_("[{sysid}] ready to arm").format(sysid=sysid))
            arm_req = self._send("arm", sysid, {})
            if then_start:
                self._arm_then_start[arm_req] = sysid
            return
        self._log("arm", sysid, False, message)
        self.commandFinished.emit("arm", sysid, False, message)
        if then_start:
            self._refuse("start", sysid, _("not sent: {why}").format(why=message))
            self._raise(Alert(f"arm-{sysid}", sysid, CRITICAL, f"[{sysid}] {message}"))

    @pyqtSlot(int, str)
    def _on_prearm(self, sysid: int, text: str) -> None:
        """The firmware's PreArm message changed while waiting: log it, show it in the dialog."""
        if self.session is None:
            return
        self.prearm_texts[sysid] = text
        self._log_line(f"[{sysid}] {text}", RED)
        dlg = self._open_preflight
        if dlg is not None:
            dlg.show_prearm(sysid, text)

    # ------------------------------------------------------------------ signing
    @pyqtSlot(str)
    def _send_key_requested(self, key_file: str) -> None:
        self.send_key(key_file)

    def send_key(self, key_file: str) -> int | None:
        """Send the key in ``key_file`` to the selected vehicle (or every vehicle, if none is)."""
        if self.session is None:
            self.connect_box.show_status(_("connect first"), error=True)
            return None
        sysid = self.selected_sysid()
        self.connect_box.show_status(_("Sending the signing key…"))
        return self._send("send_key", sysid or 0, {"key_file": key_file})

    def selected_sysid(self) -> int | None:
        raise NotImplementedError

    def _on_key_result(self, ok: bool, message: str) -> None:
        if ok:
            self.connect_box.show_status(message, ok=True)
        else:
            self.connect_box.show_status(message, error=True)
