"""Every command, and the command protocol's ACK handling, against a vehicle on real sockets."""

from __future__ import annotations

from collections import deque

import pytest

from dronekit_plzen.errors import BadInputError, CommandError, LinkTimeout
from dronekit_plzen.link import CommandPolicy

FAST = CommandPolicy(timeout_s=0.2, retries=3, in_progress_timeout_s=2.0)


def test_state_from_telemetry(pair, flavour) -> None:
    link, v, _peer = pair
    st = v.state
    assert st.autopilot == flavour
    assert st.lat_deg == pytest.approx(49.7475, abs=1e-7)
    assert st.lon_deg == pytest.approx(13.3776, abs=1e-7)
    assert st.alt_amsl_m == pytest.approx(310.0, abs=0.01)
    assert st.battery_voltage_v == pytest.approx(15.8)
    assert st.battery_current_a == pytest.approx(12.3)
    assert st.battery_remaining_pct == 87
    assert st.gps_fix_type == 3 and st.satellites == 14
    assert st.hdop == pytest.approx(0.8)
    assert st.home == pytest.approx((49.7475, 13.3776, 310.0))
    assert st.heading_deg == pytest.approx(90.0)
    assert st.roll_deg == pytest.approx(0.573, abs=0.01)
    assert st.heartbeat_age_s < 1.0
    assert st.mode == ("AUTO.LOITER" if flavour == "px4" else "STABILIZE")
    assert not st.armed
    assert link.vehicles == {1: v}


def test_every_command_is_accepted_and_acts(pair, flavour) -> None:
    link, v, peer = pair
    v.arm()
    v.wait_for(lambda s: s.armed, 3, "armed")
    v.takeoff(20.0)
    st = v.wait_for(lambda s: s.relative_alt_m > 19.9 and s.in_air, 10, "takeoff")
    assert st.relative_alt_m == pytest.approx(20.0, abs=0.05)
    v.set_speed(8.0)
    assert peer.speed_m_s == 8.0
    v.goto(49.7485, 13.3786, 30.0)
    st = v.wait_for(lambda s: abs(s.lat_deg - 49.7485) < 1e-6, 10, "goto")
    assert st.relative_alt_m == pytest.approx(30.0, abs=0.05)
    v.set_mode("AUTO.LOITER" if flavour == "px4" else "LOITER")
    v.wait_for(lambda s: s.mode in ("AUTO.LOITER", "LOITER"), 3, "mode")
    v.set_home()
    assert peer.home[0] == pytest.approx(49.7485, abs=1e-6)
    v.set_home(49.7475, 13.3776, 310.0)
    assert peer.home == pytest.approx((49.7475, 13.3776, 310.0))
    with link.subscribe({"AUTOPILOT_VERSION"}, sysid=1) as sub:
        v.request_message(148)  # AUTOPILOT_VERSION
        got = sub.get(2.0)
    assert got is not None and got[0].uid == 42
    with pytest.raises(CommandError) as err:
        v.request_message(9999)
    assert err.value.result == 3
    v.set_message_interval(33, 10.0)
    assert (511, 0) in peer.commands_seen
    v.rtl()
    v.wait_for(lambda s: s.mode in ("AUTO.RTL", "RTL"), 3, "rtl")
    v.land()
    v.wait_for(lambda s: s.mode in ("AUTO.LAND", "LAND"), 3, "land")
    v.wait_for(lambda s: not s.armed and s.landed_state == 1, 15, "landed and disarmed")
    v.arm()
    v.disarm()
    v.wait_for(lambda s: not s.armed, 3, "disarmed")
    v.reboot()


def test_denied_unsupported_failed_raise_with_mav_result(pair) -> None:
    _link, v, peer = pair
    for code in (2, 3, 4):
        peer.script[400] = deque([code])
        with pytest.raises(CommandError) as err:
            v.arm()
        assert err.value.result == code
        assert err.value.command == 400
    with pytest.raises(CommandError) as err:  # takeoff while disarmed is refused by the vehicle
        v.takeoff(10)
    assert err.value.result == 2


def test_temporarily_rejected_is_retried_with_confirmation(pair) -> None:
    _link, v, peer = pair
    peer.script[400] = deque([1, 1, 0])
    res = v.command_long(400, 1, policy=FAST, name="arm")
    assert res.result == 0 and res.attempts == 3
    confirmations = [c for cmd, c in peer.commands_seen if cmd == 400]
    assert confirmations == [0, 1, 2]
    peer.script[400] = deque([1] * 10)
    with pytest.raises(CommandError) as err:
        v.command_long(400, 1, policy=FAST)
    assert err.value.result == 1


def test_in_progress_reports_progress_then_final_result(pair) -> None:
    _link, v, peer = pair
    peer.script[241] = deque([5, 0])  # calibration: IN_PROGRESS 40 %, 80 %, then ACCEPTED
    seen: list[int] = []
    res = v.command_long(241, 1, policy=FAST, on_progress=seen.append)
    assert seen == [40, 80] and res.progress == 80 and res.result == 0
    peer.script[241] = deque([5, 4])
    with pytest.raises(CommandError) as err:
        v.command_long(241, 1, policy=FAST)
    assert err.value.result == 4


def test_lost_commands_are_resent_then_time_out(pair) -> None:
    _link, v, peer = pair
    peer.drop_commands[178] = 2
    res = v.command_long(178, 1, 5.0, -1, policy=FAST)
    assert res.attempts == 3
    assert [c for cmd, c in peer.commands_seen if cmd == 178] == [0, 1, 2]
    peer.drop_commands[178] = 100
    with pytest.raises(LinkTimeout, match="no COMMAND_ACK after 4 attempts"):
        v.command_long(178, 1, 5.0, -1, policy=FAST)


def test_bad_arguments_and_unknown_modes(pair) -> None:
    _link, v, _peer = pair
    with pytest.raises(BadInputError, match="unknown flight mode"):
        v.set_mode("WARP_SPEED")
    with pytest.raises(BadInputError):
        v.takeoff(-5)
    with pytest.raises(BadInputError):
        v.set_speed(0)
