"""A payload drop (a life buoy for someone in the water) as ArduCopter and PX4 take it: the
commands real firmware accepts are uploaded, verified and flown by the simulator; the ones it
refuses are refused with the firmware's reason. Real MAVLink over loopback."""

from __future__ import annotations

from typing import Any

import pytest

from dronekit_plzen import mission_items as mi
from dronekit_plzen.errors import CommandError, MissionTransferError
from dronekit_plzen.link import connect
from dronekit_plzen.mission_items import MissionItem
from dronekit_plzen.safety import Clearance

HB_HZ = 10.0


def _ready(v: Any) -> Any:
    v.wait_ready_to_arm(timeout_s=30)
    return v.wait_for(lambda s: s.home is not None and s.position_known, 30, "home")


def drop_mission(lat: float, lon: float, *, frame_of_do: int) -> list[MissionItem]:
    """Take off, fly 40 m north, lower the buoy to the water and let it go, come home.
    ``frame_of_do``: the frame of the commands without a position (Mission Planner writes 3)."""
    place = (lat + 3.6e-4, lon)
    return [
        MissionItem(mi.CMD_NAV_TAKEOFF, alt_m=20.0),
        MissionItem(mi.CMD_DO_CHANGE_SPEED, frame=frame_of_do, param1=1, param2=4.0, param3=-1),
        MissionItem(mi.CMD_NAV_WAYPOINT, lat_deg=place[0], lon_deg=place[1], alt_m=20.0),
        MissionItem(mi.CMD_NAV_PAYLOAD_PLACE, param1=25.0, lat_deg=place[0], lon_deg=place[1]),
        MissionItem(mi.CMD_DO_SET_SERVO, frame=frame_of_do, param1=9, param2=1100),
        MissionItem(mi.CMD_DO_GRIPPER, frame=frame_of_do, param1=1, param2=0),
        MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=mi.FRAME_MISSION),
    ]


def test_ardupilot_flies_a_payload_place_and_releases(sim_factory: Any, sim_url_of: Any) -> None:
    fleet = sim_factory(1, "ardupilot")
    with connect(sim_url_of(fleet, 0), heartbeat_hz=HB_HZ) as link:
        v = link.wait_vehicle(timeout_s=10)
        home = _ready(v).home
        items = drop_mission(home[0], home[1], frame_of_do=mi.FRAME_GLOBAL_RELATIVE_ALT)
        v.upload_mission(items, clearance=Clearance.passed(items))  # verified: no error
        v.arm()
        v.takeoff(20.0)
        v.wait_for(lambda s: s.relative_alt_m > 15, 60, "climb")
        v.start_mission()
        low = v.wait_for(lambda s: s.mission_seq == 3 and s.relative_alt_m < 1.0, 180, "lowered")
        assert low.lat_deg == pytest.approx(home[0] + 3.6e-4, abs=2e-5)
        st = v.wait_for(lambda s: s.mission_seq >= 4 and s.relative_alt_m > 15, 180, "climbed")
        texts = [t.text for t in st.statustexts]
        assert "PayloadPlace: Releasing the gripper" in texts
        v.wait_for(lambda s: not s.armed, 300, "home and disarmed")


def test_px4_takes_the_commands_without_position_in_any_frame_and_refuses_payload_place(
    sim_factory: Any, sim_url_of: Any
) -> None:
    """PX4 v1.16 refuses DO_CHANGE_SPEED, DO_SET_SERVO ... in a global frame (as Mission Planner
    writes them): the link sends them in the mission frame. NAV_PAYLOAD_PLACE and DO_SET_SERVO
    are not PX4 mission commands: refused with MAV_MISSION_UNSUPPORTED, as by the firmware."""
    fleet = sim_factory(1, "px4")
    with connect(sim_url_of(fleet, 0), heartbeat_hz=HB_HZ) as link:
        v = link.wait_vehicle(timeout_s=10)
        home = _ready(v).home
        items = drop_mission(home[0], home[1], frame_of_do=mi.FRAME_GLOBAL_RELATIVE_ALT)
        # the link knows PX4 runs neither: refused before anything is sent
        with pytest.raises(MissionTransferError) as err:
            v.upload_mission(items, clearance=Clearance.passed(items))
        assert str(err.value) == (
            "item 4 (NAV_PAYLOAD_PLACE) is not a command PX4 runs in a mission: PX4 would refuse "
            "to start it (its mission feasibility check); nothing was sent"
        )
        assert v.download_mission() == []
        # sent anyway, the vehicle refuses it itself
        with pytest.raises(MissionTransferError) as err:
            v.upload_mission(items, clearance=Clearance.passed(items), startable_only=False)
        assert err.value.mission_result == 3  # MAV_MISSION_UNSUPPORTED: the payload place
        assert str(err.value) == (
            "the vehicle refused item 4 (NAV_PAYLOAD_PLACE): the autopilot does not support "
            "this command (UNSUPPORTED)"
        )
        assert (err.value.seq, err.value.command) == (3, 94)
        kept = [it for it in items if it.command not in (94, mi.CMD_DO_SET_SERVO)]
        v.upload_mission(kept, clearance=Clearance.passed(kept))  # verified
        back = v.download_mission()
        assert [b.command for b in back] == [it.command for it in kept]
        assert back[1].frame == mi.FRAME_MISSION and back[1].param2 == pytest.approx(4.0)


def test_px4_mission_with_a_condition_is_refused_before_it_is_sent(
    sim_factory: Any, sim_url_of: Any
) -> None:
    """PX4 v1.16 stores CONDITION_DELAY on upload, then refuses to start the mission: "Mission
    start denied! No valid mission", the aircraft armed on the ground (seen on PX4 SITL). The
    link says so before sending; the simulator's PX4 answers the start as the firmware does."""
    fleet = sim_factory(1, "px4")
    with connect(sim_url_of(fleet, 0), heartbeat_hz=HB_HZ) as link:
        v = link.wait_vehicle(timeout_s=10)
        home = _ready(v).home
        items = [
            MissionItem(mi.CMD_NAV_TAKEOFF, alt_m=20.0),
            MissionItem(mi.CMD_NAV_WAYPOINT, lat_deg=home[0] + 3e-4, lon_deg=home[1], alt_m=20.0),
            MissionItem(mi.CMD_CONDITION_DELAY, frame=mi.FRAME_MISSION, param1=3.0),
            MissionItem(mi.CMD_DO_CHANGE_SPEED, frame=mi.FRAME_MISSION, param1=1, param2=4.0),
            MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=mi.FRAME_MISSION),
        ]
        with pytest.raises(MissionTransferError) as err:
            v.upload_mission(items, clearance=Clearance.passed(items))
        assert (err.value.seq, err.value.command, err.value.mission_result) == (2, 112, 3)
        assert "item 3 (CONDITION_DELAY) is not a command PX4 runs in a mission" in str(err.value)
        assert v.download_mission() == []  # nothing was sent
        # sent anyway: stored (verified), but the start is denied as PX4 denies it
        v.upload_mission(items, clearance=Clearance.passed(items), startable_only=False)
        with pytest.raises(CommandError) as denied:
            v.start_mission()
        assert denied.value.result == 2  # MAV_RESULT_DENIED
        st = v.wait_for(
            lambda s: any("No valid mission" in t.text for t in s.statustexts), 10, "denial"
        )
        assert not st.armed
