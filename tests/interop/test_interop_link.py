"""Link-layer checks on real firmware: version, parameters, modes, uploads, fence, rally, terrain.

Run by ``make interop`` only (see conftest.py). Each test gets a freshly started instance.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from harness import (
    MSG_AUTOPILOT_VERSION,
    grid_mission,
    offset,
    simple_mission,
)

from dronekit_plzen.link import connect
from dronekit_plzen.mission_items import (
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_TERRAIN_ALT,
    MISSION_TYPE_FENCE,
    MISSION_TYPE_RALLY,
    MissionItem,
)
from dronekit_plzen.safety import Override
from missions.model import FenceCircle, FencePolygon, Mission, RallyPoint
from missions.validation import clear_for_flight

MAV_MISSION_UNSUPPORTED_FRAME = 2
MAV_MISSION_UNSUPPORTED = 3


def cleared(vehicle: Any, items: list[MissionItem]) -> tuple[list[MissionItem], Any]:
    """The project's safety guard at the vehicle: (items, clearance) to upload."""
    st = vehicle.state
    lat, lon, alt = st.home
    fc = clear_for_flight(
        Mission(items=list(items), home=(lon, lat, alt)),
        vehicle_home=st.home,
        vehicle_position=(st.lat_deg, st.lon_deg),
    )
    s = fc.sorties[0]
    return list(s.items), s.clearance


def _vehicle(link: Any, sysid: int) -> Any:
    v = link.wait_vehicle(sysid, timeout_s=20)
    v.wait_for(lambda s: s.home is not None and s.position_known, 30, "home and position")
    return v


@pytest.mark.timeout(240)
def test_version(fw_kind: str, ready: Any, out_dir: Path) -> None:
    """AUTOPILOT_VERSION through the project's link and the firmware's banner."""
    text = ready.obs.version_string()
    print(f"{fw_kind} firmware: {text}")
    path = out_dir / "versions.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known[fw_kind] = text
    path.write_text(json.dumps(known, indent=1))
    with connect(ready.url) as link:
        v = link.wait_vehicle(ready.inst.sysid, timeout_s=20)
        assert v.autopilot == ("ardupilot" if fw_kind == "arducopter" else "px4")
        with link.subscribe({"AUTOPILOT_VERSION"}, v.sysid) as sub:
            v.request_message(MSG_AUTOPILOT_VERSION)
            got = sub.get(5.0)
        assert got is not None, "no AUTOPILOT_VERSION on the project's link after REQUEST_MESSAGE"
        assert got[0].flight_sw_version == ready.obs.seen.version["flight_sw_version"]


@pytest.mark.timeout(240)
def test_param_read_write(fw_kind: str, ready: Any) -> None:
    """Vehicle.get_param / set_param: a float and an integer parameter (PX4 sends integers
    byte-wise, ArduPilot cast), read back through the link and restored."""
    if fw_kind == "arducopter":
        cases = (("WPNAV_SPEED", 750.0), ("FS_GCS_ENABLE", 1))
    else:
        cases = (("MPC_XY_CRUISE", 4.5), ("NAV_DLL_ACT", 2))
    with connect(ready.url) as link:
        v = link.wait_vehicle(ready.inst.sysid, timeout_s=20)
        for name, new in cases:
            before = v.get_param(name)
            assert math.isfinite(before) and before != new
            assert v.set_param(name, new) == pytest.approx(new)
            assert v.get_param(name) == pytest.approx(new)
            assert v.set_param(name, before) == pytest.approx(before)


@pytest.mark.timeout(300)
def test_mode_changes(fw_kind: str, ready: Any) -> None:
    """set_mode by name, confirmed by the firmware's HEARTBEAT (observer) and the link's state."""
    modes = (
        ["GUIDED", "LOITER", "ALT_HOLD", "AUTO", "STABILIZE"]
        if fw_kind == "arducopter"
        else ["AUTO.LOITER", "AUTO.MISSION", "AUTO.LOITER"]
    )
    with connect(ready.url) as link:
        v = _vehicle(link, ready.inst.sysid)
        items, clearance = cleared(v, simple_mission(v.state.home))
        # a mission for AUTO / AUTO.MISSION; not verified here (test_upload_* checks that)
        v.upload_mission(items, verify=False, clearance=clearance)
        for mode in modes:
            v.set_mode(mode)
            st = v.wait_for(lambda s, m=mode: s.mode == m, 10, f"mode {mode}")
            assert st.mode == mode
            seen = ready.obs.wait(
                lambda s, m=mode: bool(s.modes) and _same_mode(s.modes[-1], m),
                10,
                f"observer: mode {mode}",
            )
            assert _same_mode(seen.modes[-1], mode)


def _same_mode(observed: str, wanted: str) -> bool:
    """pymavlink's name (PX4: ``LOITER``, ``MISSION``) against the project's (``AUTO.LOITER``)."""
    return observed == wanted or wanted.endswith("." + observed)


@pytest.mark.timeout(600)
def test_upload_500_items_and_verify(fw_kind: str, ready: Any) -> None:
    """500 items uploaded, downloaded back and compared by the project's verification."""
    with connect(ready.url) as link:
        v = _vehicle(link, ready.inst.sysid)
        items, clearance = cleared(v, grid_mission(v.state.home, 500))
        assert len(items) == 500
        t0 = time.monotonic()
        v.upload_mission(items, clearance=clearance)  # verify=True: downloads and compares
        dt = time.monotonic() - t0
        print(f"{fw_kind}: 500 items uploaded and verified in {dt:.1f} s")
        back = v.download_mission()
        assert len(back) == 500
        assert ready.obs.seen.messages.get("MISSION_CURRENT") is not None


@pytest.mark.timeout(300)
def test_geofence_upload(fw_kind: str, ready: Any) -> None:
    """An inclusion polygon and an exclusion circle (MISSION_TYPE_FENCE), verified."""
    with connect(ready.url) as link:
        v = _vehicle(link, ready.inst.sysid)
        home = v.state.home
        corners = [
            offset(home, n, e) for n, e in ((-300, -300), (-300, 300), (300, 300), (300, -300))
        ]
        poly = FencePolygon(vertices=tuple((lon, lat) for lat, lon in corners), inclusion=True)
        c_lat, c_lon = offset(home, 150.0, 150.0)
        circle = FenceCircle(center=(c_lon, c_lat), radius_m=30.0, inclusion=False)
        fence = poly.to_items() + circle.to_items()
        v.upload_mission(fence, MISSION_TYPE_FENCE, verify=True)
        assert len(v.download_mission(MISSION_TYPE_FENCE)) == len(fence)


@pytest.mark.timeout(300)
def test_rally_upload(fw_kind: str, ready: Any) -> None:
    """Two rally points (MISSION_TYPE_RALLY), verified."""
    with connect(ready.url) as link:
        v = _vehicle(link, ready.inst.sysid)
        home = v.state.home
        rally = []
        for n, e in ((40.0, 40.0), (-40.0, 60.0)):
            lat, lon = offset(home, n, e)
            rally.append(RallyPoint(lon_deg=lon, lat_deg=lat, alt_m=20.0).to_item())
        v.upload_mission(rally, MISSION_TYPE_RALLY, verify=True)
        assert len(v.download_mission(MISSION_TYPE_RALLY)) == 2


@pytest.mark.timeout(300)
def test_terrain_frame_items(fw_kind: str, ready: Any) -> None:
    """Waypoints in MAV_FRAME_GLOBAL_TERRAIN_ALT: ArduPilot stores them; PX4 must refuse clearly."""
    with connect(ready.url) as link:
        v = _vehicle(link, ready.inst.sysid)
        home = v.state.home
        items = simple_mission(home)
        lat, lon = offset(home, 10.0, 20.0)
        items.insert(
            2,
            MissionItem(
                command=CMD_NAV_WAYPOINT,
                frame=FRAME_GLOBAL_TERRAIN_ALT,
                lat_deg=lat,
                lon_deg=lon,
                alt_m=25.0,
            ),
        )
        override = Override.make("interop: terrain-frame items checked without a DEM")
        if fw_kind == "arducopter":
            v.upload_mission(items, override=override)
            back = v.download_mission()
            assert back[2].frame in (FRAME_GLOBAL_TERRAIN_ALT, FRAME_GLOBAL_TERRAIN_ALT + 1)
            assert back[2].alt_m == pytest.approx(25.0, abs=0.01)
        else:
            from dronekit_plzen.errors import MissionTransferError

            with pytest.raises(MissionTransferError) as err:
                v.upload_mission(items, override=override)
            print(f"px4 refused the terrain-frame item: {err.value}")
            assert err.value.mission_result == MAV_MISSION_UNSUPPORTED_FRAME


def test_spline_and_loiter_to_alt_items(fw_kind: str, ready: Any) -> None:
    """The guard flies these two NAV commands on paper; what does the firmware keep? ArduCopter
    stores both, PX4 keeps LOITER_TO_ALT and refuses the spline waypoint (no such command)."""
    with connect(ready.url) as link:
        v = _vehicle(link, ready.inst.sysid)
        home = v.state.home
        lat, lon = offset(home, 10.0, 20.0)
        climb = MissionItem(command=31, param2=-15.0, lat_deg=lat, lon_deg=lon, alt_m=30.0)
        items = simple_mission(home)
        items.insert(2, climb)
        items, clearance = cleared(v, items)  # the guard flies it on paper and passes it
        v.upload_mission(items, clearance=clearance)
        kept = [b for b in v.download_mission() if b.command == 31]
        assert len(kept) == 1 and kept[0].alt_m == pytest.approx(30.0, abs=0.01)
        print(f"{fw_kind}: LOITER_TO_ALT kept as param2={kept[0].param2:g}")
        spline = MissionItem(command=82, lat_deg=lat, lon_deg=lon, alt_m=30.0)
        items = [spline if it.command == 31 else it for it in items]
        items, clearance = cleared(v, items)
        if fw_kind == "arducopter":
            v.upload_mission(items, clearance=clearance)
            kept = [b for b in v.download_mission() if b.command == 82]
            assert len(kept) == 1 and kept[0].lat_deg == pytest.approx(lat, abs=1e-6)
        else:
            from dronekit_plzen.errors import MissionTransferError

            with pytest.raises(MissionTransferError) as err:
                v.upload_mission(items, clearance=clearance)
            print(f"px4 refused the spline waypoint: {err.value}")
            assert err.value.mission_result == MAV_MISSION_UNSUPPORTED
