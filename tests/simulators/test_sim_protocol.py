"""MAVLink micro-services over real sockets: missions, parameters, commands, streams, signing."""

from __future__ import annotations

import itertools
import struct
import time

import pytest
from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as mav

from dronekit_plzen import mission_items as mi
from simulators import LinkFault, Reboot, SimFleet

HOME = (49.7475, 13.3776, 310.0)


def url_for(fleet: SimFleet, i: int = 0, link: str = "api") -> str:
    p = fleet.ports(i)
    if fleet.autopilot == "ardupilot":
        return f"tcp:127.0.0.1:{p['tcp']}"
    return f"udpin:127.0.0.1:{p['api_remote' if link == 'api' else 'gcs_remote']}"


def wp(seq_lat: float, alt: float = 20.0, **kw) -> mi.MissionItem:  # type: ignore[no-untyped-def]
    return mi.MissionItem(mi.CMD_NAV_WAYPOINT, lat_deg=seq_lat, lon_deg=13.3776, alt_m=alt, **kw)


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_mission_errors_fence_rally_clear(autopilot, port_offset, gcs_factory):
    with SimFleet(
        boot_settle_s=3.0, autopilot=autopilot, home=HOME, speedup=20, port_offset=port_offset
    ) as fleet:
        g = gcs_factory(url_for(fleet))
        g.recv("HEARTBEAT")
        # too many items
        g.m.mav.mission_count_send(1, 1, 5000, 0)
        assert g.recv("MISSION_ACK").type == mav.MAV_MISSION_NO_SPACE
        # unsupported command / frame
        bad_cmd = [wp(49.748), mi.MissionItem(31000, lat_deg=49.748, lon_deg=13.3776, alt_m=10)]
        assert g.upload(bad_cmd)[0] == mav.MAV_MISSION_UNSUPPORTED
        # a spline waypoint: ArduCopter flies it, PX4's mission parser has none
        spline = [wp(49.748), mi.MissionItem(82, lat_deg=49.749, lon_deg=13.3776, alt_m=10)]
        want = mav.MAV_MISSION_UNSUPPORTED if autopilot == "px4" else mav.MAV_MISSION_ACCEPTED
        assert g.upload(spline)[0] == want
        climb = mi.MissionItem(31, param2=-30.0, lat_deg=49.749, lon_deg=13.3776, alt_m=40)
        assert g.upload([wp(49.748), climb])[0] == mav.MAV_MISSION_ACCEPTED  # both fly it
        bad_frame = [wp(49.748), wp(49.749, frame=mav.MAV_FRAME_LOCAL_NED)]
        assert g.upload(bad_frame)[0] == mav.MAV_MISSION_UNSUPPORTED_FRAME
        # out-of-sequence item
        g.m.mav.mission_count_send(1, 1, 3, 0)
        g.recv(["MISSION_REQUEST", "MISSION_REQUEST_INT"], lambda m: m.seq == 0)
        g.m.mav.mission_item_int_send(1, 1, **wp(49.748).to_wire(2))
        assert g.recv("MISSION_ACK").type == mav.MAV_MISSION_INVALID_SEQUENCE
        # legacy float MISSION_ITEM is accepted
        g.m.mav.mission_count_send(1, 1, 2, 0)
        for seq in range(2):
            g.recv(["MISSION_REQUEST", "MISSION_REQUEST_INT"], lambda m, s=seq: m.seq == s)
            w = wp(49.748 + 0.001 * seq).to_wire(seq)
            w["x"], w["y"] = w["x"] / 1e7, w["y"] / 1e7
            g.m.mav.mission_item_send(1, 1, **w)
        assert g.recv("MISSION_ACK").type == mav.MAV_MISSION_ACCEPTED
        assert fleet.wait_until(lambda: fleet.vehicles[0].state.mission_count == 2, 5)
        # fence polygon + circle and a rally point
        sq = [(49.7470, 13.3770), (49.7470, 13.3790), (49.7490, 13.3790), (49.7490, 13.3770)]
        fence = [
            mi.MissionItem(5001, param1=4, lat_deg=a, lon_deg=b, mission_type=1) for a, b in sq
        ]
        fence.append(
            mi.MissionItem(5004, param1=20.0, lat_deg=49.748, lon_deg=13.378, mission_type=1)
        )
        assert g.upload(fence, mission_type=1)[0] == mav.MAV_MISSION_ACCEPTED
        rally = [mi.MissionItem(5100, lat_deg=49.7480, lon_deg=13.3780, alt_m=30, mission_type=2)]
        assert g.upload(rally, mission_type=2)[0] == mav.MAV_MISSION_ACCEPTED
        got = g.download(mission_type=1)
        assert [x.command for x in got] == [5001] * 4 + [5004]
        assert got[4].param1 == pytest.approx(20.0)
        # as the firmware reports them (ArduCopter 4.7-dev, PX4 v1.16 SITL): fence vertices with
        # autocontinue 0 on both, rally points with 0 on ArduPilot and as sent on PX4
        assert not any(x.autocontinue for x in got)
        back = g.download(mission_type=2)[0]
        assert back.same_as(rally[0].with_(autocontinue=autopilot == "px4"))
        bad_fence = [
            mi.MissionItem(5001, param1=2, lat_deg=49.747, lon_deg=13.377, mission_type=1)
        ] * 2
        assert g.upload(bad_fence, mission_type=1)[0] == mav.MAV_MISSION_INVALID_PARAM1
        # set current, clear all
        g.m.mav.mission_set_current_send(1, 1, 1)
        assert g.recv("MISSION_CURRENT", lambda m: m.seq == 1).seq == 1
        g.m.mav.mission_clear_all_send(1, 1, mav.MAV_MISSION_TYPE_ALL)
        assert g.recv("MISSION_ACK").type == mav.MAV_MISSION_ACCEPTED
        g.m.mav.mission_request_list_send(1, 1, 0)
        assert g.recv("MISSION_COUNT").count == (0 if autopilot == "px4" else 1)  # ArduPilot: home
        assert fleet.wait_until(
            lambda: fleet.vehicles[0].state.fence_count == fleet.vehicles[0].state.rally_count == 0,
            5,
        )


def test_parameters_px4_bytewise_and_ardupilot_cast(port_offset, gcs_factory):
    for k, autopilot in enumerate(("px4", "ardupilot")):
        with SimFleet(
            boot_settle_s=3.0,
            autopilot=autopilot,
            home=HOME,
            speedup=20,
            port_offset=port_offset + 10 * k,
        ) as fleet:
            g = gcs_factory(url_for(fleet))
            g.recv("HEARTBEAT")
            g.m.mav.param_request_list_send(1, 1)
            first = g.recv("PARAM_VALUE")
            names = {first.param_id}
            while len(names) < first.param_count:
                names.add(g.recv("PARAM_VALUE").param_id)
            assert len(names) == len(fleet.vehicles[0].model.params) > 30
            int_name = "NAV_DLL_ACT" if autopilot == "px4" else "FS_GCS_ENABLE"
            if autopilot == "px4":  # PX4: int32 sent byte-wise in the float
                wire = struct.unpack("<f", struct.pack("<i", 2))[0]
            else:
                wire = 2.0
            g.m.mav.param_set_send(1, 1, int_name.encode(), wire, mav.MAV_PARAM_TYPE_INT32)
            pv = g.recv("PARAM_VALUE", lambda m, n=int_name: m.param_id == n)
            assert (
                pv.param_value == pytest.approx(wire) and pv.param_type == mav.MAV_PARAM_TYPE_INT32
            )
            assert fleet.wait_until(lambda n=int_name: fleet.vehicles[0].model.p(n) == 2, 5)
            speed = "MPC_XY_CRUISE" if autopilot == "px4" else "WPNAV_SPEED"
            g.m.mav.param_set_send(
                1, 1, speed.encode(), 1e6, mav.MAV_PARAM_TYPE_REAL32
            )  # out of range
            pv = g.recv("PARAM_VALUE", lambda m, n=speed: m.param_id == n)
            assert pv.param_value == pytest.approx(5.0 if autopilot == "px4" else 1000.0)
            g.m.mav.param_request_read_send(1, 1, b"", 0)
            assert g.recv("PARAM_VALUE").param_index == 0


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_message_interval_request_message_and_capabilities(autopilot, port_offset, gcs_factory):
    with SimFleet(
        boot_settle_s=3.0, autopilot=autopilot, home=HOME, speedup=10, port_offset=port_offset
    ) as fleet:
        g = gcs_factory(url_for(fleet))
        g.recv("HEARTBEAT")
        assert (
            g.command(
                mav.MAV_CMD_SET_MESSAGE_INTERVAL, mav.MAVLINK_MSG_ID_GLOBAL_POSITION_INT, 100_000
            )
            == 0
        )
        stamps = [g.recv("GLOBAL_POSITION_INT").time_boot_ms for _ in range(12)]
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert all(80 <= d <= 120 for d in gaps), gaps  # 10 Hz in simulated time
        assert g.command(mav.MAV_CMD_REQUEST_MESSAGE, mav.MAVLINK_MSG_ID_AUTOPILOT_VERSION) == 0
        av = g.recv("AUTOPILOT_VERSION")
        for cap in (
            mav.MAV_PROTOCOL_CAPABILITY_MISSION_INT,
            mav.MAV_PROTOCOL_CAPABILITY_COMMAND_INT,
            mav.MAV_PROTOCOL_CAPABILITY_MAVLINK2,
        ):
            assert av.capabilities & cap
        assert g.command(mav.MAV_CMD_REQUEST_MESSAGE, mav.MAVLINK_MSG_ID_HOME_POSITION) == 0
        hp = g.recv("HOME_POSITION")
        assert hp.latitude / 1e7 == pytest.approx(HOME[0], abs=1e-6)
        assert g.command(42424) == mav.MAV_RESULT_UNSUPPORTED


def test_commands_takeoff_reposition_land_ardupilot(port_offset, gcs_factory):
    with SimFleet(
        boot_settle_s=3.0, autopilot="ardupilot", home=HOME, speedup=20, port_offset=port_offset
    ) as fleet:
        g = gcs_factory(url_for(fleet))
        g.recv("HEARTBEAT")
        g.m.mav.request_data_stream_send(1, 1, 0, 4, 1)
        g.recv("GPS_RAW_INT", lambda m: m.fix_type >= 3)
        assert (
            g.command(mav.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10) == mav.MAV_RESULT_FAILED
        )  # not armed
        assert g.command(mav.MAV_CMD_DO_SET_MODE, 1, 4) == 0
        assert g.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 1) == 0
        assert g.command(mav.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10) == 0
        assert g.wait_state(lambda: fleet.vehicles[0].state.relative_alt_m > 9.5, 20)
        g.m.mav.command_int_send(
            1,
            1,
            mav.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
            mav.MAV_CMD_DO_REPOSITION,
            0,
            0,
            -1,
            0,
            0,
            float("nan"),
            int(49.7480 * 1e7),
            int(13.3780 * 1e7),
            12.0,
        )
        assert g.recv("COMMAND_ACK", lambda a: a.command == mav.MAV_CMD_DO_REPOSITION).result == 0
        assert g.wait_state(lambda: abs(fleet.vehicles[0].state.lat_deg - 49.7480) < 5e-6, 30)
        assert g.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 0) == mav.MAV_RESULT_FAILED  # in the air
        assert g.command(mav.MAV_CMD_NAV_LAND) == 0
        assert g.wait_state(lambda: not fleet.vehicles[0].state.armed, 40)
        assert abs(fleet.vehicles[0].state.relative_alt_m) < 0.05


def test_signing_rejects_unsigned_commands(port_offset, gcs_factory):
    key = bytes(range(32))
    with SimFleet(
        boot_settle_s=3.0, autopilot="px4", home=HOME, speedup=10, port_offset=port_offset
    ) as fleet:
        fleet.vehicles[0].set_signing_key(key)
        g = gcs_factory(url_for(fleet))
        hb = g.recv("HEARTBEAT")
        assert hb.get_msgbuf()[2] & mav.MAVLINK_IFLAG_SIGNED  # the vehicle signs what it sends
        fleet.wait_until(lambda: fleet.vehicles[0].state.gps_fix_type >= 3, 10)
        with pytest.raises(AssertionError):
            g.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 1, timeout=1.5)
        assert not fleet.vehicles[0].state.armed
        g.m.setup_signing(key, sign_outgoing=True)
        assert g.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 1) == 0
        assert fleet.vehicles[0].state.armed or fleet.wait_until(
            lambda: fleet.vehicles[0].state.armed, 2
        )
        bad = gcs_factory(url_for(fleet, link="gcs"))
        bad.recv("HEARTBEAT")
        bad.m.setup_signing(bytes(32 * [7]), sign_outgoing=True)
        with pytest.raises(AssertionError):  # wrong key: rejected too
            bad.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 0, 21196, timeout=1.5)
        # (PX4 disarms by itself 10 s after arming without take-off; never by that command)
        assert "Disarmed by external command" not in fleet.vehicles[0].state.statustexts


def test_link_faults_loss_corruption_duplication(port_offset, gcs_factory):
    with SimFleet(
        boot_settle_s=3.0, autopilot="px4", home=HOME, speedup=40, port_offset=port_offset, seed=5
    ) as fleet:
        g = gcs_factory(url_for(fleet))
        g.recv("HEARTBEAT")
        g.command(mav.MAV_CMD_SET_MESSAGE_INTERVAL, mav.MAVLINK_MSG_ID_ATTITUDE, -1)
        fleet.vehicles[0].inject(LinkFault(loss=1.0, duration_s=40.0, link="api"))
        fleet.wait_until(lambda: fleet.vehicles[0].state.time_s > 3, 5)
        with pytest.raises(AssertionError):
            g.recv("HEARTBEAT", timeout=0.4)
        # half the packets lost: the sequence numbers show gaps
        fleet.vehicles[0].inject(LinkFault(loss=0.5, duration_s=1e9, link="api"))
        seqs = [g.recv("SYS_STATUS").get_seq() for _ in range(30)]
        gaps = sum(((b - a) % 256) - 1 for a, b in itertools.pairwise(seqs))
        assert gaps > 30  # ≈ as many lost as received (other messages interleave too)
        fleet.vehicles[0].inject(LinkFault(duplicate=1.0, duration_s=1e9, link="api"))
        time.sleep(0.3)
        g.seen.clear()
        for _ in range(20):
            g.recv("HEARTBEAT")
        hb_seq = [m.get_seq() for m in g.seen if m.get_type() == "HEARTBEAT"]
        assert len(hb_seq) - len(set(hb_seq)) >= 8
        errors0 = g.m.mav.total_receive_errors
        fleet.vehicles[0].inject(LinkFault(corrupt=1.0, duration_s=1e9, link="api"))
        time.sleep(0.5)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            g.m.recv_match(blocking=True, timeout=0.1)
        assert g.m.mav.total_receive_errors > errors0 + 10  # CRC failures at the GCS
        fleet.vehicles[0].inject(LinkFault(delay_s=0.25, duration_s=1e9, link="api"))
        t0 = time.monotonic()
        assert g.command(mav.MAV_CMD_REQUEST_MESSAGE, mav.MAVLINK_MSG_ID_HOME_POSITION) == 0
        assert time.monotonic() - t0 >= 0.45  # 0.25 s each way


def test_gcs_link_loss_over_sockets_triggers_rtl(port_offset, gcs_factory):
    with SimFleet(
        boot_settle_s=3.0, autopilot="px4", home=HOME, speedup=4, port_offset=port_offset
    ) as fleet:
        v = fleet.vehicles[0]
        v.set_param("NAV_DLL_ACT", 2)
        g = gcs_factory(url_for(fleet))
        g.recv("GPS_RAW_INT", lambda m: m.fix_type >= 3)
        assert g.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 1) == 0
        assert g.command(mav.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, float("nan"), 0, 0, HOME[2] + 5) == 0
        g.recv("EXTENDED_SYS_STATE", lambda m: m.landed_state == mav.MAV_LANDED_STATE_IN_AIR)
        g.recv("HEARTBEAT", timeout=2)
        assert v.state.mode != "AUTO.RTL"
        v.inject(LinkFault(loss=1.0, link="all"))
        assert fleet.wait_until(lambda: v.state.mode == "AUTO.RTL", 10)
        assert "Connection to ground station lost" in v.state.statustexts


def test_reboot_resets_streams_keeps_mission_ardupilot(port_offset, gcs_factory):
    with SimFleet(
        boot_settle_s=3.0, autopilot="ardupilot", home=HOME, speedup=10, port_offset=port_offset
    ) as fleet:
        g = gcs_factory(url_for(fleet))
        g.recv("HEARTBEAT")
        g.m.mav.request_data_stream_send(1, 1, 0, 4, 1)
        g.recv("ATTITUDE")
        items = [wp(49.7475, 0, frame=0), wp(49.748)]
        assert g.upload(items)[0] == 0
        assert g.command(mav.MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN, 1) == 0
        assert fleet.wait_until(lambda: fleet.vehicles[0].state.booting, 5)
        assert fleet.wait_until(lambda: not fleet.vehicles[0].state.booting, 5)
        g.recv("HEARTBEAT", lambda m: m.get_srcSystem() == 1)
        g.seen.clear()
        for _ in range(3):
            g.recv("HEARTBEAT")
        assert {m.get_type() for m in g.seen} == {"HEARTBEAT"}  # streams must be requested again
        g.m.mav.request_data_stream_send(1, 1, 0, 4, 1)
        assert g.recv("SYSTEM_TIME").time_boot_ms < 10_000  # boot clock restarted
        assert fleet.vehicles[0].state.mission_count == 2
        # fault-injected reboot of a PX4 vehicle: silent, then heartbeats again, disarmed
    with SimFleet(
        boot_settle_s=3.0, autopilot="px4", home=HOME, speedup=10, port_offset=port_offset + 50
    ) as fleet:
        g = gcs_factory(url_for(fleet))
        g.recv("HEARTBEAT")
        fleet.vehicles[0].inject(Reboot())
        assert fleet.wait_until(lambda: fleet.vehicles[0].state.booting, 5)
        assert g.recv("HEARTBEAT", timeout=5).system_status in (
            mav.MAV_STATE_STANDBY,
            mav.MAV_STATE_BOOT,
        )


def test_px4_ports_and_tcp_reconnect(port_offset):
    with SimFleet(
        boot_settle_s=3.0,
        n_vehicles=3,
        autopilot="px4",
        home=HOME,
        speedup=5,
        port_offset=port_offset,
    ) as fleet:
        p = fleet.ports(2)
        assert p == {
            "api_remote": 14542 + port_offset,
            "api_local": 14582 + port_offset,
            "gcs_remote": 14550 + port_offset,
            "gcs_local": 18572 + port_offset,
        }
        gcs = mavutil.mavlink_connection(f"udpin:127.0.0.1:{p['gcs_remote']}")
        try:
            sysids = set()
            deadline = time.monotonic() + 5
            while len(sysids) < 3 and time.monotonic() < deadline:
                m = gcs.recv_match(type="HEARTBEAT", blocking=True, timeout=0.5)
                if m is not None:
                    sysids.add(m.get_srcSystem())
            assert sysids == {1, 2, 3}  # all vehicles on the one GCS port
        finally:
            gcs.close()
    with SimFleet(
        boot_settle_s=3.0,
        n_vehicles=2,
        autopilot="ardupilot",
        home=HOME,
        speedup=5,
        port_offset=port_offset,
    ) as fleet:
        assert fleet.ports(1)["tcp"] == 5770 + port_offset
        for _ in range(2):  # one client at a time, reconnects served
            c = mavutil.mavlink_connection(f"tcp:127.0.0.1:{fleet.ports(1)['tcp']}")
            assert c.wait_heartbeat(timeout=5).get_srcSystem() == 2
            c.close()


def test_px4_camera_home_speed_commands(port_offset, gcs_factory):
    with SimFleet(
        boot_settle_s=3.0, autopilot="px4", home=HOME, speedup=20, port_offset=port_offset
    ) as fleet:
        g = gcs_factory(url_for(fleet))
        g.recv("GPS_RAW_INT", lambda m: m.fix_type >= 3)
        assert g.command(mav.MAV_CMD_MISSION_START) == mav.MAV_RESULT_DENIED  # no mission
        assert g.command(mav.MAV_CMD_DO_SET_MODE, 1, 99, 0) == mav.MAV_RESULT_UNSUPPORTED
        assert g.command(mav.MAV_CMD_DO_SET_HOME, 0, 0, 0, 0, 49.7500, 13.3800, 330.0) == 0
        hp = g.recv("HOME_POSITION", lambda m: abs(m.latitude / 1e7 - 49.75) < 1e-6)
        assert hp.altitude == pytest.approx(330_000, abs=5)
        assert g.command(mav.MAV_CMD_IMAGE_START_CAPTURE, 0, 1.0, 3) == 0
        fb = [g.recv("CAMERA_FEEDBACK") for _ in range(3)]
        assert [f.img_idx for f in fb] == [1, 2, 3]
        assert all(abs(f.lat / 1e7 - HOME[0]) < 1e-5 for f in fb)
        trig = [m for m in g.seen if m.get_type() == "CAMERA_TRIGGER"]
        assert [t.seq for t in trig][:3] == [0, 1, 2]
        assert g.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 1) == 0
        assert g.command(mav.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, float("nan"), 0, 0, HOME[2] + 10) == 0
        assert fleet.wait_until(
            lambda: (
                fleet.vehicles[0].state.mode == "AUTO.LOITER"
                and fleet.vehicles[0].state.relative_alt_m > -10.5
            ),
            20,
        )
        # home set by command is kept at arming (PX4 manual home, ArduPilot locked home)
        assert fleet.vehicles[0].state.home_alt_amsl_m == pytest.approx(330.0)
        assert g.command(mav.MAV_CMD_DO_CHANGE_SPEED, 1, 9.0, -1) == 0
        assert g.command(mav.MAV_CMD_DO_SET_CAM_TRIGG_DIST, 20.0, 0, 1) == 0
        n0 = fleet.vehicles[0].state.images_captured
        lat, lon = 49.7475 + 200 / 111_200, 13.3776
        g.m.mav.command_int_send(
            1,
            1,
            mav.MAV_FRAME_GLOBAL_INT,
            mav.MAV_CMD_DO_REPOSITION,
            0,
            0,
            -1,
            0,
            0,
            float("nan"),
            int(lat * 1e7),
            int(lon * 1e7),
            HOME[2] + 10,
        )
        assert g.recv("COMMAND_ACK", lambda a: a.command == mav.MAV_CMD_DO_REPOSITION).result == 0
        # read the telemetry while waiting (a GCS that stops reading overflows its UDP buffer)
        g.recv("VFR_HUD", lambda m: m.groundspeed > 8.5, 30)
        g.recv(
            "GLOBAL_POSITION_INT",
            lambda m: abs(m.lat / 1e7 - lat) < 1e-5 and abs(m.vx) + abs(m.vy) <= 2,
            30,
        )
        shots = fleet.vehicles[0].state.images_captured - n0
        # 200 m at one image per 20 m = 10 (+1 if n0 was read before the immediate one)
        assert 10 <= shots <= 11
        assert g.command(mav.MAV_CMD_NAV_RETURN_TO_LAUNCH) == 0
        assert fleet.wait_until(lambda: fleet.vehicles[0].state.mode == "AUTO.RTL", 5)
