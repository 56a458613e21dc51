"""A plain pymavlink ground station flies a full mission against both flavours over real sockets."""

from __future__ import annotations

import time

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mav

from dronekit_plzen import mission_items as mi
from dronekit_plzen.link.mission_packing import item_diffs
from simulators import SimFleet
from simulators.modes import px4_custom_mode

HOME = (49.7475, 13.3776, 310.0)


def survey(autopilot: str) -> list[mi.MissionItem]:
    items = [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=20.0),
        mi.MissionItem(mi.CMD_NAV_WAYPOINT, lat_deg=49.7480, lon_deg=13.3776, alt_m=25.0),
        mi.MissionItem(mi.CMD_DO_SET_CAM_TRIGG_DIST, frame=mi.FRAME_MISSION, param1=10.0),
        mi.MissionItem(mi.CMD_NAV_WAYPOINT, lat_deg=49.7480, lon_deg=13.3784, alt_m=25.0),
        mi.MissionItem(mi.CMD_NAV_LAND, lat_deg=49.7476, lon_deg=13.3784, alt_m=0.0),
    ]
    if autopilot == "ardupilot":  # ArduPilot: seq 0 is home (the uploaded value is replaced)
        items.insert(
            0,
            mi.MissionItem(
                mi.CMD_NAV_WAYPOINT,
                frame=mi.FRAME_GLOBAL,
                lat_deg=HOME[0],
                lon_deg=HOME[1],
                alt_m=HOME[2],
            ),
        )
    return items


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_pymavlink_gcs_flies_mission(autopilot, port_offset, gcs_factory):
    with SimFleet(
        boot_settle_s=3.0,
        n_vehicles=2,
        autopilot=autopilot,
        home=HOME,
        speedup=40,
        port_offset=port_offset,
    ) as fleet:
        ports = fleet.ports(1)
        url = (
            f"udpin:127.0.0.1:{ports['api_remote']}"
            if autopilot == "px4"
            else f"tcp:127.0.0.1:{ports['tcp']}"
        )
        gcs = gcs_factory(url)
        gcs.target = 2
        hb = gcs.recv("HEARTBEAT", lambda m: m.get_srcSystem() == 2)
        assert hb.autopilot == (
            mav.MAV_AUTOPILOT_PX4 if autopilot == "px4" else mav.MAV_AUTOPILOT_ARDUPILOTMEGA
        )
        assert hb.type == mav.MAV_TYPE_QUADROTOR
        if autopilot == "ardupilot":
            # the quirk: nothing but HEARTBEAT until streams are requested
            for _ in range(3):
                gcs.recv("HEARTBEAT")
            # (HOME_POSITION and STATUSTEXT are events, sent when they happen)
            assert {m.get_type() for m in gcs.seen} <= {"HEARTBEAT", "HOME_POSITION", "STATUSTEXT"}
            gcs.m.mav.request_data_stream_send(2, 1, mav.MAV_DATA_STREAM_ALL, 4, 1)
        gcs.recv("GPS_RAW_INT", lambda m: m.fix_type >= 3, timeout=10)

        items = survey(autopilot)
        result, used = gcs.upload(items)
        assert result == mav.MAV_MISSION_ACCEPTED
        assert set(used) == {"MISSION_REQUEST_INT" if autopilot == "px4" else "MISSION_REQUEST"}
        back = gcs.download()
        assert len(back) == len(items)
        first = 0 if autopilot == "px4" else 1
        for a, b in zip(items[first:], back[first:], strict=True):
            assert item_diffs(a, b, autopilot) == ()  # as the firmware stores it
        if autopilot == "ardupilot":  # home at seq 0, AMSL
            assert back[0].frame == mi.FRAME_GLOBAL
            assert abs(back[0].lat_deg - fleet.vehicles[1].state.home_lat_deg) < 1e-6

        if autopilot == "px4":
            main, sub = 4, 4
            # PX4 takes a mission just uploaded as missing until its navigator has checked it
            # (mission_proto.PX4_MISSION_CHECK_S): Mission mode is refused until then
            deadline = time.monotonic() + 3.0
            while (
                r := gcs.command(mav.MAV_CMD_DO_SET_MODE, 1, main, sub)
            ) != mav.MAV_RESULT_ACCEPTED:
                assert r == mav.MAV_RESULT_DENIED and time.monotonic() < deadline
                time.sleep(0.05)
            assert gcs.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 1) == mav.MAV_RESULT_ACCEPTED
            gcs.recv(
                "HEARTBEAT",
                lambda m: m.custom_mode == px4_custom_mode("AUTO.MISSION") and m.base_mode & 128,
            )
        else:
            assert gcs.command(mav.MAV_CMD_DO_SET_MODE, 1, 4) == mav.MAV_RESULT_ACCEPTED  # GUIDED
            assert gcs.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 1) == mav.MAV_RESULT_ACCEPTED
            assert gcs.command(mav.MAV_CMD_MISSION_START, 0, 0) == mav.MAV_RESULT_ACCEPTED
            gcs.recv("HEARTBEAT", lambda m: m.custom_mode == 3 and m.base_mode & 128)

        reached: list[int] = []
        in_air_seen = False
        while True:
            msg = gcs.recv(["MISSION_ITEM_REACHED", "EXTENDED_SYS_STATE", "HEARTBEAT"], timeout=20)
            if msg.get_type() == "MISSION_ITEM_REACHED":
                reached.append(msg.seq)
            elif (
                msg.get_type() == "EXTENDED_SYS_STATE"
                and msg.landed_state == mav.MAV_LANDED_STATE_IN_AIR
            ):
                in_air_seen = True
            elif (
                msg.get_type() == "HEARTBEAT"
                and msg.get_srcSystem() == 2
                and not msg.base_mode & 128
                and reached
            ):
                break
        assert in_air_seen
        # ArduCopter reports no MISSION_ITEM_REACHED for the DO commands AP_Mission completes
        # itself (here DO_SET_CAM_TRIGG_DIST, seq 3; seen on ArduCopter SITL); PX4 reports all
        silent = {3} if autopilot == "ardupilot" else set()
        assert reached == [s for s in range(first, len(items)) if s not in silent]
        # the heartbeat is sent mid-step; the fleet publishes its snapshot after the batch
        assert fleet.wait_until(lambda: not fleet.vehicles[1].state.armed, 5.0)
        st = fleet.vehicles[1].state
        assert st.landed and not st.armed
        # landed at the LAND item's position (within GPS-free truth tolerance of 1 m)
        assert abs(st.lat_deg - 49.7476) < 1e-5 and abs(st.lon_deg - 13.3784) < 1.5e-5
        assert st.images_captured >= 4  # 10 m trigger distance over the ~58 m leg and the way down
        feedback = [m for m in gcs.seen if m.get_type() == "CAMERA_FEEDBACK"]
        assert feedback and all(49.747 < f.lat / 1e7 < 49.749 for f in feedback)
        assert fleet.vehicles[0].state.armed is False  # the other vehicle stayed put
