"""After a reconnect the fly panel knows whether a vehicle holds its sortie's geofence: the fence
is read back with the mission (the real simulator over UDP, both flavours), so the pre-flight
summary asks for a new upload only when the fence on board is not the plan's or unknown."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dronekit_plzen.errors import ProtocolError
from dronekit_plzen.geo import transform
from dronekit_plzen.mission_items import (
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_MISSION,
    MissionItem,
)
from gui.clearance import SortieView, clear_drones
from gui.fly_links import preset_urls
from gui.fly_onboard import OnBoardMixin, same_fence
from gui.flysession import FlySession, OnBoard
from gui.models import VehicleView
from missions.model import AUTOPILOT_ARDUPILOT, FencePolygon, Mission

HOME = (49.7475, 13.3776, 310.0)  # the simulator's default home: lat, lon, alt AMSL


def _at(east_m: float, north_m: float) -> tuple[float, float]:
    """(lon, lat) metres from home (UTM 33N)."""
    x, y = transform([HOME[1]], [HOME[0]], 4326, 32633)
    lo, la = transform([float(x[0]) + east_m], [float(y[0]) + north_m], 32633, 4326)
    return float(lo[0]), float(la[0])


def _sortie(autopilot: str, half_m: float) -> SortieView:
    """Take-off, 80 m north, RTL, inside a square geofence ``half_m`` each side of home."""
    lat, lon, alt = HOME
    lo, la = _at(0.0, 80.0)
    m = Mission(
        items=[
            MissionItem(command=CMD_NAV_TAKEOFF, lat_deg=lat, lon_deg=lon, alt_m=30.0),
            MissionItem(command=CMD_NAV_WAYPOINT, lat_deg=la, lon_deg=lo, alt_m=30.0),
            MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=FRAME_MISSION),
        ],
        home=(lon, lat, alt),
    )
    if autopilot == "ardupilot":
        m.autopilot = AUTOPILOT_ARDUPILOT
    corners = ((-half_m, -half_m), (half_m, -half_m), (half_m, half_m), (-half_m, half_m))
    m.fence_polygons.append(
        FencePolygon(vertices=tuple(_at(e, n) for e, n in corners), inclusion=True)
    )
    sortie = clear_drones([[m]])[0][0]
    assert sortie.cleared, sortie.violations
    return sortie


class _Panel(OnBoardMixin):
    """The fly panel's state that restoring a sortie's progress reads (no widgets)."""

    def __init__(self, session: FlySession, sorties: list[list[SortieView]]) -> None:
        self.session = session
        self.vehicles: dict[int, VehicleView] = {}
        self.sorties = sorties
        self.progress = {}
        self.on_board = {}
        self.fence_on_board = {}
        self._restarted_ids = set()


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_the_geofence_on_board_is_read_back_and_restores_the_sortie(
    sim_fleet: Any, autopilot: str
) -> None:
    planned, other = _sortie(autopilot, 300.0), _sortie(autopilot, 250.0)
    fence = list(planned.mission.fence_items())
    with sim_fleet(n_vehicles=1, autopilot=autopilot) as (_fleet, off):
        session = FlySession(preset_urls("sim", 1, off)[0], wait_s=30)
        try:
            session.open()
            deadline = time.monotonic() + 30
            while not session.snapshot() and time.monotonic() < deadline:
                time.sleep(0.1)
            sysid = session.snapshot()[0].sysid
            session.run("upload", sysid, sortie=planned)
            # a reconnecting panel: the mission and the fence as the vehicle holds them
            back = session.run("download", sysid)
            assert isinstance(back, OnBoard) and back.fence is not None
            assert len(back.fence) == len(fence) == 4
            assert same_fence(fence, back.fence)
            assert not same_fence(list(other.mission.fence_items()), back.fence)
            assert not same_fence(fence, None) and not same_fence(fence, back.fence[:3])

            panel = _Panel(session, [[planned]])
            panel.fence_on_board[sysid] = back.fence
            assert panel._restore_progress(sysid, back.items) is not None
            assert panel.progress[sysid].fence  # the summary does not ask for it again
            unknown: tuple[list[Any] | None, ...] = (None, [])
            for held in unknown:  # not readable, or cleared on board: asked again
                panel = _Panel(session, [[planned]])
                panel.fence_on_board[sysid] = held
                assert panel._restore_progress(sysid, back.items) is not None
                assert not panel.progress[sysid].fence
        finally:
            session.close()


def test_a_vehicle_refusing_the_fence_download_still_gives_its_mission() -> None:
    """A fence the vehicle cannot send (no fence protocol, a NACK) is "not known", and the
    mission read back still reaches the panel."""

    class _NoFence:
        sysid = 7

        def download_mission(self, mission_type: int = 0) -> list[MissionItem]:
            if mission_type == 1:
                raise ProtocolError("vehicle 7 refused the request: MAV_MISSION_UNSUPPORTED")
            return [MissionItem(command=CMD_NAV_WAYPOINT, lat_deg=HOME[0], lon_deg=HOME[1])]

    back = FlySession._download(FlySession.__new__(FlySession), _NoFence())
    assert isinstance(back, OnBoard) and len(back.items) == 1 and back.fence is None
