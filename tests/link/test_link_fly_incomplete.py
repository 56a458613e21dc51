"""A sortie that ends before its mission does: ``fly`` must not report it flown.

A failsafe (here PX4's critical battery), a geofence breach or the pilot's own mode switch
brings the vehicle back with part of the area not searched. ``fly`` used to see a landed,
disarmed vehicle and exit 0 with the sortie marked done; now it exits 1 naming the mode and
the item it left the mission after, keeps where it stopped, and the next ``fly`` resumes there
(ArduCopter, which stays in RTL after landing, is switched to GUIDED to arm again).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from simulators.faults import BatteryDrop

from .test_link_fly_sigint import _long_plan


def _fly(plan: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dronekit_plzen", "fly", str(plan), "--connect", url, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_a_sortie_cut_short_is_not_reported_flown_and_resumes(
    tmp_path: Path, sim_factory: Any, sim_url_of: Any, autopilot: str
) -> None:
    # ArduCopter flies the plan twice (cut short, then the rest): at 20x, as PX4's once at 10x
    sim = sim_factory(1, autopilot, speedup=20.0 if autopilot == "ardupilot" else 10.0)
    veh = sim.vehicles[0]
    st = veh.state
    plan = _long_plan(tmp_path / "long.plan", st.home_lat_deg, st.home_lon_deg, st.home_alt_amsl_m)
    if autopilot == "px4":
        veh.set_param("COM_LOW_BAT_ACT", 1)  # RTL at the critical level
    proc = _fly(plan, sim_url_of(sim, 0), "--heartbeat-hz", "5", "--json")
    try:
        mission = "AUTO.MISSION" if autopilot == "px4" else "AUTO"
        assert sim.wait_until(
            lambda: veh.state.mode == mission and veh.state.mission_current_seq >= 3, 120.0
        ), "the vehicle never got into its mission"
        if autopilot == "px4":
            veh.inject(BatteryDrop(drop_pct=95.0))  # a failing pack: PX4 returns by itself
        else:
            sim.call(lambda: veh.model.set_mode("RTL"))  # the pilot's switch on the RC
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    last = [ln for ln in err.splitlines() if ln.startswith("error:")][-1]
    assert "landed before the end of the mission" in last, last
    assert ("AUTO.RTL" if autopilot == "px4" else "mode RTL") in last, last
    # items numbered from 1, as QGroundControl numbers them: the last reached, the last to reach
    assert re.search(r" after item \d+, not reaching item \d+[ ;]", last), last
    if autopilot == "px4":
        assert "battery level" in last, last  # what PX4 said when it turned back
    assert "Traceback" not in err
    summary = json.loads(out)  # --json still says what was flown, and that it was not all
    assert summary["completed"] is False and summary["flown"][0]["completed"] is False
    assert summary["flown"][0]["last_item_reached"] >= 1, summary
    progress = json.loads((tmp_path / "long.fly-progress.json").read_text())
    stopped = progress["partial"]
    assert stopped[0] == 1 and stopped[1] >= 2 and progress["done"] == [], progress
    if autopilot == "px4":
        return  # the pack is flat: the rest waits for a fresh one
    again = _fly(plan, sim_url_of(sim, 0), "--heartbeat-hz", "5", "--json")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    # the leg it stopped on is flown again from its start: the whole sortie for the first leg
    again_text = (
        f"resuming sortie 1 where it stopped, on its way to item {stopped[1] + 1}"
        if stopped[1] > 2
        else f"sortie 1 stopped on its way to item {stopped[1] + 1}: flown again from its start"
    )
    assert again_text in err, err
    assert "switching to GUIDED" in err, err  # landed in RTL, where it does not arm
    # done now: a third fly flies the whole plan again, not the same rest
    assert json.loads((tmp_path / "long.fly-progress.json").read_text()) == {"done": [1]}
    assert json.loads(out)["flown"][0]["sortie"] == 1


def _px4_mode(sub_mode: int) -> int:
    return (4 << 16) | (sub_mode << 24)  # AUTO main mode, px4_custom_mode.h


def test_a_reach_counts_in_the_mode_it_came_in_however_late_it_is_read() -> None:
    """PX4 reports its last waypoint reached and switches to RTL within the same second. ``fly``
    reads its queue in order and judges each report by the last heartbeat before it: read
    after the RTL heartbeat had arrived, the reach used to be judged in RTL, and the finished
    sortie called cut short. A gimbal's heartbeat (same system, its own component) is no mode."""
    from pymavlink.dialects.v20 import ardupilotmega as mavlink2

    from dronekit_plzen.fleet import MissionCompletion
    from dronekit_plzen.mission_items import MissionItem

    ap = mavlink2.MAVLink(None, 1, 1)
    gimbal = mavlink2.MAVLink(None, 1, 154)

    def msg(link: Any, m: Any) -> Any:
        return link.decode(bytearray(m.pack(link)))

    armed = 128 | 1  # MAV_MODE_FLAG_SAFETY_ARMED | CUSTOM_MODE_ENABLED
    stream = [
        msg(ap, ap.heartbeat_encode(2, 12, armed, _px4_mode(4), 4)),  # AUTO.MISSION
        msg(ap, ap.mission_current_encode(3)),
        msg(gimbal, gimbal.heartbeat_encode(26, 8, 0, 0, 4)),  # a gimbal: no mode
        msg(ap, ap.mission_item_reached_encode(3)),
        msg(ap, ap.mission_current_encode(4)),  # the mission's RTL item
        msg(ap, ap.heartbeat_encode(2, 12, armed, _px4_mode(5), 4)),  # AUTO.RTL
    ]
    items = [MissionItem(22), MissionItem(16), MissionItem(16), MissionItem(16), MissionItem(20)]
    done = MissionCompletion.of(items)
    for m in stream:
        done.follow(m, 1)
    assert done.goal == 3 and done.complete and done.left_in == "AUTO.RTL"
    # the same reports after a failsafe's RTL heartbeat are no progress
    late = MissionCompletion.of(items)
    for m in (stream[0], stream[1], stream[5], stream[3], stream[4]):
        late.follow(m, 1)
    assert late.furthest == 2 and not late.complete and late.left_in == "AUTO.RTL"


def test_px4s_reach_sent_after_its_mission_finished_loiter_began_still_counts() -> None:
    """PX4 v1.16 switches to AUTO.LOITER when it reaches its last waypoint ("Mission finished,
    loitering"), then to RTL for the closing RTL item. Its receiver thread sends MISSION_CURRENT
    and the reach after the main thread's heartbeat may already have said AUTO.LOITER: seen on
    SITL, where ``fly`` called such a finished sortie cut short "in mode AUTO.LOITER after item
    0 of 1". The reach of the item the mission flew to, within the first heartbeat of that
    loiter, counts; later, of another item, or in RTL it does not."""
    from pymavlink.dialects.v20 import ardupilotmega as mavlink2

    from dronekit_plzen.fleet import MissionCompletion
    from dronekit_plzen.mission_items import MissionItem

    ap = mavlink2.MAVLink(None, 1, 1)

    def msg(m: Any) -> Any:
        return ap.decode(bytearray(m.pack(ap)))

    armed = 128 | 1
    mission, loiter, rtl = (
        msg(ap.heartbeat_encode(2, 12, armed, _px4_mode(sub), 4)) for sub in (4, 3, 5)
    )
    items = [MissionItem(22), MissionItem(16), MissionItem(20)]  # take-off, waypoint, RTL

    def follow(*stream: Any) -> MissionCompletion:
        done = MissionCompletion.of(items)
        for m in stream:
            done.follow(m, 1)
        return done

    cur1, cur2 = msg(ap.mission_current_encode(1)), msg(ap.mission_current_encode(2))
    reach1, reach0 = msg(ap.mission_item_reached_encode(1)), msg(ap.mission_item_reached_encode(0))
    done = follow(mission, cur1, loiter, cur2, reach1, rtl)
    assert done.goal == 1 and done.complete and done.left_in == "AUTO.LOITER"
    assert done.reports.item_reached_mode == "AUTO.MISSION"
    assert not follow(mission, cur1, loiter, loiter, cur2, reach1).complete  # two beats later
    assert not follow(mission, cur1, rtl, reach1).complete  # a failsafe's RTL
    assert not follow(mission, msg(ap.mission_current_encode(0)), loiter, reach1).complete
    assert follow(mission, cur1, loiter, reach0).furthest == 0  # not the item flown to


def test_a_lost_last_reach_is_covered_by_the_mission_said_complete() -> None:
    """On a lossy link the MISSION_ITEM_REACHED of the last waypoint can be lost; the finished
    sortie was then called cut short (and flown again from its last leg). MISSION_CURRENT's
    mission_state (ArduPilot 4.5+, PX4 with the extended message) says "complete" (5): counted
    after the mission said "active" (3) in a mission mode, also once PX4 has switched to the
    closing RTL; a "complete" left from an earlier mission, or a failsafe's "paused" (4), is
    not."""
    from pymavlink.dialects.v20 import ardupilotmega as mavlink2

    from dronekit_plzen.fleet import MissionCompletion
    from dronekit_plzen.mission_items import MissionItem

    ap = mavlink2.MAVLink(None, 1, 1)

    def msg(m: Any) -> Any:
        return ap.decode(bytearray(m.pack(ap)))

    armed = 128 | 1
    mission, rtl = (msg(ap.heartbeat_encode(2, 12, armed, _px4_mode(sub), 4)) for sub in (4, 5))
    items = [MissionItem(22), MissionItem(16), MissionItem(16), MissionItem(20)]

    def cur(seq: int, state: int) -> Any:
        return msg(ap.mission_current_encode(seq, 4, state, 1))

    def follow(*stream: Any) -> MissionCompletion:
        done = MissionCompletion.of(items)
        for m in stream:
            done.follow(m, 1)
        return done

    assert follow(mission, cur(2, 3), rtl, cur(3, 5)).complete  # the reach of item 2 lost
    assert not follow(mission, cur(2, 3), rtl, cur(3, 4)).complete  # a failsafe: paused
    assert not follow(mission, cur(1, 5), cur(2, 5), rtl).complete  # never said active
    assert not follow(rtl, cur(2, 3), cur(3, 5)).complete  # "active" only in RTL


def test_px4_s_mission_finished_text_counts_as_the_end() -> None:
    """PX4 ``main`` can lose the reach of the last waypoint; its navigator's "Mission finished"
    (``MissionBase::advance_mission``, out of items; never said on a failsafe) counts once the
    flight entered a mission mode; a gimbal's text or one before the mission does not."""
    from pymavlink.dialects.v20 import ardupilotmega as mavlink2

    from dronekit_plzen.fleet import MissionCompletion
    from dronekit_plzen.mission_items import MissionItem

    ap = mavlink2.MAVLink(None, 1, 1)
    gimbal = mavlink2.MAVLink(None, 1, 154)

    def msg(link: Any, m: Any) -> Any:
        return link.decode(bytearray(m.pack(link)))

    armed = 128 | 1
    mission, loiter = (
        msg(ap, ap.heartbeat_encode(2, 12, armed, _px4_mode(sub), 4)) for sub in (4, 3)
    )
    finished = msg(ap, ap.statustext_encode(6, b"Mission finished, loitering"))
    items = [MissionItem(22), MissionItem(16), MissionItem(16), MissionItem(20)]

    def follow(*stream: Any) -> MissionCompletion:
        done = MissionCompletion.of(items)
        for m in stream:
            done.follow(m, 1)
        return done

    cur = msg(ap, ap.mission_current_encode(2))
    assert follow(mission, cur, loiter, finished).complete
    assert not follow(finished, mission, cur, loiter).complete  # before this mission
    from_gimbal = msg(gimbal, gimbal.statustext_encode(6, b"Mission finished, loitering"))
    assert not follow(mission, cur, loiter, from_gimbal).complete
