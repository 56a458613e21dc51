"""Interlocks of the fly panel: leaving with vehicles airborne, and overriding at the vehicle.

A mixin of :class:`gui.fly_panel.FlyPanel`. Quitting or disconnecting with vehicles in the air
asks first and defaults to returning them to launch; a sortie the guard refuses against the
vehicle it goes to (its home altitude, its position) can be overridden by the pilot with a
typed reason, recorded in the log and the mission's metadata.
"""

from __future__ import annotations

import functools
from typing import Any

from PyQt5.QtCore import QDeadlineTimer, QEventLoop, QTimer
from PyQt5.QtWidgets import QDialog, QWidget

from dronekit_plzen.i18n import _
from gui.clearance import SortieView, override_at_vehicle
from gui.fly_alerts import CRITICAL, BannerStack
from gui.fly_dialogs import QuitDialog
from gui.models import VehicleView, ViolationView
from gui.plan_widgets import OverrideDialog, user_name

RED = "#c62828"


class InterlocksMixin:
    """State and slots only; the widgets, the session and the command queue are the panel's."""

    session: Any
    vehicles: dict[int, VehicleView]
    banners: BannerStack
    statusMessage: Any
    _pending: set[int]
    _uploading: dict[int, SortieView]
    quit_dialog: type[QuitDialog]
    override_dialog: type[OverrideDialog]

    def _parent_widget(self) -> QWidget | None:
        return self if isinstance(self, QWidget) else None

    def _send(self, name: str, sysid: int, kwargs: dict[str, Any]) -> int:  # the panel's
        raise NotImplementedError

    def _log_line(self, text: str, color: str | None = None, fold: bool = False) -> None:
        raise NotImplementedError

    def log_override(self, override: Any) -> None:
        raise NotImplementedError

    def airborne_sysids(self) -> list[int]:
        """Vehicles armed or in the air (a lost one counts as it was last seen)."""
        return sorted(s for s, v in self.vehicles.items() if v.armed or v.in_air)

    def rtl_and_wait(self, sysids: list[int], timeout_ms: int = 15_000) -> dict[int, bool]:
        """Command RTL to ``sysids`` and wait for every answer (or the timeout)."""
        reqs = {self._send("rtl", s, {}): s for s in sysids}
        deadline = QDeadlineTimer(timeout_ms)
        loop = QEventLoop()
        while set(reqs) & self._pending and not deadline.hasExpired():
            QTimer.singleShot(50, loop.quit)
            loop.exec_()
        return {s: r not in self._pending for r, s in reqs.items()}

    def confirm_leaving(self, *, disconnect: bool = False) -> bool:
        """With vehicles airborne ask first (quit or disconnect); the default returns them."""
        airborne = self.airborne_sysids()
        if not airborne:
            return True
        dlg = self.quit_dialog(airborne, self._parent_widget(), disconnect=disconnect)
        dlg.exec_()
        choice = dlg.choice()
        ids = ", ".join(str(s) for s in airborne)
        if choice == dlg.CANCEL:
            self.statusMessage.emit(_("Cancelled: the vehicles stay connected."))
            return False
        if choice == dlg.RTL:
            answered = self.rtl_and_wait(airborne)
            missing = [str(s) for s, ok in answered.items() if not ok]
            if missing:
                self._log_line(
                    _("RTL not confirmed by vehicle(s) {ids}").format(ids=", ".join(missing)), RED
                )
        else:
            self._log_line(
                _("Left with vehicles {ids} airborne, by the pilot's choice").format(ids=ids), RED
            )
        return True

    def offer_override(self, sysid: int, sortie: SortieView, message: str) -> None:
        """An upload the guard refused at the vehicle: a banner offers the pilot's override."""
        if self.session is None or sysid not in self.session.refused_at_vehicle:
            return
        self.session.refused_at_vehicle.discard(sysid)

        def override() -> str:
            return _("Override…")

        def text() -> str:
            return _("vehicle {sysid}: upload refused at the vehicle: {why}").format(
                sysid=sysid, why=message
            )

        action = (override, functools.partial(self.override_upload, sysid, sortie, message))
        self.banners.raise_alert(f"refused-{sysid}", CRITICAL, text, action=action)

    def override_upload(self, sysid: int, sortie: SortieView, problem: str) -> bool:
        """The pilot overrides a refusal at the vehicle: a reason is required, then it uploads."""
        found = [ViolationView(rule=_("at the vehicle"), message=problem)]
        dlg = self.override_dialog(found, self._parent_widget())
        if dlg.exec_() != QDialog.Accepted or not dlg.reason_text():
            self._log_line(_("Safety override cancelled."))
            return False
        overridden = override_at_vehicle(sortie, dlg.reason_text(), problem, user_name())
        override = overridden.clearance.override if overridden.clearance else None
        if override is not None:
            self.log_override(override)
        self.banners.clear(f"refused-{sysid}")
        self._uploading[self._send("upload", sysid, {"sortie": overridden})] = overridden
        return True
