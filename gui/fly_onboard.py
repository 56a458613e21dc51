"""What the vehicles hold and how they fly, for the fly panel (a mixin; no widgets here).

The mission each vehicle holds is read back from it (on connecting, after a restart) and, when
it is a sortie of the current plan, that sortie's progress is restored; a restart (the boot
clock going back) resets what we knew of its sortie and flight. The instruments, the pre-flight
row and the camera footprint of a vehicle are computed here from the panel's state.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from dronekit_plzen.i18n import _
from gui import backend
from gui.clearance import SortieView
from gui.fly_alerts import INFO, BannerStack
from gui.fly_sorties import SortieProgress, preflight_row
from gui.instruments import FlightClock, Reading, camera_footprint_lonlat, readings
from gui.models import VehicleView

log = logging.getLogger(__name__)
RED = "#c62828"


def same_path(a: list[Any], b: list[Any], tol_deg: float = 2e-6) -> bool:
    """Do two item lists fly the same positions (the on-board mission is a planned sortie)?"""
    pa = [(it.lat_deg, it.lon_deg) for it in a if it.has_position]
    pb = [(it.lat_deg, it.lon_deg) for it in b if it.has_position]
    return len(pa) == len(pb) > 0 and all(
        abs(x0 - x1) <= tol_deg and abs(y0 - y1) <= tol_deg for (x0, y0), (x1, y1) in zip(pa, pb)
    )


def same_fence(planned: list[Any], held: list[Any] | None, tol_deg: float = 2e-6) -> bool:
    """Does the vehicle hold the plan's geofence (``held`` None: it could not be read)? The
    same fence commands in the same order, their vertices or centres within ``tol_deg`` and
    their vertex counts or radii (param1) within 1 % (the firmware stores them as floats)."""
    if held is None or len(held) != len(planned) or not planned:
        return False
    for a, b in zip(planned, held, strict=True):
        if int(a.command) != int(b.command) or not same_path([a], [b], tol_deg):
            return False
        p1, q1 = float(a.param1), float(b.param1)
        if abs(p1 - q1) > 0.01 * max(abs(p1), 1.0):
            return False
    return True


class OnBoardMixin:
    """State and helpers only; the session, the widgets and the command queue are the panel's."""

    session: Any
    vehicles: dict[int, VehicleView]
    banners: BannerStack
    missions: list[Any]
    sorties: list[list[SortieView]]
    progress: dict[int, SortieProgress]
    on_board: dict[int, list[Any]]
    fence_on_board: dict[int, list[Any] | None]
    clock: FlightClock
    vehicleRestarted: Any
    _restarted_ids: set[int]
    _cameras: dict[str, Any]

    def read_on_board(self, sysid: int) -> int:  # the panel's
        raise NotImplementedError

    def drone_index(self, sysid: int) -> int | None:  # the panel's
        raise NotImplementedError

    def _log_line(self, text: Any, color: str | None = None, fold: bool = False) -> None:
        raise NotImplementedError

    def _link_ok(self, v: VehicleView) -> bool:
        raise NotImplementedError

    def _link_text(self, v: VehicleView) -> str:
        raise NotImplementedError

    def _restore_progress(self, sysid: int, items: list[Any]) -> str | None:
        """After reconnecting: the on-board mission is a sortie of the plan → its progress."""
        if not items or sysid in self.progress or self.session is None:
            return None
        if sysid in self._restarted_ids:  # what it flew before the restart is not known
            return None
        order = sorted({v.sysid for v in self.session.snapshot()} | set(self.vehicles))
        idx = order.index(sysid) if sysid in order else -1
        if not 0 <= idx < len(self.sorties):
            return None
        for sortie in self.sorties[idx]:
            if same_path(sortie.items, items):
                prog = SortieProgress(self.sorties[idx])
                prog.uploaded_sortie(sortie)
                # the geofence read back with the mission: when it is not the sortie's (or could
                # not be read), the pre-flight summary asks to upload it again
                prog.fence = same_fence(
                    list(sortie.mission.fence_items()), self.fence_on_board.get(sysid)
                )
                self.progress[sysid] = prog
                return prog.label()
        return None

    def _restarted(self, sysid: int) -> None:
        """The vehicle restarted: what we knew of its sortie and flight no longer holds."""
        self.progress.pop(sysid, None)
        self.on_board.pop(sysid, None)
        self._restarted_ids.add(sysid)
        self.clock.reset(sysid)

        def text() -> str:
            return _(
                "vehicle {sysid} restarted: its sortie progress was reset; the mission on board "
                "is read again; upload the sortie again before flying"
            ).format(sysid=sysid)

        self._log_line(text, RED)
        self.banners.raise_alert(f"restart-{sysid}", INFO, text, ttl_s=30.0)
        self.vehicleRestarted.emit(sysid)
        self.read_on_board(sysid)

    def with_on_board(self, v: VehicleView) -> VehicleView:
        """``v`` with the mission count of the items read back from the vehicle, when they have
        been read (the link's count comes from MISSION_CURRENT, which may lag a restart)."""
        items = self.on_board.get(v.sysid)
        if items is None:
            return v
        if not items:
            return replace(v, mission_seq=None, mission_count=None)
        return replace(v, mission_count=len(items))

    def readings_of(self, v: VehicleView) -> list[Reading]:
        """The instruments of vehicle ``v`` (flight time, sortie and link as this panel knows)."""
        prog = self.progress.get(v.sysid)
        return readings(
            v,
            flight_s=self.clock.flight_s(v.sysid),
            sortie_label=prog.label() if prog is not None else None,
            link_ok=self._link_ok(v),
        )

    def preflight_of(self, sysid: int) -> Any:
        v = self.vehicles.get(sysid)
        if v is None:
            return None
        return preflight_row(v, self.progress.get(sysid), self._link_ok(v), self._link_text(v))

    def footprint_of(self, v: VehicleView) -> list[tuple[float, float]] | None:
        """The ground the vehicle's planned camera sees now (None: on the ground, no camera)."""
        if v.lon is None or v.lat is None or v.alt_rel_m is None or v.alt_rel_m < 2.0:
            return None
        idx = self.drone_index(v.sysid)
        if idx is None or idx >= len(self.missions):
            return None
        key = (getattr(self.missions[idx], "metadata", {}) or {}).get("camera")
        if not key:
            return None
        camera = self._cameras.get(key)
        if camera is None:
            try:
                camera = backend.require("missions.planner", "resolve_camera", _("Planning"))(key)
            except Exception:  # an unknown camera: no footprint drawn, nothing else changes
                log.debug("camera %r not resolved", key, exc_info=True)
                return None
            self._cameras[key] = camera
        across, along = camera.footprint_m(v.alt_rel_m)
        return camera_footprint_lonlat(v.lon, v.lat, v.heading_deg, across, along)
