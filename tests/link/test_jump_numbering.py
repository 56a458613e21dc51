"""DO_JUMP targets mean the same waypoint on every autopilot.

Our items never include ArduPilot's home (seq 0 on the vehicle), so a jump to item k must go to
the vehicle's seq k + 1 on ArduPilot and seq k on PX4. Real ArduCopter 4.7-dev SITL jumped to the
take-off when the link layer sent the index unchanged; the simulator stores and executes jumps by
the vehicle's own sequence numbers as the firmware does, so this test fails if the shift is lost.
"""

from __future__ import annotations

from typing import Any

import pytest

from dronekit_plzen.link import connect
from dronekit_plzen.mission_items import (
    CMD_DO_JUMP,
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_MISSION,
    MissionItem,
)
from dronekit_plzen.safety import Clearance


def _items(lat: float, lon: float) -> list[MissionItem]:
    def wp(dlat: float) -> MissionItem:
        return MissionItem(
            CMD_NAV_WAYPOINT,
            frame=FRAME_GLOBAL_RELATIVE_ALT,
            lat_deg=lat + dlat,
            lon_deg=lon,
            alt_m=20.0,
        )

    return [
        MissionItem(CMD_NAV_TAKEOFF, frame=FRAME_GLOBAL_RELATIVE_ALT, alt_m=20.0),  # 0
        wp(2e-4),  # 1: "WP A", the jump target
        wp(4e-4),  # 2
        MissionItem(CMD_DO_JUMP, frame=FRAME_MISSION, param1=1, param2=1),  # 3: to WP A once
        MissionItem(CMD_NAV_RETURN_TO_LAUNCH, frame=FRAME_MISSION),  # 4
    ]


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_do_jump_target_is_the_same_waypoint_on_both_autopilots(
    sim_factory: Any, sim_url_of: Any, autopilot: str
) -> None:
    fleet = sim_factory(1, autopilot, boot_settle_s=1.0)
    with connect(sim_url_of(fleet, 0), heartbeat_hz=5) as link:
        v = link.wait_vehicle(timeout_s=10)
        v.wait_for(lambda s: s.home is not None, 30, "home")
        lat, lon, _alt = v.state.home
        items = _items(lat, lon)
        v.upload_mission(items, clearance=Clearance.passed(items))  # verified on read-back
        back = v.download_mission()
        assert back[3].command == CMD_DO_JUMP and back[3].param1 == 1  # our numbering again
    stored = fleet.vehicles[0].model.missions[0]  # the vehicle's own list (ArduPilot: home first)
    first = 0 if autopilot == "px4" else 1
    jump = stored[first + 3]
    assert jump.command == CMD_DO_JUMP
    target = stored[int(jump.param1)]
    assert target.command == CMD_NAV_WAYPOINT
    assert target.lat_deg == pytest.approx(items[1].lat_deg, abs=1e-7)
